package lakewriter

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/schema"
)

// posDeleteRows reads a position-delete file's (file_path, pos) rows.
func posDeleteRows(t *testing.T, tbl *Table, df iceberg.DataFile) ([]string, []int64) {
	t.Helper()
	fs, err := tbl.current().FS(context.Background())
	require.NoError(t, err)
	f, err := fs.Open(df.FilePath())
	require.NoError(t, err)
	defer f.Close()
	rdr, err := file.NewParquetReader(f)
	require.NoError(t, err)
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	require.NoError(t, err)
	at, err := fr.ReadTable(context.Background())
	require.NoError(t, err)
	defer at.Release()
	var paths []string
	var pos []int64
	for _, c := range at.Column(0).Data().Chunks() {
		for i := range c.Len() {
			paths = append(paths, c.(*array.String).Value(i))
		}
	}
	for _, c := range at.Column(1).Data().Chunks() {
		pos = append(pos, c.(*array.Int64).Int64Values()...)
	}
	return paths, pos
}

// liveDeletes returns the live delete files of tbl by content.
func liveDeletes(t testing.TB, tbl *Table) (pos, eq []iceberg.DataFile) {
	t.Helper()
	_, dels, err := liveFiles(context.Background(), tbl.current())
	require.NoError(t, err)
	for _, d := range dels {
		if d.ContentType() == iceberg.EntryContentPosDeletes {
			pos = append(pos, d)
		} else {
			eq = append(eq, d)
		}
	}
	return pos, eq
}

// referencedFile is the one data file a position-delete file applies to
// (ReferencedDataFile); it must be file-scoped.
func referencedFile(t *testing.T, d iceberg.DataFile) string {
	t.Helper()
	ref, ok := ReferencedDataFile(d)
	require.True(t, ok, "file-scoped")
	return ref
}

// indexOf renders an index as key -> "path@pos" for comparison.
func indexOf(x *keyIndex) map[string]string {
	if err := x.resolveAll(); err != nil {
		panic(err)
	}
	out := make(map[string]string, x.keys.len())
	x.keys.each(func(k []byte, loc rowLoc) bool {
		out[string(k)] = fmt.Sprintf("%s@%d", loc.file.path, loc.pos)
		return true
	})
	return out
}

// requireIndexMatchesRebuild checks that the index tbl maintained
// incrementally is valid for its current snapshot and equals the one
// rebuilt from the table.
func requireIndexMatchesRebuild(t *testing.T, tbl *Table) {
	t.Helper()
	cur := tbl.current()
	require.NotNil(t, tbl.idx, "the index follows the commits")
	require.Equal(t, mainSnapshotID(cur), tbl.idx.snapshot)
	rebuilt, err := buildKeyIndex(context.Background(), cur, tbl.Layout(), &keyBudget{max: 1000})
	require.NoError(t, err)
	require.Equal(t, indexOf(rebuilt), indexOf(tbl.idx))
}

