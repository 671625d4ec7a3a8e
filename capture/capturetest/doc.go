// Package capturetest is the conformance suite of the capture seam: one
// set of tests, written once, that every capture.Source implementation
// must pass against a real server (capture/postgres, capture/mysql), and
// that the in-memory source capture/memsource passes in process, so that
// the coordinator's contract tests stand on a source that behaves as the
// real ones do.
//
// In: a Harness, which knows how to give each test a fresh database (or
// schema) on a running server, run SQL in it, and build a Source for some
// of its tables. The workload's SQL is the common subset of PostgreSQL and
// MySQL/MariaDB, so the tests do not branch on the dialect; what a source
// may legitimately do differently (key-only before images, heartbeats on
// an idle database) is declared by the harness in Caps.
//
// Out: test results. Run drives Discover, the Snapshotter (PlanChunks,
// concurrent ReadChunk; snapshot plus stream converging to the table while
// it is written), Stream (inserts, updates, deletes, key changes, multi-
// table, split, interleaved and rolled back transactions, truncate, a
// layout change stopping the stream), resume from an emitted position
// (also around a split transaction), cancellation, the Position encoding,
// the RowReader and heartbeats, and asserts the exact changes and rows
// expected.
//
// Invariants checked on every batch a stream emits: positions of
// complete batches strictly increase and are after StartInfo.From; parts
// of a split transaction (More) are non-decreasing, after the previous
// complete batch and not after their final part; every change names a
// captured table, carries its layout, and has the images its Op requires.
//
// It also serves the sources' own integration tests: Main (TestMain with
// a test server), StartStream (a Stream in the background), Context,
// UniqueName, Golden, and the adaptors HarnessFunc and NewOpenTx.
//
// See docs/architecture.md (the capture seam in the package map).
package capturetest
