// Package postgres is the PostgreSQL change source: logical replication
// through a replication slot and the built-in pgoutput plugin (protocol
// version 1), plus a chunked, consistent initial snapshot.
//
// In: a PostgreSQL database with wal_level=logical and a role that has the
// REPLICATION attribute (or is superuser) and owns the captured tables
// (publications need ownership). Config names the tables by anchored
// regular expressions on "schema.table". Config is the source: section
// of a configuration file: Defaults() holds every default (floe run takes
// its own from there, the slot and publication names from
// IdentFor(pipeline)), Validate reports each bad setting with its field
// and fix, and New refuses a Config Validate faults.
//
// Out: capture.Batches. Stream emits one Batch per source transaction
// (Position = the transaction's end LSN, CommitTime = its commit time);
// a transaction with more than MaxBatchChanges changes, or whose changes
// pass MaxBatchBytes (capture.Change.Size), is emitted in parts with More
// set and the provisional Position commit LSN + 1; a part is emitted as
// soon as its changes reach MaxBatchBytes, so the final Batch of such a
// transaction may hold no changes. When the
// database is idle, a heartbeat message is written every HeartbeatInterval
// and arrives as an empty Batch whose Position may be acknowledged, so the
// slot keeps moving; its CommitTime is the time it was written
// (PostgreSQL 13's pgoutput sends no messages: there the message is
// transactional and its otherwise empty transaction's commit is the
// Batch). ReadChunk emits one Batch of OpRead changes per chunk with
// Position = StartInfo.From. Check reports what would stop capture;
// CheckExclusive, for floe check, whether another walsender streams from
// the slot.
//
// Liveness (stall.go): a stream that delivers nothing, not even Floe's own
// heartbeat, for StallTimeout while Floe waits for it, and whose walsender
// does not work meanwhile (its sent_lsn, or else its wait event), fails
// with a capture.StallError after the walsender is terminated; a
// walsender that works through WAL that yields nothing is waited for, and
// so is one waiting for WAL while the oldest undelivered heartbeat ends
// beyond the server's flush position.
// Config.Liveness receives the stream's state (streaming, heard, owed
// heartbeats). StreamHolder names the walsender holding the slot. Every
// regular (non-replication) connection is bounded the same way: a read
// or write that moves no byte for StallTimeout fails
// (capture.BoundedDial); planning a table's chunks and ScanTable wait
// capture.LongReadFactor times as long. The replication connection
// holding an exported snapshot sends nothing while chunks are read; a
// half-open one is noticed when the stream starts.
//
// Invariants:
//   - every connection runs with DateStyle=ISO, IntervalStyle=iso_8601,
//     TimeZone=UTC, extra_float_digits=3, bytea_output=hex, lc_monetary=C,
//     and every value, snapshot or stream, is decoded from its text form by
//     the column's pgtype.TextDecoder: one code path for both; except that
//     snapshot reads take bytea, and integers, booleans, uuids, dates and
//     timestamps (pgtype.BinaryDecoder: the same values and errors), in
//     binary form (readCodec in snapshot.go);
//   - the publication holds exactly the captured tables;
//   - the slot's confirmed position (standby status write/flush/apply) is
//     only ever an acknowledged position, and never moves backwards;
//   - a Stream stopped by its context returns once its walsender has
//     released the slot (bounded by slotReleaseTimeout), so a Stream
//     started right after it is not refused the slot;
//   - a keepalive that asks for a reply, outside a transaction and at a WAL
//     end beyond the acknowledged position, becomes an empty Sync batch at
//     that WAL end (everything before it was sent; at a fast shutdown the
//     walsender waits for exactly that to be confirmed), and so does a
//     logical message with prefix floe.sync (SyncPrefix);
//   - a table's identity (TableIdentities) is its OID and the OID of its
//     pg_publication_rel row, "" while it is not in the publication; a
//     partitioned table's also names its leaf partitions, so attaching or
//     detaching one changes it (partitions.go);
//   - a partitioned table is captured as one table through a publication
//     with publish_via_partition_root; its captured partitions are not
//     captured again on their own;
//   - with the slot in place, ExportSnapshot takes an exact snapshot at its
//     own consistent point R through a TEMPORARY slot created with
//     EXPORT_SNAPSHOT, kept until EndSnapshot (Stream does not end it, so
//     that its tables are read while the others stream); chunks then
//     carry R;
//   - a value a column's decoder rejects (schema.ValueError, naming the
//     row's key) is carried on its change as Err, with the row as the
//     server sent it as Raw (raw.go), in the stream and in snapshot chunks
//     (an OpRead change with Err, no After); the stream and the chunk go
//     on. floe verify's scan and the re-read of rows still fail on it;
//   - the type choices of Config.ColumnTypes are applied at discovery
//     (pgtype.ApplyTypes, once the key is known) and to each column a
//     Relation message maps anew, before its decoder is built;
//   - a freshly created slot exports its snapshot, the chunk readers import
//     it (each read in a transaction of its own, so that no reader holds a
//     table lock another reader could queue behind), and the stream starts
//     at the slot's consistent point: no gap, no overlap (StartInfo.Exact). An existing slot gives From = its confirmed
//     position (or the resume position if later) and chunks are read under
//     fresh snapshots that converge by replay (Exact = false), or under
//     the snapshot ExportSnapshot took;
//   - layout changes are followed (relation.go; the source is a
//     capture.SchemaFollower): a Relation message is diffed against the
//     layout the stream had (the discovered one for the session's first),
//     with the table's pg_attribute rows read when it arrives, the
//     session's first one too even when it repeats the discovered names
//     and types (a NOT NULL dropped, or a column dropped and added again,
//     between discovery and the table's first change shows only in the
//     catalog). An added
//     column without a default, a dropped column, a widening (int2 ->
//     int4 -> int8, float4 -> float8, varchar(n) -> varchar(m >= n),
//     varchar or text, numeric(p,s) -> numeric(p' >= p,s)) and a NOT NULL
//     change give later changes a new Schema pointer, and an empty
//     Barrier batch at the commit LSN of the transaction the message
//     arrives in comes first when none of that transaction's changes did
//     and an earlier batch is not at that LSN already. A column added
//     with a default (atthasdef, atthasmissing) or generated, a rename (an
//     attnum under a new name), a drop and re-add (a new attnum under an
//     old name), a narrowing or other type change, or a dropped key column
//     is refused: the table's changes in the rest of that transaction are
//     OpUnreadable changes whose Err names the table, the column and floe
//     resnapshot (a consumer that re-snapshotted the table after the
//     change skips them), and later transactions are decoded in the new
//     layout (one that cannot be decoded stays unreadable until the next
//     Relation). The session's first Relation may replay a layout older
//     than the discovered one: its type differences are checked only when
//     the catalog has the Relation's type now. What a Relation cannot
//     show: a USING expression that changed values while converting them,
//     and a rename or retype made while Floe was stopped when no change of
//     the table came between the last commit and the ALTER. Columns the
//     coordinator adds at start go through CheckAddedColumns
//     (capture.AddedColumnChecker), which refuses one with a default or a
//     generated one;
//   - with Floe's DDL event trigger installed (ddltrigger.go; floe check
//     --fix), each ALTER TABLE emits a transactional logical message
//     (DDLPrefix) with the table's OID and its columns by attnum; a column
//     it shows under a new name is renamed in a new layout whose columns
//     carry schema.Column.RenamedFrom, emitted as capture.Batch.Layouts on
//     a Barrier at the transaction's position before any of its changes
//     (ddlstream.go); StatesRenames reports the trigger. A column the
//     stream knows by name only (a Relation message replayed from before
//     a rename names the old column, which the catalog no longer has) is
//     renamed by name when the message's query text is a lone ALTER TABLE
//     ... RENAME and no other ALTER TABLE of the table came since the
//     Relation message (table.namesLive); the rename then gives every
//     column its attnum. A key column renamed since the session's first
//     Relation message is taken for the key under its old name there
//     (replayedKey). On the discovered layout (before the table's first
//     Relation message; its names may be later than the stream's) a lone
//     rename renames the column of the new name's attnum, so a chain of
//     renames replays one at a time. Anything less exact renames nothing,
//     and the next Relation message refuses the change; a lone rename's
//     message that disagrees with the layout (a rename the trigger did
//     not see: ALTER VIEW ... RENAME COLUMN works on a table) is an
//     OpUnreadable change of the table. A rename after changes of
//     captured tables in the same transaction is refused as an
//     OpUnreadable change;
//   - a chunk read after its table was rewritten by an ALTER TABLE (the
//     table reads as empty under the older snapshot) or lost a column it
//     reads fails with capture.ErrLayoutChanged (relation_snapshot.go);
//     so does one whose table was altered between discovery and the
//     snapshot (pg_attribute as of the snapshot is not the discovered
//     layout), and any read whose result columns have other built-in
//     types than the discovered ones (resultInLayout): no value is ever
//     decoded as the type its column had before.
//
// See docs/checkpoint-protocol.md (exported snapshots, acknowledgement, identities).
package postgres
