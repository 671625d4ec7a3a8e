package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
	"github.com/floe-cdc/floe/transform"
)

// Continuity: a table's Iceberg history may only be continued when every
// change of the table after its committed position is still to come from
// the source. The source is acknowledged only what every captured table
// has committed (ackCommitted), so for a source that keeps its position
// on the server (capture.TableIdentifier) a table behind the stream's
// start was not captured meanwhile; and every commit records the table's
// identity at the source (ledger.PropSourceTable), so a table that was dropped
// and created again, or that left and re-joined what the source carries,
// shows a different one. Such a table is reset and snapshotted again,
// online, while the others resume: the commit that empties it also holds
// its new snapshot plan.

// errIdentityChanged is matched (errors.Is) by the error that stops a run
// when a captured table's identity at the source changes while it streams.
var errIdentityChanged = errors.New("a captured table's identity at the source changed")

// sourceTable is what t's commits record of its source.
func (t *tableRun) sourceTable() ledger.SourceTable {
	return ledger.SourceTable{Table: t.id.String(), Identity: t.identity}
}

// checkContinuity runs before Start: a table with committed history that
// the source no longer carries, or whose identity differs from the one its
// last commit recorded, lost changes and is marked for a reset.
func (c *Coordinator) checkContinuity(ctx context.Context) error {
	now, ok, err := c.sourceIdentities(ctx)
	if !ok || err != nil {
		return err
	}
	for _, t := range c.order {
		if t.committed == nil && t.plan == nil {
			continue // nothing committed, nothing to continue
		}
		cur, last := now[t.id], fmtPos(t.committed)
		switch {
		case cur == "":
			c.markGap(t, ledger.CauseNotCaptured, fmt.Sprintf("the source does not carry its changes (PostgreSQL: it is not in the publication), "+
				"so those after its last commit at %s were not captured (it was left out of source.tables, taken out of the publication, or dropped)", last))
		case t.recorded != nil && t.recorded.Identity != "" && t.recorded.Identity != cur:
			of := ""
			if t.recorded.Table != t.id.String() {
				of = " of source table " + t.recorded.Table
			}
			c.markGap(t, ledger.CauseIdentity, fmt.Sprintf("its identity at the source is %s but its last commit (at %s) recorded %s%s: "+
				"it was dropped and created again, or left and re-joined the publication, and its changes in between were not captured", cur, last, t.recorded.Identity, of))
		}
	}
	return c.acceptGaps(ctx)
}

// checkStart runs after Start: a table whose committed position is behind
// the stream's start lost the changes in between, because the source was
// acknowledged past it by something other than this pipeline's commits of
// it. It then records the identities the run's commits carry.
func (c *Coordinator) checkStart(ctx context.Context, from capture.Position) error {
	if _, ok := c.opts.Source.(capture.TableIdentifier); !ok {
		return nil
	}
	for _, t := range c.order {
		if t.reset != nil || t.committed == nil || from == nil || t.committed.Compare(from) >= 0 {
			continue
		}
		if t.recorded == nil {
			// Committed by a build that recorded no identity and
			// acknowledged past quiet tables: being behind proves
			// nothing, and the table is still carried (checkContinuity
			// passed), so its continuity is assumed rather than paid
			// for with a snapshot of every quiet table on upgrade.
			c.log.Warn("table committed by an older floe that recorded no identity; continuity assumed (it is still carried by the source)",
				"table", t.id.String(), "position", t.committed.String(), "stream_start", from.String(),
				"fix", "if another catalog or warehouse used this slot since, run floe resnapshot for this table")
			continue
		}
		reason := fmt.Sprintf("its committed position %s is behind the source's start %s, so its changes in between were released "+
			"without being captured for it (it was left out of source.tables meanwhile, or another catalog or warehouse used the same slot)", t.committed, from)
		c.markGap(t, ledger.CausePosition, reason)
	}
	if err := c.acceptGaps(ctx); err != nil {
		return err
	}
	now, _, err := c.sourceIdentities(ctx)
	if err != nil {
		return err
	}
	for _, t := range c.order {
		if t.identity = now[t.id]; t.identity == "" {
			return fmt.Errorf("table %s is not carried by the source after start (not in the publication); was it dropped or taken out of the publication just now?", t.id)
		}
	}
	return nil
}

// sourceIdentities returns the identity of every captured table at a
// capture.TableIdentifier source; ok is false for any other source.
func (c *Coordinator) sourceIdentities(ctx context.Context) (now map[capture.TableID]string, ok bool, err error) {
	ider, ok := c.opts.Source.(capture.TableIdentifier)
	if !ok {
		return nil, false, nil
	}
	if now, err = ider.TableIdentities(ctx); err != nil {
		return nil, true, fmt.Errorf("check the captured tables at the source: %w", err)
	}
	return now, true, nil
}

// markGap marks t for a reset: its history is dropped and it is
// snapshotted again from scratch.
func (c *Coordinator) markGap(t *tableRun, cause, reason string) {
	t.reset = &ledger.Reset{Cause: cause, Reason: reason}
	if t.committed != nil {
		t.reset.Previous = t.committed.String()
	}
	t.needsSnapshot = true
	t.plan, t.window, t.windowEnd, t.convergeUntil = nil, nil, nil, nil
}

