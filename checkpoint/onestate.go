package checkpoint

import (
	"context"
	"fmt"

	"github.com/apache/iceberg-go/table"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/lakewriter"
)

// One table state: a table re-snapshotted while Floe runs (a reset:
// continuity.go) is committed to branch lakewriter.ResnapshotBranch from
// its reset on, chunks and stream changes alike, each commit its own
// snapshot as on main. Readers of main keep the old rows meanwhile. Once
// every chunk is committed (the plan complete), fastForward points main at
// the branch's head and removes the branch in one metadata commit: readers
// go from the old rows to the complete new ones at once. Rows read at
// positions past the table's committed one (chunk watermarks, a snapshot
// resumed before the stream) are then as after any snapshot: ahead of it,
// never behind, until the stream passes those positions (window,
// convergeUntil), whose bookkeeping the commits to main carry on.
//
// The branch is the state: recovery reads a table's last commit from the
// branch when the table has it (resnapshotBranch), so a crash resumes the
// snapshot there; a crash before the fast-forward leaves the branch, and
// the next commit of the table, once complete, fast-forwards it; a crash
// after it leaves no branch.

// resnapshotBranch returns the branch tbl's commits go to: the re-snapshot
// branch when tbl has it, else "" (main).
func resnapshotBranch(ctx context.Context, tbl *lakewriter.Table) (string, error) {
	has, err := tbl.HasBranch(ctx, lakewriter.ResnapshotBranch)
	if err != nil || !has {
		return "", err
	}
	return lakewriter.ResnapshotBranch, nil
}

// fastForwarder is implemented by test sources that stop a run just
// before a table's fast-forward (as a crash there would). It is the one
// interface checkpoint finds on a source that capture/abilities.go does
// not declare, on purpose: it is a test hook, not an ability of a
// source; its method is unexported, so only this package's tests can
// implement it, and the floe binary's sources never do.
type fastForwarder interface {
	beforeFastForward(capture.TableID) error
}

// fastForward publishes t's re-snapshot on main once it is complete: no
// snapshot in progress or pending and nothing uncommitted. Otherwise, or
// when t commits to main, it does nothing.
func (c *Coordinator) fastForward(ctx context.Context, t *tableRun) error {
	if t.branch == "" || t.branch == table.MainBranch || t.needsSnapshot || t.reset != nil || t.plan != nil ||
		t.committed == nil || t.buf != nil || t.data != nil || len(t.chunks) > 0 {
		return nil
	}
	if ff, ok := c.opts.Source.(fastForwarder); ok {
		if err := ff.beforeFastForward(t.id); err != nil {
			return err
		}
	}
	moved, err := t.table.FastForward(context.WithoutCancel(ctx), t.branch, c.fence())
	if err != nil {
		return fmt.Errorf("publish the re-snapshot of %s (point main at branch %s): %w; main keeps the old rows, and the next run resumes on the branch and publishes it",
			t.id, t.branch, err)
	}
	c.log.Info("re-snapshot published: main now holds the new rows", "table", t.id.String(), "branch", t.branch,
		"position", t.committed.String(), "moved", moved)
	t.branch = ""
	return nil
}
