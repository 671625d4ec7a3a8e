// Package mysql is the MySQL / MariaDB change source: the binlog read as a
// replica through go-mysql's BinlogSyncer (flavour detected from
// SELECT VERSION()), plus a chunked initial snapshot and row reads by key.
//
// In: a server with log_bin, binlog_format=ROW, binlog_row_image=FULL
// (binlog_row_metadata=FULL recommended: row events are then checked
// column by column), and a user with SELECT on the captured tables plus
// REPLICATION SLAVE and REPLICATION CLIENT (MariaDB: BINLOG MONITOR); on
// MySQL with gtid_mode OFF, LOCK TABLES on the captured databases too, for
// tables snapshotted beside the stream (lockwindow.go).
// Config names the tables by anchored regular expressions on
// "database.table" and gives the replica ServerID, which must be unique
// among the server's replicas (floe run derives it: DefaultServerID).
// Config is the source: section of a configuration file: Defaults()
// holds every default, Validate reports each bad setting with its field
// and fix, ParseServerTimeZone reads source.server-time-zone, and New
// refuses a Config Validate faults.
//
// Out: capture.Batches. Stream emits one Batch per source transaction at
// its commit (XID event; a DDL or non-transactional statement at its Query
// event) with Position = the GTID position after it (MariaDB: last GTID
// per domain; MySQL: the executed GTID set; with MySQL gtid_mode OFF:
// binlog file and offset) and CommitTime = its commit time. Updates carry
// full Before and After images, deletes full Before images; no value is
// ever schema.Unchanged. A transaction of more than MaxBatchChanges
// changes, or whose changes pass MaxBatchBytes (capture.Change.Size), is
// emitted in parts with More set (a part goes as soon as its changes reach
// MaxBatchBytes, so the final Batch may hold no changes); a part's
// provisional Position is the transaction's final GTID position
// (file:offset of the part's last event with file positions). TRUNCATE of
// a captured table is an OpTruncate change. A data-changing statement a
// session logged as text instead of rows (binlog_format STATEMENT, or
// MIXED choosing statement logging: INSERT, REPLACE, UPDATE, DELETE in
// every form, LOAD DATA) that changes a captured table is an OpUnreadable
// change of that table whose Err names the table, the position and the
// fix, never passed over; which tables it changes is read from its text
// (dml.go: targets, aliases, the default database, quoted names; a
// multi-table UPDATE's unqualified SET column belongs to the captured
// table that has it), and one that only reads captured tables is no
// change of theirs. Such a change is dropped only where a snapshot holds
// its effect: a table whose chunks this session reads (PlanChunks after
// Start) and a statement at or before the server's position at Start, or
// a chunk watermark after it. Transactions that touch no captured table advance the
// position silently; when nothing was emitted for HeartbeatInterval the
// next one (or a server heartbeat) is emitted as an empty Batch, so the
// coordinator can cut checkpoints at a recent position. Ack only records
// the position: MySQL keeps no replica state. The server is asked for a
// heartbeat every HeartbeatInterval; a binlog read that brings nothing for
// StallTimeout fails the stream with a capture.StallError. Every query
// connection is bounded the same way: a read or write that moves no byte
// for StallTimeout fails (capture.BoundedDial), except on the connection
// of its own that planning a table's chunks or ScanTable uses, which
// waits capture.LongReadFactor times as long. StreamHolder names the
// binlog reader registered with the pipeline's server id.
//
// Snapshot: Start takes From = the server's current position (or the
// resume position) and reports Exact = false: there is no exported
// snapshot, so each chunk is read in its own consistent read at a later
// point. On MariaDB, for keys this package orders as the server does (see
// watermark.go), that read's exact binlog position is the chunk batch's
// Position, its watermark (capture.Watermarker): given the watermarks by
// SetWatermarks, Stream drops each change of a key whose chunk holds it
// already (at or before the chunk's watermark), so snapshot and stream
// neither overlap nor leave a gap. Other chunks carry From and converge by
// replay (full images make the replay idempotent). A plan SetWatermarks
// gets as read beside the stream (capture.BesideWatermarker; beside.go)
// gets each chunk's watermark when ReadChunk reads it, while Stream runs,
// and the chunk carries deletes of the keys the stream sent rows for that
// are gone at the watermark; Stream then leaves the snapshot open for
// ReadChunk until the coordinator's EndSnapshot. On MySQL such a plan's
// chunks, for the same keys, are read in watermark windows (window.go):
// between a low watermark L and a high one H (gtid_executed before the
// chunk's consistent snapshot and after its SELECT; with file positions,
// gtid_mode OFF, L = H is the binlog offset read under the table's read
// lock while the snapshot starts, lockwindow.go, given the LOCK TABLES
// privilege); the
// stream drops the chunk's changes in L and keeps the later ones,
// ReadChunk waits until the stream has passed H and returns the chunk at
// H without the rows of the keys the stream sent a change of after L
// (their changes, full images, give their state). PlanChunks splits by
// primary key with ROW_NUMBER() (MySQL 8 / MariaDB 10.2+); binary key
// bounds are hex-encoded.
//
// Invariants:
//   - snapshot values are the text protocol decoded by
//     mysqltype.TextDecoder (sessions: utf8mb4, time_zone '+00:00');
//     stream values are go-mysql row values decoded by
//     mysqltype.BinlogDecoder with the BinlogSyncer settings that
//     decoder documents; both give the same canonical value;
//   - the type choices of Config.ColumnTypes are applied by buildTable
//     (mysqltype.ApplyTypes) to every layout, discovered or rebuilt from a
//     TABLE_MAP, before its decoders are built; discovery alone refuses a
//     column the table lacks; a value error names the row's key;
//   - a binlog value a decoder rejects (a *schema.ValueError) does not end
//     the stream: its change carries Err and the row as the binlog holds
//     it (capture.Change.Raw, rawBinlogRow), and no images; so does a
//     snapshot chunk row with such a value (an OpRead change with Err
//     and the row as the text protocol sent it, rawTextRow), while the
//     chunk's other rows are read as usual; ScanTable (floe verify)
//     hands such a row to its bad callback by key in the same way;
//   - resuming is exclusive: a GTID position resumes with the first
//     transaction not in it, a file position at the first event after it;
//   - a resume position the server purged is a *PurgedError naming the
//     tables to snapshot again; a server-id clash names source.server-id:
//     Check refuses a replica it sees using the id (SHOW SLAVE HOSTS /
//     SHOW REPLICAS), the stream the server dropping it for another reader
//     (ER_SLAVE_SAME_ID), and CheckExclusive, for floe check, says when
//     connected replicas cannot be listed (MariaDB: REPLICATION MASTER
//     ADMIN);
//   - schema history: each row event is decoded with the layout its own
//     TABLE_MAP event states (binlog_row_metadata=FULL carries names,
//     types, metadata, signedness, collations, labels, nullability and
//     the primary key), never with a later one: the binlog is the
//     durable, versioned history (see tablemap.go; mysqltype.FromBinlog
//     reads each column's type from the event). A change's Schema
//     pointer changes exactly when the layout does. An ALTER or index
//     change of a captured table makes its batch a Barrier. A version
//     that adds a column the server filled for existing rows (a
//     default, NOT NULL, generated) or that replaces columns without a
//     rename statement, and RENAME of a captured table, stop the
//     stream with an error naming the fix. DROP of a captured table
//     (DROP TABLE, DROP DATABASE, CREATE OR REPLACE) and CREATE (or
//     RENAME to) of a table Config.Tables matches make their batch a
//     Barrier naming the tables (capture.Batch.Dropped, Added; see
//     ddl.go); temporary tables are ignored. A column rename
//     (RENAME COLUMN, CHANGE a b) is read from the statement and applied
//     at once (ddl_rename.go): its Barrier carries the renamed layout
//     (capture.Batch.Layouts, columns with schema.Column.RenamedFrom). Without FULL metadata a TABLE_MAP
//     that differs from the discovered layout stops it, naming the
//     setting.
//   - TIMESTAMP values are UTC instants whatever the server's or the
//     session's zone. DATETIME values are wall clocks (Iceberg timestamp)
//     unless Config.ServerTimeZone names a zone other than time.UTC: then
//     they are the UTC instants of those wall clocks in that zone (Iceberg
//     timestamptz; a wall clock in a DST gap is read with the offset
//     before the gap, one in an overlap as the earlier instant), the same
//     on both paths because both go through one conversion;
//   - ENUM and SET labels with characters outside the BMP (emoji), which
//     information_schema shows as '?', are read in full: the snapshot
//     receives the stored label, the stream takes the labels from the
//     TABLE_MAP metadata (binlog_row_metadata=FULL; without it a label
//     with '?' is an error naming the setting). TABLE_MAP labels that are
//     not the discovered ones are a schema change;
//   - a snapshot chunk is decoded only with the table's definition at
//     the moment it is read: after reading, still inside the chunk's
//     transaction (which holds the table's metadata lock, so no ALTER can
//     complete in between), the definition is read again, and one that
//     is not the discovered one makes ReadChunk fail with
//     capture.ErrLayoutChanged (floe run then starts again from the
//     committed positions with the new layout). Decoded with the old
//     layout, a widened column lost digits and an added one was missing,
//     and the stream dropped the changes that carried the right values,
//     because the chunk's watermark was past them.
//
// See docs/checkpoint-protocol.md (positions, chunk watermarks, convergence).
package mysql
