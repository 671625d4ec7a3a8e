package lakewriter

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/apache/iceberg-go/table"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/lakewriter/ledger"
	"github.com/floe-cdc/floe/schema"
)

// fenceWriter commits and claims one table as one run of pipeline p1.
type fenceWriter struct {
	t     *testing.T
	tbl   *Table
	run   string
	epoch int64
}

func (w fenceWriter) commit(checkpoint int64, rows ...schema.Row) error {
	_, err := w.tbl.Commit(context.Background(), Commit{Rows: seqOf(rows...),
		Props: ledger.Commit{Pipeline: "p1", Checkpoint: checkpoint, Epoch: w.epoch}.Props(), Token: ledger.PropCheckpoint,
		Fence: &Fence{Pipeline: "p1", Epoch: w.epoch}})
	return err
}

func (w fenceWriter) claim() error {
	_, err := w.tbl.Commit(context.Background(), Commit{Props: ledger.Claim{Pipeline: "p1", Epoch: w.epoch, Run: w.run}.Props(),
		Token: ledger.PropClaim, Fence: &Fence{Pipeline: "p1", Epoch: w.epoch, Claim: true}})
	return err
}

// fenced asserts that err is the FencedError of w against epoch theirs.
func (w fenceWriter) fenced(err error, theirs int64, run string, claim bool) {
	w.t.Helper()
	var fe *FencedError
	require.ErrorAs(w.t, err, &fe)
	require.True(w.t, errors.Is(err, ErrFenced))
	require.Equal(w.t, FencedError{Table: w.tbl.Ident(), Pipeline: "p1", Epoch: w.epoch, TableEpoch: theirs, Run: run, Claim: claim}, *fe)
}

// openSecondCatalog opens the catalog of dir again, as another process
// (another machine) would: its commits are not serialised with c's.
func openSecondCatalog(t *testing.T, dir string) *Catalog {
	c, err := Open(context.Background(), Options{
		URI:       "sqlite://" + filepath.Join(dir, "catalog", "catalog.db"),
		Warehouse: filepath.Join(dir, "warehouse"),
		Logger:    slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// TestFenceRefusesOlderEpoch: once a newer run has claimed a table, a
// commit of the older run is refused, also when it was staged on the base
// before the claim (the catalog's compare-and-swap fails it and the reload
// sees the claim). A second claim of the same epoch is refused too.
func TestFenceRefusesOlderEpoch(t *testing.T) {
	c1, dir := openTestCatalog(t)
	c2 := openSecondCatalog(t, dir)
	oldRun := fenceWriter{t: t, tbl: ensureSimple(t, c1, "fenced"), run: "old", epoch: 1}
	newRun := fenceWriter{t: t, tbl: ensureSimple(t, c2, "fenced"), run: "new", epoch: 2}
	require.NoError(t, oldRun.claim())
	require.NoError(t, oldRun.commit(1, simpleRow(1, "a")))
	same := fenceWriter{t: t, tbl: newRun.tbl, run: "same", epoch: 1}
	same.fenced(same.claim(), 1, "old", true)

	// The new run claims the table while the old run's commit is
	// in flight, staged on the base before the claim.
	claimed := false
	oldRun.tbl.commitVia = func(base *table.Table) *table.Table {
		if !claimed {
			claimed = true
			require.NoError(t, newRun.claim())
		}
		return base
	}
	oldRun.fenced(oldRun.commit(2, simpleRow(2, "old")), 2, "new", false)
	require.True(t, claimed)
	oldRun.tbl.commitVia = nil

	require.NoError(t, newRun.commit(2, simpleRow(2, "new")))
	// Its commits record the epoch too: the old run stays fenced, and
	// the error still names the run that claimed the table.
	oldRun.fenced(oldRun.commit(3, simpleRow(3, "old")), 2, "new", false)
	require.Equal(t, []schema.Row{simpleRow(1, "a"), simpleRow(2, "new")}, scanAll(t, oldRun.tbl))

	own, err := oldRun.tbl.Epoch(context.Background(), "p1")
	require.NoError(t, err)
	require.Equal(t, ledger.Owned{Epoch: 2, Claim: &ledger.Claim{Version: ledger.ClaimVersion, Pipeline: "p1", Epoch: 2, Run: "new"}}, own)
}
