package lakewriter

import (
	"context"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/iceberg-go"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/schema"
)

// blobLayout is (id long key, body string, data binary).
func blobLayout() *schema.Table {
	return &schema.Table{
		Columns: []schema.Column{
			{Name: "id", Type: iceberg.PrimitiveTypes.Int64},
			{Name: "body", Type: iceberg.PrimitiveTypes.String, Nullable: true},
			{Name: "data", Type: iceberg.PrimitiveTypes.Binary, Nullable: true},
		},
		Key: []int{0},
	}
}

// blobRow is row id with size bytes of incompressible text and binary.
func blobRow(id int64, size int) schema.Row {
	rng := rand.New(rand.NewPCG(uint64(id), 1))
	b := make([]byte, size)
	for i := range b {
		b[i] = 'a' + byte(rng.IntN(26))
	}
	d := make([]byte, size)
	for i := range d {
		d[i] = byte(rng.Uint32())
	}
	return schema.Row{id, string(b), d}
}

// peakHeap runs fn and returns the highest heap (live objects plus
// garbage not yet swept) seen while it ran, over the heap before it. The
// collector runs often (GOGC 10) so that garbage does not hide the live
// peak.
func peakHeap(t *testing.T, fn func()) int64 {
	t.Helper()
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() int64 { metrics.Read(sample); return int64(sample[0].Value.Uint64()) }
	base := read()
	var peak atomic.Int64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			if v := read(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	fn()
	close(done)
	<-stopped
	return peak.Load() - base
}

// TestCommitMemoryBoundedByBytes commits 96 rows carrying 1 MiB of text
// and 1 MiB of binary each (192 MiB in all): the Arrow batches are cut by
// bytes and the Parquet writer flushes row groups of rowGroupBytes, so
// the heap grows by a fraction of the data, not by all of it; the rows
// read back exactly.
func TestCommitMemoryBoundedByBytes(t *testing.T) {
	if testing.Short() {
		t.Skip("writes ~200 MB")
	}
	ctx := context.Background()
	c, dir := openTestCatalog(t)
	l := blobLayout()
	tbl, err := c.EnsureTable(ctx, Ident{Namespace: "db", Name: "blobs"}, l, l.Key)
	require.NoError(t, err)
	const rows, size = 96, 1 << 20
	gen := func(yield func(schema.Row, error) bool) {
		for i := range int64(rows) {
			if !yield(blobRow(i, size), nil) {
				return
			}
		}
	}
	var res CommitResult
	grown := peakHeap(t, func() {
		res, err = tbl.Commit(ctx, Commit{Rows: gen, Props: props("1"), Token: "floe.checkpoint"})
	})
	require.NoError(t, err)
	require.EqualValues(t, rows, res.Rows)
	t.Logf("heap grew by %d MiB at most while committing %d MiB", grown>>20, rows*2*size>>20)
	require.Less(t, grown, int64(160<<20), "commit held too much of the rows in memory") // 900+ MiB with 64k-row batches and 128 MiB row groups

	got := scanAll(t, tbl)
	require.Len(t, got, rows)
	for i, r := range got {
		want := blobRow(int64(i), size)
		require.Equal(t, want[0], r[0])
		require.True(t, want[1] == r[1], "row %d: text differs", i)
		require.Equal(t, want[2], r[2], "row %d: binary differs", i)
	}
	// 192 MiB of incompressible values: several row groups of about
	// rowGroupBytes (the writer starts a new one before a batch once the
	// pages it has finished reach that size).
	groups := 0
	require.NoError(t, filepath.WalkDir(filepath.Join(dir, "warehouse"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(path, ".parquet") {
			return err
		}
		r, err := file.OpenParquetFile(path, false)
		if err != nil {
			return err
		}
		defer r.Close()
		for i := range r.NumRowGroups() {
			if sz := r.MetaData().RowGroup(i).TotalByteSize(); sz > rowGroupBytes+3*batchBytes {
				t.Errorf("row group %d of %s holds %d bytes", i, filepath.Base(path), sz)
			}
		}
		groups += r.NumRowGroups()
		return nil
	}))
	require.GreaterOrEqual(t, groups, 192<<20/(rowGroupBytes+3*batchBytes))
}

// TestRowBatchesCutByBytes: rows of 3 MiB make batches of at most two
// rows (batchBytes is 4 MiB); small rows make batches of batchRows.
func TestRowBatchesCutByBytes(t *testing.T) {
	c, _ := openTestCatalog(t)
	l := blobLayout()
	tbl, err := c.EnsureTable(context.Background(), Ident{Namespace: "db", Name: "b"}, l, l.Key)
	require.NoError(t, err)
	for _, tc := range []struct {
		size, rows, maxRows int
	}{{3 << 20, 10, 2}, {10, batchRows + 10, batchRows}} {
		enc, err := tbl.layoutEncoder(tbl.current().Schema())
		require.NoError(t, err)
		big := schema.Row{int64(0), strings.Repeat("x", tc.size), nil}
		seq := func(yield func(schema.Row, error) bool) {
			for range tc.rows {
				if !yield(big, nil) {
					return
				}
			}
		}
		var n int64
		batches, failed := rowBatches(seq, enc, &n)
		total := 0
		for b := range batches {
			require.LessOrEqual(t, int(b.NumRows()), tc.maxRows)
			total += int(b.NumRows())
			b.Release()
		}
		require.NoError(t, failed())
		require.Equal(t, tc.rows, total)
		enc.release()
	}
}
