package compaction

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/schema"
)

// upsert commits one upsert checkpoint setting (or, with value "",
// deleting) the given keys, on tbl and in m, and returns its result.
func upsert(t *testing.T, tbl *lakewriter.Table, m model, cp int, value string, ids ...int64) lakewriter.CommitResult {
	t.Helper()
	res, err := tryUpsert(tbl, m, cp, value, ids...)
	require.NoError(t, err)
	return res
}

// tryUpsert is upsert returning its error (for other goroutines).
func tryUpsert(tbl *lakewriter.Table, m model, cp int, value string, ids ...int64) (lakewriter.CommitResult, error) {
	var data, del []schema.Row
	for _, id := range ids {
		del = append(del, schema.Row{id})
		if value == "" {
			delete(m, id)
			continue
		}
		m[id] = schema.Row{id, value, int32(cp)}
		data = append(data, m[id])
	}
	return tbl.Commit(context.Background(), lakewriter.Commit{
		Rows: rows(data), DeleteKeys: rows(del), Token: "floe.checkpoint",
		Props: map[string]string{"floe.pipeline": "p", "floe.checkpoint": fmt.Sprint(cp), "floe.version": "1"},
	})
}

// withRewriteHook runs hook between a pass's files being written and its
// commit, for the rest of the test.
func withRewriteHook(t *testing.T, hook func()) {
	prev := rewriteHook
	rewriteHook = hook
	t.Cleanup(func() { rewriteHook = prev })
}

// TestRewriteLeavesCommitsFree: while a pass rewrites files, ingestion
// in the same process commits updates and deletes of keys in those very
// files, without waiting for the pass (it held the commit lock for the
// whole pass: 8.5 minutes of no checkpoint on the benchmark). Those
// commits delete by equality, not by position (a position delete of a
// file being rewritten would be lost with it); the pass then commits
// (no conflict) with the data sequence number of the snapshot it read,
// so the equality deletes apply to the rewritten rows and the table
// equals the model: no deleted or replaced row comes back.
func TestRewriteLeavesCommitsFree(t *testing.T) {
	ctx := context.Background()
	c := newLake(t).open(t)
	ingestTbl, compactTbl := ensure(t, c), ensure(t, c)
	m := model{}
	for cp := 1; cp <= 8; cp++ {
		ids := make([]int64, 0, 10)
		for id := int64((cp - 1) * 10); id < int64(cp*10); id++ {
			ids = append(ids, id)
		}
		upsert(t, ingestTbl, m, cp, fmt.Sprintf("v%d", cp), ids...)
	}
	// The key index now locates every key: an update of a key deletes
	// its old row by position.
	res := upsert(t, ingestTbl, m, 9, "v9", 3)
	require.Equal(t, int64(1), res.PositionDeletes)

	during := 0
	withRewriteHook(t, func() {
		type result struct {
			lakewriter.CommitResult
			err error
		}
		done := make(chan result, 2)
		go func() {
			r, err := tryUpsert(ingestTbl, m, 10, "during", 1, 12, 25, 200) // 3 old rows replaced, a new key
			done <- result{r, err}
			r, err = tryUpsert(ingestTbl, m, 11, "", 33, 44) // 2 rows deleted
			done <- result{r, err}
		}()
		for range 2 {
			select {
			case r := <-done:
				require.NoError(t, r.err)
				require.Zero(t, r.PositionDeletes, "a row of a file being rewritten was deleted by position")
				during += int(r.EqualityDeletes)
			case <-time.After(time.Minute):
				t.Fatal("an ingestion commit waited for the rewrite: the pass holds the commit lock")
			}
		}
	})
	res2, err := Compact(ctx, compactTbl, Options{MinInputFiles: 2})
	require.NoError(t, err)
	require.NotZero(t, res2.SnapshotID, "the pass committed")
	require.Equal(t, 5, during, "keys 1, 12, 25, 33 and 44 by equality; 200 needs none")
	requireEqual(t, ingestTbl, m)

	// After the pass, ingestion deletes by position again.
	res = upsert(t, ingestTbl, m, 12, "after", 5)
	require.Equal(t, int64(1), res.PositionDeletes)
	requireEqual(t, ingestTbl, m)
}

// TestRewriteRefusesPositionDeletesFromElsewhere: another process (its
// own catalog handle, which knows nothing of the pass) deletes by
// position from a file the pass is rewriting. The pass must not commit
// over that delete: it fails with ErrConflict, the table equals the
// model, and the next pass succeeds.
func TestRewriteRefusesPositionDeletesFromElsewhere(t *testing.T) {
	ctx := context.Background()
	l := newLake(t)
	ingestTbl, compactTbl := ensure(t, l.open(t)), ensure(t, l.open(t))
	m := model{}
	for cp := 1; cp <= 4; cp++ {
		upsert(t, ingestTbl, m, cp, fmt.Sprintf("v%d", cp), int64(cp), int64(cp+10))
	}
	res := upsert(t, ingestTbl, m, 5, "v5", 1) // the index is built
	require.Equal(t, int64(1), res.PositionDeletes)
	withRewriteHook(t, func() {
		r := upsert(t, ingestTbl, m, 6, "elsewhere", 2)
		require.Equal(t, int64(1), r.PositionDeletes, "the other process deletes by position")
	})
	_, err := Compact(ctx, compactTbl, Options{MinInputFiles: 2})
	require.True(t, errors.Is(err, ErrConflict), "got %v", err)
	requireEqual(t, ingestTbl, m)

	withRewriteHook(t, func() {})
	res2, err := Compact(ctx, compactTbl, Options{MinInputFiles: 2})
	require.NoError(t, err)
	require.NotZero(t, res2.SnapshotID)
	requireEqual(t, ingestTbl, m)
}
