package lakewriter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
)

// iceberg-go's data file writer (table.WriteRecords) can report the
// failure of a file write as table.ErrWriterClosed: when its writing
// goroutine stops on the error (a full disk, a refused S3 upload) while
// the next record batch is being handed over, the handover sees only that
// the writer is gone, and the writer's own error is dropped. Floe must
// know the cause, since it decides between retrying (no space left) and
// stopping (permission denied). So the IO of a write view records the
// first error of every file it writes (writeFailures), and writeData and
// DataWriter report that error in place of ErrWriterClosed.

// writeFailures is the first error of the file writes of one write view.
type writeFailures struct {
	mu    sync.Mutex
	first error
}

// record keeps err if it is the first; it returns err.
func (f *writeFailures) record(err error) error {
	if err == nil {
		return nil
	}
	f.mu.Lock()
	if f.first == nil {
		f.first = err
	}
	f.mu.Unlock()
	return err
}

// explain returns err with the file write error that stopped the writer
// joined to it, when err is how iceberg-go reports a writer that stopped
// (ErrWriterClosed, or the cancellation of its own context) and a file
// write failed; else err.
func (f *writeFailures) explain(ctx context.Context, err error) error {
	stopped := errors.Is(err, table.ErrWriterClosed) || errors.Is(err, context.Canceled) && ctx.Err() == nil
	if f == nil || !stopped {
		return err
	}
	f.mu.Lock()
	first := f.first
	f.mu.Unlock()
	if first == nil || errors.Is(err, first) {
		return err
	}
	return fmt.Errorf("%w: the data file writer stopped on: %w", err, first)
}

// recordingFS wraps the table's IO factory so that the writes of its
// WriteFileIO are recorded in f. An IO that cannot write is returned as it
// is.
func (f *writeFailures) recordingFS(fsF func(context.Context) (iceio.IO, error)) func(context.Context) (iceio.IO, error) {
	return func(ctx context.Context) (iceio.IO, error) {
		fsys, err := fsF(ctx)
		if err != nil {
			return nil, err
		}
		wfs, ok := fsys.(iceio.WriteFileIO)
		if !ok {
			return fsys, nil
		}
		return recordingIO{WriteFileIO: wfs, f: f}, nil
	}
}

// recordingIO is a WriteFileIO whose Create and WriteFile record their
// errors and those of the files they create.
type recordingIO struct {
	iceio.WriteFileIO
	f *writeFailures
}

func (r recordingIO) Create(name string) (iceio.FileWriter, error) {
	w, err := r.WriteFileIO.Create(name)
	if err != nil {
		return nil, r.f.record(err)
	}
	return recordingWriter{w: w, f: r.f}, nil
}

func (r recordingIO) WriteFile(name string, p []byte) error {
	return r.f.record(r.WriteFileIO.WriteFile(name, p))
}

// recordingWriter is a FileWriter that records its errors.
type recordingWriter struct {
	w iceio.FileWriter
	f *writeFailures
}

func (r recordingWriter) Write(p []byte) (int, error) {
	n, err := r.w.Write(p)
	return n, r.f.record(err)
}

func (r recordingWriter) ReadFrom(src io.Reader) (int64, error) {
	n, err := r.w.ReadFrom(src)
	return n, r.f.record(err)
}

func (r recordingWriter) Close() error { return r.f.record(r.w.Close()) }
