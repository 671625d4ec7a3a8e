// Package state is Floe's state directory: an exclusive lock on it, and a
// record of which source tables this pipeline has committed to Iceberg,
// kept in one bbolt file (dir/state.db).
//
// Written: after the commits of every checkpoint, by the checkpoint
// coordinator, one record per source table ("schema.table") that the
// checkpoint committed or advanced: the checkpoint's number
// ({"v":2,"checkpoint":N}). A failed write is logged and ignored.
//
// Read: once, when floe run starts, before any table is created or
// snapshotted: a record with a checkpoint above 0 whose table is still
// captured proves that the pipeline committed to that table's Iceberg
// table, so a catalog that has no such table was deleted or replaced, and
// floe run stops instead of snapshotting the table again into it
// (cmd/floe statecheck.go). floe resnapshot deletes the records of the
// tables it drops (DeleteTables).
// Nothing else is read: positions and snapshot progress are recovered
// from the Iceberg snapshot summaries only (package checkpoint).
//
// Invariants:
//   - the state is evidence, never a source of positions: deleting the
//     state directory loses no row and duplicates none; it only disables
//     the check above until the next checkpoint writes the records again;
//   - one process owns a state directory at a time (an exclusive file
//     lock, taken with a 1s timeout); floe run and floe resnapshot hold it;
//   - every record is versioned JSON, pinned by golden tests
//     (testdata/table_v2.golden); version 1 records of older builds
//     (which also carried a position and a snapshot plan that nothing
//     read) are still read, and a record of an unknown version is an
//     error, never guessed at.
//
// See docs/checkpoint-protocol.md.
package state
