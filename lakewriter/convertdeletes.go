package lakewriter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/iceberg-go"
	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
)

// ErrRowsNotPlaceable reports that the rows a data file's deletes remove
// cannot be told from its key column: the table has no key, or an
// equality delete compares other columns than the key. The file must be
// rewritten instead (see DeletesAsPositions).
var ErrRowsNotPlaceable = errors.New("the rows the deletes remove cannot be told by key")

// ConvertedDeletes is what DeletesAsPositions made of one data file's
// deletes.
type ConvertedDeletes struct {
	// File is the position-delete file holding every position the
	// deletes remove; nil when they remove no row of the data file.
	File iceberg.DataFile
	// Rows is the number of positions in File.
	Rows int64
}

// DeletesAsPositions writes one file-scoped position-delete file for
// task.File holding the rows its equality deletes remove (task.
// EqualityDeleteFiles: the ones that apply to it in the snapshot tbl
// planned task from) and the positions of merge, some of its
// position-delete files (each must name task.File alone), so that the
// caller can drop the equality deletes as far as this file is concerned
// and replace merge with the one file, without rewriting the data file.
// Its other position-delete files stay as they are. Compaction uses it
// for data files that are already large and have few rows deleted.
//
// It reads the keys of the equality-delete files, the pos column of
// merge and, only when equality deletes apply, the key column of task.
// File once, in file order: a row is removed when its key is one an
// equality delete names, which is the rule of Iceberg v2 for the deletes
// the planner applied to the file. Merging position deletes alone costs
// the size of the deletes, not of the data file. An equality delete on
// other columns than the table's key: ErrRowsNotPlaceable. A position
// named twice is written once; no position at all: no file.
//
// It writes nothing to the table's metadata; the caller commits File in
// place of merge. Call it without the commit lock.
func (t *Table) DeletesAsPositions(ctx context.Context, tbl *table.Table, task table.FileScanTask, merge []iceberg.DataFile) (ConvertedDeletes, error) {
	df := task.File
	ctx = t.cat.ioContext(ctx)
	removedKeys, err := t.equalityDeletedKeys(ctx, tbl, task)
	if err != nil {
		return ConvertedDeletes{}, err
	}
	layout := t.Layout()
	removed, err := deletedPositions(ctx, tbl, df, merge)
	if err != nil {
		return ConvertedDeletes{}, err
	}
	var pos int64
	if len(removedKeys) > 0 {
		whole := table.FileScanTask{File: df, Start: 0, Length: df.FileSizeBytes()}
		err = scanKeys(ctx, tbl, layout, []table.FileScanTask{whole}, func(k []byte) error {
			if _, ok := removedKeys[string(k)]; ok {
				removed = append(removed, pos)
			}
			pos++
			return nil
		})
		if err != nil {
			return ConvertedDeletes{}, err
		}
		if pos != df.Count() {
			return ConvertedDeletes{}, fmt.Errorf("data file %s: read %d rows, its manifest entry counts %d", df.FilePath(), pos, df.Count())
		}
	}
	return writeMergedPositions(ctx, tbl, df, removed)
}

// equalityDeletedKeys reads the keys (schema.AppendKeyOf encoding) the
// equality deletes of task name: ErrRowsNotPlaceable unless each compares
// exactly the table's key columns.
func (t *Table) equalityDeletedKeys(ctx context.Context, tbl *table.Table, task table.FileScanTask) (map[string]struct{}, error) {
	if len(task.EqualityDeleteFiles) == 0 {
		return nil, nil
	}
	layout := t.Layout()
	df := task.File
	if len(layout.Key) == 0 {
		return nil, fmt.Errorf("data file %s: %w (the table has no key)", df.FilePath(), ErrRowsNotPlaceable)
	}
	keyIDs := make([]int, len(layout.Key))
	for i, name := range layout.KeyNames() {
		f, ok := tbl.Schema().FindFieldByName(name)
		if !ok {
			return nil, fmt.Errorf("key column %s is not in the table's schema", name)
		}
		keyIDs[i] = f.ID
	}
	keys := map[string]struct{}{}
	for _, eq := range task.EqualityDeleteFiles {
		if !sameFieldIDs(eq.EqualityFieldIDs(), keyIDs) {
			return nil, fmt.Errorf("data file %s: %w (equality delete %s compares fields %v, the key is %v)",
				df.FilePath(), ErrRowsNotPlaceable, eq.FilePath(), eq.EqualityFieldIDs(), keyIDs)
		}
		whole := table.FileScanTask{File: eq, Start: 0, Length: eq.FileSizeBytes()}
		err := scanKeys(ctx, tbl, layout, []table.FileScanTask{whole}, func(k []byte) error {
			keys[string(k)] = struct{}{}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("equality delete %s: %w", eq.FilePath(), err)
		}
	}
	return keys, nil
}

// sameFieldIDs reports whether a and b hold the same field ids.
func sameFieldIDs(a, b []int) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(id int) bool { return !slices.Contains(b, id) })
}

