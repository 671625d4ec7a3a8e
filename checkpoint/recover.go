package checkpoint

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
	"github.com/floe-cdc/floe/transform"
)

// Recovery: what each table's Iceberg history says it holds, and where the
// source resumes. Nothing here reads the state directory for positions.

// recover discovers the source tables, makes sure each has its Iceberg
// table and reads its committed state back from the table's history.
func (c *Coordinator) recover(ctx context.Context) error {
	infos, err := c.opts.Source.Discover(ctx)
	if err != nil {
		return fmt.Errorf("discover tables: %w", err)
	}
	ids := make([]capture.TableID, len(infos))
	for i, ti := range infos {
		ids[i] = ti.ID
	}
	if err := c.opts.Router.Validate(ids); err != nil {
		return err
	}
	if err := c.checkSubjects(ids); err != nil {
		return err
	}
	// Every table is claimed before any is read (see claim): what an
	// older run of the pipeline committed before a claim is in the
	// history read below, and it commits nothing after it.
	tables := make([]*lakewriter.Table, len(infos))
	for i, ti := range infos {
		if tables[i], err = c.ensureTable(ctx, ti); err != nil {
			return err
		}
	}
	// The dead-letter tables are claimed with them, created if missing:
	// the run's epoch must be above theirs too (an earlier run of the
	// pipeline over other tables of the namespace claimed them), and an
	// older run must not create one unclaimed after this run started.
	dlqs, err := c.runDLQs(ctx, infos) // deadletters.go
	if err != nil {
		return err
	}
	if err := c.claim(ctx, append(slices.Clone(tables), dlqs...)); err != nil {
		return err
	}
	for i, ti := range infos {
		t, err := c.openTable(ctx, ti, tables[i])
		if err != nil {
			return err
		}
		c.tables[ti.ID] = t
		c.order = append(c.order, t)
		if t.checkpoint >= c.nextCheckpoint {
			c.nextCheckpoint = t.checkpoint + 1
		}
	}
	if c.nextCheckpoint == 0 {
		c.nextCheckpoint = 1
	}
	return nil
}

// ensureTable opens the table's Iceberg table, creating it if missing.
func (c *Coordinator) ensureTable(ctx context.Context, ti capture.TableInfo) (*lakewriter.Table, error) {
	target := c.opts.Router.Target(ti.ID)
	layout, err := transform.BuildSinkLayout(ti.Schema, c.opts.Mode)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", ti.ID, err)
	}
	var identifier []int
	if c.opts.Mode == transform.Upsert {
		if len(layout.Key) == 0 {
			return nil, fmt.Errorf("table %s has no primary key: add one, name a key with route primary-key, or use sink.mode: changelog", ti.ID)
		}
		identifier = layout.Key
	}
	ident := lakewriter.Ident{Namespace: target.Namespace, Name: target.Name}
	entry, err := c.registerAtOpen(ctx, ti.ID, ident, layout)
	if err != nil {
		return nil, err
	}
	tbl, err := c.opts.Catalog.EnsureTableProps(ctx, ident, layout, identifier, registryProps(entry))
	if err != nil {
		return nil, fmt.Errorf("table %s -> %s.%s: %w", ti.ID, ident.Namespace, ident.Name, err)
	}
	return tbl, nil
}

