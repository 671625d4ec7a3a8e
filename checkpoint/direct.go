package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/transform"
)

// Snapshot chunks written straight to data files.
//
// A snapshot chunk holds OpRead rows with full images of one key range.
// The Buffer would keep each as the only image of its key and yield it
// unchanged: nothing to dedupe (ranges are disjoint, and Projector.Direct
// checks the rows of one chunk), nothing to fill (no unchanged TOAST
// value), no equality delete (snapshot reads need none), and the stream,
// which could need a buffered image for a later change, only starts after
// the snapshot's last checkpoint. So such a chunk's rows are encoded on
// the reader's goroutine and handed to the table's DataWriter, which
// compresses them on its own goroutine, and they are committed together
// with the chunk's completion in the table's next checkpoint, as buffered
// rows are. Chunks that do not qualify go through the Buffer.

// directTable reports whether t's snapshot chunks may skip the Buffer:
// in Upsert mode the sink key must be the key the chunks were planned on
// (the source's), so that chunks of the table never share a key.
func directTable(t *tableRun, mode transform.Mode) bool {
	if mode == transform.Changelog {
		return true
	}
	return len(t.layout.Key) > 0 && slices.Equal(t.layout.KeyNames(), t.src.KeyNames())
}

// chunkEncoder turns the rows of one table's chunks into RowBatches on a
// reader goroutine. Not safe for concurrent use.
type chunkEncoder struct {
	proj *transform.Projector
	enc  *lakewriter.RowEncoder
}

// encode returns the chunk's rows as RowBatches, or nil when the chunk
// must go through the Buffer: when Direct refuses it, and when a row
// cannot be placed in the sink table as the schema-change behavior left
// it (*transform.PlaceError), so that the Buffer's path makes that row a
// dead letter (or, with dead letters off, stops on it) and writes the
// chunk's other rows.
func (e *chunkEncoder) encode(b capture.Batch) ([]*lakewriter.RowBatch, error) {
	ok, err := e.proj.Direct(b.Changes)
	if err != nil || !ok {
		return nil, err
	}
	var out []*lakewriter.RowBatch
	meta := transform.Meta{Pos: b.Position.String(), CommitMicros: b.CommitTime.UnixMicro()}
	err = e.proj.Rows(b.Changes, meta, func(r schema.Row) error {
		if err := e.enc.Append(r); err != nil {
			return err
		}
		if e.enc.Full() { // a batch's rows or bytes reached their bound
			rb, err := e.enc.Batch()
			if err != nil {
				return err
			}
			out = append(out, rb)
		}
		return nil
	})
	if err == nil {
		var rb *lakewriter.RowBatch
		if rb, err = e.enc.Batch(); rb != nil {
			out = append(out, rb)
		}
	}
	var pe *transform.PlaceError
	if errors.As(err, &pe) {
		// The row failed before it reached the encoder, which holds the
		// chunk's earlier rows: drop them with the batches.
		rb, _ := e.enc.Batch()
		release(append(out, rb))
		return nil, nil
	}
	if err != nil {
		release(out)
		return nil, err
	}
	return out, nil
}

// chunkEncoders holds one reader's encoders, by table.
type chunkEncoders struct {
	mode     transform.Mode
	behavior transform.Behavior // pipeline.schema-change-behavior
	m        map[*tableRun]*chunkEncoder
	off      bool // every chunk goes through the Buffer
}

// get returns the encoder of t, or nil when t's chunks go through the
// Buffer: always for a plan the stream took changes beside (its rows must
// replace the stream's, see replaceStreamed).
func (es *chunkEncoders) get(t *tableRun, plan *capture.SnapshotPlan) (*chunkEncoder, error) {
	if plan != nil && plan.Streamed {
		return nil, nil
	}
	if e, ok := es.m[t]; ok {
		return e, nil
	}
	var e *chunkEncoder
	if !es.off && directTable(t, es.mode) {
		skip, narrow := es.behavior.Projects()
		proj, err := transform.NewProjector(transform.BufferOptions{Layout: t.layout, Mode: es.mode, Table: t.id.String(), SkipColumns: skip, Narrow: narrow})
		if err != nil {
			return nil, err
		}
		enc, err := t.table.NewRowEncoder()
		if err != nil {
			return nil, err
		}
		e = &chunkEncoder{proj: proj, enc: enc}
	}
	es.m[t] = e
	return e, nil
}

func (es *chunkEncoders) release() {
	for _, e := range es.m {
		if e != nil {
			e.enc.Release()
		}
	}
}

// chunkWriter holds one table's DataWriters for the current checkpoint:
// up to SnapshotParallelism of them, taking chunks in turn, so that one
// table's rows are compressed on as many goroutines as chunks are read
// on. Their files are finished either when the table has no chunk left
// to read or when the checkpoint is cut, in parallel, and all of them go
// into the table's one commit.
type chunkWriter struct {
	t       *tableRun
	max     int
	ws      []*lakewriter.DataWriter
	next    int
	started bool
	done    chan struct{}
	written []*lakewriter.WrittenData // set before done is closed
	err     error
}

func newChunkWriter(t *tableRun, parallelism int) *chunkWriter {
	return &chunkWriter{t: t, max: max(1, parallelism), done: make(chan struct{})}
}

// write hands the batches of one chunk to the next writer; it takes them
// over.
func (cw *chunkWriter) write(ctx context.Context, batches []*lakewriter.RowBatch) error {
	if cw.started {
		release(batches)
		return fmt.Errorf("snapshot rows of %s written after their files were finished", cw.t.id)
	}
	if len(cw.ws) < cw.max && cw.next == len(cw.ws) {
		w, err := cw.t.table.NewDataWriter(ctx)
		if err != nil {
			release(batches)
			return fmt.Errorf("data writer for %s: %w", cw.t.id, err)
		}
		cw.ws = append(cw.ws, w)
	}
	w := cw.ws[cw.next]
	cw.next = (cw.next + 1) % cw.max
	for i, rb := range batches {
		if err := w.Write(rb); err != nil {
			release(batches[i+1:])
			return err
		}
	}
	return nil
}

func release(batches []*lakewriter.RowBatch) {
	for _, rb := range batches {
		rb.Release()
	}
}

// finish starts finishing the files; nothing is written afterwards.
func (cw *chunkWriter) finish(ctx context.Context) {
	if cw.started {
		return
	}
	cw.started = true
	go func() {
		defer close(cw.done)
		written := make([]*lakewriter.WrittenData, len(cw.ws))
		errs := make([]error, len(cw.ws))
		var wg sync.WaitGroup
		for i, w := range cw.ws {
			wg.Go(func() { written[i], errs[i] = w.Close(ctx) })
		}
		wg.Wait()
		if cw.err = errors.Join(errs...); cw.err != nil {
			for i, w := range cw.ws {
				if errs[i] == nil {
					w.Abort(ctx) // the table's commit is not made: drop its files
				}
			}
			return
		}
		cw.written = written
	}()
}

// wait finishes the files and returns them for the table's commit.
func (cw *chunkWriter) wait(ctx context.Context) ([]*lakewriter.WrittenData, error) {
	cw.finish(ctx)
	<-cw.done
	return cw.written, cw.err
}

// abort removes the files; they must not have been handed to a commit.
func (cw *chunkWriter) abort(ctx context.Context) {
	if cw.started {
		<-cw.done
	}
	for _, w := range cw.ws {
		w.Abort(ctx)
	}
}