// deletedPositions reads the positions that files, position-delete files
// that each name data file df alone, delete.
func deletedPositions(ctx context.Context, tbl *table.Table, df iceberg.DataFile, files []iceberg.DataFile) ([]int64, error) {
	if len(files) == 0 {
		return nil, nil
	}
	fs, err := tbl.FS(ctx)
	if err != nil {
		return nil, fmt.Errorf("open table io: %w", err)
	}
	var positions []int64
	for _, del := range files {
		if ref, ok := ReferencedDataFile(del); !ok || ref != df.FilePath() {
			return nil, fmt.Errorf("position-delete file %s does not name data file %s alone", del.FilePath(), df.FilePath())
		}
		if positions, err = appendDeletedPositions(ctx, fs, del, positions); err != nil {
			return nil, err
		}
	}
	return positions, nil
}

// writeMergedPositions writes positions of data file df (in any order,
// possibly repeated) as one position-delete file, sorted and each once.
// No positions: no file.
func writeMergedPositions(ctx context.Context, tbl *table.Table, df iceberg.DataFile, positions []int64) (ConvertedDeletes, error) {
	if len(positions) == 0 {
		return ConvertedDeletes{}, nil
	}
	slices.Sort(positions)
	positions = slices.Compact(positions)
	if first, last := positions[0], positions[len(positions)-1]; first < 0 || last >= df.Count() {
		return ConvertedDeletes{}, fmt.Errorf("the deletes of %s name rows %d..%d, the file has %d", df.FilePath(), first, last, df.Count())
	}
	out, err := writePosDeleteFile(ctx, tbl, newFileRef(df), positions)
	if err != nil {
		return ConvertedDeletes{}, fmt.Errorf("position deletes of %s: %w", df.FilePath(), err)
	}
	return ConvertedDeletes{File: out, Rows: int64(len(positions))}, nil
}

// appendDeletedPositions appends the pos column of position-delete file
// del to positions.
func appendDeletedPositions(ctx context.Context, fs iceio.IO, del iceberg.DataFile, positions []int64) ([]int64, error) {
	f, err := fs.Open(del.FilePath())
	if err != nil {
		return positions, fmt.Errorf("open %s: %w", del.FilePath(), err)
	}
	pf, err := file.NewParquetReader(f)
	if err != nil {
		f.Close()
		return positions, fmt.Errorf("read %s: %w", del.FilePath(), err)
	}
	defer pf.Close() // closes f
	col := pf.MetaData().Schema.ColumnIndexByName("pos")
	if col < 0 {
		return positions, fmt.Errorf("position-delete file %s has no pos column", del.FilePath())
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 1 << 16}, memory.DefaultAllocator)
	if err != nil {
		return positions, fmt.Errorf("read %s: %w", del.FilePath(), err)
	}
	rr, err := fr.GetRecordReader(ctx, []int{col}, nil)
	if err != nil {
		return positions, fmt.Errorf("read %s: %w", del.FilePath(), err)
	}
	defer rr.Release()
	start := len(positions)
	for rr.Next() {
		pos, ok := rr.RecordBatch().Column(0).(*array.Int64)
		if !ok || pos.NullN() > 0 {
			return positions, fmt.Errorf("position-delete file %s: pos is not a non-null int64 column", del.FilePath())
		}
		positions = append(positions, pos.Int64Values()...)
	}
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return positions, fmt.Errorf("read %s: %w", del.FilePath(), err)
	}
	if n := int64(len(positions) - start); n != del.Count() {
		return positions, fmt.Errorf("position-delete file %s: read %d rows, its manifest entry counts %d", del.FilePath(), n, del.Count())
	}
	return positions, nil
}
