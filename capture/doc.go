// Package capture defines what a change source produces and how it is
// driven: Change, Batch, Position and Source, plus the snapshot chunk
// plan shared by every source, and the optional abilities a source
// declares, all in abilities.go with who uses each: Snapshotter,
// RowReader, Watermarker (chunks read at positions of their own,
// reconciled with the stream), SchemaFollower (the stream follows schema
// changes; a DDL batch is a Barrier), TableIdentifier (a per-table
// identity that changes whenever the source stopped carrying the table's
// changes, so a gap can be told from a quiet table), SnapshotExporter (an
// exact snapshot at a position of the source's own after Start),
// TableScanner (floe verify), TableLister (whether a table exists at all,
// for tables dropped while no run saw it), Checker (the preflight of floe
// check and floe run), ExclusiveChecker and StreamHolder.
//
// It also holds what callers set and read around a source: the settings
// every source's Config has, with their defaults and checks
// (SourceConfig, which each Config embeds; config.go), route
// keys for tables without a primary key (KeyOverride), and what a stream
// reports about its liveness (Liveness, StallError). Problem is
// schema/problem's: it keeps the error it was found from (Problem.Err), so
// a refused connection stays recognisable as one. The parts every backend
// shares but no caller uses (the table registry, table patterns, the
// Start/Stream/Close order, position helpers, the frame of chunk planning
// and of RowReader key batches) live in capture/internal/toolkit, which
// only the backends below capture can import. It imports no database
// driver.
//
// In: a source database (each backend is a subpackage: postgres, mysql).
// Out: Batches — one source transaction each, or one snapshot chunk —
// in source order, each with the Position the stream stands at after it.
//
// Invariants:
//   - a transaction may be split across batches only at change boundaries
//     and is never reordered; positions of stream batches strictly increase
//     (a Sync batch, which asks for its position to be acknowledged at
//     once, may repeat the one before it);
//   - a value the source cannot decode does not end the stream: its change
//     carries Err, and the consumer decides whether it needs the change;
//     a source that can also gives the row as it sent it (Change.Raw,
//     RawRow: column texts, the JSON of a dead letter), and may carry such
//     rows in a snapshot chunk too (PostgreSQL; a MySQL/MariaDB chunk read
//     still fails with the error, its stream carries them);
//   - a source is acknowledged (Source.Ack) only with positions it emitted,
//     never backwards, and only after the data is durable in Iceberg;
//   - snapshot rows and stream rows decode through the same code path;
//   - a change the source's log holds in a form capture cannot turn into
//     rows (OpUnreadable: a MySQL/MariaDB statement logged as text) is
//     emitted, never passed over; consumers stop at it unless the table
//     has committed past its position;
//   - a route's key for a table without a primary key (KeyOverride) is
//     accepted only when NOT NULL columns a unique index covers exactly
//     form it, so two source rows never share a key;
//   - a stream that brings nothing for its StallTimeout while the server
//     is not working for it fails with a *StallError, which callers treat
//     as a lost connection;
//   - every read and write of a source's query connections (snapshot
//     chunks, checks before a commit, re-reads) that moves no byte for
//     the same StallTimeout fails with a *net.OpError around a
//     *SilentConnError naming the server (BoundedDial), so a half-open
//     connection ends the attempt instead of holding it forever; the
//     connection of a whole-table pass (planning a table's chunks, a
//     verify scan) waits LongReadFactor times as long;
//   - SnapshotPlan's encoding is versioned and pinned by a golden test.
//
// See docs/checkpoint-protocol.md (positions, acknowledgement, snapshots).
package capture
