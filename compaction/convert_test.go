package compaction

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/schema"
)

// files lists tbl's live data files (path -> size) and its delete files
// by content, from its current snapshot.
type files struct {
	data                map[string]int64
	posDeletesOf        map[string]int      // data file -> position-delete files naming it
	posDeletePaths      map[string][]string // data file -> the paths of those files
	eqDeletes, otherDel int
}

func listFiles(t *testing.T, tbl *lakewriter.Table) files {
	t.Helper()
	f := files{data: map[string]int64{}, posDeletesOf: map[string]int{}, posDeletePaths: map[string][]string{}}
	seen := map[string]bool{}
	require.NoError(t, tbl.Inspect(context.Background(), func(ctx context.Context, it *table.Table) error {
		tasks, err := it.Scan().PlanFiles(ctx)
		if err != nil {
			return err
		}
		for _, task := range tasks {
			f.data[task.File.FilePath()] = task.File.FileSizeBytes()
			for _, d := range append(task.EqualityDeleteFiles, task.DeleteFiles...) {
				if seen[d.FilePath()] {
					continue
				}
				seen[d.FilePath()] = true
				ref, ok := lakewriter.ReferencedDataFile(d)
				switch {
				case d.ContentType() == iceberg.EntryContentEqDeletes:
					f.eqDeletes++
				case ok:
					f.posDeletesOf[ref]++
					f.posDeletePaths[ref] = append(f.posDeletePaths[ref], d.FilePath())
				default:
					f.otherDel++
				}
			}
		}
		return nil
	}))
	return f
}

// equalityLake opens a lake whose commits delete by equality, as a table
// above the key index's budget does.
func equalityLake(t *testing.T) *lakewriter.Table {
	return lakeWith(t, lakewriter.Options{DeleteMode: lakewriter.DeleteModeEquality})
}

