package capture

import (
	"context"
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
