package lakewriter

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/iceberg-go"
	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/google/uuid"
)

// Position deletes (Iceberg v2, not v3 deletion vectors) are written by
// Floe: iceberg-go writes them only for its own filtered deletes. Each
// file is file-scoped: it references one data file (referenced_data_file,
// and lower = upper bound of file_path, which is how Java recognises a
// file-scoped delete), holds that file's deleted positions in ascending
// order, and is written in the data file's spec and partition, so that
// Java and Trino, which index position deletes by partition, apply it
// only to that file.

// Field ids of the position-delete schema (iceberg.PositionalDeleteSchema).
const (
	posDelPathID = 2147483546
	posDelPosID  = 2147483545
)

// ReferencedDataFile returns the one data file position-delete file df
// applies to: its referenced_data_file, or, as v2 manifests do not keep
// that field, its file_path column's bounds when they are equal (Java and
// iceberg-go scope a delete by them; Floe's position-delete files set
// both). false: df may apply to several data files.
func ReferencedDataFile(df iceberg.DataFile) (string, bool) {
	if ref := df.ReferencedDataFile(); ref != nil {
		return *ref, true
	}
	lo, hi := df.LowerBoundValues()[posDelPathID], df.UpperBoundValues()[posDelPathID]
	if lo == nil || !bytes.Equal(lo, hi) {
		return "", false
	}
	return string(lo), true
}

// writePosDeletes writes one position-delete file per data file that dels
// reference and returns them by the data file's path. On error it removes
// what it wrote.
func (t *Table) writePosDeletes(ctx context.Context, tbl *table.Table, dels []rowLoc) (map[string]iceberg.DataFile, error) {
	byFile := make(map[string][]int64)
	refs := make(map[string]*fileRef)
	for _, d := range dels {
		byFile[d.file.path] = append(byFile[d.file.path], d.pos)
		refs[d.file.path] = d.file
	}
	out := make(map[string]iceberg.DataFile, len(byFile))
	paths := slices.Sorted(maps.Keys(byFile))
	for _, p := range paths {
		positions := byFile[p]
		slices.Sort(positions)
		df, err := writePosDeleteFile(ctx, tbl, refs[p], slices.Compact(positions))
		if err != nil {
			t.removeFiles(ctx, tbl, slices.Collect(maps.Values(out)))
			return nil, fmt.Errorf("position deletes of %s: %w", p, err)
		}
		out[p] = df
	}
	return out, nil
}

// writePosDeleteFile writes the sorted positions of data file ref as one
// position-delete file and returns its DataFile.
func writePosDeleteFile(ctx context.Context, tbl *table.Table, ref *fileRef, positions []int64) (iceberg.DataFile, error) {
	spec := tbl.Metadata().PartitionSpecByID(ref.specID)
	if spec == nil {
		return nil, fmt.Errorf("the table has no partition spec %d", ref.specID)
	}
	fs, err := tbl.FS(ctx)
	if err != nil {
		return nil, err
	}
	wfs, ok := fs.(iceio.WriteFileIO)
	if !ok {
		return nil, errors.New("the table's file IO cannot write")
	}
	loc, err := tbl.LocationProvider()
	if err != nil {
		return nil, err
	}
	path := loc.NewDataLocation("floe-posdel-" + uuid.NewString() + ".parquet")
	size, err := writePosDeleteParquet(wfs, path, tbl.Properties(), ref.path, positions)
	if err != nil {
		_ = fs.Remove(path)
		return nil, err
	}
	b, err := iceberg.NewDataFileBuilder(*spec, iceberg.EntryContentPosDeletes, path, iceberg.ParquetFile,
		ref.partition, nil, nil, int64(len(positions)), size)
	if err != nil {
		_ = fs.Remove(path)
		return nil, fmt.Errorf("position-delete file %s: %w", path, err)
	}
	n := int64(len(positions))
	lo, hi := make([]byte, 8), make([]byte, 8)
	binary.LittleEndian.PutUint64(lo, uint64(positions[0]))
	binary.LittleEndian.PutUint64(hi, uint64(positions[len(positions)-1]))
	return b.ReferencedDataFile(ref.path).
		ValueCounts(map[int]int64{posDelPathID: n, posDelPosID: n}).
		NullValueCounts(map[int]int64{posDelPathID: 0, posDelPosID: 0}).
		LowerBoundValues(map[int][]byte{posDelPathID: []byte(ref.path), posDelPosID: lo}).
		UpperBoundValues(map[int][]byte{posDelPathID: []byte(ref.path), posDelPosID: hi}).
		Build(), nil
}

// writePosDeleteParquet writes the rows (dataPath, pos) for each of
// positions to path as Parquet with the table's compression, and returns
// the file's size.
func writePosDeleteParquet(wfs iceio.WriteFileIO, path string, props iceberg.Properties, dataPath string, positions []int64) (int64, error) {
	out, err := wfs.Create(path)
	if err != nil {
		return 0, fmt.Errorf("create %s: %w", path, err)
	}
	cw := &countingWriter{w: out}
	codec := parquetCodec(props.Get(table.ParquetCompressionKey, table.ParquetCompressionDefault))
	wp := parquet.NewWriterProperties(parquet.WithCompression(codec),
		parquet.WithCompressionLevel(props.GetInt(table.ParquetCompressionLevelKey, table.ParquetCompressionLevelDefault)),
		parquet.WithDictionaryFor("file_path", true))
	w, err := pqarrow.NewFileWriter(table.PositionalDeleteArrowSchema, cw, wp, pqarrow.DefaultWriterProps())
	if err != nil {
		out.Close()
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	rec := posDeleteRecord(dataPath, positions)
	defer rec.Release()
	if err := w.Write(rec); err != nil {
		w.Close()
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	if err := w.Close(); err != nil {
		return 0, fmt.Errorf("close %s: %w", path, err)
	}
	return cw.n, nil
}

// posDeleteRecord builds the position-delete rows of one data file.
func posDeleteRecord(dataPath string, positions []int64) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, table.PositionalDeleteArrowSchema)
	defer b.Release()
	paths := b.Field(0).(*array.StringBuilder)
	pos := b.Field(1).(*array.Int64Builder)
	for _, p := range positions {
		paths.Append(dataPath)
		pos.Append(p)
	}
	return b.NewRecordBatch()
}

// countingWriter counts the bytes written through it and closes what it
// wraps.
type countingWriter struct {
	w io.WriteCloser
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (c *countingWriter) Close() error { return c.w.Close() }

// sortDataFiles orders files by path (deterministic commits).
func sortDataFiles(files []iceberg.DataFile) {
	slices.SortFunc(files, func(a, b iceberg.DataFile) int { return cmp.Compare(a.FilePath(), b.FilePath()) })
}
