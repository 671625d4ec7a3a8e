package lakewriter

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/schema"
)

// rewriteModel is the live rows a test expects, by key.
type rewriteModel map[int64]string

func (m rewriteModel) rows(l *schema.Table) []schema.Row {
	var out []schema.Row
	for id, name := range m {
		out = append(out, simpleRow(id, name))
	}
	slices.SortFunc(out, func(a, b schema.Row) int {
		return bytes.Compare(schema.AppendKey(nil, l, a), schema.AppendKey(nil, l, b))
	})
	return out
}

// upsertKeys commits name for every id of set and deletes every id of
// del, on tbl and in m.
func upsertKeys(t *testing.T, tbl *Table, m rewriteModel, token, name string, set, del []int64) CommitResult {
	t.Helper()
	var rows []schema.Row
	for _, id := range set {
		m[id] = name
		rows = append(rows, simpleRow(id, name))
	}
	for _, id := range del {
		delete(m, id)
	}
	res, err := tbl.Commit(context.Background(), Commit{Rows: seqOf(rows...), DeleteKeys: keysOf(slices.Concat(set, del)...),
		Props: props(token), Token: "floe.checkpoint"})
	require.NoError(t, err)
	return res
}

// rewriteOutsideLock rewrites every data file of tbl's main the way
// compaction does: it reads and marks the files under the lock, writes
// the new files without it (running between meanwhile), reads their keys
// (edit may change them), and commits under the lock with the data
// sequence number of the snapshot it read, recording the keys.
func rewriteOutsideLock(t *testing.T, tbl *Table, between func(), edit func(*RewriteKeys)) {
	t.Helper()
	ctx := context.Background()
	var (
		base    *table.Table
		tasks   []table.FileScanTask
		removed []string
		release = func() {}
	)
	require.NoError(t, tbl.Maintain(ctx, func(ctx context.Context, cur *table.Table) (*table.Table, error) {
		var err error
		if tasks, err = cur.Scan().PlanFiles(ctx); err != nil {
			return nil, err
		}
		for _, task := range tasks {
			removed = append(removed, task.File.FilePath())
		}
		base, release = cur, tbl.ReplacingFiles(removed)
		return nil, nil
	}))
	defer release()
	var size int64
	for _, task := range tasks {
		size += task.File.FileSizeBytes()
	}
	gr, err := table.ExecuteCompactionGroup(ctx, base, table.CompactionTaskGroup{Tasks: tasks, TotalSizeBytes: size})
	require.NoError(t, err)
	between()
	keys, err := tbl.ReadRewriteKeys(ctx, base, gr.NewDataFiles)
	require.NoError(t, err)
	require.NotNil(t, keys, "an index is held: the keys are read")
	edit(keys)
	require.NoError(t, tbl.Maintain(ctx, func(ctx context.Context, head *table.Table) (*table.Table, error) {
		tx := head.NewTransaction()
		rw := tx.NewRewrite(iceberg.Properties{}).DataSequenceNumber(base.CurrentSnapshot().SequenceNumber)
		rw.ApplyResult(gr)
		if err := rw.Commit(ctx); err != nil {
			return nil, err
		}
		next, err := tx.Commit(ctx)
		if err != nil {
			return nil, err
		}
		tbl.RewriteLanded(keys, head.CurrentSnapshot().SnapshotID, next.CurrentSnapshot().SnapshotID, removed)
		return next, nil
	}))
}

