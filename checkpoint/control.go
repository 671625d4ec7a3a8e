package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/lakewriter/ledger"
)

// Pausing a table: an operator's request (an admin API) that the run stop
// committing one table without stopping the others, and without losing
// any of its changes.
//
// Semantics: a paused table stands as it would after a crash at its last
// commit. At the first transaction boundary after the request the
// coordinator commits what it buffered of the table (its committed
// position P is then the last complete transaction, or where it already
// was), and from then on buffers none of its changes, commits nothing to
// it (no idle commit either) and evolves nothing of it. Its committed
// position stays P, so the source is acknowledged nothing past P (the
// acknowledgement is the lowest position every table committed): the
// changes after P stay at the source (a PostgreSQL slot retains the WAL,
// a MySQL/MariaDB server must keep the binlog). A resume whose table
// missed changes ends the run's attempt after committing the other tables
// (ErrRestart); the next attempt resumes from the lowest committed
// position, P or before, where the resumed table takes its changes again
// and the others skip what they hold. A crash or stop while paused is the
// same: the table's changes are still at the source after P.
//
// A pause lasts for the life of the floe run process (the Control is
// shared by its attempts): a restarted floe run streams every table. A
// table is paused only while it streams; a pause requested during its
// snapshot, reconciliation or convergence waits for that to end.

// ErrRestart ends a coordinator's Run after its buffers are committed and
// the source stopped, when a request (resuming a paused table that missed
// changes) needs the stream to start again from the committed positions.
// The caller starts the next attempt at once.
var ErrRestart = errors.New("restart the stream from the committed positions")

// ErrUnknownTable is matched by Control's errors for a table the run does
// not capture.
var ErrUnknownTable = errors.New("table not captured by this pipeline")

// Control carries an operator's requests to the coordinators of one run.
// One Control is shared by the attempts of a run (Options.Control);
// create it with NewControl. Its methods are safe for concurrent use.
type Control struct {
	mu     sync.Mutex
	paused map[capture.TableID]bool
	// resnap holds the tables to snapshot again, and why, until their
	// reset commit lands.
	resnap map[capture.TableID]ledger.Reset
	// known are the run's captured tables once a coordinator recovered
	// them (nil before).
	known map[capture.TableID]bool
	wake  chan struct{}
	// added are the new tables (capture.Batch.Added) an attempt was
	// restarted for, by table and position (see tables_online.go).
	added map[string]bool
}

// NewControl returns a Control with no request.
func NewControl() *Control {
	return &Control{paused: map[capture.TableID]bool{}, resnap: map[capture.TableID]ledger.Reset{}, wake: make(chan struct{}, 1)}
}

// Pause asks that table id be paused; changed is false when it was
// already. The coordinator pauses it at its next transaction boundary
// once the table streams (see the package's pausing semantics).
func (c *Control) Pause(id capture.TableID) (changed bool, err error) {
	return c.set(id, true)
}

// Resume asks that paused table id stream again; changed is false when
// it was not paused.
func (c *Control) Resume(id capture.TableID) (changed bool, err error) {
	return c.set(id, false)
}

func (c *Control) set(id capture.TableID, paused bool) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.known == nil {
		return false, errors.New("the pipeline has not recovered its tables yet; try again shortly")
	}
	if !c.known[id] {
		return false, fmt.Errorf("%w: %s", ErrUnknownTable, id)
	}
	if c.paused[id] == paused {
		return false, nil
	}
	if paused {
		c.paused[id] = true
	} else {
		delete(c.paused, id)
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return true, nil
}

// Resnapshot asks that table id be emptied and snapshotted again while
// the run goes on (see resnapshotRequested); a paused table is resumed
// for it. The request holds until the commit that empties the table
// lands; a run that ends before that forgets it.
func (c *Control) Resnapshot(id capture.TableID) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.known == nil {
		return errors.New("the pipeline has not recovered its tables yet; try again shortly")
	}
	if !c.known[id] {
		return fmt.Errorf("%w: %s", ErrUnknownTable, id)
	}
	c.resnap[id] = ledger.Reset{Cause: ledger.CauseRequested, Reason: "a re-snapshot was requested through the admin API"}
	delete(c.paused, id)
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return nil
}

