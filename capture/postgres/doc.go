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
// a transaction with more than MaxBatchChanges changes is emitted in parts
// with More set and the provisional Position commit LSN + 1. When the
// database is idle, a heartbeat message is written every HeartbeatInterval
// and arrives as an empty Batch whose Position may be acknowledged, so the
// slot keeps moving; its CommitTime is the time it was written. ReadChunk
// emits one Batch of OpRead changes per chunk with Position =
// StartInfo.From.
//
// Liveness (stall.go): a stream that delivers nothing, not even Floe's own
// heartbeat, for StallTimeout while Floe waits for it, and whose walsender
// does not work meanwhile (its sent_lsn, or else its wait event), fails
// with a capture.StallError after the walsender is terminated; a
// walsender that works through WAL that yields nothing is waited for.
// Config.Liveness receives the stream's state (streaming, heard, owed
// heartbeats). StreamHolder names the walsender holding the slot.
//
// Invariants:
//   - every connection runs with DateStyle=ISO, IntervalStyle=iso_8601,
//     TimeZone=UTC, extra_float_digits=3, bytea_output=hex, lc_monetary=C,
//     and every value, snapshot or stream, is decoded from its text form by
//     the column's schema.PostgresDecoder: one code path for both;
//   - the publication holds exactly the captured tables;
//   - the slot's confirmed position (standby status write/flush/apply) is
//     only ever an acknowledged position, and never moves backwards;
//   - a freshly created slot exports its snapshot, the chunk readers import
//     it, and the stream starts at the slot's consistent point: no gap, no
//     overlap (StartInfo.Exact). An existing slot gives From = its confirmed
//     position (or the resume position if later) and chunks are read under
//     fresh snapshots that converge by replay (Exact = false);
//   - a layout change seen in the stream (a Relation message that differs
//     from the discovered layout) is an error; schema evolution comes later.
package postgres
