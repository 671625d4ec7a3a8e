package lakewriter

import (
	"context"
	"io/fs"
	"iter"
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

// peakHeap runs fn and returns the highest live heap seen while it ran,
// over the live heap before it: the heap each garbage collection found
// live (/gc/heap/live:bytes), with the collector running often (GOGC 10)
// so that a cycle lands inside every peak. Live objects, not the heap's
// total: that also counts garbage not yet swept, which grows whenever the
// collector's goroutines get less CPU than the allocating ones (a busy
// machine), and made the bound fail on load rather than on memory held.
func peakHeap(t *testing.T, fn func()) int64 {
	t.Helper()
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
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
		batches, failed := rowBatches(seq, enc.append, enc, &n)
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

// TestCommitLargeValues: rows whose values reach largeValueBytes are
// written into a file of large rows of Floe's own (no dictionary, no
// statistics for their string and binary columns, the key's kept), with
// the small rows of the same commit in iceberg-go's files; every row reads
// back exactly, in a snapshot and through a DataWriter; and the heap
// grows by a few times a row, not by the ten copies of each value
// iceberg-go's writer would keep.
func TestCommitLargeValues(t *testing.T) {
	if testing.Short() {
		t.Skip("writes ~300 MB")
	}
	ctx := context.Background()
	c, dir := openTestCatalog(t)
	l := blobLayout()
	tbl, err := c.EnsureTable(ctx, Ident{Namespace: "db", Name: "blobs"}, l, l.Key)
	require.NoError(t, err)
	const size = 24 << 20
	// id 0, 2, 4: large; 1, 3: small; 5: a large text only.
	row := func(i int64) schema.Row {
		switch {
		case i == 5:
			r := blobRow(i, size)
			r[2] = nil
			return r
		case i%2 == 0:
			return blobRow(i, size)
		}
		return blobRow(i, 100)
	}
	gen := func(ids ...int64) iter.Seq2[schema.Row, error] {
		return func(yield func(schema.Row, error) bool) {
			for _, i := range ids {
				if !yield(row(i), nil) {
					return
				}
			}
		}
	}
	var res CommitResult
	grown := peakHeap(t, func() {
		res, err = tbl.Commit(ctx, Commit{Rows: gen(0, 1, 2, 3), Props: props("1"), Token: "floe.checkpoint"})
	})
	require.NoError(t, err)
	require.EqualValues(t, 4, res.Rows)
	t.Logf("heap grew by %d MiB at most while committing rows of 2 x %d MiB", grown>>20, size>>20)
	// The row being generated (2 values), its Arrow copy (2) and the page
	// being written and compressed; iceberg-go's writer alone kept over
	// 400 MiB for these rows.
	require.Less(t, grown, int64(8*size), "the commit held too many copies of the large values")

	// Through a DataWriter, as the snapshot writes.
	w, err := tbl.NewDataWriter(ctx)
	require.NoError(t, err)
	enc, err := tbl.NewRowEncoder()
	require.NoError(t, err)
	defer enc.Release()
	for r := range gen(4, 5) {
		require.NoError(t, enc.Append(r))
		b, err := enc.Batch()
		require.NoError(t, err)
		require.NoError(t, w.Write(b))
	}
	data, err := w.Close(ctx)
	require.NoError(t, err)
	_, err = tbl.Commit(ctx, Commit{Data: []*WrittenData{data}, Props: props("2"), Token: "floe.checkpoint"})
	require.NoError(t, err)

	got := scanAll(t, tbl)
	require.Len(t, got, 6)
	for i, r := range got {
		want := row(int64(i))
		require.Equal(t, want[0], r[0])
		require.True(t, want[1] == r[1], "row %d: text differs", i)
		require.Equal(t, want[2], r[2], "row %d: binary differs", i)
	}

	// The files of large rows: rows 0, 1 and 2 of commit 1 (row 1 is in
	// the batch that row 2 filled), 4 and 5 of the DataWriter; no
	// dictionary pages, no statistics but the key's.
	var large, largeRows int
	require.NoError(t, filepath.WalkDir(filepath.Join(dir, "warehouse"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || !strings.HasPrefix(d.Name(), "floe-large-") {
			return err
		}
		large++
		r, err := file.OpenParquetFile(path, false)
		if err != nil {
			return err
		}
		defer r.Close()
		largeRows += int(r.NumRows())
		for g := range r.NumRowGroups() {
			rg := r.MetaData().RowGroup(g)
			for col := range rg.NumColumns() {
				cc, err := rg.ColumnChunk(col)
				if err != nil {
					return err
				}
				if cc.HasDictionaryPage() {
					t.Errorf("%s: column %d has a dictionary page", d.Name(), col)
				}
				if set, _ := cc.StatsSet(); set != (col == 0) {
					t.Errorf("%s: column %d statistics set = %v, want them for the key only", d.Name(), col, set)
				}
			}
		}
		return nil
	}))
	require.Equal(t, 2, large, "files of large rows")
	require.Equal(t, 5, largeRows, "rows in files of large rows")
}

// TestDataWriterQueueBoundedByBytes: a producer that encodes batches of
// large values faster than they are written waits in Write while one is
// queued (the writer's queue holds two small batches, but one of those),
// and every row is written.
func TestDataWriterQueueBoundedByBytes(t *testing.T) {
	if testing.Short() {
		t.Skip("writes ~200 MB")
	}
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	l := blobLayout()
	tbl, err := c.EnsureTable(ctx, Ident{Namespace: "db", Name: "blobs"}, l, l.Key)
	require.NoError(t, err)
	const rows, size = 6, 16 << 20
	value := strings.Repeat("v", size)
	w, err := tbl.NewDataWriter(ctx)
	require.NoError(t, err)
	enc, err := tbl.NewRowEncoder()
	require.NoError(t, err)
	defer enc.Release()
	var most atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			most.Store(max(most.Load(), int64(len(w.in))))
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Microsecond):
			}
		}
	}()
	for i := range int64(rows) {
		require.NoError(t, enc.Append(schema.Row{i, value, []byte(value)}))
		b, err := enc.Batch()
		require.NoError(t, err)
		require.NoError(t, w.Write(b))
	}
	close(stop)
	<-sampled
	data, err := w.Close(ctx)
	require.NoError(t, err)
	require.EqualValues(t, rows, data.Rows())
	require.LessOrEqual(t, most.Load(), int64(1), "batches of 32 MiB queued in the data writer at once")
}