// lakeWith opens the test table in a lake of its own (a SQLite catalog and
// a local warehouse in a temporary dir) with opts otherwise.
func lakeWith(t *testing.T, opts lakewriter.Options) *lakewriter.Table {
	t.Helper()
	dir := t.TempDir()
	opts.URI, opts.Warehouse = "sqlite://"+filepath.Join(dir, "catalog.db"), filepath.Join(dir, "warehouse")
	c, err := lakewriter.Open(context.Background(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return ensure(t, c)
}

// loadKeys commits keys [0, n) as one checkpoint: one data file.
func loadKeys(t *testing.T, tbl *lakewriter.Table, m model, n int) {
	t.Helper()
	var data []schema.Row
	for id := range int64(n) {
		m[id] = schema.Row{id, fmt.Sprintf("seed-%d", id), int32(id % 100)}
		data = append(data, m[id])
	}
	_, err := tbl.Commit(context.Background(), lakewriter.Commit{
		Rows: rows(data), Token: "floe.checkpoint",
		Props: map[string]string{"floe.pipeline": "p", "floe.checkpoint": "0", "floe.version": "1"},
	})
	require.NoError(t, err)
}

// TestConvertKeepsLargeFilesInPlace: a large data file under a stream of
// upserts deleted by equality is not rewritten by every pass. A pass
// writes the rows the equality deletes remove from it as one position-
// delete file and drops the equality deletes; the small files of the
// checkpoints are rewritten. Once its deletes remove a fifth of its rows
// a pass rewrites it. After every pass the table equals the model, row
// by row, and no equality delete is left.
func TestConvertKeepsLargeFilesInPlace(t *testing.T) {
	ctx := context.Background()
	tbl := equalityLake(t)
	m := model{}
	const keys = 20_000
	loadKeys(t, tbl, m, keys)
	start := listFiles(t, tbl)
	require.Len(t, start.data, 1)
	var big string
	var size int64
	for p, s := range start.data {
		big, size = p, s
	}
	// The loaded file is settled (>= 1/8 of the target) and the only
	// one; the checkpoints' rows stay below 5 settled files, so only its
	// deletes can make a pass rewrite it.
	opts := Options{TargetFileSize: 2 * size, MinInputFiles: 5}
	rng := rand.New(rand.NewPCG(5, 6))
	cp := 1
	converted, rewrittenAt := 0, 0
	for round := 1; round <= 6 && rewrittenAt == 0; round++ {
		for range 5 {
			ingest(t, tbl, m, rng, cp, 300, keys)
			cp++
		}
		before := listFiles(t, tbl)
		require.Positive(t, before.eqDeletes)
		res, err := Compact(ctx, tbl, opts)
		require.NoError(t, err)
		requireEqual(t, tbl, m)
		after := listFiles(t, tbl)
		require.Zero(t, after.eqDeletes, "round %d: equality deletes left after the pass", round)
		require.Zero(t, after.otherDel)
		if _, kept := after.data[big]; kept {
			require.GreaterOrEqual(t, res.ConvertedDataFiles, 1, "round %d", round)
			require.Positive(t, res.ConvertedDeleteRows)
			require.LessOrEqual(t, after.posDeletesOf[big], 2, "round %d: at most two position-delete files for the large file", round)
			require.LessOrEqual(t, len(after.data), 3, "round %d: the checkpoints' small files were not packed", round)
			converted++
			continue
		}
		rewrittenAt = round
		require.Positive(t, res.RewrittenDataFiles)
	}
	require.GreaterOrEqual(t, converted, 2, "passes converted the large file's deletes before rewriting it")
	require.NotZero(t, rewrittenAt, "the large file was never rewritten, though a fifth of its rows were deleted")
	t.Logf("converted in %d passes, rewritten in round %d", converted, rewrittenAt)
}

// TestConvertMergesPositionDeletes: with the key index (sink.delete-mode
// auto), each checkpoint deletes old rows of the large file by position;
// a pass merges its position-delete files into one instead of rewriting
// it, and commits go on by position afterwards.
//
// The pass's snapshot of converted position deletes keeps every live row
// where it was, so the key index follows it: the commit after the pass
// does not rebuild the index.
func TestConvertMergesPositionDeletes(t *testing.T) {
	ctx := context.Background()
	var logBuf bytes.Buffer // the commits and the pass log from this goroutine
	tbl := lakeWith(t, lakewriter.Options{Logger: slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	m := model{}
	const keys = 20_000
	loadKeys(t, tbl, m, keys)
	var size int64
	for _, s := range listFiles(t, tbl).data {
		size = s
	}
	opts := Options{TargetFileSize: 2 * size, MinInputFiles: 2}
	rng := rand.New(rand.NewPCG(7, 8))
	// Deletes only: no small data file, so the pass converts and
	// rewrites nothing, and the index must follow its snapshots from the
	// table's history.
	for cp := 1; cp <= 6; cp++ {
		var del []schema.Row
		for range 50 {
			id := rng.Int64N(keys)
			delete(m, id)
			del = append(del, schema.Row{id})
		}
		_, err := tbl.Commit(ctx, lakewriter.Commit{
			DeleteKeys: rows(del), Token: "floe.checkpoint",
			Props: map[string]string{"floe.pipeline": "p", "floe.checkpoint": fmt.Sprint(cp), "floe.version": "1"},
		})
		require.NoError(t, err)
	}
	before := listFiles(t, tbl)
	require.Zero(t, before.eqDeletes, "the index deletes by position")
	var big string
	for p, n := range before.posDeletesOf {
		if n > 1 {
			big = p
		}
	}
	require.NotEmpty(t, big, "some data file has several position-delete files")
	res, err := Compact(ctx, tbl, opts)
	require.NoError(t, err)
	requireEqual(t, tbl, m)
	after := listFiles(t, tbl)
	require.Contains(t, after.data, big, "the large file was rewritten")
	require.Equal(t, 1, after.posDeletesOf[big])
	require.Equal(t, 1, res.ConvertedDataFiles)
	require.Zero(t, res.RewrittenDataFiles)
	builds := strings.Count(logBuf.String(), "key index built")
	require.Positive(t, builds)
	ingest(t, tbl, m, rng, 7, 100, keys)
	requireEqual(t, tbl, m)
	require.Zero(t, listFiles(t, tbl).eqDeletes, "the commit after the pass deletes by position")
	require.Equal(t, builds, strings.Count(logBuf.String(), "key index built"),
		"the commit after the pass rebuilt the key index instead of following the pass")
}

// TestMergeKeepsTheLargestPositionDeleteFile: a pass merges the small
// position-delete files the checkpoints added to a large data file and
// keeps its largest one, until the small ones together hold a quarter of
// the largest's rows; then it merges all of them. After every pass the
// table equals the model, row by row.
func TestMergeKeepsTheLargestPositionDeleteFile(t *testing.T) {
	ctx := context.Background()
	tbl := lakeWith(t, lakewriter.Options{})
	m := model{}
	const keys = 20_000
	loadKeys(t, tbl, m, keys)
	var big string
	var size int64
	for p, s := range listFiles(t, tbl).data {
		big, size = p, s
	}
	opts := Options{TargetFileSize: 2 * size, MinInputFiles: 2}
	order := rand.New(rand.NewPCG(3, 4)).Perm(keys)
	cp := 0
	deleteKeys := func(n int) { // one checkpoint deleting n live keys
		t.Helper()
		var del []schema.Row
		for _, id := range order[:n] {
			delete(m, int64(id))
			del = append(del, schema.Row{int64(id)})
		}
		order = order[n:]
		cp++
		_, err := tbl.Commit(ctx, lakewriter.Commit{
			DeleteKeys: rows(del), Token: "floe.checkpoint",
			Props: map[string]string{"floe.pipeline": "p", "floe.checkpoint": fmt.Sprint(cp), "floe.version": "1"},
		})
		require.NoError(t, err)
	}
	pass := func() []string { // the position-delete files of big after a pass
		t.Helper()
		_, err := Compact(ctx, tbl, opts)
		require.NoError(t, err)
		requireEqual(t, tbl, m)
		f := listFiles(t, tbl)
		require.Contains(t, f.data, big, "the large file was rewritten")
		require.Zero(t, f.eqDeletes)
		return f.posDeletePaths[big]
	}

	for range 3 {
		deleteKeys(100)
	}
	first := pass()
	require.Len(t, first, 1, "three files of 100 rows merge into one")

	deleteKeys(10)
	deleteKeys(10)
	second := pass()
	require.Len(t, second, 2, "the 300-row file is kept, the two new ones merged")
	require.Contains(t, second, first[0])

	deleteKeys(20)
	deleteKeys(20)
	third := pass()
	require.Len(t, third, 2, "20+40 rows are less than a quarter of 300: the largest is kept again")
	require.Contains(t, third, first[0])

	deleteKeys(20)
	fourth := pass()
	require.Len(t, fourth, 1, "80 rows beside 300 are more than a quarter: every file is merged")
	require.NotContains(t, fourth, first[0])
}

// TestPositionDeletesToMerge pins the choice of positionDeletesToMerge.
func TestPositionDeletesToMerge(t *testing.T) {
	spec := iceberg.NewPartitionSpec()
	file := func(name string, rows int64) iceberg.DataFile {
		b, err := iceberg.NewDataFileBuilder(spec, iceberg.EntryContentPosDeletes, name, iceberg.ParquetFile, nil, nil, nil, rows, 100)
		require.NoError(t, err)
		return b.Build()
	}
	names := func(files []iceberg.DataFile) []string {
		var out []string
		for _, f := range files {
			out = append(out, f.FilePath())
		}
		return out
	}
	big, a, b := file("big", 400), file("a", 10), file("b", 20)
	require.Empty(t, positionDeletesToMerge(nil))
	require.Empty(t, positionDeletesToMerge([]iceberg.DataFile{big}), "the largest alone is kept")
	require.Equal(t, []string{"a"}, names(positionDeletesToMerge([]iceberg.DataFile{big, a})))
	require.Equal(t, []string{"a", "b"}, names(positionDeletesToMerge([]iceberg.DataFile{a, big, b})))
	require.Equal(t, []string{"a", "b"}, names(positionDeletesToMerge([]iceberg.DataFile{file("a", 50), file("b", 50)})), "equal files: the others are a quarter")
	require.Equal(t, []string{"big", "c"}, names(positionDeletesToMerge([]iceberg.DataFile{big, file("c", 100)})), "a quarter: all of them")
}

// TestTierSmallFiles pins which small data file tierSmallFiles keeps out
// of the rewrite.
func TestTierSmallFiles(t *testing.T) {
	spec := iceberg.NewPartitionSpec()
	task := func(name string, size int64) table.FileScanTask {
		b, err := iceberg.NewDataFileBuilder(spec, iceberg.EntryContentData, name, iceberg.ParquetFile, nil, nil, nil, 10, size)
		require.NoError(t, err)
		return table.FileScanTask{File: b.Build(), Length: size}
	}
	names := func(tasks []table.FileScanTask) []string {
		var out []string
		for _, t := range tasks {
			out = append(out, t.File.FilePath())
		}
		return out
	}
	opts := Options{TargetFileSize: 64 << 20} // floor: 1 MiB
	for _, c := range []struct {
		name                   string
		small                  []table.FileScanTask
		wantSmall, wantSettled []string
	}{
		{"none", nil, nil, nil},
		{"the largest alone is kept", []table.FileScanTask{task("L", 4<<20)}, nil, []string{"L"}},
		{"the others under a quarter", []table.FileScanTask{task("a", 100<<10), task("L", 4<<20), task("b", 200<<10)}, []string{"a", "b"}, []string{"L"}},
		{"the others a quarter: all packed", []table.FileScanTask{task("a", 512<<10), task("L", 4<<20), task("b", 512<<10)}, []string{"a", "L", "b"}, nil},
		{"the largest under the floor", []table.FileScanTask{task("a", 10<<10), task("L", 512<<10)}, []string{"a", "L"}, nil},
	} {
		small, settled := tierSmallFiles(c.small, []table.FileScanTask{task("S", 40<<20)}, opts)
		require.Equal(t, c.wantSmall, names(small), c.name)
		require.Equal(t, append([]string{"S"}, c.wantSettled...), names(settled), c.name)
	}
}