// TestKeyIndexFollowsRecordedRewrite: after a rewrite that recorded the
// keys of its files (read outside the commit lock), the next commit moves
// the key index over it without reading any file but the one it writes
// (following the rewrite inside the commit read every file the rewrite
// added: 3-4.8 s of a 1 s checkpoint on the sustained benchmark), deletes
// by position, and the index equals one rebuilt from the table. Rows
// updated and deleted while the rewrite ran (by equality) stay out of
// the index although the rewrite's files hold them. A recorded rewrite
// missing a live key is not trusted: the index is rebuilt, and the
// table still reads right.
func TestKeyIndexFollowsRecordedRewrite(t *testing.T) {
	c, _ := openTestCatalog(t)
	ingest := ensureSimple(t, c, "follow")
	compact := ensureSimple(t, c, "follow") // the compactor's own handle
	l := ingest.Layout()
	m := rewriteModel{}
	for cp := range 4 {
		var ids []int64
		for id := int64(cp * 10); id < int64(cp*10+10); id++ {
			ids = append(ids, id)
		}
		upsertKeys(t, ingest, m, fmt.Sprint(cp+1), "v0", ids, nil)
	}
	res := upsertKeys(t, ingest, m, "5", "v1", []int64{0, 15}, nil)
	require.Equal(t, int64(2), res.PositionDeletes)
	requireIndexMatchesRebuild(t, ingest)

	rewriteOutsideLock(t, compact, func() {
		res := upsertKeys(t, ingest, m, "6", "during", []int64{7}, []int64{9, 33})
		require.Zero(t, res.PositionDeletes, "rows of files being rewritten go by equality")
	}, func(*RewriteKeys) {})

	builds, read := ingest.idxBuilds, c.indexKeys.filesRead.Load()
	res = upsertKeys(t, ingest, m, "7", "after", []int64{1, 22, 7}, []int64{38})
	require.Equal(t, int64(4), res.PositionDeletes, "keys 1, 22, 38 in the rewrite's files and 7 in the commit's")
	require.Equal(t, builds, ingest.idxBuilds, "no rebuild")
	require.Equal(t, read+1, c.indexKeys.filesRead.Load(), "only the commit's own data file was read")
	requireIndexMatchesRebuild(t, ingest)
	require.Equal(t, m.rows(l), scanAll(t, ingest))

	// A recorded rewrite that lacks a live key (key 2): the commit that
	// looks the key up deletes by equality, and the next one rebuilds
	// the index.
	rewriteOutsideLock(t, compact, func() {}, func(k *RewriteKeys) {
		var buf []byte
		k.locs.del(schema.AppendKeyOf(buf, l, schema.Row{int64(2)}))
	})
	res = upsertKeys(t, ingest, m, "8", "stale", []int64{2, 3}, nil)
	require.Zero(t, res.PositionDeletes, "a stale index deletes nothing by position")
	require.Equal(t, int64(2), res.EqualityDeletes)
	require.Equal(t, m.rows(l), scanAll(t, ingest))
	res = upsertKeys(t, ingest, m, "9", "last", []int64{2, 3}, nil)
	require.Equal(t, int64(2), res.PositionDeletes)
	require.Equal(t, builds+1, ingest.idxBuilds, "rebuilt")
	requireIndexMatchesRebuild(t, ingest)
	require.Equal(t, m.rows(l), scanAll(t, ingest))
	require.ElementsMatch(t, slices.Collect(maps.Keys(m)), idsOf(scanAll(t, compact)))
}

func idsOf(rows []schema.Row) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = r[0].(int64)
	}
	return out
}

// TestInspectLeavesCommitsFree: Inspect runs without the commit lock, so
// a commit of the same table lands while it runs (orphan removal and
// expiry's file deletion ran under the lock and held every checkpoint of
// the table for seconds).
func TestInspectLeavesCommitsFree(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	tbl := ensureSimple(t, c, "inspect")
	other := ensureSimple(t, c, "inspect")
	m := rewriteModel{}
	upsertKeys(t, tbl, m, "1", "v0", []int64{1, 2}, nil)
	require.NoError(t, other.Inspect(ctx, func(ctx context.Context, seen *table.Table) error {
		done := make(chan CommitResult, 1)
		go func() { done <- upsertKeys(t, tbl, m, "2", "v1", []int64{2, 3}, nil) }()
		select {
		case res := <-done:
			require.NotEqual(t, seen.CurrentSnapshot().SnapshotID, res.SnapshotID)
		case <-time.After(time.Minute):
			t.Fatal("a commit waited for Inspect: it holds the commit lock")
		}
		return nil
	}))
	require.Equal(t, m.rows(tbl.Layout()), scanAll(t, other))
}

