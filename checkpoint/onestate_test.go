package checkpoint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/iceberg-go/table"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/memsource"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/transform"
)

// crashingSource is a gatedSource whose run stops, as a crash would,
// just before a table's fast-forward when ff returns an error.
type crashingSource struct {
	gatedSource
	ff func(capture.TableID) error
}

func (s crashingSource) beforeFastForward(id capture.TableID) error { return s.ff(id) }

// branchState returns what table name's re-snapshot branch holds: its
// newest commit's props and rows by id (rendered as sinkRows does); ok is
// false when the table has no branch.
func (l *lake) branchState(name string) (props map[string]string, rows map[int64]string, ok bool) {
	l.t.Helper()
	ctx := context.Background()
	tbl, err := l.cat.LoadTable(ctx, lakewriter.Ident{Namespace: "lake", Name: name})
	require.NoError(l.t, err)
	if ok, err = tbl.HasBranch(ctx, lakewriter.ResnapshotBranch); err != nil || !ok {
		require.NoError(l.t, err)
		return nil, nil, false
	}
	props, err = tbl.LatestPropsOn(ctx, lakewriter.ResnapshotBranch, ledger.CommitOf("p"))
	require.NoError(l.t, err)
	var cols []int // the source columns after id, as scanLog renders them
	for i, c := range tbl.Layout().Columns {
		if c.Name != "id" && !strings.HasPrefix(c.Name, "_floe_") {
			cols = append(cols, i)
		}
	}
	rows = map[int64]string{}
	require.NoError(l.t, tbl.ScanOn(ctx, lakewriter.ResnapshotBranch, func(r schema.Row) error {
		vals := make([]any, len(cols))
		for i, c := range cols {
			vals[i] = r[c]
		}
		rows[r[0].(int64)] = render(vals)
		return nil
	}))
	return props, rows, true
}

// sourceRows returns the source's rows of table name at pos, rendered as
// sinkRows renders them.
func (l *lake) sourceRows(name string, pos memsource.Pos) map[int64]string {
	l.t.Helper()
	src, err := l.db.Rows(name, pos)
	require.NoError(l.t, err)
	out := map[int64]string{}
	for _, r := range src {
		out[r[0].(int64)] = render(r[1:])
	}
	return out
}

// branchDone is the number of chunks the branch's newest commit records
// done (-1: its plan is complete and dropped, or there is no plan).
func branchDone(t *testing.T, props map[string]string) int {
	t.Helper()
	if props[ledger.PropSnapshot] == "" {
		return -1
	}
	plan, err := capture.DecodeSnapshotPlan(props[ledger.PropSnapshot])
	require.NoError(t, err)
	return len(plan.Done)
}

