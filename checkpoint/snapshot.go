package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/sync/errgroup"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/transform"
)

// chunkJob is one chunk of one table still to be read.
type chunkJob struct {
	table   *tableRun
	chunk   capture.Chunk
	planned *plannedTable
}

// plannedTable is a table's snapshot plan as the planner made it; the
// apply loop takes it over with the table's first chunk.
type plannedTable struct {
	plan      *capture.SnapshotPlan
	remaining int // chunks to read in this run
}

// snapshot reads every remaining chunk of every table that needs it,
// SnapshotParallelism chunks at a time, and commits them in checkpoints.
// A chunk is recorded as done in the same commit as its rows. Tables are
// planned while the chunks of those planned before them are being read.
func (c *Coordinator) snapshot(ctx context.Context, info capture.StartInfo) error {
	snap, ok := c.opts.Source.(capture.Snapshotter)
	if !ok {
		return errors.New("this source cannot snapshot tables: set source.snapshot.mode: never")
	}
	if err := c.exportSnapshot(ctx, info); err != nil {
		return err
	}
	var todo []chunkJob // one per table: its plan if resumed
	for _, t := range c.order {
		if t.needsSnapshot {
			todo = append(todo, chunkJob{table: t, planned: &plannedTable{plan: t.plan}})
		}
	}
	c.opts.Metrics.SnapshotChunksPending.Set(0)

	var bar *progressbar.ProgressBar
	if c.opts.Progress != nil {
		bar = progressbar.NewOptions(0, progressbar.OptionSetWriter(c.opts.Progress),
			progressbar.OptionSetDescription("snapshot chunks"), progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish())
	}

	// Data writers outlive a signal: the last flush commits what was read.
	writeCtx := context.WithoutCancel(ctx)
	defer c.abortWriters(writeCtx)
	// chunksLeft counts each planned table's chunks not yet applied; a
	// table's data files are finished as soon as its last chunk is.
	chunksLeft := map[*tableRun]int{}

	readCtx, cancelRead := context.WithCancel(ctx)
	defer cancelRead()
	g, gctx := errgroup.WithContext(readCtx)
	queue := make(chan chunkJob)
	results := make(chan chunkRead, c.opts.SnapshotParallelism)
	// Planners plan the tables (SnapshotParallelism at once) while the
	// feeder queues the chunks of each, table after table, as soon as its
	// plan is ready. They touch no tableRun field: the apply loop takes
	// each plan over with the table's first chunk.
	plans := make([]chan *plannedTable, len(todo))
	for i := range plans {
		plans[i] = make(chan *plannedTable, 1)
	}
	toPlan := make(chan int, len(todo))
	for i := range todo {
		toPlan <- i
	}
	close(toPlan)
	for range min(c.opts.SnapshotParallelism, len(todo)) {
		g.Go(func() error {
			for i := range toPlan {
				td := todo[i]
				plan := td.planned.plan
				if plan == nil {
					chunks, err := snap.PlanChunks(gctx, td.table.id, c.opts.SnapshotChunkRows)
					if err != nil {
						if gctx.Err() != nil {
							return nil // stopping: what was read is still committed
						}
						return fmt.Errorf("plan snapshot of %s: %w", td.table.id, err)
					}
					plan = &capture.SnapshotPlan{Chunks: chunks, Done: map[int]bool{}}
				}
				remaining := len(plan.Remaining())
				c.log.Info("snapshot planned", "table", td.table.id.String(), "chunks", len(plan.Chunks),
					"remaining", remaining)
				c.opts.Metrics.SnapshotChunksPending.Add(float64(remaining))
				if bar != nil {
					bar.AddMax(remaining)
				}
				plans[i] <- &plannedTable{plan: plan, remaining: remaining}
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(queue)
		for i, td := range todo {
			var planned *plannedTable
			select {
			case planned = <-plans[i]:
			case <-gctx.Done():
				return nil
			}
			for _, ch := range planned.plan.Remaining() {
				select {
				case queue <- chunkJob{table: td.table, chunk: ch, planned: planned}:
				case <-gctx.Done():
					return nil
				}
			}
		}
		return nil
	})
	// An inexact snapshot reads each chunk at its own, later position; the
	// table then converges by replay up to the latest of them. A table
	// with a floor is read exactly at it.
	rowReader, _ := c.opts.Source.(capture.RowReader)
	if info.Exact {
		rowReader = nil
	}
	readers := errgroup.Group{}
	for range c.opts.SnapshotParallelism {
		readers.Go(func() error {
			encoders := chunkEncoders{mode: c.opts.Mode, m: map[*tableRun]*chunkEncoder{}}
			defer encoders.release()
			for j := range queue {
				b, err := snap.ReadChunk(gctx, j.table.id, j.chunk)
				if err != nil {
					if gctx.Err() != nil {
						return nil
					}
					return err // it names the chunk and the table (Source.ReadChunk)
				}
				read := chunkRead{batch: b, n: len(b.Changes), planned: j.planned}
				enc, err := encoders.get(j.table)
				if err != nil {
					return err
				}
				if enc != nil {
					if read.rows, err = enc.encode(b); err != nil {
						return fmt.Errorf("chunk %d of %s: %w", j.chunk.Index, j.table.id, err)
					}
					if read.rows != nil { // an empty chunk still makes a (empty) buffer, so it is committed
						read.direct = true
						read.batch.Changes = nil // encoded: free the decoded rows now
					}
				}
				if rowReader != nil && j.table.floor == nil {
					if read.readBy, err = rowReader.CurrentPosition(gctx); err != nil {
						return fmt.Errorf("position after chunk %d of %s: %w", j.chunk.Index, j.table.id, err)
					}
				}
				select {
				case results <- read:
				case <-gctx.Done():
					read.release()
					return nil
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(results)
		return readers.Wait()
	})

	lastCut := time.Now()
	var applyErr error
	for r := range results {
		if applyErr != nil || ctx.Err() != nil {
			r.release()
			continue // drain so the readers can finish
		}
		var t *tableRun
		if r.batch.Chunk != nil {
			t = c.tables[r.batch.Chunk.Table]
		}
		if t != nil {
			if _, seen := chunksLeft[t]; !seen {
				if t.plan == nil {
					t.plan = r.planned.plan
				}
				chunksLeft[t] = r.planned.remaining
				if t.reset != nil {
					// Emptied, with the plan, before any chunk is applied.
					if applyErr = c.resetTable(writeCtx, t); applyErr != nil {
						r.release()
						cancelRead()
						continue
					}
				}
			}
		}
		if applyErr = c.applyChunk(writeCtx, r); applyErr != nil {
			cancelRead()
			continue
		}
		if chunksLeft[t]--; chunksLeft[t] == 0 && t.data != nil {
			t.data.finish(writeCtx)
		}
		if bar != nil {
			_ = bar.Add(1)
		}
		if time.Since(lastCut) >= c.opts.Interval || c.buffered >= c.opts.MaxCheckpointChanges {
			if applyErr = c.flush(ctx); applyErr != nil {
				cancelRead()
				continue
			}
			lastCut = time.Now()
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if applyErr != nil {
		return applyErr
	}
	// Commit what was read, also when stopping on a signal: finished
	// chunks stay finished.
	if err := c.flush(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return nil
	}
	for _, t := range c.order {
		if t.needsSnapshot && t.plan != nil && !t.plan.Complete() {
			return fmt.Errorf("snapshot of %s ended with %d chunks unread", t.id, len(t.plan.Remaining()))
		}
		t.needsSnapshot = false
		if t.plan != nil {
			if err := c.openWindow(t, t.plan); err != nil {
				return err
			}
		}
		t.plan = nil
	}
	if err := snap.EndSnapshot(ctx); err != nil {
		return fmt.Errorf("end snapshot: %w", err)
	}
	c.log.Info("snapshot complete", "position", fmtPos(info.From))
	return nil
}

// chunkRead is one chunk's rows and, for an inexact snapshot, a position
// at or after the one it was read at. A direct chunk's rows are in rows,
// encoded for the table's data files (see direct.go), and batch.Changes
// is nil.
type chunkRead struct {
	batch   capture.Batch
	readBy  capture.Position
	n       int // rows in the chunk
	planned *plannedTable
	direct  bool
	rows    []*lakewriter.RowBatch
}

func (r *chunkRead) release() {
	for _, rb := range r.rows {
		rb.Release()
	}
	r.rows = nil
}

// applyChunk buffers the rows of one snapshot chunk, or hands them to the
// table's data writer when they were encoded for it.
func (c *Coordinator) applyChunk(ctx context.Context, r chunkRead) error {
	b := r.batch
	if b.Chunk == nil {
		r.release()
		return errors.New("snapshot batch without a chunk reference")
	}
	t := c.tables[b.Chunk.Table]
	if t == nil {
		r.release()
		return fmt.Errorf("snapshot batch for unknown table %s", b.Chunk.Table)
	}
	if r.direct {
		if len(r.rows) > 0 {
			if t.data == nil {
				t.data = newChunkWriter(t, c.opts.SnapshotParallelism)
			}
			if err := t.data.write(ctx, r.rows); err != nil {
				return fmt.Errorf("chunk %d of %s: %w", b.Chunk.Index, t.id, err)
			}
		}
	} else {
		buf, err := c.buffer(t)
		if err != nil {
			return err
		}
		meta := transform.Meta{Pos: b.Position.String(), CommitMicros: b.CommitTime.UnixMicro()}
		for i, ch := range b.Changes {
			meta.Seq = int64(i)
			if err := buf.Apply(ch, meta); err != nil {
				return fmt.Errorf("chunk %d of %s: %w", b.Chunk.Index, t.id, err)
			}
		}
	}
	rc := readChunk{index: b.Chunk.Index}
	if _, ok := c.opts.Source.(capture.Watermarker); ok && b.Position.Compare(c.from) > 0 {
		rc.watermark = b.Position.String()
	}
	t.chunks = append(t.chunks, rc)
	t.convergeUntil = laterOf(t.convergeUntil, r.readBy)
	c.buffered += r.n
	c.opts.Metrics.SnapshotRows.WithLabelValues(t.id.String()).Add(float64(r.n))
	c.opts.Metrics.SnapshotChunksPending.Dec()
	return nil
}

// abortWriters removes the data files of every table's uncommitted
// snapshot rows (after an error; a completed snapshot has none left).
func (c *Coordinator) abortWriters(ctx context.Context) {
	for _, t := range c.order {
		if t.data != nil {
			t.data.abort(ctx)
			t.data = nil
		}
	}
}