// openTable reads the committed state of a claimed table from its history.
func (c *Coordinator) openTable(ctx context.Context, ti capture.TableInfo, tbl *lakewriter.Table) (*tableRun, error) {
	target := c.opts.Router.Target(ti.ID)
	ident := tbl.Ident()
	// An existing table keeps its own layout; one the source's current
	// layout has outgrown (a schema change while Floe was stopped) is
	// evolved now, before anything is buffered. Changes replayed from
	// before that change fit the evolved layout too.
	//
	// Except when the source's stream states renames
	// (capture.RenameStater) and the current layout replaces columns of
	// the table: a rename since the table's position looks like that, and
	// only the stream, replayed from that position, can say. The table is then evolved by the first
	// layout the stream carries for it (a src no change has, below).
	deferred := false
	if rs, ok := c.opts.Source.(capture.RenameStater); ok && rs.StatesRenames() {
		if gone, added := transform.ReplacedColumns(tbl.Layout(), ti.Schema); gone != nil {
			c.log.Info("the source table's current layout replaces columns of the iceberg table; the stream says whether they were renamed",
				"table", ti.ID.String(), "gone", strings.Join(gone, ","), "added", strings.Join(added, ","))
			deferred = true
			// The stream may evolve the table by this layout at its first
			// change, past the start-time check of added columns: check now.
			if err := c.checkAddedAtStart(ctx, ti.ID, added); err != nil {
				return nil, fmt.Errorf("table %s -> %s.%s: %w", ti.ID, ident.Namespace, ident.Name, err)
			}
		}
	}
	if !deferred {
		if _, err := c.evolveSink(ctx, ti.ID, nil, tbl, ti.Schema, func() error { return nil }); err != nil {
			return nil, fmt.Errorf("table %s -> %s.%s: %w", ti.ID, ident.Namespace, ident.Name, err)
		}
	}
	if err := arrange(ctx, tbl, target.Arrange); err != nil {
		return nil, fmt.Errorf("table %s -> %s.%s: %w", ti.ID, ident.Namespace, ident.Name, err)
	}
	branch, err := resnapshotBranch(ctx, tbl) // onestate.go
	if err != nil {
		return nil, fmt.Errorf("read history of %s.%s: %w", ident.Namespace, ident.Name, err)
	}
	props, err := tbl.LatestPropsOn(ctx, branch, ledger.CommitOf(c.opts.Pipeline))
	if err != nil {
		return nil, fmt.Errorf("read history of %s.%s: %w", ident.Namespace, ident.Name, err)
	}
	st, err := parseProps(props, c.opts.Source.DecodePosition)
	if err != nil {
		return nil, fmt.Errorf("read history of %s.%s: %w", ident.Namespace, ident.Name, err)
	}
	t := &tableRun{
		id: ti.ID, src: ti.Schema, target: target, layout: tbl.Layout(), table: tbl,
		committed: st.position, checkpoint: st.checkpoint, plan: st.plan,
		convergeUntil: st.convergeUntil, lastCommit: time.Now(), recorded: st.source, branch: branch,
	}
	if deferred {
		// A pointer no change carries: the first change adopts its own.
		cp := *ti.Schema
		t.src = &cp
	}
	switch {
	case st.plan != nil && st.plan.Complete():
		// A finished snapshot whose watermarks the table has not passed.
		t.plan = nil
		if err := c.openWindow(t, st.plan); err != nil {
			return nil, fmt.Errorf("read history of %s.%s: %w", ident.Namespace, ident.Name, err)
		}
	case st.plan != nil:
		t.needsSnapshot = true // resume an interrupted snapshot
	case !st.found && c.opts.SnapshotMode != SnapshotNever:
		t.needsSnapshot = true
	}
	c.log.Info("table recovered", "table", ti.ID.String(), "sink", ident.Namespace+"."+ident.Name,
		"position", fmtPos(st.position), "checkpoint", st.checkpoint, "snapshot_needed", t.needsSnapshot,
		"chunks_done", doneChunks(st.plan))
	return t, nil
}

// snapshotNeeded reports whether any table is to be snapshotted.
func (c *Coordinator) snapshotNeeded() bool {
	for _, t := range c.order {
		if t.needsSnapshot {
			return true
		}
	}
	return false
}

func doneChunks(p *capture.SnapshotPlan) int {
	if p == nil {
		return 0
	}
	return len(p.Done)
}

// resumePosition is the lowest committed position over the tables that
// committed one, or nil when none did. A table to be reset does not count:
// what it committed is dropped.
func (c *Coordinator) resumePosition() capture.Position {
	var min capture.Position
	for _, t := range c.order {
		if t.committed == nil || t.reset != nil {
			continue
		}
		if min == nil || t.committed.Compare(min) < 0 {
			min = t.committed
		}
	}
	return min
}

// recordStart commits the stream's start position to every table that has
// none yet (snapshot.mode never): a source without a server-side slot
// (MySQL) would otherwise start at its current position again after a
// stop before the first checkpoint, skipping what changed meanwhile.
func (c *Coordinator) recordStart(ctx context.Context, from capture.Position) error {
	var fresh []*tableRun
	for _, t := range c.order {
		if t.committed == nil && t.plan == nil && !t.needsSnapshot {
			fresh = append(fresh, t)
		}
	}
	if len(fresh) == 0 || from == nil {
		return nil
	}
	checkpoint := c.nextCheckpoint
	for _, t := range fresh {
		if err := c.advanceTable(ctx, t, checkpoint, from); err != nil {
			return err
		}
	}
	c.nextCheckpoint++
	c.log.Info("start position recorded", "tables", len(fresh), "position", from.String())
	return nil
}
