package checkpoint

import (
	"context"
	"time"

	"github.com/apache/iceberg-go/table"

	"github.com/floe-cdc/floe/capture"
)

// A checkpoint of streamed changes only lands in the background while the
// stream loop goes on applying the next changes into new buffers, so that
// the source is not left waiting on Iceberg for the length of every
// commit (in the bench's MariaDB catch-up, a third of the run's time
// went to commits during which nothing was applied). Its commits are
// finished (finishCommit, the acknowledgement, the status, the log) on the
// coordinator's goroutine by settle: as soon as they have landed (the
// stream loop watches landed), and before anything else that reads or
// changes a table's commit state: the next cut, a schema change to
// adopt, a table dropped or added, a restart.
//
// Nothing is acknowledged to the source before settle, so a crash while a
// checkpoint lands replays from the positions the tables committed, as
// it does when a crash hits a commit that blocks: the changes applied
// meanwhile are in memory only. A failed commit ends the run at settle.

// landing is a checkpoint whose table commits are landing in the
// background (launch).
type landing struct {
	commits    []*tableCommit
	checkpoint int64
	pos        capture.Position
	start      time.Time
	done       chan struct{} // closed once every commit has landed or failed
}

// flushOverlapped is flush for the stream loop's regular cuts (the
// interval and the volume triggers): a plain checkpoint (overlappable)
// is left landing in the background.
func (c *Coordinator) flushOverlapped(ctx context.Context) error {
	return c.cutCheckpoint(ctx, false, false, true)
}

// overlappable reports whether the checkpoint being cut holds nothing but
// streamed changes of tables in steady streaming, the only state a
// landing commit and the changes applied meanwhile may share: no
// snapshot rows, chunk plan or window, convergence, re-snapshot branch,
// reset, schema change to record, dead letters, table being dropped, or
// snapshot read beside the stream.
func (c *Coordinator) overlappable() bool {
	if c.beside != nil || len(c.dropping) > 0 || c.openDead {
		return false
	}
	for _, t := range c.order {
		if t.data != nil || t.plan != nil || t.window != nil || t.needsSnapshot || t.convergeUntil != nil ||
			len(t.chunks) > 0 || len(t.dead) > 0 || len(t.schemaChanges) > 0 || t.reset != nil ||
			(t.branch != "" && t.branch != table.MainBranch) {
			return false
		}
	}
	return true
}

// launch starts landing commits in the background; the tables take new
// buffers for the changes that follow.
func (c *Coordinator) launch(ctx context.Context, commits []*tableCommit, checkpoint int64, pos capture.Position, start time.Time) {
	for _, p := range commits {
		p.detached = true
		p.t.buf = nil
	}
	l := &landing{commits: commits, checkpoint: checkpoint, pos: pos, start: start, done: make(chan struct{})}
	c.landing = l
	go func() {
		defer close(l.done)
		landAll(ctx, commits)
	}()
}

// landed is closed once the landing checkpoint has landed; nil (never
// ready) when none is landing.
func (c *Coordinator) landed() <-chan struct{} {
	if c.landing == nil {
		return nil
	}
	return c.landing.done
}

// settle waits for the landing checkpoint, if any, and finishes it as
// cut does a checkpoint that landed in the foreground; its error is the
// first failed commit's.
func (c *Coordinator) settle(ctx context.Context) error {
	l := c.landing
	if l == nil {
		return nil
	}
	<-l.done
	c.landing = nil
	return c.finishCut(ctx, l.commits, nil, l.checkpoint, l.pos, l.start)
}

// abandonLanding waits for a landing checkpoint that the stream loop
// leaves without settling it (it ends on an error): what landed is in
// Iceberg and the next attempt reads it back; the buffers are closed.
func (c *Coordinator) abandonLanding() {
	l := c.landing
	if l == nil {
		return
	}
	<-l.done
	c.landing = nil
	for _, p := range l.commits {
		c.closeCommitBuffer(p)
	}
}
