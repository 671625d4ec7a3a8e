package checkpoint

import (
	"sync"
	"time"

	"github.com/floe-cdc/floe/capture"
)

// StatusBoard is a read-only, race-free view of a running pipeline's
// per-table state, for an admin API. The coordinator publishes a copy of
// its state to it (Options.Status) after recovering the tables and after
// every checkpoint; readers on other goroutines get that copy and never
// touch the coordinator's own fields. One board may outlive several
// Coordinators (the attempts of one floe run): each publishes over the
// last. The zero value is not usable; create it with NewStatusBoard.
type StatusBoard struct {
	mu   sync.Mutex
	live *LiveStatus
}

// NewStatusBoard returns an empty board.
func NewStatusBoard() *StatusBoard { return &StatusBoard{} }

// LiveStatus is what a coordinator last published.
type LiveStatus struct {
	// At is when it was published.
	At time.Time
	// Applied is the position of the last complete transaction the
	// coordinator applied ("" before the source started); Acknowledged
	// the last one it acknowledged to the source (the slot's confirmed
	// position on PostgreSQL), which no table's committed position is
	// behind.
	Applied, Acknowledged string
	// NextCheckpoint is the number the next checkpoint will carry.
	NextCheckpoint int64
	Tables         []TableLive
}

// TableLive is one captured table as the coordinator holds it.
type TableLive struct {
	// Source is the source table (capture.TableID), Sink its Iceberg
	// table as namespace.name.
	Source, Sink string
	// Checkpoint and Position are what the table's last commit recorded
	// (0 and "" when it has none).
	Checkpoint int64
	Position   string
	// Committed is Position decoded (nil when none), for measuring it
	// against the source's end (capture.Distancer).
	Committed capture.Position
	// SnapshotID is the Iceberg snapshot of this run's last commit of the
	// table (0 before its first), the one Checkpoint and Position are of.
	SnapshotID int64
	// LastCommit is when this run last committed the table, or recovered
	// it when it has not committed yet.
	LastCommit time.Time
	// Snapshotting is true while the table's initial snapshot runs;
	// ChunksDone of ChunksTotal chunks are committed.
	Snapshotting            bool
	ChunksDone, ChunksTotal int
	// Reconciling is true while the stream has not passed the watermarks
	// of the table's finished snapshot.
	Reconciling bool
	// ConvergeUntil is set while the table converges after an inexact
	// snapshot.
	ConvergeUntil string
	// Paused is true while the table is paused (Control): its changes
	// wait at the source after Position. PauseRequested is true while a
	// pause is asked for, also before it takes effect.
	Paused, PauseRequested bool
	// DeadLetters is the number of the table's changes this pipeline
	// wrote to the dead-letter table (pipeline.dead-letter), as its
	// dead-letter commits record it.
	DeadLetters int64
}

// Load returns a copy of what was last published; ok is false before the
// first publication.
func (b *StatusBoard) Load() (st LiveStatus, ok bool) {
	if b == nil {
		return LiveStatus{}, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.live == nil {
		return LiveStatus{}, false
	}
	st = *b.live
	st.Tables = append([]TableLive(nil), b.live.Tables...)
	return st, true
}

// Publish replaces what the board holds with a copy of st. The
// coordinator publishes; tests of readers may too.
func (b *StatusBoard) Publish(st LiveStatus) {
	st.Tables = append([]TableLive(nil), st.Tables...)
	b.mu.Lock()
	b.live = &st
	b.mu.Unlock()
}

// publishStatus copies the coordinator's per-table state to
// Options.Status. It runs on the coordinator's goroutine, which owns the
// fields it reads.
func (c *Coordinator) publishStatus() {
	if c.opts.Status == nil {
		return
	}
	st := &LiveStatus{At: time.Now(), NextCheckpoint: c.nextCheckpoint, Tables: make([]TableLive, 0, len(c.order))}
	if c.lastPos != nil {
		st.Applied = c.lastPos.String()
	}
	if c.ackedPos != nil {
		st.Acknowledged = c.ackedPos.String()
	}
	for _, t := range c.order {
		tl := TableLive{
			Source: t.id.String(), Sink: t.target.Namespace + "." + t.target.Name,
			Checkpoint: t.checkpoint, SnapshotID: t.snapshotID, LastCommit: t.lastCommit,
			Snapshotting: t.needsSnapshot || (t.plan != nil && !t.plan.Complete()), Reconciling: t.window != nil,
		}
		if t.committed != nil {
			tl.Position, tl.Committed = t.committed.String(), t.committed
		}
		if t.plan != nil {
			tl.ChunksTotal, tl.ChunksDone = len(t.plan.Chunks), len(t.plan.Chunks)-len(t.plan.Remaining())
		}
		if t.convergeUntil != nil {
			tl.ConvergeUntil = t.convergeUntil.String()
		}
		tl.Paused = t.paused
		tl.DeadLetters = t.deadCount
		tl.PauseRequested = c.opts.Control != nil && c.opts.Control.pauseRequested(t.id)
		st.Tables = append(st.Tables, tl)
	}
	c.opts.Status.Publish(*st)
}
