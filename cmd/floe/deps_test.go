package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBinaryLinksNoDeploy: the service binary links no package under
// deploy/ (throwaway database servers that apt-get install, test
// harnesses, the demo's helpers): those belong to the tests and to
// cmd/floe-demo, never to what runs in production.
func TestBinaryLinksNoDeploy(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	const module = "github.com/floe-cdc/floe/"
	deps := strings.Fields(string(out))
	ours := 0
	for _, p := range deps {
		if strings.HasPrefix(p, module) {
			ours++
		}
		if strings.HasPrefix(p, module+"deploy/") {
			t.Errorf("cmd/floe links %s", p)
		}
	}
	if ours < 5 { // the listing must be of this module's binary to show anything
		t.Fatalf("go list -deps lists %d packages of this module: %q", ours, deps)
	}
}
