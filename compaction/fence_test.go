package compaction

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
	"github.com/floe-cdc/floe/schema"
)

// run is one `floe run` of pipeline p as the tables see it: its epoch,
// and the catalog handle (its process) it commits through.
type run struct {
	tbl   *lakewriter.Table
	epoch int64
}

func (r run) claim(t *testing.T) {
	t.Helper()
	_, err := r.tbl.Commit(context.Background(), lakewriter.Commit{
		Props: ledger.Claim{Pipeline: "p", Epoch: r.epoch, Run: fmt.Sprint("run-", r.epoch)}.Props(), Token: ledger.PropClaim,
		Fence: &lakewriter.Fence{Pipeline: "p", Epoch: r.epoch, Claim: true}})
	require.NoError(t, err)
}

// ingest commits one fenced upsert checkpoint of n random changes over
// keys [0, keys) and applies it to m only when the commit lands.
func (r run) ingest(m model, rng *rand.Rand, checkpoint, n, keys int) error {
	next := maps.Clone(m)
	touched := map[int64]bool{}
	for range n {
		id := rng.Int64N(int64(keys))
		touched[id] = true
		if rng.IntN(3) == 0 {
			delete(next, id)
		} else {
			next[id] = schema.Row{id, fmt.Sprintf("e%d-v%d-%d", r.epoch, checkpoint, rng.IntN(1000)), int32(rng.IntN(100))}
		}
	}
	var data, del []schema.Row
	for id := range touched {
		del = append(del, schema.Row{id})
		if row, ok := next[id]; ok {
			data = append(data, row)
		}
	}
	_, err := r.tbl.Commit(context.Background(), lakewriter.Commit{
		Rows: rows(data), DeleteKeys: rows(del), Token: ledger.PropCheckpoint,
		Props: ledger.Commit{Pipeline: "p", Checkpoint: int64(checkpoint), Epoch: r.epoch}.Props(),
		Fence: &lakewriter.Fence{Pipeline: "p", Epoch: r.epoch}})
	if err == nil {
		clear(m)
		maps.Copy(m, next)
	}
	return err
}

// TestCompactionOfAFencedRunLosesNothing: the compactor of an older run
// keeps passing (its process has not found out yet that a newer run of
// the pipeline claimed the tables) while the newer run commits updates
// and deletes through another process's handle. Its ingestion commits are
// refused (fenced), its rewrites either conflict or hold exactly the live
// rows: the table always equals what the newer run committed. Its
// snapshot expiry afterwards leaves the newer epoch in the history, so
// the older run stays fenced and the newer run keeps committing.
func TestCompactionOfAFencedRunLosesNothing(t *testing.T) {
	l := newLake(t)
	old := run{tbl: ensure(t, l.open(t)), epoch: 1}
	newer := run{tbl: ensure(t, l.open(t)), epoch: 2}
	m := model{}
	rng := rand.New(rand.NewPCG(11, 12))
	old.claim(t)
	for cp := 1; cp <= 5; cp++ {
		require.NoError(t, old.ingest(m, rng, cp, 40, 150))
	}

	passes := passesDuring(old.tbl, func() {
		newer.claim(t)
		for cp := 6; cp <= 30; cp++ {
			require.NoError(t, newer.ingest(m, rng, cp, 25, 150))
			if cp%5 == 0 {
				err := old.ingest(m, rng, 100+cp, 10, 150)
				require.True(t, errors.Is(err, lakewriter.ErrFenced), "the older run committed: %v", err)
			}
			time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
		}
	})
	require.NoError(t, passes.err)
	t.Logf("passes of the fenced run's compactor: %d rewrites, %d conflicts", passes.rewrites, passes.conflicts)
	requireEqual(t, newer.tbl, m)

	// The older process's pass with expiry: the newer epoch stays.
	require.NoError(t, newer.ingest(m, rng, 31, 25, 150))
	_, err := Compact(context.Background(), old.tbl, Options{MinInputFiles: 2, ExpireOlderThan: time.Nanosecond, RetainLast: 1})
	require.NoError(t, err)
	requireEqual(t, newer.tbl, m)
	own, err := old.tbl.Epoch(context.Background(), "p")
	require.NoError(t, err)
	require.Equal(t, int64(2), own.Epoch)
	require.ErrorIs(t, old.ingest(m, rng, 200, 10, 150), lakewriter.ErrFenced)
	require.NoError(t, newer.ingest(m, rng, 32, 25, 150))
	requireEqual(t, newer.tbl, m)
}