// backfill asks, for the coordinator, that table id be snapshotted again
// because of a change its stream cannot follow (reason: the change's
// error); the run goes on as after Resnapshot. An operator's pending
// request is kept.
func (c *Control) backfill(id capture.TableID, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.resnap[id]; !ok {
		c.resnap[id] = ledger.Reset{Cause: ledger.CauseUnfollowable, Reason: reason}
	}
	delete(c.paused, id)
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// ResnapshotPending reports whether a re-snapshot of id is asked for and
// its reset commit has not landed yet.
func (c *Control) ResnapshotPending(id capture.TableID) bool { return c.resnapshotRequested(id) }

func (c *Control) resnapshotRequested(id capture.TableID) bool {
	_, ok := c.resnapshotRequest(id)
	return ok
}

// resnapshotRequest returns why table id is to be snapshotted again; ok
// is false when it is not.
func (c *Control) resnapshotRequest(id capture.TableID) (r ledger.Reset, ok bool) {
	if c == nil {
		return ledger.Reset{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok = c.resnap[id]
	return r, ok
}

func (c *Control) resnapshotDone(id capture.TableID) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.resnap, id)
}

// PausedTables returns the tables a pause is requested for, sorted.
func (c *Control) PausedTables() []capture.TableID {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]capture.TableID, 0, len(c.paused))
	for id := range c.paused {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

func (c *Control) pauseRequested(id capture.TableID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paused[id]
}

// setKnown records the run's captured tables.
func (c *Control) setKnown(ids []capture.TableID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.known = make(map[capture.TableID]bool, len(ids))
	for _, id := range ids {
		c.known[id] = true
	}
}

// wakeup is signalled after every change of a request (capacity one: a
// change made while the coordinator is busy is seen on its next read).
func (c *Control) wakeup() <-chan struct{} {
	if c == nil {
		return nil
	}
	return c.wake
}

// pausable reports whether t is in the state a pause takes effect in: it
// streams (no snapshot, watermark window, convergence or reset pending).
func (t *tableRun) pausable() bool {
	return !t.needsSnapshot && t.plan == nil && t.window == nil && t.convergeUntil == nil && t.reset == nil
}

// applyControl makes the tables' pause state what Control asks, at a
// transaction boundary (the coordinator's goroutine, between batches):
// tables to be paused get their buffered changes committed first, then
// stop taking changes; a resumed table that missed changes while paused
// ends the attempt with ErrRestart once everything buffered is committed.
func (c *Coordinator) applyControl(ctx context.Context) error {
	ctl := c.opts.Control
	if ctl == nil {
		return nil
	}
	var pausing []*tableRun
	restart := false
	for _, t := range c.order {
		if ctl.resnapshotRequested(t.id) && t.pausable() {
			restart = true // the next attempt resets it (requestedResets)
		}
		want := ctl.pauseRequested(t.id)
		switch {
		case want && !t.paused && t.pausable():
			pausing = append(pausing, t)
		case !want && t.paused:
			t.paused = false
			restart = restart || t.missed
			c.log.Info("table resumed", "table", t.id.String(), "position", fmtPos(t.committed), "missed_changes", t.missed)
			t.missed = false
		}
	}
	if len(pausing) > 0 {
		// Commit what they buffered, so that each pauses at a commit
		// holding every change of it up to here.
		if err := c.flush(ctx); err != nil {
			return err
		}
		for _, t := range pausing {
			t.paused = true
			c.log.Info("table paused", "table", t.id.String(), "position", fmtPos(t.committed),
				"note", "its changes stay at the source after this position until it is resumed")
		}
	}
	c.publishStatus()
	if restart {
		return ErrRestart
	}
	return nil
}

// requestedResets marks the tables Control asks to snapshot again for a
// reset (emptied in one commit with their new plan, then snapshotted,
// as a table whose continuity was lost; see continuity.go). It runs
// after recovery, before the continuity checks.
func (c *Coordinator) requestedResets() {
	for _, t := range c.order {
		req, ok := c.opts.Control.resnapshotRequest(t.id)
		if !ok {
			continue
		}
		if t.committed == nil && t.plan == nil {
			c.opts.Control.resnapshotDone(t.id) // it is snapshotted anyway
			continue
		}
		if t.reset == nil {
			c.markGap(t, req.Cause, req.Reason)
		}
	}
}

// initPaused marks the tables Control has paused as paused from the start
// of an attempt, when they stream: a new attempt (after a lost connection
// or a resume) keeps the pauses of the run.
func (c *Coordinator) initPaused() {
	ctl := c.opts.Control
	if ctl == nil {
		return
	}
	ids := make([]capture.TableID, len(c.order))
	for i, t := range c.order {
		ids[i] = t.id
		t.paused = ctl.pauseRequested(t.id) && t.pausable() && t.committed != nil
	}
	ctl.setKnown(ids)
}
