package lakewriter

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/iceberg-go/table"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/lakewriter/ledger"
	"github.com/floe-cdc/floe/schema"
)

// scanOn returns every live row of ref's head sorted by key bytes.
func scanOn(t testing.TB, tbl *Table, ref string) []schema.Row {
	t.Helper()
	var rows []schema.Row
	require.NoError(t, tbl.ScanOn(context.Background(), ref, func(r schema.Row) error {
		rows = append(rows, r)
		return nil
	}))
	l := tbl.Layout()
	slices.SortFunc(rows, func(a, b schema.Row) int {
		return bytes.Compare(schema.AppendKey(nil, l, a), schema.AppendKey(nil, l, b))
	})
	return rows
}

// reopenSimple opens the catalog in dir again and loads db.name, so that
// what is asserted is what the catalog persisted, not a cached state.
func reopenSimple(t testing.TB, dir, name string) *Table {
	t.Helper()
	c, err := Open(context.Background(), Options{
		URI:       "sqlite://" + filepath.Join(dir, "catalog", "catalog.db"),
		Warehouse: filepath.Join(dir, "warehouse"),
		Logger:    slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	tbl, err := c.LoadTable(context.Background(), Ident{Namespace: "db", Name: name})
	require.NoError(t, err)
	return tbl
}

func checkpointOf(t testing.TB, tbl *Table, ref string) string {
	t.Helper()
	p, err := tbl.LatestPropsOn(context.Background(), ref, func(p map[string]string) bool { return p["floe.checkpoint"] != "" })
	require.NoError(t, err)
	return p["floe.checkpoint"]
}

// A re-read committed to a branch: main keeps the old rows and the old
// newest commit through the reset, the chunks and a stream change on the
// branch (whose equality delete reaches only the rows committed before
// it), and FastForward makes the branch's rows main's at once.
func TestBranchCommitsReachMainOnlyByFastForward(t *testing.T) {
	ctx := context.Background()
	c, dir := openTestCatalog(t)
	tbl := ensureSimple(t, c, "onestate")
	old := []schema.Row{simpleRow(1, "a"), simpleRow(2, "b"), simpleRow(3, "c")}
	_, err := tbl.Commit(ctx, Commit{Rows: seqOf(old...), Props: props("1"), Token: "floe.checkpoint"})
	require.NoError(t, err)

	// The reset: truncate on a branch that does not exist yet.
	res, err := tbl.Commit(ctx, Commit{DeleteAll: true, Props: props("2"), Token: "floe.checkpoint", Branch: ResnapshotBranch})
	require.NoError(t, err)
	has, err := tbl.HasBranch(ctx, ResnapshotBranch)
	require.NoError(t, err)
	require.True(t, has)
	require.Equal(t, old, scanAll(t, tbl))
	require.Empty(t, scanOn(t, tbl, ResnapshotBranch))
	require.Equal(t, res.SnapshotID, tbl.current().SnapshotByName(ResnapshotBranch).SnapshotID)

	// A chunk, then a stream change updating row 2 and deleting row 3.
	_, err = tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(1, "a"), simpleRow(2, "b"), simpleRow(3, "c")),
		Props: props("3"), Token: "floe.checkpoint", Branch: ResnapshotBranch})
	require.NoError(t, err)
	_, err = tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(2, "b2"), simpleRow(4, "d")), DeleteKeys: keysOf(2, 3),
		Props: props("4"), Token: "floe.checkpoint", Branch: ResnapshotBranch})
	require.NoError(t, err)
	want := []schema.Row{simpleRow(1, "a"), simpleRow(2, "b2"), simpleRow(4, "d")}

	// Main is untouched, in this catalog and as persisted.
	again := reopenSimple(t, dir, "onestate")
	require.Equal(t, old, scanAll(t, again))
	require.Equal(t, "1", checkpointOf(t, again, table.MainBranch))
	require.Equal(t, "4", checkpointOf(t, again, ResnapshotBranch))
	require.Equal(t, want, scanOn(t, again, ResnapshotBranch))
	found, err := again.LookupOn(ctx, ResnapshotBranch, []schema.Row{{int64(2)}, {int64(3)}}, nil)
	require.NoError(t, err)
	require.Len(t, found, 1)
	for _, r := range found {
		require.Equal(t, simpleRow(2, "b2"), r)
	}
	found, err = again.Lookup(ctx, []schema.Row{{int64(2)}}, nil)
	require.NoError(t, err)
	for _, r := range found {
		require.Equal(t, simpleRow(2, "b"), r)
	}

	moved, err := tbl.FastForward(ctx, ResnapshotBranch, nil)
	require.NoError(t, err)
	require.True(t, moved)
	after := reopenSimple(t, dir, "onestate")
	require.Equal(t, want, scanAll(t, after))
	require.Equal(t, "4", checkpointOf(t, after, table.MainBranch))
	has, err = after.HasBranch(ctx, ResnapshotBranch)
	require.NoError(t, err)
	require.False(t, has)
	var refs []string
	for name := range after.current().Metadata().Refs() {
		refs = append(refs, name)
	}
	require.Equal(t, []string{table.MainBranch}, refs)

	// Repeated after it landed (a crash before its caller noted it): a no-op.
	moved, err = after.FastForward(ctx, ResnapshotBranch, nil)
	require.NoError(t, err)
	require.False(t, moved)
	require.Equal(t, want, scanAll(t, after))
}

