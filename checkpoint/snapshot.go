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

// The initial snapshot runs as four stages joined by channels; only the
// last one touches the coordinator's state:
//
//	plan  (planStage, SnapshotParallelism goroutines): table -> its chunk plan
//	feed  (feedStage, one goroutine):                  plans -> chunk jobs, table after table
//	read  (readStage, SnapshotParallelism readers):    chunk job -> chunkRead (rows, encoded or not)
//	apply (applyStage, the coordinator's goroutine):   chunkRead -> buffer or data writer, checkpoints
//
// finishSnapshot then commits what is left and hands the stream the
// tables' watermark windows. Tables are planned while the chunks of those
// planned before them are being read, and a chunk is done exactly when
// the checkpoint that commits its rows records it (commitTable).

// chunkJob is one chunk of one table still to be read.
type chunkJob struct {
	table   *tableRun
	chunk   capture.Chunk
	planned *plannedTable
	first   bool // the table's first chunk in this run (see chunkBudget)
}

// plannedTable is a table's snapshot plan as the planner made it; the
// apply stage takes it over with the table's first chunk.
type plannedTable struct {
	plan      *capture.SnapshotPlan
	remaining int // chunks to read in this run
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
	dead    []capture.Change // rows that cannot be written (dead letters)
	bytes   int              // capture.Batch.Size of the rows as read
	held    int64            // of the chunkBudget, freed once applied
	// superseded marks the changes of batch that are Superseded
	// (transform.Meta) in changelog mode; nil when none is (see
	// dropSuperseded).
	superseded []bool
}

func (r *chunkRead) release() {
	for _, rb := range r.rows {
		rb.Release()
	}
	r.rows = nil
}

