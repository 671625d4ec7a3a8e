// Command prog passes one seam; TestProductionBuildHasNoJitter builds it
// with and without the floestress tag and reads its symbol table.
package main

import "github.com/floe-cdc/floe/capture/jitter"

func main() { jitter.At(jitter.Receive) }
