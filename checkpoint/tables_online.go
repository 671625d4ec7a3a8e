package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/apache/iceberg-go/table"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
)

// Tables dropped and created while the pipeline runs (capture.Batch
// Dropped and Added, on a Barrier batch).
//
// A drop is a checkpoint barrier: every table is committed up to and
// including the dropping batch (so the dropped table holds every change
// before its drop, and its committed position is the drop's), then its
// Iceberg table is kept and marked with the table properties
// PropDroppedAt (the drop's position) and PropDroppedTime (its commit
// time at the source), and the run stops tracking it: it takes no part in
// the acknowledgement, the status or the resume position any more, and a
// later start does not discover it. A drop at or before the table's
// committed position is one a replay passes again for a table created
// anew since, and is passed over.
//
// A new table (or one created again under a dropped name) is added by
// starting the stream again (ErrRestart) once every table is committed
// up to and including the creating batch: the next attempt's Discover
// finds it, its Iceberg table is created, and it is snapshotted as any
// table without history while the others resume from their committed
// positions. A table found at start whose Iceberg table is marked dropped
// at D (and whose committed position is not past D) is the new table of
// that name: it is reset (cause CauseRecreated: emptied in one commit and
// snapshotted again; the dropped table's rows stay in the Iceberg
// history) and its changes at or before D, the old table's, are skipped.

// Table properties of an Iceberg table whose source table was dropped.
const (
	// PropDroppedAt is the source position of the drop (the position
	// the table's last commit records).
	PropDroppedAt = "floe.dropped-at"
	// PropDroppedTime is the drop's commit time at the source (RFC 3339).
	PropDroppedTime = "floe.dropped-time"
)

// CauseRecreated is the reset cause (ledger.Reset.Cause) of a table
// created again under the name of a dropped one.
const CauseRecreated = "recreated"

// tablesChanged handles b's Dropped and Added tables after b's changes
// are applied (b is a complete transaction, the last applied). It
// returns ErrRestart when a new table is to be captured.
func (c *Coordinator) tablesChanged(ctx context.Context, b capture.Batch) error {
	if err := c.settle(ctx); err != nil { // overlap.go
		return err
	}
	var dropped []*tableRun
	for _, id := range b.Dropped {
		t := c.tables[id]
		if t == nil || slices.Contains(dropped, t) {
			continue
		}
		if held := laterOf(t.committed, t.floor); held != nil && b.Position.Compare(held) <= 0 {
			continue // a replayed drop of a table created again since
		}
		dropped = append(dropped, t)
	}
	added := false
	for _, id := range b.Added {
		if t := c.tables[id]; t == nil || slices.Contains(dropped, t) {
			if !c.opts.Control.firstAdd(id, b.Position) {
				c.log.Warn("a table created earlier that source.tables matches was not discovered by the attempt started for it; it is not captured",
					"table", id.String(), "position", b.Position.String(), "fix", "if it exists, restart floe run")
				continue
			}
			added = true
		}
	}
	if len(dropped) == 0 && !added {
		return nil
	}
	missed := false
	for _, t := range dropped {
		if t.paused {
			// Its changes before the drop must reach it first: resume
			// it; when it missed some, the next attempt replays them
			// and sees this drop again.
			if _, err := c.opts.Control.Resume(t.id); err != nil {
				return fmt.Errorf("resume dropped table %s: %w", t.id, err)
			}
			t.paused = false
			missed = missed || t.missed
		}
	}
	if err := c.cut(ctx, true, false); err != nil {
		return err
	}
	if missed {
		c.log.Info("restarting the stream for a dropped table that missed changes while paused", "position", b.Position.String())
		return ErrRestart
	}
	for _, t := range dropped {
		if err := c.retireDropped(ctx, t, b); err != nil {
			return err
		}
	}
	c.publishStatus()
	if added {
		c.log.Info("restarting the stream to capture a new table", "position", b.Position.String(), "tables", fmt.Sprint(b.Added))
		return ErrRestart
	}
	return nil
}