// acceptGaps logs every table marked for a reset, or refuses them all
// when snapshot.mode is never, one line each naming the table, the reason
// and the fix. An accepted table's Iceberg schema is evolved to the
// source's current layout, which its snapshot reads: one whose evolution
// at start was left to the stream (columns it replaces, which only the
// stream can call renames; see openTable) would otherwise get chunks in a
// layout the sink lacks; the table keeps none of its rows, so a rename
// is then a dropped column kept and an added one.
func (c *Coordinator) acceptGaps(ctx context.Context) error {
	var refused []string
	for _, t := range c.order {
		if t.reset == nil || t.resetLogged {
			continue
		}
		if c.opts.SnapshotMode == SnapshotNever {
			refused = append(refused, fmt.Sprintf("table %s cannot be continued: %s; source.snapshot.mode is never, so floe does not snapshot it again; "+
				"fix: set source.snapshot.mode: initial to have it re-snapshotted, or run `floe resnapshot --config FILE --table %s` to start it over empty",
				t.id, t.reset.Reason, t.id))
			continue
		}
		t.resetLogged = true
		c.log.Warn("table lost continuity with its source; it is reset and snapshotted again while the other tables resume",
			"table", t.id.String(), "cause", t.reset.Cause, "reason", t.reset.Reason)
		if _, err := c.evolveSink(ctx, t.id, nil, t.table, t.src, func() error { return nil }); err != nil {
			return fmt.Errorf("reset %s: %w", t.id, err)
		}
		t.layout = t.table.Layout()
		c.opts.Metrics.TableResets.WithLabelValues(t.id.String(), t.reset.Cause).Inc()
	}
	if len(refused) > 0 {
		return errors.New(strings.Join(refused, "\n"))
	}
	return nil
}

// verifyIdentities checks, before a checkpoint's commits, that the source
// still carries every captured table as it did when the run started: once
// it stops, no commit may claim a position past that point. A change is
// an error matching errIdentityChanged; the next run then resets the
// table (checkContinuity).
func (c *Coordinator) verifyIdentities(ctx context.Context) error {
	now, ok, err := c.sourceIdentities(ctx)
	if !ok || err != nil {
		return err
	}
	var errs []error
	for _, t := range c.order {
		cur := now[t.id]
		switch {
		case cur == t.identity:
		case cur == "":
			if pending, err := c.dropPending(ctx, t); err != nil || pending { // tables_online.go
				errs = append(errs, err) // nil when pending
				continue
			}
			errs = append(errs, fmt.Errorf("%w: table %s left the publication while floe ran (it was %s): its later changes are not captured, "+
				"so floe stops before committing past that point; start floe again and it snapshots the table anew", errIdentityChanged, t.id, t.identity))
		default:
			errs = append(errs, fmt.Errorf("%w: table %s is %s at the source now, it was %s when floe started (dropped and created again, "+
				"or it left and re-joined the publication): floe stops before committing past that point; start floe again and it snapshots the table anew",
				errIdentityChanged, t.id, cur, t.identity))
		}
	}
	return errors.Join(errs...)
}

// exportSnapshot decides where the tables read from scratch are exact:
// at the stream's start when the source exported it (info.Exact), else at
// a snapshot a capture.SnapshotExporter takes now. Their commits then
// carry that position (tableRun.floor), and their changes up to it are
// skipped, so they need no convergence. Tables resuming a snapshot read
// their remaining chunks at later positions and converge by replay.
func (c *Coordinator) exportSnapshot(ctx context.Context, info capture.StartInfo) error {
	var fresh []*tableRun
	for _, t := range c.order {
		if t.needsSnapshot && t.plan == nil {
			fresh = append(fresh, t)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	at := info.From
	if !info.Exact {
		exp, ok := c.opts.Source.(capture.SnapshotExporter)
		if !ok {
			return nil
		}
		var err error
		if at, err = exp.ExportSnapshot(ctx); err != nil {
			return fmt.Errorf("export a snapshot for %d tables: %w", len(fresh), err)
		}
	}
	names := make([]string, len(fresh))
	for i, t := range fresh {
		t.floor, names[i] = at, t.id.String()
	}
	c.log.Info("snapshot of new tables is exact", "position", at.String(), "tables", strings.Join(names, ","))
	return nil
}

// resetTable empties t in one commit that also records its new snapshot
// plan (t.plan, nothing done yet), the reason (ledger.PropReset) and the position
// its snapshot is read at: in upsert mode every row is dropped, in
// changelog mode a truncate row is appended, ordered before the snapshot's
// rows (_floe_seq -1). The commit, and every later one of t until its
// snapshot is complete, goes to branch lakewriter.ResnapshotBranch, so
// that readers of main see the old rows until then (onestate.go). A crash
// after it resumes that snapshot on the branch; a crash before it finds
// the gap again.
func (c *Coordinator) resetTable(ctx context.Context, t *tableRun) error {
	pos := laterOf(c.lastPos, t.floor)
	buf, err := c.buffer(t)
	if err != nil {
		return err
	}
	meta := transform.Meta{Pos: pos.String(), CommitMicros: time.Now().UnixMicro(), Seq: -1}
	if err := buf.Apply(capture.Change{Table: t.id, Op: capture.OpTruncate}, meta); err != nil {
		return fmt.Errorf("reset %s: %w", t.id, err)
	}
	reset := t.reset
	checkpoint := c.nextCheckpoint
	c.nextCheckpoint++
	t.committed = nil                      // what it held is dropped with it
	t.branch = lakewriter.ResnapshotBranch // main keeps the old rows until the new ones are complete (onestate.go)
	if err := c.commitTable(ctx, t, checkpoint, pos); err != nil {
		return fmt.Errorf("reset %s: %w", t.id, err)
	}
	// Whatever its cause, the reset answers a pending request to snapshot
	// the table again (an operator's, or one for an unfollowable change).
	c.opts.Control.resnapshotDone(t.id)
	c.log.Warn("table reset for its new snapshot", "table", t.id.String(), "checkpoint", checkpoint, "position", t.committed.String(),
		"previous", reset.Previous, "cause", reset.Cause)
	return nil
}
