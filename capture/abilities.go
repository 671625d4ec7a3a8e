package capture

import (
	"context"

	"github.com/floe-cdc/floe/schema"
)

// The optional abilities of a source, each found by a type assertion on
// a Source, all declared here. Every source package asserts the ones it
// has at compile time (var _ capture.X = (*Source)(nil); the database
// backends assert the set they all have as toolkit.Backend, and the rest
// in their abilities.go), and callers assert these declarations, never an
// interface of their own. The one exception is checkpoint's test hook
// before a re-snapshot's fast-forward (fastForwarder in
// checkpoint/onestate.go): its method is unexported, so only checkpoint's
// own test sources can have it, and no source does.
//
// Who uses which:
//
//	Snapshotter         checkpoint: the initial snapshot and floe resnapshot's
//	SnapshotExporter    checkpoint: tables read from scratch after a resumed start
//	Watermarker         checkpoint: chunks read at positions of their own
//	BesideWatermarker   checkpoint: such chunks read beside the stream
//	RowReader           checkpoint: convergence after an inexact snapshot
//	SchemaFollower      checkpoint: evolving Iceberg tables with the stream
//	AddedColumnChecker  checkpoint: columns added while Floe was stopped
//	RenameStater        checkpoint: a rename while stopped left to the stream
//	TableIdentifier     checkpoint: continuity of a table across runs
//	TableLister         checkpoint: tables dropped while no run saw it
//	DropFinder          checkpoint: drops the stream does not carry
//	NewTableFinder      checkpoint: new tables the stream does not announce
//	TableScanner        floe verify (checkpoint/verify): source rows to compare
//	Checker             floe check and floe run: the preflight
//	ExclusiveChecker    floe check: another reader on what the pipeline reads
//	DDLTriggerInstaller floe check: the DDL event trigger, installed by --fix
//	StreamHolder        floe resnapshot: refuse while a floe run streams
//
// Liveness is not an ability: a source reports its stream's liveness to
// the capture.Liveness its Config names (both sources have the field).

// Snapshotter is implemented by sources that can read tables in chunks
// for the initial snapshot. Its methods are called after Start and
// before Stream (under a snapshot ExportSnapshot took, also while Stream
// runs, until EndSnapshot); PlanChunks and ReadChunk may be called
// concurrently with each other and themselves (different tables and
// chunks).
//
// Used by the coordinator (checkpoint) for the initial snapshot and for
// tables it resets; a source without it can only stream.
type Snapshotter interface {
	// PlanChunks splits the table into contiguous key ranges of about
	// rowsPerChunk rows, covering the whole key space; the sources in this
	// module also end a chunk once its rows' stored bytes pass about
	// 32 MiB (toolkit.ChunkBytes), so a chunk of huge rows holds few.
	PlanChunks(ctx context.Context, table TableID, rowsPerChunk int) ([]Chunk, error)
	// ReadChunk reads every row of the chunk as OpRead changes in one
	// Batch (Position = StartInfo.From, Chunk set). Its errors name the
	// chunk and the table.
	ReadChunk(ctx context.Context, table TableID, chunk Chunk) (Batch, error)
	// EndSnapshot releases snapshot resources; Stream may start afterwards.
	EndSnapshot(ctx context.Context) error
}

// SchemaFollower is implemented by sources whose stream follows schema
// changes of captured tables: a change's Schema pointer changes with the
// layout it was written in, a DDL batch is a Barrier (PostgreSQL, whose
// stream carries no DDL: an empty Barrier batch before the transaction
// that first writes in the new layout, when that transaction has no
// changes before the new layout and a position is free before it), and
// a change whose effect on existing rows the stream cannot carry stops
// it with an error.
//
// Used by the coordinator (checkpoint), which evolves Iceberg tables only
// for such sources; for any other, a source layout that differs from its
// Iceberg table's is an error naming floe resnapshot.
type SchemaFollower interface {
	FollowsSchemaChanges() bool
}

