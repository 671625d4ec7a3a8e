// Package ledger owns the floe.* properties Floe writes into Iceberg
// snapshot summaries: the record every ingestion commit carries (which
// pipeline, which checkpoint, the run's epoch, the source position, the
// snapshot plan), the history records some commits add
// (floe.schema-change, floe.source-table, floe.reset), a run's claim of a
// table (floe.claim, see Claim and EpochOf), the marks of a compaction
// pass, and the marks of a commit to a dead-letter table
// (floe.dead-letters: how far each source table's dead letters are in
// it, DeadLetters; pinned by testdata/deadletters.golden); and the Iceberg table properties floe.registry.* naming the
// schema-registry entry of a table's current schema (RegistryEntry.
// TableProps, RegistryOf). It is the only place
// that names a floe.* key or encodes or parses one of their values;
// checkpoint writes and recovers commits through it, and floe status,
// compact, resnapshot, verify, compaction and floe-bench read them
// through it.
//
// In: a Commit (or a pass id) to encode; a snapshot summary (or a table's
// history of them, newest first) to read.
// Out: the summary properties; the parsed Commit; the newest commit of a
// pipeline (Last, IsCommitOf).
//
// Invariants:
//   - the properties are a persisted format, pinned byte for byte by
//     testdata/props.golden: PropsVersion (floe.version) changes whenever
//     the meaning of the set does, and each JSON record carries its own
//     version ("v"); a version this build does not know is an error, never
//     guessed at;
//   - positions (floe.position, floe.converge-until) and the snapshot plan
//     (floe.snapshot) are opaque strings here: capture encodes and
//     versions them (capture.Position, capture.SnapshotPlan), and the
//     ledger never looks inside;
//   - the package imports only the standard library, so every layer can
//     use it without importing capture or checkpoint.
//
// See docs/checkpoint-protocol.md for what each property means to
// recovery.
package ledger