// retireDropped marks t's Iceberg table dropped at b and stops tracking
// it. t holds every change up to b (it was committed at b's position).
func (c *Coordinator) retireDropped(ctx context.Context, t *tableRun, b capture.Batch) error {
	if t.committed == nil || t.committed.Compare(b.Position) < 0 {
		return fmt.Errorf("table %s was dropped at %s but is committed only up to %s; restart the pipeline", t.id, b.Position, fmtPos(t.committed))
	}
	props := map[string]string{PropDroppedAt: b.Position.String(), PropDroppedTime: b.CommitTime.UTC().Format(time.RFC3339)}
	err := t.table.Maintain(ctx, func(ctx context.Context, tbl *table.Table) (*table.Table, error) {
		tx := tbl.NewTransaction()
		if err := tx.SetProperties(props); err != nil {
			return nil, err
		}
		return tx.Commit(ctx)
	})
	if err != nil {
		return fmt.Errorf("mark the iceberg table of dropped table %s: %w", t.id, err)
	}
	if t.buf != nil {
		if err := t.buf.Close(); err != nil {
			c.log.Warn("close buffer", "table", t.id.String(), "err", err)
		}
	}
	delete(c.tables, t.id)
	c.order = slices.DeleteFunc(c.order, func(x *tableRun) bool { return x == t })
	if ctl := c.opts.Control; ctl != nil {
		ids := make([]capture.TableID, len(c.order))
		for i, x := range c.order {
			ids[i] = x.id
		}
		ctl.setKnown(ids)
	}
	c.log.Warn("captured table dropped at the source; its iceberg table is kept, marked and no longer tracked",
		"table", t.id.String(), "position", b.Position.String(), "iceberg_table", t.table.Ident().String(), "property", PropDroppedAt)
	return nil
}

// recreatedTables resets every table whose Iceberg table is marked
// dropped at a position its committed position is not past: the source
// table of that name is a new one. It runs after recovery, before the
// continuity checks.
func (c *Coordinator) recreatedTables(ctx context.Context) error {
	for _, t := range c.order {
		enc := t.table.Property(PropDroppedAt)
		if enc == "" {
			continue
		}
		at, err := c.opts.Source.DecodePosition(enc)
		if err != nil {
			return fmt.Errorf("table %s: iceberg table property %s: %w", t.id, PropDroppedAt, err)
		}
		if t.committed != nil && t.committed.Compare(at) > 0 {
			continue // reset and streamed past its drop already
		}
		if t.reset == nil {
			c.markGap(t, CauseRecreated, fmt.Sprintf("its source table was dropped at %s and created again; the dropped table's rows stay in the iceberg history", enc))
		}
		if from := c.resumePosition(); from != nil && from.Compare(at) < 0 {
			// The stream replays the old table's changes before its
			// drop: they are not the new table's.
			t.floor = laterOf(t.floor, at)
		}
	}
	return c.acceptGaps(ctx)
}

// clearDropMarks removes the drop mark of every table that was reset as
// created again, once its reset commit landed (after the snapshot
// stage), and of a table streamed past its drop before: it is a live
// table again. A failure is logged; a later start clears the mark then.
func (c *Coordinator) clearDropMarks(ctx context.Context) {
	for _, t := range c.order {
		if t.table.Property(PropDroppedAt) == "" || t.reset != nil {
			continue
		}
		err := t.table.Maintain(ctx, func(ctx context.Context, tbl *table.Table) (*table.Table, error) {
			tx := tbl.NewTransaction()
			if err := tx.RemoveProperties([]string{PropDroppedAt, PropDroppedTime}); err != nil {
				return nil, err
			}
			return tx.Commit(ctx)
		})
		if err != nil {
			c.log.Warn("could not clear the drop mark of a table created again", "table", t.id.String(), "err", err)
			continue
		}
		c.log.Info("table created again after a drop is captured; its drop mark is cleared", "table", t.id.String())
	}
}

