// Package postgres is the PostgreSQL change source: logical replication
// through a replication slot and the built-in pgoutput plugin (protocol
// version 1), plus a chunked, consistent initial snapshot.
//
// In: a PostgreSQL database with wal_level=logical and a role that has the
// REPLICATION attribute (or is superuser) and owns the captured tables
// (publications need ownership). Config names the tables by anchored
// regular expressions on "schema.table".
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
// slot keeps moving (PostgreSQL 13's pgoutput sends no messages: there the
// message is transactional and its otherwise empty transaction's commit
// is the Batch). ReadChunk emits one Batch of OpRead changes per chunk
// with Position = StartInfo.From.
//
// Invariants:
//   - every connection runs with DateStyle=ISO, IntervalStyle=iso_8601,
//     TimeZone=UTC, extra_float_digits=3, bytea_output=hex, lc_monetary=C,
//     and every value, snapshot or stream, is decoded from its text form by
//     the column's schema.PostgresDecoder: one code path for both;
//   - the publication holds exactly the captured tables;
//   - the slot's confirmed position (standby status write/flush/apply) is
//     only ever an acknowledged position, and never moves backwards;
//   - a keepalive that asks for a reply, outside a transaction and at a WAL
//     end beyond the acknowledged position, becomes an empty Sync batch at
//     that WAL end (everything before it was sent; at a fast shutdown the
//     walsender waits for exactly that to be confirmed), and so does a
//     logical message with prefix floe.sync (SyncPrefix);
//   - a table's identity (TableIdentities) is its OID and the OID of its
//     pg_publication_rel row, "" while it is not in the publication;
//   - with the slot in place, ExportSnapshot takes an exact snapshot at its
//     own consistent point R through a TEMPORARY slot created with
//     EXPORT_SNAPSHOT, kept until EndSnapshot; chunks then carry R;
//   - a value a column's decoder rejects (schema.ValueError) is carried on
//     its change as Err; the stream goes on;
//   - a freshly created slot exports its snapshot, the chunk readers import
//     it (each read in a transaction of its own, so that no reader holds a
//     table lock another reader could queue behind), and the stream starts
//     at the slot's consistent point: no gap, no overlap (StartInfo.Exact). An existing slot gives From = its confirmed
//     position (or the resume position if later) and chunks are read under
//     fresh snapshots that converge by replay (Exact = false), or under
//     the snapshot ExportSnapshot took;
//   - a layout change seen in the stream (a Relation message that differs
//     from the discovered layout) is an error; schema evolution comes later.
package postgres
