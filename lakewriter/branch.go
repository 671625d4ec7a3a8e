package lakewriter

import (
	"context"
	"fmt"
	"maps"

	"github.com/apache/iceberg-go/table"

	"github.com/floe-cdc/floe/schema"
)

// Branches. A table re-read from scratch (an online re-snapshot) is to be
// committed as one table state: its reset and every later commit go to a
// branch (Commit.Branch) while readers of main keep the old content, and
// FastForward then points main at the branch's head and removes the
// branch in one metadata commit. The branch's existence is the state: a
// table with the branch is mid re-snapshot, whatever main holds.
//
// Iceberg refs are table-wide metadata, so schema and partition changes
// (Evolve, SetPartitioning) apply to main and the branch alike.

// ResnapshotBranch is the branch a table's re-snapshot is committed to
// until it is complete.
const ResnapshotBranch = "floe-resnapshot"

// onRef returns tbl as a reader of ref sees it: an in-memory copy, never
// committed, whose main is ref's head, so that Scan, Ancestry and
// liveFiles read the branch. For ref "" or main, or a ref tbl does not
// have (a branch forks from main's head on its first commit), it is tbl.
func onRef(tbl *table.Table, ref string) (*table.Table, error) {
	if ref == "" || ref == table.MainBranch {
		return tbl, nil
	}
	head := tbl.SnapshotByName(ref)
	if head == nil {
		return tbl, nil
	}
	if cur := tbl.CurrentSnapshot(); cur != nil && cur.SnapshotID == head.SnapshotID {
		return tbl, nil
	}
	b, err := table.MetadataBuilderFromBase(tbl.Metadata(), tbl.MetadataLocation())
	if err != nil {
		return nil, fmt.Errorf("read branch %s: %w", ref, err)
	}
	if err := b.SetSnapshotRef(table.MainBranch, head.SnapshotID, table.BranchRef); err != nil {
		return nil, fmt.Errorf("read branch %s: %w", ref, err)
	}
	md, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("read branch %s: %w", ref, err)
	}
	return table.New(tbl.Identifier(), md, tbl.MetadataLocation(), tbl.FS, nil), nil
}

// refView reloads the table and returns it as seen from ref (onRef).
func (t *Table) refView(ctx context.Context, ref string) (*table.Table, error) {
	tbl, err := t.refresh(ctx)
	if err != nil {
		return nil, err
	}
	view, err := onRef(tbl, ref)
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", t.id, err)
	}
	return view, nil
}

// HasBranch reports whether the table, reloaded now, has the branch.
func (t *Table) HasBranch(ctx context.Context, branch string) (bool, error) {
	ctx = t.cat.ioContext(ctx)
	tbl, err := t.refresh(ctx)
	if err != nil {
		return false, err
	}
	return branch != table.MainBranch && tbl.SnapshotByName(branch) != nil, nil
}

// LatestPropsOn is LatestProps reading ref's history instead of main's
// (main's when the table has no such ref): the head of ref and its
// ancestors, which include main's history up to where ref forked.
func (t *Table) LatestPropsOn(ctx context.Context, ref string, match func(map[string]string) bool) (map[string]string, error) {
	view, err := t.refView(t.cat.ioContext(ctx), ref)
	if err != nil {
		return nil, err
	}
	for s := range Ancestry(view) {
		if s.Summary != nil && match(s.Summary.Properties) {
			return maps.Clone(map[string]string(s.Summary.Properties)), nil
		}
	}
	return nil, nil
}

// HistoryOn is History reading ref's head and its ancestors (main's when
// the table has no such ref).
func (t *Table) HistoryOn(ctx context.Context, ref string) ([]Snapshot, error) {
	view, err := t.refView(t.cat.ioContext(ctx), ref)
	if err != nil {
		return nil, err
	}
	var out []Snapshot
	for s := range Ancestry(view) {
		snap := Snapshot{ID: s.SnapshotID, TimestampMs: s.TimestampMs}
		if s.Summary != nil {
			snap.Props = map[string]string(s.Summary.Properties)
		}
		out = append(out, snap)
	}
	return out, nil
}

