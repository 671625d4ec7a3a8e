package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/sync/errgroup"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/transform"
)

// chunkJob is one chunk of one table still to be read.
type chunkJob struct {
	table *tableRun
	chunk capture.Chunk
}

// snapshot reads every remaining chunk of every table that needs it,
// SnapshotParallelism chunks at a time, and commits them in checkpoints.
// A chunk is recorded as done in the same commit as its rows.
func (c *Coordinator) snapshot(ctx context.Context, info capture.StartInfo) error {
	snap, ok := c.opts.Source.(capture.Snapshotter)
	if !ok {
		return errors.New("this source cannot snapshot tables: set source.snapshot.mode: never")
	}
	var jobs []chunkJob
	for _, t := range c.order {
		if !t.needsSnapshot {
			continue
		}
		if t.plan == nil {
			chunks, err := snap.PlanChunks(ctx, t.id, c.opts.SnapshotChunkRows)
			if err != nil {
				return fmt.Errorf("plan snapshot of %s: %w", t.id, err)
			}
			t.plan = &capture.SnapshotPlan{Chunks: chunks, Done: map[int]bool{}}
		}
		for _, ch := range t.plan.Remaining() {
			jobs = append(jobs, chunkJob{table: t, chunk: ch})
		}
		c.log.Info("snapshot planned", "table", t.id.String(), "chunks", len(t.plan.Chunks),
			"remaining", len(t.plan.Remaining()))
	}
	c.opts.Metrics.SnapshotChunksPending.Set(float64(len(jobs)))

	var bar *progressbar.ProgressBar
	if c.opts.Progress != nil {
		bar = progressbar.NewOptions(len(jobs), progressbar.OptionSetWriter(c.opts.Progress),
			progressbar.OptionSetDescription("snapshot chunks"), progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish())
	}

	readCtx, cancelRead := context.WithCancel(ctx)
	defer cancelRead()
	g, gctx := errgroup.WithContext(readCtx)
	queue := make(chan chunkJob)
	results := make(chan chunkRead, c.opts.SnapshotParallelism)
	// An inexact snapshot reads each chunk at its own, later position; the
	// table then converges by replay up to the latest of them.
	rowReader, _ := c.opts.Source.(capture.RowReader)
	if info.Exact {
		rowReader = nil
	}
	g.Go(func() error {
		defer close(queue)
		for _, j := range jobs {
			select {
			case queue <- j:
			case <-gctx.Done():
				return nil
			}
		}
		return nil
	})
	readers := errgroup.Group{}
	for range c.opts.SnapshotParallelism {
		readers.Go(func() error {
			for j := range queue {
				b, err := snap.ReadChunk(gctx, j.table.id, j.chunk)
				if err != nil {
					if gctx.Err() != nil {
						return nil
					}
					return fmt.Errorf("read chunk %d of %s: %w", j.chunk.Index, j.table.id, err)
				}
				read := chunkRead{batch: b}
				if rowReader != nil {
					if read.readBy, err = rowReader.CurrentPosition(gctx); err != nil {
						return fmt.Errorf("position after chunk %d of %s: %w", j.chunk.Index, j.table.id, err)
					}
				}
				select {
				case results <- read:
				case <-gctx.Done():
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
			continue // drain so the readers can finish
		}
		if applyErr = c.applyChunk(r); applyErr != nil {
			cancelRead()
			continue
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
		t.plan = nil
	}
	if err := snap.EndSnapshot(ctx); err != nil {
		return fmt.Errorf("end snapshot: %w", err)
	}
	c.log.Info("snapshot complete", "position", fmtPos(info.From))
	return nil
}

// chunkRead is one chunk's rows and, for an inexact snapshot, a position
// at or after the one it was read at.
type chunkRead struct {
	batch  capture.Batch
	readBy capture.Position
}

// applyChunk buffers the rows of one snapshot chunk.
func (c *Coordinator) applyChunk(r chunkRead) error {
	b := r.batch
	if b.Chunk == nil {
		return errors.New("snapshot batch without a chunk reference")
	}
	t := c.tables[b.Chunk.Table]
	if t == nil {
		return fmt.Errorf("snapshot batch for unknown table %s", b.Chunk.Table)
	}
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
	t.chunks = append(t.chunks, b.Chunk.Index)
	t.convergeUntil = laterOf(t.convergeUntil, r.readBy)
	c.buffered += len(b.Changes)
	c.opts.Metrics.SnapshotRows.WithLabelValues(t.id.String()).Add(float64(len(b.Changes)))
	c.opts.Metrics.SnapshotChunksPending.Dec()
	return nil
}
