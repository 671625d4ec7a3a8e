package lakewriter

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/iceberg-go"
	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/google/uuid"
)

// Batches holding large values are written by Floe, not by iceberg-go.
//
// arrow-go's Parquet writer, which table.WriteRecords uses, keeps about
// ten copies of a string or binary value while it writes it: the page
// being encoded and compressed, the row group's buffered pages, a
// dictionary it tries first and then falls back from, and the minimum
// and maximum of the page's and the column chunk's statistics. For a
// 50 MB value that is half a gigabyte, and iceberg-go sets no per-column
// writer property that would avoid it.
//
// A batch with a value of largeValueBytes or more (a batch is cut at
// batchBytes, so such a value comes with at most batchBytes of other
// rows) is therefore written by a largeWriter: into a file of large rows
// of its own, each batch one row group written straight to the file, with
// no dictionary and no statistics for the string and binary columns that
// are not key (identifier) columns (Parquet writes no statistics larger
// than 4 KiB anyway). The file is added like any other data file: its
// DataFile, metrics included, comes from its footer
// (table.FileToDataFile). Only unpartitioned tables take this path (Floe
// creates no other); a partitioned table's batches all go to iceberg-go.
// (A variable only so that tests can send every batch down this path.)
var largeValueBytes = batchBytes

// largeFileBytes bounds a file of large rows unless the table's
// write.target-file-size-bytes is smaller.
const largeFileBytes = 256 << 20

// largeWriter writes the batches holding large values of one write to
// tbl. filter and close must not run concurrently with each other.
type largeWriter struct {
	ctx    context.Context
	tbl    *table.Table
	schema *arrow.Schema
	on     bool // the table is unpartitioned

	mu    sync.Mutex
	cur   *largeFile
	files []iceberg.DataFile // finished
}

// largeFile is the file of large rows being written.
type largeFile struct {
	path string
	w    *pqarrow.FileWriter
}

func newLargeWriter(ctx context.Context, tbl *table.Table, sc *arrow.Schema) *largeWriter {
	spec := tbl.Spec()
	return &largeWriter{ctx: ctx, tbl: tbl, schema: sc, on: spec.IsUnpartitioned()}
}

// filter passes batches on, except those holding a large value, which it
// writes itself (and releases). Its first failure ends the sequence with
// that error.
func (lw *largeWriter) filter(batches iter.Seq2[arrow.RecordBatch, error]) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		for rec, err := range batches {
			if err != nil || !lw.on || !holdsLargeValue(rec) {
				if !yield(rec, err) {
					return
				}
				continue
			}
			err = lw.write(rec)
			rec.Release()
			if err != nil {
				yield(nil, err)
				return
			}
		}
	}
}

// holdsLargeValue reports whether a string or binary column of rec holds
// a value of largeValueBytes or more.
func holdsLargeValue(rec arrow.RecordBatch) bool {
	for _, col := range rec.Columns() {
		var lens func(i int) int
		switch c := col.(type) {
		case *array.String:
			lens = func(i int) int { return c.ValueLen(i) }
		case *array.Binary:
			lens = func(i int) int { return c.ValueLen(i) }
		default:
			continue
		}
		if int(col.Data().SizeInBytes()) < largeValueBytes {
			continue
		}
		for i := range col.Len() {
			if lens(i) >= largeValueBytes {
				return true
			}
		}
	}
	return false
}

// write appends rec to the current file of large rows as one row group,
// first starting a file when there is none or the current one is full.
func (lw *largeWriter) write(rec arrow.RecordBatch) error {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if lw.cur != nil && lw.cur.w.RowGroupTotalBytesWritten() >= lw.targetBytes() {
		if err := lw.finish(); err != nil {
			return err
		}
	}
	if lw.cur == nil {
		if err := lw.open(); err != nil {
			return err
		}
	}
	if err := lw.cur.w.Write(rec); err != nil {
		return fmt.Errorf("write large rows to %s: %w", lw.cur.path, err)
	}
	return nil
}

func (lw *largeWriter) targetBytes() int64 {
	return min(int64(largeFileBytes), lw.tbl.Properties().GetInt64(table.WriteTargetFileSizeBytesKey, largeFileBytes))
}

