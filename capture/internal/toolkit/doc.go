// Package toolkit holds what every capture backend (capture/postgres,
// capture/mysql) writes the same way, so that each is written once; no
// caller of a source uses it, and Go's internal rule keeps it to the
// packages under capture.
//
// It provides the set of abilities every backend asserts it has
// (Backend), the end of every New (NewSource: a Config's problems as one
// error, else the Source built on what a validated configuration derives,
// Base: the logger, the table patterns, the read bound, the column type
// choices),
// the table registry a source's Discover installs (Tables),
// the configured table patterns (TablePatterns), the Start/Stream/Close
// order the capture.Source contract states (Lifecycle, and BeginStart,
// the opening of every Start: refuse a second one, discover the tables),
// the check of a route key for a table without a primary key (KeyCheck,
// the rule capture.KeyOverride states), the conversions between
// capture.Position and a backend's own position type (AsPosition,
// PositionOf, CutPositionPrefix), the frame of
// capture.Snapshotter.PlanChunks (PlanKeyRanges, KeyBound, ChunkReaders),
// ReadChunk's query and batch (ChunkQuery, ChunkBatch), and the frame and
// key batches of capture.RowReader.ReadRows (Tables.ReadRows, KeyReader,
// KeyBatches), the rows of one query carved from shared arrays
// (RowSlab), the key-by-key handling of rows a verify scan cannot
// decode (UndecodableByKey, for capture.TableScanner), and the open part
// of a streamed transaction, emitted when it reaches MaxBatchChanges or
// MaxBatchBytes (Part, PartLimits; capture.Batch.More).
//
// In: a backend's discovered tables, configuration and key values. Out:
// the values and errors the capture contracts ask of every source, with
// the same wording in every backend ("plan chunks of <table>: ...").
//
// Invariants: it imports capture and schema only (no database driver);
// nothing here is persisted, so moving it changes no encoding.
//
// See docs/architecture.md (the package map).
package toolkit