// TestKeyIndexKeptPastManyDataFiles: an index already held keeps
// following single-file commits past MaxIndexedDataFiles live data files
// (a table at 1 s checkpoints holds 60-65 just before each compaction
// pass; dropping the index there made the first checkpoint after the pass
// rebuild it inside the commit lock), and a commit without delete keys
// after a rewrite moves it over the rewrite instead of dropping it.
func TestKeyIndexKeptPastManyDataFiles(t *testing.T) {
	c, _ := openTestCatalog(t)
	tbl := ensureSimple(t, c, "manyfollowed")
	compact := ensureSimple(t, c, "manyfollowed")
	m := rewriteModel{}
	upsertKeys(t, tbl, m, "0", "v0", []int64{0}, nil)
	upsertKeys(t, tbl, m, "1", "v0", []int64{1}, nil)
	builds := tbl.idxBuilds // the index of the first snapshot is built once
	for i := 1; i < MaxIndexedDataFiles+2; i++ {
		upsertKeys(t, tbl, m, fmt.Sprint(i+1), "v0", []int64{int64(i + 1)}, nil)
	}
	require.Greater(t, len(liveDataFiles(t, tbl)), MaxIndexedDataFiles)
	res := upsertKeys(t, tbl, m, "u", "v1", []int64{3, 40}, nil)
	require.Equal(t, int64(2), res.PositionDeletes)
	require.Equal(t, builds, tbl.idxBuilds, "followed, not rebuilt")
	requireIndexMatchesRebuild(t, tbl)

	rewriteOutsideLock(t, compact, func() {}, func(*RewriteKeys) {})
	_, err := tbl.Commit(context.Background(), Commit{Rows: seqOf(simpleRow(500, "ins")), Props: props("ins"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	m[500] = "ins"
	requireIndexMatchesRebuild(t, tbl)
	res = upsertKeys(t, tbl, m, "u2", "v2", []int64{500, 7}, nil)
	require.Equal(t, int64(2), res.PositionDeletes)
	require.Equal(t, builds, tbl.idxBuilds, "never rebuilt")
	require.Equal(t, m.rows(tbl.Layout()), scanAll(t, tbl))
}

// TestKeyIndexResolvesLazilyOverCommits: after a followed rewrite the
// index's keys are brought up to date a few per commit (here 2), and a
// key a commit deletes before its turn is found through the rewrite that
// moved it, also over two rewrites in a row; after enough commits nothing
// is left to resolve, and the index equals one rebuilt from the table.
func TestKeyIndexResolvesLazilyOverCommits(t *testing.T) {
	prev := resolvePerCommit
	resolvePerCommit = 2
	t.Cleanup(func() { resolvePerCommit = prev })
	c, _ := openTestCatalog(t)
	tbl := ensureSimple(t, c, "lazy")
	compact := ensureSimple(t, c, "lazy")
	m := rewriteModel{}
	for cp := range 4 {
		var ids []int64
		for id := int64(cp * 10); id < int64(cp*10+10); id++ {
			ids = append(ids, id)
		}
		upsertKeys(t, tbl, m, fmt.Sprint(cp), "v0", ids, nil)
	}
	upsertKeys(t, tbl, m, "u0", "v1", []int64{5}, nil)
	builds := tbl.idxBuilds

	rewriteOutsideLock(t, compact, func() {}, func(*RewriteKeys) {})
	res := upsertKeys(t, tbl, m, "u1", "v2", []int64{1, 22}, []int64{38})
	require.Equal(t, int64(3), res.PositionDeletes)
	require.Len(t, tbl.idx.resolving, 1, "2 of 40 keys resolved per commit")

	rewriteOutsideLock(t, compact, func() {}, func(*RewriteKeys) {})
	res = upsertKeys(t, tbl, m, "u2", "v3", []int64{3, 37, 1}, nil)
	require.Equal(t, int64(3), res.PositionDeletes, "found through both rewrites")
	require.Len(t, tbl.idx.resolving, 2)
	require.Equal(t, m.rows(tbl.Layout()), scanAll(t, tbl))

	for i := 0; len(tbl.idx.resolving) > 0; i++ {
		require.Less(t, i, 60, "the keys are never all resolved")
		_, err := tbl.Commit(context.Background(), Commit{Rows: seqOf(simpleRow(int64(100+i), "n")), Props: props(fmt.Sprint("n", i)), Token: "floe.checkpoint"})
		require.NoError(t, err)
		m[int64(100+i)] = "n"
	}
	require.Equal(t, builds, tbl.idxBuilds, "never rebuilt")
	requireIndexMatchesRebuild(t, tbl)
	require.Equal(t, m.rows(tbl.Layout()), scanAll(t, tbl))
}
