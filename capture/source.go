package capture

import (
	"context"

	"github.com/floe-cdc/floe/schema"
)

// Position is a point in one source's change stream. Positions of one
// source are totally ordered.
type Position interface {
	// String is the versioned, persisted encoding (written into Iceberg
	// snapshot summaries as floe.position). DecodePosition inverts it.
	String() string
	// Compare returns -1, 0 or +1 as the receiver is before, equal to or
	// after other. other comes from the same source kind.
	Compare(other Position) int
}

// StartRequest tells a source how to begin.
type StartRequest struct {
	// Resume is the lowest position committed by any captured table, or nil
	// when nothing was ever committed.
	Resume Position
	// Snapshot is true when at least one table will be read by the
	// Snapshotter before streaming starts. (A table a TableIdentifier
	// source reveals as a gap only after Start, from StartInfo.From, is
	// read too; Start has then found its slot and exports no snapshot.)
	Snapshot bool
}

// StartInfo is what Start reports.
type StartInfo struct {
	// From is the position the stream starts after: Stream emits only
	// batches with positions after From.
	From Position
	// Exact is true when snapshot chunks read before Stream starts are
	// consistent with From exactly (an exported snapshot at From); false
	// when they are read at a later point and converge by replay.
	Exact bool
}

// Source reads one database's changes. The lifecycle is
// Discover -> Start -> (Snapshotter calls) -> Stream -> Close.
//
// Contract: Stream emits batches in source order with increasing
// positions; Ack(p) tells the source that everything at or before p is
// durable downstream, and the source may then release it (PostgreSQL:
// standby status flush LSN). Ack is never called with a position that
// has not been emitted, and acks never move backwards.
type Source interface {
	// Discover connects and returns the captured tables with their current layouts.
	Discover(ctx context.Context) ([]TableInfo, error)
	// Start prepares replication (slot, publication, exported snapshot).
	Start(ctx context.Context, req StartRequest) (StartInfo, error)
	// Stream sends batches after StartInfo.From to out until ctx is done or
	// an error occurs. It returns ctx.Err() on cancellation. Called once.
	Stream(ctx context.Context, out chan<- Batch) error
	// Ack marks everything at or before pos as durable. Safe for concurrent use.
	Ack(pos Position)
	// DecodePosition parses a position encoded by Position.String.
	DecodePosition(s string) (Position, error)
	// Close releases connections. Safe to call more than once.
	Close() error
}

// Snapshotter is implemented by sources that can read tables in chunks
// for the initial snapshot. Its methods are called after Start and
// before Stream; PlanChunks and ReadChunk may be called concurrently with
// each other and themselves (different tables and chunks).
type Snapshotter interface {
	// PlanChunks splits the table into contiguous key ranges of about
	// rowsPerChunk rows, covering the whole key space.
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
// layout it was written in, a DDL batch is a Barrier, and a change whose
// effect on existing rows the stream cannot carry stops it with an error.
// The coordinator evolves Iceberg tables only for such sources; for any
// other, a source layout that differs from its Iceberg table's is an
// error naming floe resnapshot.
type SchemaFollower interface {
	FollowsSchemaChanges() bool
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
type Watermarker interface {
	// SetWatermarks is called before Stream with the plan of every table
	// that has chunks with watermarks the stream may not have passed yet
	// (SnapshotPlan.Watermarks, from this run or a committed earlier one).
	SetWatermarks(ctx context.Context, plans map[TableID]*SnapshotPlan) error
}

// RowReader is implemented by sources that can read current rows by key.
// The coordinator uses it after a resumed (inexact) snapshot: a change
// replayed over rows read at a later position cannot take an unchanged
// value it was not sent from Iceberg, so it is filled from the source's
// current row, and the table converges once the stream passes the
// position at which that row was read.
type RowReader interface {
	// ReadRows returns the current rows of the given keys (key-only rows
	// in the table's key order); keys with no row are left out.
	ReadRows(ctx context.Context, table TableID, keys []schema.Row) ([]schema.Row, error)
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
type SnapshotExporter interface {
	// ExportSnapshot is called after Start and before any PlanChunks or
	// ReadChunk. It takes a consistent snapshot at a new position R: every
	// transaction whose position is at or before R is in it, none after,
	// and every transaction committed before the call is at or before R.
	// Until EndSnapshot, PlanChunks and ReadChunk read under it and
	// ReadChunk's batches carry Position R. A table read from scratch
	// under it holds exactly its rows as of R; its changes at or before R,
	// which the stream still emits, must then be skipped.
	ExportSnapshot(ctx context.Context) (Position, error)
}