// ScanOn is Scan reading ref's head (main's when the table has no such
// ref).
func (t *Table) ScanOn(ctx context.Context, ref string, fn func(schema.Row) error) error {
	ctx = t.cat.ioContext(ctx)
	tbl, layout, err := t.readState(ctx)
	if err != nil {
		return err
	}
	view, err := onRef(tbl, ref)
	if err != nil {
		return fmt.Errorf("scan %s: %w", t.id, err)
	}
	if err := t.scan(ctx, view, layout, nil, fn); err != nil {
		return fmt.Errorf("scan %s on %s: %w", t.id, ref, err)
	}
	return nil
}

// checkRef is check for a commit staged on a branch: against main's
// history (tbl), where a newer run's claims land, and the branch's (view),
// where the commits made on it record their epochs. A nil Fence checks
// nothing.
func (f *Fence) checkRef(tbl, view *table.Table, id Ident) error {
	if f == nil {
		return nil
	}
	if err := f.check(tbl, id); err != nil || view == tbl {
		return err
	}
	return f.check(view, id)
}

// FastForward makes the branch's head main's current snapshot and removes
// the branch, in one metadata commit that requires the branch's head to
// be the one read (a commit to the branch meanwhile fails it, and it is
// retried on the new head). A Fence is checked first against main's and
// the branch's histories, as for a Commit to the branch. Whatever main held meanwhile (a compaction's
// snapshot) is left to history: readers of main go from its old content
// to the branch's at once. A table without the branch is left as it is
// (the fast-forward landed already, or there was none), so FastForward may
// be repeated after a crash; it reports whether it moved main.
func (t *Table) FastForward(ctx context.Context, branch string, fence *Fence) (bool, error) {
	if branch == "" || branch == table.MainBranch {
		return false, fmt.Errorf("fast-forward %s: branch %q is not a side branch", t.id, branch)
	}
	ctx = t.cat.ioContext(ctx)
	t.commitMu.Lock()
	defer t.commitMu.Unlock()
	var last error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		tbl, err := t.refresh(ctx)
		if err != nil {
			return false, err
		}
		head := tbl.SnapshotByName(branch)
		if head == nil {
			return false, nil
		}
		view, err := onRef(tbl, branch)
		if err != nil {
			return false, fmt.Errorf("fast-forward %s: %w", t.id, err)
		}
		if err := fence.checkRef(tbl, view, t.id); err != nil {
			return false, err
		}
		if last = t.fastForwardOnce(ctx, tbl, branch, head.SnapshotID); last == nil {
			t.log.Info("branch fast-forwarded to main", "branch", branch, "snapshot_id", head.SnapshotID)
			return true, nil
		}
		if ctx.Err() != nil {
			break
		}
		t.log.Debug("fast-forward attempt failed; retrying", "attempt", attempt, "error", last)
	}
	return false, fmt.Errorf("fast-forward %s to branch %s: gave up: %w", t.id, branch, last)
}

// fastForwardOnce commits, on tbl, main := head and the branch's removal.
func (t *Table) fastForwardOnce(ctx context.Context, tbl *table.Table, branch string, head int64) error {
	reqs := []table.Requirement{
		table.AssertTableUUID(tbl.Metadata().TableUUID()),
		table.AssertRefSnapshotID(branch, &head),
	}
	updates := []table.Update{
		table.NewSetSnapshotRefUpdate(table.MainBranch, head, table.BranchRef, 0, 0, 0),
		table.NewRemoveSnapshotRefUpdate(branch),
	}
	if _, _, err := t.cat.cat.CommitTable(ctx, tbl.Identifier(), reqs, updates); err != nil {
		return err
	}
	return t.cat.checkFile()
}