// AddedColumnChecker is implemented by schema followers whose stream may
// not show a column added while Floe was stopped (PostgreSQL: no change
// of the table between the last commit and the ALTER, so no Relation
// message announces the new layout).
//
// Used by the coordinator (checkpoint) at start, before it adds columns
// of the discovered layout to an Iceberg table: an error (a column the
// source filled into existing rows, such as one added with a default)
// stops the run instead, naming the table, the column and the fix.
type AddedColumnChecker interface {
	CheckAddedColumns(ctx context.Context, table TableID, columns []string) error
}

// RenameStater is implemented by schema followers whose stream may state
// column renames (schema.Column.RenamedFrom on a change's layout) at the
// position of the DDL, from the DDL itself: MySQL/MariaDB always (the
// binlog carries the DDL), PostgreSQL with Floe's DDL event trigger
// installed (see DDLTriggerInstaller).
//
// Used by the coordinator (checkpoint) at start: when StatesRenames is
// true and a table's current source layout replaces columns of its
// Iceberg table (a rename since the table's position looks like a drop
// and an add), the table is not evolved to that layout; the stream,
// replayed from the table's position, says what changed, and the table
// evolves by the first layout it carries. When false, the current layout
// is adopted at start as for any source.
type RenameStater interface {
	// StatesRenames reports whether the stream states renames (for
	// PostgreSQL: whether the trigger was installed at the last
	// Discover). It is called at start, after Discover, and must be cheap
	// (no server round trip).
	StatesRenames() bool
}

// Watermarker is implemented by sources that read each snapshot chunk at
// an exact position of its own, later than StartInfo.From (MariaDB: the
// binlog position of the chunk's consistent snapshot). ReadChunk's batch
// then carries that position, the chunk's watermark, instead of From: its
// rows are the chunk's rows exactly as of the watermark. A change of a key
// in that chunk's range at or before the watermark is therefore already in
// those rows, and the stream must not emit it again; later changes it
// emits as usual. This is the DBLog reconciliation of chunks with the
// stream, with a window of zero width. A chunk the source cannot read
// that way (a key it cannot order as the server does) comes back at From
// and converges by replay, as with an inexact snapshot.
//
// Used by the coordinator (checkpoint), which records each chunk's
// watermark in the table's snapshot plan and hands the plans back.
type Watermarker interface {
	// SetWatermarks is called before Stream with the plan of every table
	// that has chunks with watermarks the stream may not have passed yet
	// (SnapshotPlan.Watermarks, from this run or a committed earlier one).
	SetWatermarks(ctx context.Context, plans map[TableID]*SnapshotPlan) error
}

// BesideWatermarker is implemented by Watermarkers that can read a
// table's chunks at watermarks while the stream runs, without an exported
// snapshot (MariaDB; MySQL, in watermark windows: with GTIDs, or with
// file positions and the LOCK TABLES privilege).
//
// Used by the coordinator (checkpoint) to read such tables beside the
// stream. It then hands their plans (SnapshotPlan.Streamed, no chunk
// done) to SetWatermarks before Stream, and the source must, for each:
//   - until a chunk is read, emit every change of a key in its range;
//   - when ReadChunk reads a chunk at watermark W, from then on drop the
//     changes of keys in its range at or before W (as for any chunk with
//     a watermark), atomically with the read's registration; a chunk
//     read in a window (rows holding every change up to a low watermark
//     L before W and maybe later ones) drops those at or before L only,
//     emits the later ones, and leaves out of the chunk the row of every
//     key it emitted a change of after L (ReadChunk returns it once its
//     stream has passed W): those changes give such a key's state;
//   - append to that chunk's batch a delete (OpDelete, Before a key-only
//     row, BeforeKeyOnly) of every key in its range that a change it
//     emitted before the registration, at or before W (L for a window;
//     none for a key changed after L), left present and
//     that the chunk's rows lack: the key was removed at or before W by
//     a change the stream dropped, or by none (ALTER TABLE ... DROP
//     PARTITION), and only such a delete removes the image the emitted
//     change wrote.
//
// So a chunk's rows and deletes, applied after every change at or before
// W the source emitted, give their keys' state at W; a key of its range
// with neither keeps what those changes gave it.
//
// Stream must keep PlanChunks and ReadChunk working for such plans until
// EndSnapshot.
type BesideWatermarker interface {
	Watermarker
	// ReadsAtWatermarks reports whether every chunk of table will be read
	// at a watermark of its own (called after Start).
	ReadsAtWatermarks(table TableID) bool
}