// open starts a new file of large rows.
func (lw *largeWriter) open() error {
	fs, err := lw.tbl.FS(lw.ctx)
	if err != nil {
		return fmt.Errorf("large rows: %w", err)
	}
	wfs, ok := fs.(iceio.WriteFileIO)
	if !ok {
		return errors.New("large rows: the table's file IO cannot write")
	}
	loc, err := lw.tbl.LocationProvider()
	if err != nil {
		return fmt.Errorf("large rows: %w", err)
	}
	path := loc.NewDataLocation("floe-large-" + uuid.NewString() + ".parquet")
	out, err := wfs.Create(path)
	if err != nil {
		return fmt.Errorf("large rows: create %s: %w", path, err)
	}
	w, err := pqarrow.NewFileWriter(lw.schema, out, lw.writerProps(), pqarrow.DefaultWriterProps())
	if err != nil {
		out.Close()
		_ = fs.Remove(path)
		return fmt.Errorf("large rows: %s: %w", path, err)
	}
	lw.cur = &largeFile{path: path, w: w}
	return nil
}

// writerProps are the table's Parquet settings (compression, page
// version) without dictionaries, and without statistics for the string
// and binary columns that are not identifier fields.
func (lw *largeWriter) writerProps() *parquet.WriterProperties {
	p := lw.tbl.Properties()
	codec := parquetCodec(p.Get(table.ParquetCompressionKey, table.ParquetCompressionDefault))
	version := parquet.DataPageV2
	if p.Get(table.ParquetPageVersionKey, table.ParquetPageVersionDefault) == "1" {
		version = parquet.DataPageV1
	}
	opts := []parquet.WriterProperty{
		parquet.WithCompression(codec),
		parquet.WithCompressionLevel(p.GetInt(table.ParquetCompressionLevelKey, table.ParquetCompressionLevelDefault)),
		parquet.WithDataPageVersion(version),
		parquet.WithDictionaryDefault(false),
	}
	sc := lw.tbl.Schema()
	key := map[int]bool{}
	for _, id := range sc.IdentifierFieldIDs {
		key[id] = true
	}
	for _, f := range sc.Fields() {
		switch f.Type.(type) {
		case iceberg.StringType, iceberg.BinaryType:
			if !key[f.ID] {
				opts = append(opts, parquet.WithStatsFor(f.Name, false))
			}
		}
	}
	return parquet.NewWriterProperties(opts...)
}

// parquetCodecs maps write.parquet.compression-codec to arrow-go's codec
// as iceberg-go's writer does.
var parquetCodecs = map[string]compress.Compression{
	"zstd":   compress.Codecs.Zstd,
	"snappy": compress.Codecs.Snappy,
	"gzip":   compress.Codecs.Gzip,
	"brotli": compress.Codecs.Brotli,
	"lz4":    compress.Codecs.Lz4,
	"lz4raw": compress.Codecs.Lz4Raw,
	"lzo":    compress.Codecs.Lzo,
}

// parquetCodec returns the codec of name; an unknown name writes
// uncompressed.
func parquetCodec(name string) compress.Compression {
	if c, ok := parquetCodecs[name]; ok {
		return c
	}
	return compress.Codecs.Uncompressed
}

// finish closes the current file and adds its DataFile to lw.files.
func (lw *largeWriter) finish() error {
	f := lw.cur
	lw.cur = nil
	if err := f.w.Close(); err != nil {
		lw.remove(f.path)
		return fmt.Errorf("large rows: close %s: %w", f.path, err)
	}
	fs, err := lw.tbl.FS(lw.ctx)
	if err != nil {
		lw.remove(f.path)
		return fmt.Errorf("large rows: %w", err)
	}
	spec := lw.tbl.Spec()
	df, err := table.FileToDataFile(lw.ctx, fs, f.path, lw.tbl.Schema(), spec, 0, lw.tbl.Properties())
	if err != nil {
		lw.remove(f.path)
		return fmt.Errorf("large rows: data file of %s: %w", f.path, err)
	}
	lw.files = append(lw.files, df)
	return nil
}

func (lw *largeWriter) remove(path string) {
	if fs, err := lw.tbl.FS(context.WithoutCancel(lw.ctx)); err == nil {
		_ = fs.Remove(path)
	}
}

// close finishes the current file and returns the data files written. On
// error (also an earlier one) the files it returns are those finished,
// for the caller to remove; the unfinished one is removed.
func (lw *largeWriter) close(failed bool) ([]iceberg.DataFile, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if lw.cur == nil {
		return lw.files, nil
	}
	if failed {
		f := lw.cur
		lw.cur = nil
		_ = f.w.Close()
		lw.remove(f.path)
		return lw.files, nil
	}
	err := lw.finish()
	return lw.files, err
}