// firstAdd reports whether table id created at pos (nil: anywhere) is
// seen for the first time in the run (nil Control: always). A new table that the attempt
// started for it did not discover (dropped again since, or not one
// Discover captures) comes again when a replay passes its CREATE (a
// table behind it, such as a paused one): it must not restart the stream
// again and again.
func (c *Control) firstAdd(id capture.TableID, pos capture.Position) bool {
	if c == nil {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	key := id.String() + "@" + fmtPos(pos)
	if c.added[key] {
		return false
	}
	if c.added == nil {
		c.added = map[string]bool{}
	}
	c.added[key] = true
	return true
}

// dropPending reports whether t, which the source no longer carries, was
// dropped (the identity check then lets its commits pass). The first
// time, it records the source's current position as the table's bound:
// every change of t was committed before the drop, so at or before it,
// and the stream delivers them before it passes the bound. Until then t
// is committed as any table (it holds every change of it up to the
// stream's position); retireDropping retires it once the stream passed
// the bound.
func (c *Coordinator) dropPending(ctx context.Context, t *tableRun) (bool, error) {
	if _, ok := c.dropping[t.id]; ok {
		return true, nil
	}
	f, ok := c.opts.Source.(capture.DropFinder)
	if !ok {
		return false, nil
	}
	gone, err := f.DroppedTables(ctx)
	if err != nil || !gone[t.id] {
		return false, err
	}
	bound, err := f.CurrentPosition(ctx)
	if err != nil {
		return false, fmt.Errorf("position bounding the drop of %s: %w", t.id, err)
	}
	if c.dropping == nil {
		c.dropping = map[capture.TableID]capture.Position{}
	}
	c.dropping[t.id] = bound
	c.log.Warn("captured table dropped at the source; it is retired once the stream passes the drop", "table", t.id.String(),
		"bound", bound.String(), "position", fmtPos(c.lastPos))
	return true, nil
}

// retireDropping retires the tables found dropped (dropPending) whose
// bound the stream passed and that hold nothing uncommitted: each is
// moved to the stream's position by an empty commit when behind, then
// marked with that position (the drop is at or before it) and retired as
// retireDropped does. Called after every checkpoint's commits.
func (c *Coordinator) retireDropping(ctx context.Context) error {
	var due []*tableRun
	for _, t := range c.order {
		bound, ok := c.dropping[t.id]
		if ok && c.lastPos != nil && c.lastPos.Compare(bound) >= 0 && t.buf == nil && t.data == nil {
			due = append(due, t)
		}
	}
	for _, t := range due {
		if t.committed == nil || t.committed.Compare(c.lastPos) < 0 {
			checkpoint := c.nextCheckpoint
			c.nextCheckpoint++
			if err := c.advanceTable(ctx, t, checkpoint, c.lastPos); err != nil {
				return err
			}
		}
		if err := c.retireDropped(ctx, t, capture.Batch{Position: c.lastPos, CommitTime: time.Now()}); err != nil {
			return err
		}
		delete(c.dropping, t.id)
	}
	if len(due) > 0 {
		c.ackCommitted()
		c.publishStatus()
	}
	return nil
}

// markDroppedWhileAway marks the Iceberg tables whose source table was
// dropped while no run of this pipeline was there to see it (stopped,
// killed, or restarted before its stream passed the drop, which the
// running path above needs): a table in one of the Router's namespaces,
// not captured by this run and not marked yet, whose newest ingestion
// commit is this pipeline's, and whose recorded source table the source
// says no longer exists (capture.TableLister). It gets PropDroppedAt =
// the source's current position (the drop is before it, and a table of
// that name created again is then snapshotted from scratch, see
// recreatedTables) and PropDroppedTime = now. Its changes after its last
// commit and before the drop are not in it; the warning says from where.
// A table that exists but is no longer captured is left as it is.
func (c *Coordinator) markDroppedWhileAway(ctx context.Context) error {
	lister, ok := c.opts.Source.(capture.TableLister)
	rr, hasPos := c.opts.Source.(capture.RowReader)
	if !ok || !hasPos {
		return nil
	}
	captured := map[string]bool{}
	for _, t := range c.order {
		captured[t.table.Ident().String()] = true
	}
	for _, ns := range c.opts.Router.Namespaces() {
		ids, err := c.opts.Catalog.ListTables(ctx, ns)
		if err != nil {
			return fmt.Errorf("look for tables dropped while floe was away: %w", err)
		}
		for _, id := range ids {
			if captured[id.String()] {
				continue
			}
			if err := c.markIfDropped(ctx, id, lister, rr); err != nil {
				return err
			}
		}
	}
	return nil
}

// markIfDropped is markDroppedWhileAway for one Iceberg table.
func (c *Coordinator) markIfDropped(ctx context.Context, id lakewriter.Ident, lister capture.TableLister, rr capture.RowReader) error {
	tbl, err := c.opts.Catalog.LoadTable(ctx, id)
	if errors.Is(err, lakewriter.ErrNoSuchTable) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look for tables dropped while floe was away: %w", err)
	}
	if tbl.Property(PropDroppedAt) != "" {
		return nil
	}
	props, err := tbl.LatestProps(ctx, ledger.IsCommit)
	if err != nil || props == nil || !ledger.IsCommitOf(props, c.opts.Pipeline) || props[ledger.PropSourceTable] == "" {
		return err
	}
	src, err := ledger.ParseSourceTable(props[ledger.PropSourceTable])
	if err != nil {
		return fmt.Errorf("iceberg table %s: %w", id, err)
	}
	schemaName, name, ok := strings.Cut(src.Table, ".")
	if !ok {
		return nil
	}
	exists, err := lister.TableExists(ctx, capture.TableID{Schema: schemaName, Name: name})
	if err != nil || exists {
		return err
	}
	at, err := rr.CurrentPosition(ctx)
	if err != nil {
		return err
	}
	marks := map[string]string{PropDroppedAt: at.String(), PropDroppedTime: time.Now().UTC().Format(time.RFC3339)}
	if err := tbl.SetProperties(ctx, marks); err != nil {
		return fmt.Errorf("mark the iceberg table %s of dropped table %s: %w", id, src.Table, err)
	}
	c.log.Warn("captured table dropped while floe was away; its iceberg table is kept and marked, without its changes after its last commit",
		"table", src.Table, "iceberg_table", id.String(), "last_commit", props[ledger.PropPosition], "property", PropDroppedAt)
	return nil
}
