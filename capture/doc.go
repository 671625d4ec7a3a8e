// Package capture defines what a change source produces and how it is
// driven: Change, Batch, Position, Source and Snapshotter, plus the
// snapshot chunk plan shared by every source, and the optional abilities
// a source declares: RowReader, Watermarker (chunks read at positions of
// their own, reconciled with the stream) and SchemaFollower (the stream
// follows schema changes; a DDL batch is a Barrier).
//
// It also holds the source-agnostic parts every backend uses, so that
// each is written once: the table registry (Tables) and table patterns,
// the Start/Stream/Close order (Lifecycle), config defaults and required
// settings, position helpers (AsPosition, CutPositionPrefix), the frame
// of chunk planning (PlanKeyRanges, KeyBound, ChunkBatch) and of
// RowReader key batches (KeyBatches), and what a stream reports about its
// liveness (Liveness, StallError). A Problem keeps the error it was found
// from (Problem.Err), so a refused connection stays recognisable as one.
// It imports no database driver.
//
// In: a source database (each backend is a subpackage: postgres, mysql).
// Out: Batches — one source transaction each, or one snapshot chunk —
// in source order, each with the Position the stream stands at after it.
//
// Invariants:
//   - a transaction may be split across batches only at change boundaries
//     and is never reordered; positions of stream batches strictly increase;
//   - a source is acknowledged (Source.Ack) only with positions it emitted,
//     never backwards, and only after the data is durable in Iceberg;
//   - snapshot rows and stream rows decode through the same code path;
//   - a stream that brings nothing for its StallTimeout while the server
//     is not working for it fails with a *StallError, which callers treat
//     as a lost connection;
//   - SnapshotPlan's encoding is versioned and pinned by a golden test.
package capture
