package toolkit

import "github.com/floe-cdc/floe/capture"

// Backend is what every database backend (capture/postgres,
// capture/mysql) offers: a capture.Source with the abilities each of
// floe's verbs asks of a real server (see capture's abilities.go), for
// the backend's compile-time assertion
// (var _ toolkit.Backend = (*Source)(nil)). Abilities only some backends
// have are asserted beside it; callers still find every ability by a
// type assertion on capture's own interfaces.
type Backend interface {
	capture.Source
	capture.Snapshotter
	capture.RowReader
	capture.TableScanner
	capture.Checker
	capture.ExclusiveChecker
	capture.StreamHolder
}
