// Package compaction keeps Floe's Iceberg tables cheap to read: it
// rewrites small data files into larger ones, applies equality deletes
// into the data files they cover and drops the deletes that no longer
// apply, expires old snapshots and removes orphan files.
//
// Contract:
//   - A pass never changes which rows a reader sees: the rewrite snapshot
//     holds exactly the live rows of the snapshot it started from.
//   - It runs beside ingestion and does not stop it: the rewrite reads
//     and writes files outside the table's commit lock, holding it only
//     to choose the files and to commit (lakewriter.Table.Maintain). Its
//     files keep the data sequence number of the snapshot it read, so
//     equality deletes committed meanwhile still apply to them; while it
//     runs, this process deletes rows of the files it replaces by
//     equality (lakewriter.Table.ReplacingFiles). If a commit since that
//     snapshot added a position delete to one of those files (another
//     process), or removed or rewrote data files, the rewrite is not
//     committed and Compact returns ErrConflict; a deleted row is never
//     resurrected. Before committing it reads the keys of the files it
//     wrote (lakewriter.Table.ReadRewriteKeys), still outside the lock,
//     so that the next ingestion commit moves its key index over the
//     rewrite without reading those files inside its own commit.
//   - Expiry never removes the newest snapshot an ingestion commit wrote
//     (summary property floe.pipeline, ledger.IsCommit), nor, on a
//     dead-letter table, the newest dead-letters commit of any pipeline
//     (floe.dead-letters), nor anything after them, so recovery still
//     finds every table's committed position and every pipeline's
//     dead-letter marks.
//   - Orphan removal only deletes unreferenced files older than
//     Options.OrphansOlderThan.
//   - Once deletes are due, small data files are rewritten with their
//     deletes applied; settled ones (at least 1/8 of the target size)
//     keep their rows in place, unless a fifth of their rows is deleted
//     or bin-packing picks them (convert.go): the rows their equality
//     deletes remove and their newer position deletes are written as one
//     position-delete file each, beside the largest one they had
//     (lakewriter.Table.DeletesAsPositions, positionDeletesToMerge).
//   - A pass's snapshots carry floe.compaction (the pass id) and
//     floe.compaction-version (ledger.CompactionProps), and no
//     floe.pipeline: the rewrite (operation replace) and, before it in
//     the same transaction, the converted position deletes (operation
//     delete, adding no data file), which remove only rows already
//     deleted.
//
// Configuration: Config is the compaction: section (Defaults, Validate,
// On); Config.Options gives the Options of one pass. DefaultOptions is
// the pass under Defaults(), so floe run and a library caller share one
// set of defaults (max-rewrite-mb: 2048 MiB; zero turns that bound off).
//
// Dependency direction: compaction imports lakewriter (and its leaf
// lakewriter/ledger) only, and the leaf schema/problem for the problems
// Validate reports. See docs/architecture.md.
package compaction