// snapshot reads every remaining chunk of every table that needs it,
// SnapshotParallelism chunks at a time, and commits them in checkpoints.
// It returns once every chunk is committed and the source's snapshot is
// ended, or with nil after a signal once what was read is committed.
func (c *Coordinator) snapshot(ctx context.Context, info capture.StartInfo) error {
	snap, err := c.snapshotter()
	if err != nil {
		return err
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
	bar := c.progressBar()

	// Data writers outlive a signal: the last flush commits what was read.
	writeCtx := context.WithoutCancel(ctx)
	defer c.abortWriters(writeCtx)
	readCtx, cancelRead := context.WithCancel(ctx)
	defer cancelRead()
	g, gctx := errgroup.WithContext(readCtx)
	plans := c.planStage(gctx, g, snap, todo, bar)
	jobs := feedStage(gctx, g, todo, plans)
	budget := newChunkBudget(snapshotBytes(c.opts.MemoryBudget))
	results := c.readStage(gctx, g, snap, jobs, c.convergeReader(info), budget, true)
	applyErr := c.applyStage(ctx, writeCtx, results, cancelRead, bar, budget)
	if err := g.Wait(); err != nil {
		return err
	}
	if applyErr != nil {
		return applyErr
	}
	return c.finishSnapshot(ctx, snap, info)
}

// snapshotter returns the source as a capture.Snapshotter, or the error
// naming the setting when it cannot snapshot.
func (c *Coordinator) snapshotter() (capture.Snapshotter, error) {
	snap, ok := c.opts.Source.(capture.Snapshotter)
	if !ok {
		return nil, errors.New("this source cannot snapshot tables: set source.snapshot.mode: never")
	}
	return snap, nil
}

// progressBar returns the snapshot's progress bar, or nil without
// Options.Progress.
func (c *Coordinator) progressBar() *progressbar.ProgressBar {
	if c.opts.Progress == nil {
		return nil
	}
	return progressbar.NewOptions(0, progressbar.OptionSetWriter(c.opts.Progress),
		progressbar.OptionSetDescription("snapshot chunks"), progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish())
}

// planStage plans the tables of todo on g, SnapshotParallelism at once.
//
// In: one chunkJob per table, with the plan it resumes (nil: none yet).
// Out: one channel per table (same index as todo), which receives the
// table's plannedTable once; nothing when planning stops (gctx done).
// Guarantees: it touches no tableRun field (the apply stage takes each
// plan over with the table's first chunk); a failed plan fails g naming
// the table, unless the snapshot is stopping anyway.
func (c *Coordinator) planStage(gctx context.Context, g *errgroup.Group, snap capture.Snapshotter, todo []chunkJob, bar *progressbar.ProgressBar) []chan *plannedTable {
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
	return plans
}

// feedStage queues the chunks to read on g.
//
// In: the tables of todo and their plans (planStage).
// Out: a channel of every remaining chunk of every table, table after
// table in todo order, so that one table's chunks are read before the
// next one's and its data files can be finished early; closed when all
// are queued or gctx is done.
func feedStage(gctx context.Context, g *errgroup.Group, todo []chunkJob, plans []chan *plannedTable) <-chan chunkJob {
	jobs := make(chan chunkJob)
	g.Go(func() error {
		defer close(jobs)
		for i, td := range todo {
			var planned *plannedTable
			select {
			case planned = <-plans[i]:
			case <-gctx.Done():
				return nil
			}
			for k, ch := range planned.plan.Remaining() {
				select {
				case jobs <- chunkJob{table: td.table, chunk: ch, planned: planned, first: k == 0}:
				case <-gctx.Done():
					return nil
				}
			}
		}
		return nil
	})
	return jobs
}

// convergeReader returns the RowReader that dates the chunks of an
// inexact snapshot: each chunk is then read at its own, later position,
// and its table converges by replay up to the latest of them. nil when
// the snapshot is exact (info.Exact) or the source cannot tell.
func (c *Coordinator) convergeReader(info capture.StartInfo) capture.RowReader {
	rr, _ := c.opts.Source.(capture.RowReader)
	if info.Exact {
		return nil
	}
	return rr
}

// snapshotBytes is the chunkBudget of a snapshot whose tables' buffers
// each have memoryBudget bytes: two of them.
func snapshotBytes(memoryBudget int64) int64 { return 2 * memoryBudget }

// readStage reads the queued chunks on g, SnapshotParallelism at once and
// within budget (a chunk's reservation travels with its chunkRead).
//
// In: chunk jobs (feedStage); rowReader from convergeReader.
// Out: a channel of chunkReads, one per chunk read, closed once every
// reader has returned. A chunk of a table whose rows may skip the Buffer
// (direct.go) arrives encoded as RowBatches and without its changes; a
// chunk of a table without a floor read by an inexact snapshot carries
// readBy, a position at or after its read.
// Guarantees: a read that fails fails g (its error names the chunk and
// the table); once gctx is done a read's rows are released, not sent.
// With direct false no chunk skips the Buffer (a snapshot beside the
// stream, beside.go).
//
// Each of the SnapshotParallelism readers is two goroutines: one reads
// chunks from the source (readChunk), the other encodes them for the
// data files (encodeChunk), so that the connection reads the next chunk
// while the last one is encoded. A chunk between them holds its budget
// reservation like any chunk read and not yet applied.
func (c *Coordinator) readStage(gctx context.Context, g *errgroup.Group, snap capture.Snapshotter, jobs <-chan chunkJob, rowReader capture.RowReader, budget *chunkBudget, direct bool) <-chan chunkRead {
	results := make(chan chunkRead, c.opts.SnapshotParallelism)
	// A failed read cancels the others' (rctx) at once: the snapshot ends
	// with it, not when the slowest read in flight ends (one on a silent
	// connection waits for its read bound).
	readers, rctx := errgroup.WithContext(gctx)
	for range c.opts.SnapshotParallelism {
		read := make(chan jobRead, 1)
		readers.Go(func() error {
			defer close(read)
			for j := range jobs {
				held, err := budget.reserve(rctx, j.table, j.first)
				if err != nil {
					return nil // rctx is done
				}
				r, err := c.readChunk(rctx, snap, j, rowReader)
				if err == nil && rctx.Err() == nil {
					r.held, err = budget.settle(rctx, j.table, held, r.bytes)
					held = 0 // settle holds r.held, or nothing on an error
				}
				if err != nil || rctx.Err() != nil {
					budget.free(held + r.held)
					return err
				}
				select {
				case read <- jobRead{job: j, read: r}:
				case <-rctx.Done():
					budget.free(r.held)
					return nil
				}
			}
			return nil
		})
		readers.Go(func() error {
			encoders := chunkEncoders{mode: c.opts.Mode, behavior: c.opts.SchemaChangeBehavior, m: map[*tableRun]*chunkEncoder{}, off: !direct}
			defer encoders.release()
			// Every chunk read is sent or freed until the reader closes
			// read, except one left in it after an encoding failure, which
			// fails the snapshot (and its budget) anyway.
			for jr := range read {
				r := jr.read
				if rctx.Err() == nil {
					err := encodeChunk(&encoders, jr.job, &r)
					if err == nil {
						select {
						case results <- r:
							continue
						case <-rctx.Done():
						}
					}
					if err != nil {
						budget.free(r.held)
						r.release()
						return err // cancels rctx: the reader stops and closes read
					}
				}
				budget.free(r.held)
				r.release()
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(results)
		return readers.Wait()
	})
	return results
}

// jobRead is a chunk read and the job it was read for, on its way from a
// reader to its encoder (readStage).
type jobRead struct {
	job  chunkJob
	read chunkRead
}

// readChunk reads one chunk (see readStage). A read that fails because
// gctx is done returns no error.
func (c *Coordinator) readChunk(gctx context.Context, snap capture.Snapshotter, j chunkJob, rowReader capture.RowReader) (chunkRead, error) {
	b, err := snap.ReadChunk(gctx, j.table.id, j.chunk)
	if err != nil {
		if gctx.Err() != nil {
			return chunkRead{}, nil
		}
		return chunkRead{}, err // it names the chunk and the table (Source.ReadChunk)
	}
	dead, err := c.splitDead(&b) // deadletters.go
	if err != nil {
		return chunkRead{}, err
	}
	read := chunkRead{batch: b, dead: dead, n: len(b.Changes), planned: j.planned, bytes: b.Size()}
	if rowReader != nil && j.table.floor == nil {
		if read.readBy, err = rowReader.CurrentPosition(gctx); err != nil {
			return chunkRead{}, fmt.Errorf("position after chunk %d of %s: %w", j.chunk.Index, j.table.id, err)
		}
	}
	return read, nil
}

// encodeChunk encodes read's rows for the data files of j's table when
// they may skip the Buffer (direct.go), and leaves them as they are
// otherwise.
func encodeChunk(encoders *chunkEncoders, j chunkJob, read *chunkRead) error {
	enc, err := encoders.get(j.table, j.planned.plan)
	if err != nil || enc == nil {
		return err
	}
	if read.rows, err = enc.encode(read.batch); err != nil {
		return fmt.Errorf("chunk %d of %s: %w", j.chunk.Index, j.table.id, err)
	}
	if read.rows != nil { // an empty chunk still makes a (empty) buffer, so it is committed
		read.direct = true
		read.batch.Changes = nil // encoded: free the decoded rows now
	}
	return nil
}

// applyStage applies the chunks read, on the coordinator's goroutine.
//
// In: chunkReads (readStage), until the channel is closed.
// Out: the rows in the tables' buffers or data writers (applyChunk) and
// checkpoints cut every Interval or at a volume trigger (volumeDue); the
// first error.
// Guarantees: a table is started (its plan taken over, and a table to be
// reset emptied in one commit) before any chunk of it is applied; its data
// files are finished as soon as its last chunk is applied. After an error,
// or once ctx is done, chunks are only drained and released, so that the
// readers can finish; cancelRead stops them after an error.
func (c *Coordinator) applyStage(ctx, writeCtx context.Context, results <-chan chunkRead, cancelRead context.CancelFunc, bar *progressbar.ProgressBar, budget *chunkBudget) error {
	// chunksLeft counts each started table's chunks not yet applied.
	chunksLeft := map[*tableRun]int{}
	lastCut := time.Now()
	var err error
	for r := range results {
		if err != nil || ctx.Err() != nil {
			budget.free(r.held)
			r.release()
			continue // drain so the readers can finish
		}
		err = c.takeChunk(writeCtx, r, chunksLeft)
		budget.free(r.held) // the rows are in the table's buffer or data writer, or released
		if err != nil {
			cancelRead()
			continue
		}
		if bar != nil {
			_ = bar.Add(1)
		}
		if time.Since(lastCut) >= c.opts.Interval || c.volumeDue() {
			if err = c.flush(ctx); err != nil {
				cancelRead()
				continue
			}
			lastCut = time.Now()
		}
	}
	return err
}

// takeChunk starts r's table with its first chunk, applies r and finishes
// the table's data files after its last one (see applyStage).
func (c *Coordinator) takeChunk(ctx context.Context, r chunkRead, chunksLeft map[*tableRun]int) error {
	var t *tableRun
	if r.batch.Chunk != nil {
		t = c.tables[r.batch.Chunk.Table]
	}
	if _, started := chunksLeft[t]; t != nil && !started {
		if t.plan == nil {
			t.plan = r.planned.plan
		}
		chunksLeft[t] = r.planned.remaining
		if t.reset != nil {
			// Emptied, with the plan, before any chunk is applied.
			if err := c.resetTable(ctx, t); err != nil {
				r.release()
				return err
			}
		}
	}
	if t.plan != nil && t.plan.Streamed && c.opts.Mode == transform.Upsert {
		replaceStreamed(&r.batch) // beside.go
	}
	if err := c.applyChunk(ctx, r); err != nil {
		return err
	}
	if chunksLeft[t]--; chunksLeft[t] == 0 && t.data != nil {
		t.data.finish(ctx)
	}
	return nil
}

// applyChunk buffers the rows of one snapshot chunk, or hands them to the
// table's data writer when they were encoded for it, and notes the chunk
// (with its watermark) for the table's next commit.
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
			meta.Superseded = r.superseded != nil && r.superseded[i]
			if err := buf.Apply(ch, meta); err != nil {
				if c.unplaceable(t, &ch, err) { // deadletters.go
					r.dead = append(r.dead, ch)
					continue
				}
				return fmt.Errorf("chunk %d of %s: %w", b.Chunk.Index, t.id, err)
			}
		}
	}
	rc := readChunk{index: b.Chunk.Index}
	if _, ok := c.opts.Source.(capture.Watermarker); ok && b.Position.Compare(c.from) > 0 {
		rc.watermark = b.Position.String()
	}
	t.chunks = append(t.chunks, rc)
	c.addChunkDead(t, b, r.dead) // deadletters.go
	t.convergeUntil = laterOf(t.convergeUntil, r.readBy)
	c.buffered += r.n
	c.opts.Metrics.SnapshotRows.WithLabelValues(t.id.String()).Add(float64(r.n))
	c.opts.Metrics.SnapshotChunksPending.Dec()
	return nil
}

// snapshotDone ends a table's complete snapshot: its plan's watermarks
// stay for the stream (openWindow) and a re-snapshot on a branch is
// published on main (fastForward, onestate.go).
func (c *Coordinator) snapshotDone(ctx context.Context, t *tableRun) error {
	if t.plan != nil {
		if err := c.openWindow(t, t.plan); err != nil {
			return err
		}
	}
	t.plan = nil
	return c.fastForward(ctx, t)
}

// finishSnapshot commits what the stages applied, also when stopping on
// a signal (finished chunks stay finished). Unless stopping, it then
// checks that every table's plan is complete, keeps a plan whose chunk
// watermarks the tables have not passed (openWindow) and ends the
// source's snapshot.
func (c *Coordinator) finishSnapshot(ctx context.Context, snap capture.Snapshotter, info capture.StartInfo) error {
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
		if err := c.snapshotDone(ctx, t); err != nil {
			return err
		}
	}
	if err := snap.EndSnapshot(ctx); err != nil {
		return fmt.Errorf("end snapshot: %w", err)
	}
	c.log.Info("snapshot complete", "position", fmtPos(info.From))
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
