// Package bytebound is the admission accounting of Floe's byte-bounded
// queues: the checkpoint coordinator's batch queue and the lakewriter's
// data writer queue. What flows in: the byte size of each item a
// producer queues (Add) and of each item its consumer takes (Release).
// What flows out: a producer's Wait returns once fewer than the bound's
// bytes are held, so that the queued bytes stay under the bound plus the
// items admitted since (one per producer that waited).
//
// It is a leaf package (standard library only) so that both checkpoint
// and lakewriter may import it; lakewriter must not import checkpoint.
//
// See docs/architecture.md (the package map) and docs/decisions.md
// (repetition left on purpose).
package bytebound