// RowReader is implemented by sources that can read current rows by key.
// A change replayed over rows read at a later position cannot take an
// unchanged value it was not sent from Iceberg, so it is filled from the
// source's current row, and the table converges once the stream passes
// the position at which that row was read.
//
// Used by the coordinator (checkpoint) after a resumed (inexact) snapshot.
type RowReader interface {
	// ReadRows returns the current rows of the given keys (key-only rows
	// in the table's key order); keys with no row are left out. The rows
	// are in the layout returned with them: the table's layout at the
	// source when they were read, which a schema change since discovery
	// (a column dropped, added, widened) makes differ from the discovered
	// one and from the layout of changes still being replayed.
	ReadRows(ctx context.Context, table TableID, keys []schema.Row) ([]schema.Row, *schema.Table, error)
	// CurrentPosition returns a position at or after every transaction
	// committed before the call.
	CurrentPosition(ctx context.Context) (Position, error)
}

// TableIdentifier is implemented by sources that can prove the
// continuity of a table's changes across runs and while streaming. Such
// a source keeps its stream position on the server (PostgreSQL: the
// replication slot) and moves it only by Ack, so StartInfo.From after a
// table's committed position means the table's changes in between were
// released without being captured for it.
//
// Used by the coordinator (checkpoint) to reset a table that lost
// changes, at start and before every checkpoint's commits.
type TableIdentifier interface {
	// TableIdentities returns the identity of every captured table: a
	// string that changes whenever the source stops carrying the table's
	// changes and carries them again, or the table's name comes to denote
	// another table (PostgreSQL: the table's OID and the OID of its row in
	// the publication, which a table that leaves and re-joins the
	// publication gets anew and a dropped table loses), and "" when the
	// source does not carry the table's changes now (PostgreSQL: not in
	// the publication, or no such table). It is called before Start
	// (which may alter what is carried), after it, and before every
	// checkpoint's commits, so it must be cheap: one catalog query.
	TableIdentities(ctx context.Context) (map[TableID]string, error)
}

// SnapshotExporter is implemented by sources that can read a snapshot
// exactly at a position of their own when the stream does not start at an
// exported one (StartInfo.Exact false). PostgreSQL creates a temporary
// replication slot with an exported snapshot.
//
// Used by the coordinator (checkpoint) for tables read from scratch after
// a start that resumed from a slot.
type SnapshotExporter interface {
	// ExportSnapshot is called after Start and before any PlanChunks or
	// ReadChunk. It takes a consistent snapshot at a new position R: every
	// transaction whose position is at or before R is in it, none after,
	// and every transaction committed before the call is at or before R.
	// Until EndSnapshot, PlanChunks and ReadChunk read under it and
	// ReadChunk's batches carry Position R. A table read from scratch
	// under it holds exactly its rows as of R; its changes at or before R,
	// which the stream still emits, must then be skipped. The exported
	// snapshot outlives Stream's start (Stream does not end it), so that
	// its tables can be read while the others stream.
	ExportSnapshot(ctx context.Context) (Position, error)
}

// TableScanner is implemented by sources that can read every current row
// of a table through the same decoders the capture uses.
//
// ScanTable hands each row to fn, in key order. A row with a value the
// source cannot decode (a *schema.ValueError) goes to bad, when bad is
// set, with its key decoded (a row of the table's layout with only the
// key columns set) and the error, and the scan goes on; with bad nil it
// ends the scan with its error. A row whose key itself cannot be decoded
// ends the scan either way.
//
// Used by floe verify (package checkpoint/verify), which compares those rows with
// the Iceberg table key by key, leaving the rows it was handed by bad out
// of the comparison under pipeline.dead-letter table (their changes are
// in the dead-letter table, not the Iceberg table); a source without it
// cannot be verified.
type TableScanner interface {
	ScanTable(ctx context.Context, id TableID, fn func(schema.Row) error, bad func(key schema.Row, err error) error) error
}

// Checker is implemented by sources that can check, before anything is
// created, that the server and the user can do what capture needs
// (replication settings, grants, the tables). Each problem names the
// field to change, or "source" for the server.
//
// Used by floe check, and by floe run before it creates anything, so
// both report the same problems the same way.
type Checker interface {
	Check(ctx context.Context) []Problem
}

