// Package state is Floe's durable local cache: per-table progress
// (position, checkpoint number, snapshot plan) and the last position
// acknowledged to the source, kept in one bbolt file (dir/state.db).
//
// In: what the checkpoint coordinator learned after a successful commit.
// Out: the same values on the next start, to skip work quickly, and
// evidence of what was committed: floe run refuses to start when the
// catalog lacks tables the cache recorded checkpoints for (a deleted
// catalog); floe resnapshot forgets the tables it drops (DeleteTables).
//
// Invariants:
//   - the store is a cache: the truth is in the Iceberg snapshot summaries.
//     Deleting the state directory, or finding it stale, must never lose
//     or duplicate a row; callers re-derive positions from Iceberg and may
//     only use the cache where it agrees with or is behind that truth;
//   - one process owns a state directory at a time (an exclusive file
//     lock, taken with a 1s timeout);
//   - every record is versioned JSON ("v":1), pinned by golden tests; a
//     record of an unknown version is an error, never guessed at.
package state
