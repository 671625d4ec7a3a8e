package compaction

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/schema"
)

// TestCompactRemovesPositionDeletes: upserts on a table whose key index
// locates every old row write position deletes (sink.delete-mode auto, the
// default); a pass rewriting only some files (a tiny MaxRewriteBytes)
// keeps the table equal to the model, and once every file is rewritten no
// delete file is left: the file-scoped position deletes go with the data
// files they reference. Ingestion after each pass goes on by position
// (the index, stale after the rewrite, is rebuilt).
func TestCompactRemovesPositionDeletes(t *testing.T) {
	ctx := context.Background()
	tbl := ensure(t, newLake(t).open(t))
	m := model{}
	rng := rand.New(rand.NewPCG(21, 22))
	var byPosition int64
	commit := func(cp int) {
		t.Helper()
		var data, del []schema.Row
		touched := map[int64]bool{}
		// At most MaxPositionDeleteFiles keys, so at most as many data
		// files: a commit spread over more deletes by equality.
		for range lakewriter.MaxPositionDeleteFiles {
			id := rng.Int64N(60)
			touched[id] = true
			if _, ok := m[id]; ok && rng.IntN(4) == 0 {
				delete(m, id)
			} else {
				m[id] = schema.Row{id, fmt.Sprintf("v%d", cp), int32(cp)}
			}
		}
		for id := range touched {
			del = append(del, schema.Row{id})
			if r, ok := m[id]; ok {
				data = append(data, r)
			}
		}
		res, err := tbl.Commit(ctx, lakewriter.Commit{
			Rows: rows(data), DeleteKeys: rows(del), Token: "floe.checkpoint",
			Props: map[string]string{"floe.pipeline": "p", "floe.checkpoint": fmt.Sprint(cp), "floe.version": "1"},
		})
		require.NoError(t, err)
		require.Zero(t, res.EqualityDeletes, "checkpoint %d", cp)
		byPosition += res.PositionDeletes
	}
	for cp := 1; cp <= 10; cp++ {
		commit(cp)
	}
	require.Positive(t, byPosition)
	requireEqual(t, tbl, m)
	opts := Options{TargetFileSize: 4 << 10, MinInputFiles: 2, MaxRewriteBytes: 1}
	for pass := 0; ; pass++ {
		require.Less(t, pass, 100, "passes never finished")
		res, err := Compact(ctx, tbl, opts)
		require.NoError(t, err)
		requireEqual(t, tbl, m)
		if res.SnapshotID == 0 {
			break
		}
	}
	_, deletes, err := tbl.FileCounts(ctx)
	require.NoError(t, err)
	require.Zero(t, deletes, "every position delete went with its data file")
	commit(11)
	requireEqual(t, tbl, m)
}
