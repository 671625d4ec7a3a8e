// Package verify is floe verify: it compares every captured source table
// with its Iceberg table, key by key.
//
// In: a capture.Source that also reads whole tables (TableScanner), the
// pipeline's catalog, router and sink mode.
// Out: one TableReport per captured table: row counts and an
// order-independent hash of every source column on both sides, the keys
// missing, extra or differing (a few examples, and for differing keys the
// columns that differ), and the position the Iceberg table committed (its
// pipeline's newest commit, read through lakewriter/ledger).
//
// Invariants:
//   - it only reads: nothing is written to the source or the catalog;
//   - source rows are read through the capture's own decoders, so a value
//     compares equal exactly when Floe would have written it unchanged;
//   - an upsert table is compared as it is; a changelog table is folded
//     to the newest image per key (by _floe_pos, then _floe_seq; a delete
//     removes the key, a truncate everything before it); a table without
//     a key cannot be folded and is skipped, saying so;
//   - an Iceberg table that evolved past the source (columns the source
//     dropped, wider types) is compared on the source's columns by name,
//     source values promoted to the wider types;
//   - with Options.LeaveOutUndecodable (pipeline.dead-letter table), rows
//     the source cannot decode (handed to capture.TableScanner's bad by
//     key), are left out of the comparison on both sides and counted
//     (Undecodable): their
//     changes are in the dead-letter table; otherwise such a row fails the
//     table's scan with its error;
//   - the comparison is meaningful against a quiet source once floe has
//     caught up; verify itself does not wait.
//
// It stands beside the coordinator (package checkpoint), which never
// imports it. See docs/architecture.md.
package verify