// TestPositionDeletes: updates of rows the index locates are position
// deletes (one file-scoped file per data file, positions sorted), new
// keys need no delete, and the table reads back exactly the live rows.
// Without the position path every delete is an equality delete.
func TestPositionDeletes(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	tbl := ensureSimple(t, c, "posdel")
	_, err := tbl.Commit(ctx, Commit{
		Rows:  seqOf(simpleRow(1, "a"), simpleRow(2, "b"), simpleRow(3, "c"), simpleRow(4, "d")),
		Props: props("1"), Token: "floe.checkpoint",
	})
	require.NoError(t, err)
	first := liveDataFiles(t, tbl)
	require.Len(t, first, 1)

	// Keys listed out of position order: the file's rows are sorted.
	res, err := tbl.Commit(ctx, Commit{
		Rows:       seqOf(simpleRow(3, "c2"), simpleRow(2, "b2"), simpleRow(5, "e")),
		DeleteKeys: keysOf(4, 3, 2, 5, 99),
		Props:      props("2"), Token: "floe.checkpoint",
	})
	require.NoError(t, err)
	require.Equal(t, int64(3), res.PositionDeletes)
	require.Equal(t, int64(0), res.EqualityDeletes)
	require.Equal(t, int64(2), res.SkippedDeletes, "5 and 99 are not in the table")
	require.Equal(t, []schema.Row{simpleRow(1, "a"), simpleRow(2, "b2"), simpleRow(3, "c2"), simpleRow(5, "e")}, scanAll(t, tbl))

	pos, eq := liveDeletes(t, tbl)
	require.Empty(t, eq)
	require.Len(t, pos, 1)
	require.Equal(t, first[0].FilePath(), referencedFile(t, pos[0]))
	require.Equal(t, first[0].SpecID(), pos[0].SpecID())
	paths, positions := posDeleteRows(t, tbl, pos[0])
	require.Equal(t, []string{first[0].FilePath(), first[0].FilePath(), first[0].FilePath()}, paths)
	require.True(t, slices.IsSorted(positions))
	require.Len(t, positions, 3)
	requireIndexMatchesRebuild(t, tbl)

	// Deletes only, reaching both data files.
	res, err = tbl.Commit(ctx, Commit{DeleteKeys: keysOf(1, 5), Props: props("3"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	require.Equal(t, int64(2), res.PositionDeletes)
	require.Equal(t, 2, res.DeleteFiles, "one file per referenced data file")
	require.Equal(t, []schema.Row{simpleRow(2, "b2"), simpleRow(3, "c2")}, scanAll(t, tbl))
	requireIndexMatchesRebuild(t, tbl)

	// A Table opened afresh (a restart) rebuilds the index from the
	// table, position deletes applied, and deletes by position again.
	again, err := c.LoadTable(ctx, Ident{Namespace: "db", Name: "posdel"})
	require.NoError(t, err)
	res, err = again.Commit(ctx, Commit{Rows: seqOf(simpleRow(2, "b3")), DeleteKeys: keysOf(2, 1), Props: props("4"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	require.Equal(t, int64(1), res.PositionDeletes)
	require.Equal(t, int64(1), res.SkippedDeletes, "1 was deleted before")
	require.Equal(t, []schema.Row{simpleRow(2, "b3"), simpleRow(3, "c2")}, scanAll(t, again))
	requireIndexMatchesRebuild(t, again)
}

// TestDeleteModeEquality: sink.delete-mode equality writes one
// equality-delete file per commit, as before.
func TestDeleteModeEquality(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c, err := Open(ctx, Options{
		URI: "sqlite://" + filepath.Join(dir, "catalog.db"), Warehouse: filepath.Join(dir, "warehouse"),
		DeleteMode: DeleteModeEquality, Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	defer c.Close()
	tbl := ensureSimple(t, c, "eq")
	_, err = tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(1, "a"), simpleRow(2, "b")), Props: props("1"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	res, err := tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(1, "a2")), DeleteKeys: keysOf(1, 3), Props: props("2"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	require.Equal(t, int64(2), res.EqualityDeletes)
	require.Zero(t, res.PositionDeletes)
	pos, eq := liveDeletes(t, tbl)
	require.Empty(t, pos)
	require.Len(t, eq, 1)
	require.Equal(t, []schema.Row{simpleRow(1, "a2"), simpleRow(2, "b")}, scanAll(t, tbl))
}

// TestPositionDeletesPartitioned: a row that moves to another partition
// loses its old version through a position delete written in the old
// file's spec and partition; after a spec change the old files' deletes
// keep the old spec.
func TestPositionDeletesPartitioned(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	tbl := ensurePart(t, c, "posmoves")
	_, err := tbl.SetPartitioning(ctx, mustParts(t, "region", "day(ts)"))
	require.NoError(t, err)
	_, err = tbl.Commit(ctx, Commit{
		Rows:  seqOf(partRow(1, "a", "eu", 100), partRow(2, "b", "eu", 100), partRow(3, "c", "us", 101), partRow(4, "d", "us", 102)),
		Props: props("1"), Token: "floe.checkpoint",
	})
	require.NoError(t, err)
	byPath := map[string]iceberg.DataFile{}
	for _, f := range liveDataFiles(t, tbl) {
		byPath[f.FilePath()] = f
	}
	require.Len(t, byPath, 3)

	// 1 moves eu -> us, 3 moves day 101 -> 200, 2 is deleted, 5 is new.
	res, err := tbl.Commit(ctx, Commit{
		Rows:       seqOf(partRow(1, "a2", "us", 100), partRow(3, "c2", "us", 200), partRow(5, "e", "apac", 100)),
		DeleteKeys: keysOf(1, 2, 3, 5),
		Props:      props("2"), Token: "floe.checkpoint",
	})
	require.NoError(t, err)
	require.Equal(t, int64(3), res.PositionDeletes)
	require.Equal(t, int64(1), res.SkippedDeletes)
	want := []schema.Row{partRow(1, "a2", "us", 100), partRow(3, "c2", "us", 200), partRow(4, "d", "us", 102), partRow(5, "e", "apac", 100)}
	require.Equal(t, want, scanAll(t, tbl))
	pos, eq := liveDeletes(t, tbl)
	require.Empty(t, eq)
	require.Len(t, pos, 2, "eu/100 holds 1 and 2, us/101 holds 3")
	for _, d := range pos {
		ref := byPath[referencedFile(t, d)]
		require.NotNil(t, ref)
		require.Equal(t, ref.SpecID(), d.SpecID())
		require.Equal(t, ref.Partition(), d.Partition(), "in the data file's partition")
		paths, positions := posDeleteRows(t, tbl, d)
		require.True(t, slices.IsSorted(positions))
		for _, p := range paths {
			require.Equal(t, ref.FilePath(), p)
		}
	}
	requireIndexMatchesRebuild(t, tbl)

	// New spec: rows of files in the old spec are deleted in it.
	_, err = tbl.SetPartitioning(ctx, mustParts(t, "bucket[4](id)"))
	require.NoError(t, err)
	res, err = tbl.Commit(ctx, Commit{
		Rows: seqOf(partRow(4, "d2", "eu", 300)), DeleteKeys: keysOf(4, 5),
		Props: props("3"), Token: "floe.checkpoint",
	})
	require.NoError(t, err)
	require.Equal(t, int64(2), res.PositionDeletes)
	want = []schema.Row{partRow(1, "a2", "us", 100), partRow(3, "c2", "us", 200), partRow(4, "d2", "eu", 300)}
	require.Equal(t, want, scanAll(t, tbl))
	requireIndexMatchesRebuild(t, tbl)
}

// rewriteEvery compacts every data file of tbl's main into new ones in one
// replace snapshot (through its own lock, as another process would).
func rewriteEvery(t *testing.T, tbl *Table) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, tbl.Maintain(ctx, func(ctx context.Context, cur *table.Table) (*table.Table, error) {
		tasks, err := cur.Scan().PlanFiles(ctx)
		if err != nil {
			return nil, err
		}
		var size int64
		for _, task := range tasks {
			size += task.File.FileSizeBytes()
		}
		tx := cur.NewTransaction()
		if _, err := tx.RewriteDataFiles(ctx, []table.CompactionTaskGroup{{Tasks: tasks, TotalSizeBytes: size}}, table.RewriteDataFilesOptions{}); err != nil {
			return nil, err
		}
		return tx.Commit(ctx)
	}))
}

// TestPositionDeleteOfRewrittenFile: a rewrite lands after the commit
// planned its position deletes (here: while its delete keys are read)
// and before it is staged. The commit's first attempt fails on the moved
// head; the retry converts every position delete whose data file the
// rewrite removed into an equality delete, so the old rows, now in the
// rewrite's files, are still deleted. Without restage every retry stages
// position deletes of dead files, which iceberg-go's row delta refuses
// ("referenced data files missing"), and the commit gives up.
func TestPositionDeleteOfRewrittenFile(t *testing.T) {
	ctx := context.Background()
	c, dir := openTestCatalog(t)
	tbl := ensureSimple(t, c, "rewritten")
	_, err := tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(1, "a"), simpleRow(2, "b")), Props: props("1"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	_, err = tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(3, "c")), DeleteKeys: keysOf(3), Props: props("2"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	require.NotNil(t, tbl.idx)

	// Another process compacts through a catalog of its own.
	otherTbl := reopenSimple(t, dir, "rewritten") // another process's catalog
	keys := func(yield func(schema.Row, error) bool) {
		for _, id := range []int64{1, 3, 4} {
			if !yield(schema.Row{id}, nil) {
				return
			}
		}
		rewriteEvery(t, otherTbl)
	}
	res, err := tbl.Commit(ctx, Commit{
		Rows: seqOf(simpleRow(1, "a2"), simpleRow(3, "c2"), simpleRow(4, "d")), DeleteKeys: keys,
		Props: props("3"), Token: "floe.checkpoint",
	})
	require.NoError(t, err)
	require.Equal(t, 2, res.Attempts, "the first attempt meets the rewrite")
	require.Equal(t, int64(2), res.EqualityDeletes, "1 and 3 were in rewritten files")
	require.Zero(t, res.PositionDeletes)
	require.Equal(t, int64(1), res.SkippedDeletes, "4 stays absent: a rewrite adds no keys")
	require.Equal(t, []schema.Row{simpleRow(1, "a2"), simpleRow(2, "b"), simpleRow(3, "c2"), simpleRow(4, "d")}, scanAll(t, tbl))
	require.Nil(t, tbl.idx, "staged on another base: the index is dropped")

	// The next commit rebuilds it and deletes by position again.
	res, err = tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(2, "b2")), DeleteKeys: keysOf(2), Props: props("4"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	require.Equal(t, int64(1), res.PositionDeletes)
	require.Equal(t, []schema.Row{simpleRow(1, "a2"), simpleRow(2, "b2"), simpleRow(3, "c2"), simpleRow(4, "d")}, scanAll(t, tbl))
	requireIndexMatchesRebuild(t, tbl)
}

// TestKeyIndexIncrementalEqualsRebuild runs a series of commits mixing
// equality deletes (index not valid), position deletes, a rewrite, a
// truncate and written-ahead files, and checks after each that the
// index maintained incrementally equals the one rebuilt from the table.
func TestKeyIndexIncrementalEqualsRebuild(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	tbl := ensureSimple(t, c, "series")
	commit := func(token string, rows []schema.Row, dels []int64, data ...*WrittenData) CommitResult {
		t.Helper()
		cm := Commit{Rows: seqOf(rows...), Data: data, Props: props(token), Token: "floe.checkpoint"}
		if dels != nil {
			cm.DeleteKeys = keysOf(dels...)
		}
		res, err := tbl.Commit(ctx, cm)
		require.NoError(t, err)
		return res
	}
	var want []schema.Row
	for i := range int64(20) {
		want = append(want, simpleRow(i, "v0"))
	}
	commit("1", want, nil)
	require.Nil(t, tbl.idx, "no delete yet: no index built")
	res := commit("2", []schema.Row{simpleRow(0, "v1"), simpleRow(5, "v1")}, []int64{0, 5})
	require.Equal(t, int64(2), res.PositionDeletes)
	requireIndexMatchesRebuild(t, tbl)

	// A rewrite: the index no longer describes main; it follows the
	// replace snapshot (reading only the files it added), no rebuild.
	builds := tbl.idxBuilds
	rewriteEvery(t, tbl)
	res = commit("3", []schema.Row{simpleRow(0, "v2"), simpleRow(7, "v2")}, []int64{0, 7, 9})
	require.Equal(t, int64(3), res.PositionDeletes)
	require.Equal(t, builds, tbl.idxBuilds, "followed the rewrite")
	requireIndexMatchesRebuild(t, tbl)

	// Rows written ahead (Commit.Data) get positions too.
	w, err := tbl.NewDataWriter(ctx)
	require.NoError(t, err)
	enc, err := tbl.NewRowEncoder()
	require.NoError(t, err)
	require.NoError(t, enc.Append(simpleRow(100, "ahead")))
	require.NoError(t, enc.Append(simpleRow(101, "ahead")))
	b, err := enc.Batch()
	require.NoError(t, err)
	require.NoError(t, w.Write(b))
	wd, err := w.Close(ctx)
	require.NoError(t, err)
	commit("4", []schema.Row{simpleRow(1, "v4")}, []int64{1}, wd)
	requireIndexMatchesRebuild(t, tbl)
	res = commit("5", []schema.Row{simpleRow(100, "v5")}, []int64{100, 1})
	require.Equal(t, int64(2), res.PositionDeletes)
	requireIndexMatchesRebuild(t, tbl)

	// Truncate: the index holds only the commit's rows.
	commit("6", nil, nil)
	_, err = tbl.Commit(ctx, Commit{DeleteAll: true, Rows: seqOf(simpleRow(50, "t")), Props: props("7"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	requireIndexMatchesRebuild(t, tbl)
	require.Equal(t, 1, tbl.idx.keys.len())
	res = commit("8", []schema.Row{simpleRow(50, "t2"), simpleRow(51, "n")}, []int64{50, 51})
	require.Equal(t, int64(1), res.PositionDeletes)
	require.Equal(t, int64(1), res.SkippedDeletes)
	require.Equal(t, []schema.Row{simpleRow(50, "t2"), simpleRow(51, "n")}, scanAll(t, tbl))
	requireIndexMatchesRebuild(t, tbl)
	require.Equal(t, int64(tbl.idx.keys.len()), c.indexKeys.used.Load(), "the budget counts exactly the index's keys")
}

// TestKeyIndexBudgetShared: the bound is shared by the tables of a
// catalog: once one table's index holds most of it, a second table's
// does not fit and that table is deleted from by equality, while the
// first keeps deleting by position.
func TestKeyIndexBudgetShared(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalogWith(t, Options{PositionDeletesMaxKeys: 5})
	a, b := ensureSimple(t, c, "a"), ensureSimple(t, c, "b")
	for _, tbl := range []*Table{a, b} {
		_, err := tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(1, "x"), simpleRow(2, "y"), simpleRow(3, "z")), Props: props("1"), Token: "floe.checkpoint"})
		require.NoError(t, err)
	}
	res, err := a.Commit(ctx, Commit{Rows: seqOf(simpleRow(1, "x2")), DeleteKeys: keysOf(1), Props: props("2"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	require.Equal(t, int64(1), res.PositionDeletes)
	res, err = b.Commit(ctx, Commit{Rows: seqOf(simpleRow(1, "x2")), DeleteKeys: keysOf(1), Props: props("2"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	require.Equal(t, int64(1), res.EqualityDeletes, "3 + 3 keys exceed the budget of 5")
	require.Equal(t, int64(3), c.indexKeys.used.Load(), "b's partial index was given back")
	res, err = a.Commit(ctx, Commit{Rows: seqOf(simpleRow(2, "y2")), DeleteKeys: keysOf(2), Props: props("3"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	require.Equal(t, int64(1), res.PositionDeletes)
	require.Equal(t, []schema.Row{simpleRow(1, "x2"), simpleRow(2, "y2"), simpleRow(3, "z")}, scanAll(t, a))
	require.Equal(t, []schema.Row{simpleRow(1, "x2"), simpleRow(2, "y"), simpleRow(3, "z")}, scanAll(t, b))
}

// TestKeyIndexBound: a table with more live keys than the bound is
// deleted from by equality.
func TestKeyIndexBound(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalogWith(t, Options{PositionDeletesMaxKeys: 3})
	tbl := ensureSimple(t, c, "bound")
	_, err := tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(1, "a"), simpleRow(2, "b"), simpleRow(3, "c"), simpleRow(4, "d")), Props: props("1"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	res, err := tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(1, "a2")), DeleteKeys: keysOf(1), Props: props("2"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	require.Equal(t, int64(1), res.EqualityDeletes)
	require.True(t, tbl.idxOff)
	require.Equal(t, []schema.Row{simpleRow(1, "a2"), simpleRow(2, "b"), simpleRow(3, "c"), simpleRow(4, "d")}, scanAll(t, tbl))
}

// TestKeyIndexFileThatCannotFitIsNotRead: a commit adding a data file of
// more rows than the key budget has left turns the index off without
// reading the file's keys (read first, a 10M-row transaction's keys
// took the process to 2 GiB before the budget refused them).
func TestKeyIndexFileThatCannotFitIsNotRead(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalogWith(t, Options{PositionDeletesMaxKeys: 5})
	tbl := ensureSimple(t, c, "big")
	_, err := tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(1, "a"), simpleRow(2, "b")), Props: props("1"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	res, err := tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(1, "a2")), DeleteKeys: keysOf(1), Props: props("2"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	require.Equal(t, int64(1), res.PositionDeletes, "2 keys fit the budget of 5")
	require.False(t, tbl.idxOff)

	var rows []schema.Row
	for id := int64(10); id < 20; id++ {
		rows = append(rows, simpleRow(id, "n"))
	}
	read := c.indexKeys.filesRead.Load()
	_, err = tbl.Commit(ctx, Commit{Rows: seqOf(rows...), Props: props("3"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	require.True(t, tbl.idxOff, "2 + 10 keys exceed the budget of 5")
	require.Equal(t, read, c.indexKeys.filesRead.Load(), "the 10-row file was not read")
	require.Zero(t, c.indexKeys.used.Load(), "the index gave its keys back")

	res, err = tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(2, "b2")), DeleteKeys: keysOf(2), Props: props("4"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	require.Equal(t, int64(1), res.EqualityDeletes)
	want := []schema.Row{simpleRow(1, "a2"), simpleRow(2, "b2")}
	want = append(want, rows...)
	require.Equal(t, want, scanAll(t, tbl))
}

// TestAbsentKeyAddedByAnotherWriter: another writer appends a row of a
// key the commit planned as absent (no delete) after the plan and before
// staging. The retry on the new base turns every planned delete into an
// equality delete, so the other writer's row of that key is deleted as an
// equality delete would have done, and the table holds one row per key.
// Restaging only the position deletes of dead files leaves two rows of
// key 5.
func TestAbsentKeyAddedByAnotherWriter(t *testing.T) {
	ctx := context.Background()
	c, dir := openTestCatalog(t)
	tbl := ensureSimple(t, c, "appended")
	_, err := tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(1, "a"), simpleRow(2, "b")), Props: props("1"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	_, err = tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(2, "b2")), DeleteKeys: keysOf(2), Props: props("2"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	require.NotNil(t, tbl.idx)

	otherTbl := reopenSimple(t, dir, "appended") // another process's catalog
	otherWrote := false
	keys := func(yield func(schema.Row, error) bool) {
		for _, id := range []int64{1, 5} {
			if !yield(schema.Row{id}, nil) {
				return
			}
		}
		if !otherWrote { // the retry reads the keys again
			otherWrote = true
			_, err := otherTbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(5, "other")), Props: map[string]string{"other.token": "x"}, Token: "other.token"})
			require.NoError(t, err)
		}
	}
	res, err := tbl.Commit(ctx, Commit{
		Rows: seqOf(simpleRow(1, "a2"), simpleRow(5, "e")), DeleteKeys: keys,
		Props: props("3"), Token: "floe.checkpoint",
	})
	require.NoError(t, err)
	require.Equal(t, 2, res.Attempts)
	require.Equal(t, int64(2), res.EqualityDeletes, "1 and 5: the new base added data files")
	require.Zero(t, res.SkippedDeletes)
	require.Equal(t, []schema.Row{simpleRow(1, "a2"), simpleRow(2, "b2"), simpleRow(5, "e")}, scanAll(t, tbl))
}

// A commit whose located keys lie in more data files than
// MaxPositionDeleteFiles deletes them by one equality-delete file instead
// of a position-delete file per data file; keys the table does not hold
// still need no delete, and the rows read are the same.
func TestPositionDeletesSpreadOverManyFiles(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	tbl := ensureSimple(t, c, "spread")
	// 2*MaxPositionDeleteFiles+1 files of one row each.
	files := 2*MaxPositionDeleteFiles + 1
	want := map[int64]schema.Row{}
	for i := range files {
		id := int64(i + 1)
		_, err := tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(id, "a")), Props: props(fmt.Sprint(i + 1)), Token: "floe.checkpoint"})
		require.NoError(t, err)
		want[id] = simpleRow(id, "a")
	}
	require.Len(t, liveDataFiles(t, tbl), files)
	update := func(checkpoint string, ids ...int64) CommitResult {
		var keys, rows []schema.Row
		for _, id := range ids {
			keys, rows = append(keys, schema.Row{id}), append(rows, simpleRow(id, checkpoint))
			want[id] = simpleRow(id, checkpoint)
		}
		res, err := tbl.Commit(ctx, Commit{Rows: seqOf(rows...), DeleteKeys: seqOf(keys...), Props: props(checkpoint), Token: "floe.checkpoint"})
		require.NoError(t, err)
		return res
	}

	// Keys 1..MaxPositionDeleteFiles, one per file: by position.
	var ids []int64
	for i := range MaxPositionDeleteFiles {
		ids = append(ids, int64(i+1))
	}
	res := update("100", ids...)
	require.Equal(t, int64(MaxPositionDeleteFiles), res.PositionDeletes)
	require.Equal(t, int64(0), res.EqualityDeletes)
	pos, eq := liveDeletes(t, tbl)
	require.Len(t, pos, MaxPositionDeleteFiles)
	require.Empty(t, eq)

	// The next MaxPositionDeleteFiles+1 keys, each in a file of its own,
	// and a new key: one equality-delete file, no delete for the new key.
	ids = nil
	for i := MaxPositionDeleteFiles; i < files; i++ {
		ids = append(ids, int64(i+1))
	}
	res = update("101", append(ids, 1000)...)
	require.Equal(t, int64(0), res.PositionDeletes)
	require.Equal(t, int64(MaxPositionDeleteFiles+1), res.EqualityDeletes)
	require.Equal(t, int64(1), res.SkippedDeletes, "key 1000 is not in the table")
	pos, eq = liveDeletes(t, tbl)
	require.Len(t, pos, MaxPositionDeleteFiles, "no new position-delete file")
	require.Len(t, eq, 1, "one equality-delete file")

	var wantRows []schema.Row
	for _, r := range want {
		wantRows = append(wantRows, r)
	}
	slices.SortFunc(wantRows, func(a, b schema.Row) int { return cmp.Compare(a[0].(int64), b[0].(int64)) })
	require.Equal(t, wantRows, scanAll(t, tbl))
}

// A table with more live data files than MaxIndexedDataFiles keeps no key
// index (building and following it read every file): its deletes go by
// equality, also for keys not in the table, until it is back under.
func TestKeyIndexSkippedForManyDataFiles(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	tbl := ensureSimple(t, c, "manyfiles")
	want := map[int64]schema.Row{}
	for i := range MaxIndexedDataFiles + 1 {
		id := int64(i + 1)
		_, err := tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(id, "a")), Props: props(fmt.Sprint(i + 1)), Token: "floe.checkpoint"})
		require.NoError(t, err)
		want[id] = simpleRow(id, "a")
	}
	require.Len(t, liveDataFiles(t, tbl), MaxIndexedDataFiles+1)
	res, err := tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(1, "b"), simpleRow(1000, "new")), DeleteKeys: keysOf(1, 1000),
		Props: props("1000"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	want[1], want[1000] = simpleRow(1, "b"), simpleRow(1000, "new")
	require.Equal(t, int64(0), res.PositionDeletes)
	require.Equal(t, int64(0), res.SkippedDeletes)
	require.Equal(t, int64(2), res.EqualityDeletes)
	require.Zero(t, tbl.idxBuilds, "no index built")

	var wantRows []schema.Row
	for _, r := range want {
		wantRows = append(wantRows, r)
	}
	slices.SortFunc(wantRows, func(a, b schema.Row) int { return cmp.Compare(a[0].(int64), b[0].(int64)) })
	require.Equal(t, wantRows, scanAll(t, tbl))
}

// TestDeletePlanHoldsOnlyLocatedKeys: a commit deleting many keys the
// table does not hold (an upsert's inserts of new keys: a 10M-row
// transaction) plans them in the memory of the keys it located, not of
// every key: holding each key three times over (a set, the key list and a
// copy of every absent key) took that transaction's commit to 1.8 GiB.
func TestDeletePlanHoldsOnlyLocatedKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("plans 1M keys")
	}
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	tbl := ensureSimple(t, c, "absent")
	_, err := tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(1, "a"), simpleRow(2, "b")), Props: props("1"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	_, err = tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(1, "a2")), DeleteKeys: keysOf(1), Props: props("2"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	require.NotNil(t, tbl.idx)

	const absent = 1_000_000
	keys := func(yield func(schema.Row, error) bool) {
		if !yield(schema.Row{int64(2)}, nil) {
			return
		}
		for id := int64(100); id < 100+absent; id++ {
			if !yield(schema.Row{id}, nil) {
				return
			}
		}
	}
	var res CommitResult
	grown := peakHeap(t, func() {
		res, err = tbl.Commit(ctx, Commit{DeleteKeys: keys, Props: props("3"), Token: "floe.checkpoint"})
	})
	require.NoError(t, err)
	t.Logf("heap grew by %d KiB at most while planning %d deletes", grown>>10, absent+1)
	require.Equal(t, int64(1), res.PositionDeletes)
	require.Equal(t, int64(absent), res.SkippedDeletes)
	require.Zero(t, res.EqualityDeletes)
	require.Less(t, grown, int64(16<<20), "the plan held the keys it did not locate") // 123 MiB when it did
	require.Equal(t, []schema.Row{simpleRow(1, "a2")}, scanAll(t, tbl))
	requireIndexMatchesRebuild(t, tbl)
}

// imagesOf returns the key images of rows of layout: a full row image,
// or with keyOnly the image of its key row.
func imagesOf(t *testing.T, layout *schema.Table, keyOnly bool, rows ...schema.Row) iter.Seq2[schema.KeyImage, error] {
	t.Helper()
	var images []schema.KeyImage
	for _, r := range rows {
		img, err := schema.AppendRow(nil, layout, r)
		if keyOnly {
			img, err = schema.AppendRow(nil, schema.KeyTable(layout), schema.KeyRow(layout, r))
		}
		require.NoError(t, err)
		images = append(images, schema.KeyImage{Key: schema.AppendKey(nil, layout, r), Image: img, KeyOnly: keyOnly})
	}
	return func(yield func(schema.KeyImage, error) bool) {
		for _, k := range images {
			if !yield(k, nil) {
				return
			}
		}
	}
}

// counted counts the reads of keys.
func counted(keys iter.Seq2[schema.Row, error], reads *int) iter.Seq2[schema.Row, error] {
	return func(yield func(schema.Row, error) bool) {
		*reads++
		keys(yield)
	}
}

// TestPositionDeletesFromKeyImages: delete keys given as images (as a
// buffer holds them) are located by their encoding, without DeleteKeys
// being read, and delete what DeleteKeys would: updated rows' keys from
// full row images, deleted ones' from key-only images, new keys skipped.
// Images of another key type are not used: DeleteKeys is read instead.
func TestPositionDeletesFromKeyImages(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	tbl := ensureSimple(t, c, "keyimages")
	layout := simpleLayout()
	_, err := tbl.Commit(ctx, Commit{
		Rows:  seqOf(simpleRow(1, "a"), simpleRow(2, "b"), simpleRow(3, "c"), simpleRow(4, "d")),
		Props: props("1"), Token: "floe.checkpoint",
	})
	require.NoError(t, err)

	updated := []schema.Row{simpleRow(3, "c2"), simpleRow(2, "b2"), simpleRow(5, "e")}
	images := func(yield func(schema.KeyImage, error) bool) {
		for k, err := range imagesOf(t, layout, false, updated...) {
			if !yield(k, err) {
				return
			}
		}
		imagesOf(t, layout, true, simpleRow(4, ""), simpleRow(99, ""))(yield)
	}
	reads := 0
	res, err := tbl.Commit(ctx, Commit{
		Rows:            seqOf(updated...),
		DeleteKeys:      counted(keysOf(3, 2, 5, 4, 99), &reads),
		DeleteKeyImages: &KeyImages{Layout: layout, Keys: images},
		Props:           props("2"), Token: "floe.checkpoint",
	})
	require.NoError(t, err)
	require.Zero(t, reads, "DeleteKeys was read")
	require.Equal(t, int64(3), res.PositionDeletes)
	require.Equal(t, int64(2), res.SkippedDeletes, "5 and 99 are not in the table")
	require.Equal(t, []schema.Row{simpleRow(1, "a"), simpleRow(2, "b2"), simpleRow(3, "c2"), simpleRow(5, "e")}, scanAll(t, tbl))
	requireIndexMatchesRebuild(t, tbl)

	// A layout whose key is an int, not the table's long: its key
	// encodings are not the table's, so DeleteKeys is read.
	other := simpleLayout()
	other.Columns[0].Type = iceberg.PrimitiveTypes.Int32
	reads = 0
	res, err = tbl.Commit(ctx, Commit{
		DeleteKeys:      counted(keysOf(1, 5), &reads),
		DeleteKeyImages: &KeyImages{Layout: other, Keys: imagesOf(t, other, true, schema.Row{int32(1), "", nil}, schema.Row{int32(5), "", nil})},
		Props:           props("3"), Token: "floe.checkpoint",
	})
	require.NoError(t, err)
	require.Positive(t, reads, "DeleteKeys was not read")
	require.Equal(t, int64(2), res.PositionDeletes)
	require.Equal(t, []schema.Row{simpleRow(2, "b2"), simpleRow(3, "c2")}, scanAll(t, tbl))
	requireIndexMatchesRebuild(t, tbl)
}