// ExclusiveChecker is implemented by sources that can tell whether
// another reader holds what the pipeline reads exclusively (PostgreSQL:
// the replication slot; MySQL/MariaDB: the replica server id).
//
// Used by floe check; floe run finds out by failing.
type ExclusiveChecker interface {
	CheckExclusive(ctx context.Context) []Problem
}

// StreamHolder is implemented by sources that can tell who streams from
// them (the PostgreSQL slot's walsender, a MySQL replica with the
// pipeline's server id): a description, or "" when nobody does.
//
// Used by floe resnapshot, which refuses while a floe run streams.
type StreamHolder interface {
	StreamHolder(ctx context.Context) (string, error)
}

// DDLTriggerInstaller is implemented by sources that capture DDL through
// an event trigger of Floe's that must be installed in the source
// database (PostgreSQL: floe_ddl, whose messages let the stream state
// column renames; see RenameStater). Without it such a source still
// captures, but a column rename stops the pipeline.
//
// Used by floe check, which notes a trigger missing or outdated once
// every check passed, and with --fix installs it first (a failure to is
// one more problem, naming the user).
type DDLTriggerInstaller interface {
	// DDLTriggerInstalled reports whether the trigger is installed and
	// enabled.
	DDLTriggerInstalled(ctx context.Context) (bool, error)
	// DDLTriggerOutdated reports whether the installed trigger is an
	// older build's, which floe check --fix replaces; false when none is
	// installed.
	DDLTriggerOutdated(ctx context.Context) (bool, error)
	// InstallDDLTrigger installs the trigger, replacing an older one. It
	// needs a superuser; another user's error says so.
	InstallDDLTrigger(ctx context.Context) error
}

// TableLister is implemented by sources that can tell whether a table
// exists at the source at all, matched by source.tables or not.
//
// Used by the coordinator (checkpoint) at the start of every attempt to
// find the tables a pipeline committed to that were dropped while no run
// was there to see it (stopped, killed, or restarted before the stream
// passed the drop): their Iceberg tables are marked dropped. A table
// that still exists but is no longer matched is left as it is.
type TableLister interface {
	// TableExists reports whether table id exists at the source now.
	TableExists(ctx context.Context, id TableID) (bool, error)
}

// DropFinder is implemented by sources whose stream carries no DROP TABLE
// and that can tell a captured table dropped from one only taken out of
// what they carry (PostgreSQL: pgoutput sends nothing for a DROP TABLE,
// and the table leaves the publication with it, so TableIdentities
// reports it as not carried either way).
//
// Used by the coordinator (checkpoint) when the identity check finds a
// table no longer carried: a dropped table has no changes after its drop
// and every change before it is still to come from the stream, so
// instead of being reset as a table that lost changes, it passes the
// check and is committed as any table until the stream passes the
// position CurrentPosition returned when it was found; then it is marked
// dropped and retired.
type DropFinder interface {
	// DroppedTables returns the captured tables (those Discover found)
	// that no longer exist at the source: dropped since, or dropped and
	// created again under the same name (another table). It may open a
	// connection of its own.
	DroppedTables(ctx context.Context) (map[TableID]bool, error)
	// CurrentPosition returns a position at or after every transaction
	// committed before the call (as RowReader's does).
	CurrentPosition(ctx context.Context) (Position, error)
}

// NewTableFinder is implemented by sources whose stream does not announce
// new tables (PostgreSQL: pgoutput carries no CREATE TABLE, and the
// publication lists only the captured tables), so that a table created
// after Discover that source.tables matches must be looked for.
//
// Used by the coordinator (checkpoint) from a checkpoint tick, on a
// goroutine of its own, at most one look at a time and
// checkpoint.NewTablesInterval after the last one ended; a table found
// ends the attempt with checkpoint.ErrRestart at the next tick, and the next attempt's Discover and Start
// capture it.
type NewTableFinder interface {
	// NewTables returns the tables the source's configuration matches that
	// it does not capture (created since its Discover), without describing
	// or capturing them. It runs beside the stream and must return once
	// ctx ends, even against a server that stopped answering.
	NewTables(ctx context.Context) ([]TableID, error)
}
