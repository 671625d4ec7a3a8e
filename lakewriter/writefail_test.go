package lakewriter

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"strings"
	"syscall"
	"testing"

	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/schema"
)

// fullDisk is a WriteFileIO whose files fail every write with ENOSPC, as
// a full local disk does.
type fullDisk struct{ iceio.WriteFileIO }

func (d fullDisk) Create(name string) (iceio.FileWriter, error) {
	w, err := d.WriteFileIO.Create(name)
	if err != nil {
		return nil, err
	}
	return fullFile{w: w, name: name}, nil
}

type fullFile struct {
	w    iceio.FileWriter
	name string
}

func (f fullFile) Write([]byte) (int, error) {
	return 0, &fs.PathError{Op: "write", Path: f.name, Err: syscall.ENOSPC}
}
func (f fullFile) ReadFrom(io.Reader) (int64, error) {
	return 0, &fs.PathError{Op: "write", Path: f.name, Err: syscall.ENOSPC}
}
func (f fullFile) Close() error { return f.w.Close() }

// TestWriteFailureNamesItsCause: when a data file write fails, writeData
// reports that failure (here ENOSPC, which floe run retries), never
// iceberg-go's bare "writer is closed", which hides it. iceberg-go reports
// the latter when its writing goroutine stops while the next batch is
// being handed over; on a busy machine that is most runs of this test, so
// without the write view's record of the error (writeFailures) it fails.
func TestWriteFailureNamesItsCause(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	lt := ensureSimple(t, c, "full")
	raw, err := lt.refresh(ctx)
	require.NoError(t, err)
	full := table.New(raw.Identifier(), raw.Metadata(), raw.MetadataLocation(), func(ctx context.Context) (iceio.IO, error) {
		fsys, err := raw.FS(ctx)
		if err != nil {
			return nil, err
		}
		return fullDisk{fsys.(iceio.WriteFileIO)}, nil
	}, nil)
	name := strings.Repeat("n", 4<<10) // 4 MiB batches of about 1,000 rows
	rows := func(yield func(schema.Row, error) bool) {
		for i := range int64(40_000) {
			if !yield(schema.Row{i, name, nil}, nil) {
				return
			}
		}
	}
	closed := 0
	for range 10 {
		_, _, err := lt.writeData(ctx, full, rows, nil)
		require.Error(t, err)
		if errors.Is(err, table.ErrWriterClosed) || errors.Is(err, context.Canceled) {
			closed++ // what iceberg-go said; the cause is joined to it
		}
		require.ErrorIs(t, err, syscall.ENOSPC, "the error names its cause")
		kind, ok := ClassifyStorage(err)
		require.True(t, ok, "%v", err)
		require.Equal(t, NoSpace, kind.Kind)
	}
	t.Logf("%d of 10 writes ended in iceberg-go's ErrWriterClosed or its cancellation", closed)
}
