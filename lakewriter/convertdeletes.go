package lakewriter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// ErrRowsNotPlaceable reports that the rows a data file's deletes remove
// cannot be told by key: a key the deletes remove is in the file more
// than once, or the rows read back do not follow the file's order. The
// file must be rewritten instead (see DeletesAsPositions).
var ErrRowsNotPlaceable = errors.New("the rows the deletes remove cannot be told apart by key")

// ConvertedDeletes is what DeletesAsPositions made of one data file's
// deletes.
type ConvertedDeletes struct {
	// File is the position-delete file holding every position the
	// deletes remove; nil when they remove no row of the data file.
	File iceberg.DataFile
	// Rows is the number of positions in File.
	Rows int64
}

// DeletesAsPositions turns the deletes task carries (the equality and
// position deletes that apply to task.File in the snapshot tbl planned
// it from) into one file-scoped position-delete file for that data file,
// holding exactly the rows they remove, so that the data file need not be
// rewritten for its equality deletes to be dropped. Reading a key column
// costs a fraction of rewriting the file: compaction uses it for data
// files that are already large and have few rows deleted.
//
// It reads the key column of the file three times, all in file order:
// every row (their positions), the rows the deletes leave (with the
// task's deletes applied, by the same reader every scan uses) and, to
// check that each removed key names one row, every row again. A row is
// removed when the next live row read does not have its key. When a key
// the deletes remove is in the file twice, which row is live cannot be
// told from the keys alone: ErrRowsNotPlaceable.
//
// It writes nothing to the table's metadata; the caller commits File in
// place of the task's deletes. Call it without the commit lock.
func (t *Table) DeletesAsPositions(ctx context.Context, tbl *table.Table, task table.FileScanTask) (ConvertedDeletes, error) {
	layout := t.Layout()
	if len(layout.Key) == 0 {
		return ConvertedDeletes{}, fmt.Errorf("data file %s: %w (the table has no key)", task.File.FilePath(), ErrRowsNotPlaceable)
	}
	ctx = t.cat.ioContext(ctx)
	df := task.File
	whole := table.FileScanTask{File: df, Start: 0, Length: df.FileSizeBytes()}
	live, stop := iter.Pull2(keySeq(ctx, tbl, t, task))
	defer stop()
	var (
		removed     []int64
		removedKeys = map[string]int{}
		pos         int64
	)
	next, liveErr, more := live()
	err := scanKeys(ctx, tbl, layout, []table.FileScanTask{whole}, func(k []byte) error {
		if liveErr != nil {
			return liveErr
		}
		if more && bytes.Equal(k, next) {
			next, liveErr, more = live()
		} else {
			removed = append(removed, pos)
			removedKeys[string(k)]++
		}
		pos++
		return nil
	})
	switch {
	case err != nil:
		return ConvertedDeletes{}, err
	case liveErr != nil:
		return ConvertedDeletes{}, liveErr
	case more:
		return ConvertedDeletes{}, fmt.Errorf("data file %s: %w (a live row read back is not in the file's order)", df.FilePath(), ErrRowsNotPlaceable)
	}
	if pos != df.Count() {
		return ConvertedDeletes{}, fmt.Errorf("data file %s: read %d rows, its manifest entry counts %d", df.FilePath(), pos, df.Count())
	}
	if len(removed) == 0 {
		return ConvertedDeletes{}, nil
	}
	if err := eachKeyOnce(ctx, tbl, t, whole, removedKeys); err != nil {
		return ConvertedDeletes{}, err
	}
	out, err := writePosDeleteFile(ctx, tbl, newFileRef(df), removed)
	if err != nil {
		return ConvertedDeletes{}, fmt.Errorf("position deletes of %s: %w", df.FilePath(), err)
	}
	return ConvertedDeletes{File: out, Rows: int64(len(removed))}, nil
}

// keySeq yields the key of every row task reads (its deletes applied),
// in file order; a read error ends it as the error of its last pair. Each
// key is valid until the next one is pulled.
func keySeq(ctx context.Context, tbl *table.Table, t *Table, task table.FileScanTask) iter.Seq2[[]byte, error] {
	stopped := errors.New("stopped")
	return func(yield func([]byte, error) bool) {
		err := scanKeys(ctx, tbl, t.Layout(), []table.FileScanTask{task}, func(k []byte) error {
			if !yield(k, nil) {
				return stopped
			}
			return nil
		})
		if err != nil && !errors.Is(err, stopped) {
			yield(nil, err)
		}
	}
}

// eachKeyOnce fails with ErrRowsNotPlaceable when one of keys (counted
// as removed) is in the file task reads more than once.
func eachKeyOnce(ctx context.Context, tbl *table.Table, t *Table, task table.FileScanTask, keys map[string]int) error {
	seen := make(map[string]int, len(keys))
	return scanKeys(ctx, tbl, t.Layout(), []table.FileScanTask{task}, func(k []byte) error {
		if _, ok := keys[string(k)]; !ok {
			return nil
		}
		if seen[string(k)]++; seen[string(k)] > 1 {
			return fmt.Errorf("data file %s: %w (a removed key is in the file twice)", task.File.FilePath(), ErrRowsNotPlaceable)
		}
		return nil
	})
}
