// Package memsource is an in-memory database and a capture.Source over
// it, for tests that need a source without a server: the coordinator's
// contract tests (package checkpoint) and the capture conformance suite
// (capture/capturetest), which it passes like the PostgreSQL and MariaDB
// sources do. It is test support: nothing in the floe binary imports it.
//
// In: a DB, changed through SQL (the workload subset the conformance
// suite speaks: CREATE/DROP/TRUNCATE TABLE, ALTER TABLE ADD COLUMN,
// INSERT, UPDATE, DELETE with simple WHERE clauses over bigint, int,
// varchar, text and decimal columns) in autocommit statements or explicit
// transactions, plus heartbeats and sync messages.
//
// Out: a capture.Source per New, with the abilities capture.Snapshotter
// (exact when started without a resume position and with a snapshot
// requested; otherwise chunks read the current rows), capture.RowReader
// and capture.SchemaFollower; WithExport adds capture.SnapshotExporter
// (an exact copy of the tables at the end of the log, which Stream does
// not end). Positions are Pos, the index of a committed
// transaction in the DB's log ("mem.v1:N").
//
// Invariants:
//   - every committed transaction, DDL statement, heartbeat and sync
//     message is one log entry with the next position; a stream emits the
//     entries after StartInfo.From in log order, one batch each (split into
//     parts with More past Config.MaxBatchChanges changes, or as soon as
//     a part's changes reach Config.MaxBatchBytes, so the last batch may
//     then hold none; every part at the entry's position), and leaves out
//     transactions that touch no captured table;
//   - a change carries full before and after images and the layout it was
//     made in; ALTER TABLE of a captured table is an empty Barrier batch,
//     and a column added with a value for the existing rows (DEFAULT or
//     NOT NULL) stops the stream with an error naming it;
//   - the log is never truncated: any emitted position can be resumed
//     from, and DB.Rows replays the log to give a table's rows as of any
//     position, which is what tests compare Iceberg with;
//   - Config hooks (OnBatch, OnAck, OnReadChunk) run synchronously on the
//     calling goroutine, so a test can pause the stream, check an
//     acknowledgement against the sink, or fail a chunk read.
//
// See docs/checkpoint-protocol.md (contract tests).
package memsource