// TestContractResnapshotOneTableState: a table re-snapshotted online is
// committed to a branch; main keeps the old rows (and its old position)
// through a stop mid-snapshot with stream changes of re-read rows, the
// resumed snapshot on the branch, and a crash just before the
// fast-forward; the next run publishes it, and main then equals the
// source row for row with the branch gone. Main is sampled at every poll
// of every run: it holds the old rows or, once the branch is gone, never
// the old rows again.
func TestContractResnapshotOneTableState(t *testing.T) {
	t.Parallel()
	l, _, ctl, board := resnapshotAsked(t, transform.Upsert)
	old, err := l.sinkRows("b")
	require.NoError(t, err)
	require.Len(t, old, 100)
	oldAt := l.committed("b")
	published := false
	// sample reads main's position, rows and position again, until
	// both positions agree (a commit to main between the reads, the
	// fast-forward, resamples).
	sample := func() {
		for {
			before, err := l.committedOn("b", table.MainBranch)
			require.NoError(t, err)
			got, err := l.sinkRowsOn("b", table.MainBranch)
			require.NoError(t, err)
			if after, err := l.committedOn("b", table.MainBranch); err != nil || after != before {
				require.NoError(t, err)
				continue
			}
			if fmt.Sprint(got) == fmt.Sprint(old) && !published {
				require.Equal(t, oldAt, before, "main holds the old rows at a new position")
				return
			}
			_, _, onBranch := l.branchState("b")
			require.False(t, onBranch, "main changed while the re-snapshot branch exists: %d rows", len(got))
			require.Equal(t, l.sourceRows("b", before), got, "main, once published, equals the source at its position")
			published = true
			return
		}
	}
	gate := func(ctx context.Context, id capture.TableID, ch capture.Chunk) error {
		if id.Name == "b" && ch.Index >= 2 {
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}
	none := func(capture.TableID) error { return nil }
	open := func(context.Context, capture.TableID, capture.Chunk) error { return nil }

	// 1. Stopped mid-snapshot, after stream changes of keys in read and
	// unread chunks committed to the branch.
	var changedAt memsource.Pos
	var logs1, logs2 bytes.Buffer // each run's log, shown when a step fails
	src := l.source(memsource.Config{})
	err = l.run(crashingSource{gatedSource{memsource.WithExport(src), gate}, none}, runOpts{wantStream: true, status: board, control: ctl, logs: &logs1,
		until: func() bool {
			sample()
			props, _, ok := l.branchState("b")
			if !ok {
				return false
			}
			if changedAt != 0 {
				p, err := memsource.DecodePosition(props[ledger.PropPosition])
				require.NoError(t, err)
				return p.(memsource.Pos) >= changedAt
			}
			if branchDone(t, props) < 2 {
				return false
			}
			changedAt = l.exec("UPDATE b SET v = 'b1' WHERE id = 1", "UPDATE b SET v = 'b1' WHERE id = 99",
				"DELETE FROM b WHERE id = 98", "INSERT INTO b VALUES (101, 'b1')")
			return false
		}})
	require.NoError(t, err)
	sample()
	props, rows, ok := l.branchState("b")
	require.True(t, ok, "stopped mid-snapshot: the branch holds it; the run logged:\n%s", logs1.String())
	require.GreaterOrEqual(t, branchDone(t, props), 2)
	require.Less(t, len(rows), 100, "the branch holds only the chunks read so far")

	// 2. The snapshot resumes on the branch and completes; the run
	// crashes just before the fast-forward.
	crash := errors.New("crash before the fast-forward")
	src = l.source(memsource.Config{})
	err = l.run(crashingSource{gatedSource{memsource.WithExport(src), open}, func(id capture.TableID) error {
		sample()
		if id.Name == "b" {
			return crash
		}
		return nil
	}}, runOpts{status: board, control: ctl, logs: &logs2})
	require.ErrorIs(t, err, crash)
	sample()
	props, rows, ok = l.branchState("b")
	require.True(t, ok, "crashed before the fast-forward: the branch holds the snapshot; the first run logged:\n%s\nthe second:\n%s", logs1.String(), logs2.String())
	require.Equal(t, -1, branchDone(t, props), "the branch holds the complete snapshot")
	at, err := memsource.DecodePosition(props[ledger.PropPosition])
	require.NoError(t, err)
	require.Equal(t, l.sourceRows("b", at.(memsource.Pos)), rows, "the branch equals the source at its position")

	// 3. The next run publishes it at the table's next commit.
	l.exec("UPDATE b SET v = 'b2' WHERE id = 99", "INSERT INTO b VALUES (102, 'b2')")
	end := l.db.Sync()
	src = l.source(memsource.Config{})
	require.NoError(t, l.run(crashingSource{gatedSource{memsource.WithExport(src), open}, none}, runOpts{wantStream: true, status: board, control: ctl,
		until: func() bool {
			// The branch is looked at before main is sampled: a
			// fast-forward between the two would otherwise end the run
			// with main never sampled as published.
			_, _, onBranch := l.branchState("b")
			sample()
			return acked(src, end)() && !onBranch
		}}))
	require.True(t, published)
	l.check("a")
	l.check("b")
	got, err := l.sinkRows("b")
	require.NoError(t, err)
	require.Len(t, got, 101)
	require.Equal(t, render([]any{"b2"}), got[102])
}