// What main gains while a branch exists (here a commit to main standing
// for a compaction) is replaced by the branch's head at the fast-forward:
// main then holds the branch's rows only.
func TestFastForwardReplacesMainsOwnCommits(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	tbl := ensureSimple(t, c, "replaced")
	_, err := tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(1, "a")), Props: props("1"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	_, err = tbl.Commit(ctx, Commit{DeleteAll: true, Rows: seqOf(simpleRow(5, "e")), Props: props("2"), Token: "floe.checkpoint", Branch: ResnapshotBranch})
	require.NoError(t, err)
	_, err = tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(9, "z")), Props: props("m"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	require.Equal(t, []schema.Row{simpleRow(1, "a"), simpleRow(9, "z")}, scanAll(t, tbl))

	moved, err := tbl.FastForward(ctx, ResnapshotBranch, nil)
	require.NoError(t, err)
	require.True(t, moved)
	require.Equal(t, []schema.Row{simpleRow(5, "e")}, scanAll(t, tbl))
	require.Equal(t, "2", checkpointOf(t, tbl, table.MainBranch))
}

// A branch commit whose base moved (another writer committed to the
// branch) is refused by the catalog and retried on the new head, so
// neither commit is lost.
func TestBranchCommitRetriesOnMovedHead(t *testing.T) {
	ctx := context.Background()
	c, dir := openTestCatalog(t)
	tbl := ensureSimple(t, c, "moved")
	_, err := tbl.Commit(ctx, Commit{DeleteAll: true, Props: props("1"), Token: "floe.checkpoint", Branch: ResnapshotBranch})
	require.NoError(t, err)
	other := reopenSimple(t, dir, "moved")
	stale := tbl.current()
	_, err = other.Commit(ctx, Commit{Rows: seqOf(simpleRow(1, "a")), Props: props("2"), Token: "floe.checkpoint", Branch: ResnapshotBranch})
	require.NoError(t, err)
	tbl.commitVia = func(cur *table.Table) *table.Table {
		tbl.commitVia = nil
		return stale // the first attempt is staged on the old head
	}
	res, err := tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(2, "b")), Props: props("3"), Token: "floe.checkpoint", Branch: ResnapshotBranch})
	require.NoError(t, err)
	require.Equal(t, 2, res.Attempts)
	require.Equal(t, []schema.Row{simpleRow(1, "a"), simpleRow(2, "b")}, scanOn(t, tbl, ResnapshotBranch))
	require.Empty(t, scanAll(t, tbl))
}

// A newer run's claim lands on main; an older run still committing to the
// branch is fenced by it (checkRef reads main's history too), and so is
// its fast-forward; the newer run's own commits to the branch pass, and
// after its fast-forward main's head records its epoch.
func TestBranchCommitsAreFencedByMainsClaims(t *testing.T) {
	ctx := context.Background()
	c, dir := openTestCatalog(t)
	tbl := ensureSimple(t, c, "fenced")
	branchCommit := func(tb *Table, epoch, checkpoint int64, rows ...schema.Row) error {
		_, err := tb.Commit(ctx, Commit{Rows: seqOf(rows...), DeleteAll: checkpoint == 1,
			Props: ledger.Commit{Pipeline: "p1", Checkpoint: checkpoint, Epoch: epoch}.Props(), Token: ledger.PropCheckpoint,
			Fence: &Fence{Pipeline: "p1", Epoch: epoch}, Branch: ResnapshotBranch})
		return err
	}
	require.NoError(t, fenceWriter{t: t, tbl: tbl, run: "r1", epoch: 1}.claim())
	require.NoError(t, branchCommit(tbl, 1, 1, simpleRow(1, "a")))

	c2 := openSecondCatalog(t, dir)
	newer, err := c2.LoadTable(ctx, Ident{Namespace: "db", Name: "fenced"})
	require.NoError(t, err)
	w2 := fenceWriter{t: t, tbl: newer, run: "r2", epoch: 2}
	require.NoError(t, w2.claim()) // on main

	old := fenceWriter{t: t, tbl: tbl, run: "r1", epoch: 1}
	old.fenced(branchCommit(tbl, 1, 2, simpleRow(2, "b")), 2, "r2", false)
	_, err = tbl.FastForward(ctx, ResnapshotBranch, &Fence{Pipeline: "p1", Epoch: 1})
	old.fenced(err, 2, "r2", false)

	require.NoError(t, branchCommit(newer, 2, 3, simpleRow(3, "c")))
	moved, err := newer.FastForward(ctx, ResnapshotBranch, &Fence{Pipeline: "p1", Epoch: 2})
	require.NoError(t, err)
	require.True(t, moved)
	require.Equal(t, []schema.Row{simpleRow(1, "a"), simpleRow(3, "c")}, scanAll(t, newer))
	own, err := newer.Epoch(ctx, "p1")
	require.NoError(t, err)
	require.Equal(t, int64(2), own.Epoch)
}
