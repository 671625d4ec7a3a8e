package checkpoint

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/transform"
)

// Snapshots beside the stream.
//
// A table that needs a snapshot while the others stream (a table reset
// for a re-snapshot, online or for a change the stream cannot follow, or
// a table created while Floe runs) is read beside the stream when the
// source exports a snapshot of its own (capture.SnapshotExporter), or
// reads its chunks at watermarks beside the stream (see below): the
// other tables keep streaming and committing while its chunks are read.
//
// Before the stream starts, the snapshot is exported at a position F (the
// tables' floor), every such table is planned, and a table to be reset is
// emptied in one commit that records its plan, so that every commit of
// the table from then on carries its snapshot's progress. The chunks are
// then read on their own goroutines (under the exported snapshot, as of
// F, written through the table's buffer, never straight to data files)
// and applied by the coordinator between transactions of the stream.
//
// The stream skips the table's changes at or before F (the snapshot holds
// them) and applies those after F as they come. In upsert mode a chunk
// row must then not replace a newer image the stream already applied:
// the coordinator keeps the keys of every change it applied to the table
// after F (besideTable.changed) and drops a chunk row whose key is among
// them; after a truncate of the table it drops every chunk row still to
// come. In changelog mode every chunk row is kept: it is the row as of F
// (_floe_pos F), ordered before every change after F; a row of such a key
// is marked Superseded (transform.Meta), so that it never becomes the
// key's last image in the buffer, which stays the stream's. A change the
// stream applies to such a table is Converging (transform.Meta): an
// unchanged TOAST value it lacks is read from the source's current row,
// since Iceberg holds no row of the key while its chunk is still to come,
// and the chunk row that would hold it is left out as superseded.
//
// A source that exports no snapshot but reads every chunk of each such
// table at a watermark of its own while the stream runs
// (capture.BesideWatermarker: MariaDB; MySQL in watermark windows, whose W is the
// high end of a watermark window whose changes the source sends and
// leaves out of the chunk) is read beside the stream too
// (byWatermark). The floor F is then the source's position before any
// chunk is read (every watermark is at or after it). The source drops a
// chunk's changes at or before its watermark W only once the chunk is
// read, and puts into the chunk a delete of each key it sent a change of
// at or before W that is gone at W. A chunk is applied only once the
// stream has applied W, so that every change at or before W the source
// sent is applied before it and none after; the keys of the stream's
// changes are kept in both modes, and a chunk's delete is kept only for
// a key whose last change the stream applied is at or before W. A key
// of the chunk's range with neither a row nor a delete in it keeps what
// the stream's changes gave it (a window's key, see the capture
// contract).
//
// Once the last chunk is applied, a checkpoint commits it, the plans are
// complete and the exported snapshot is released. A failed or stopped
// attempt commits what was applied (a chunk is done exactly when the
// commit that holds its rows records it); the next attempt, which has no
// exported snapshot left, reads the remaining chunks before the stream
// starts and converges by replay, as any resumed snapshot does; with
// chunks read at watermarks it resets the table instead
// (restartBesidePlans). A change
// of such a table's key columns while it is read ends the attempt
// (ErrRestart) for the same path: chunk rows and the stream's changes are
// matched by key, so their keys must be of one layout. Other layout
// changes are followed as usual; the chunks keep the layout as of F.

// errBesideLayout ends an attempt whose stream changed the key of a
// table that is being snapshotted beside it.
var errBesideLayout = errors.New("its key columns changed while it was snapshotted beside the stream; its snapshot resumes before the stream")

// keyChanged reports whether layout b's key columns differ from a's in
// name or type: keys of one table in the two would not compare equal.
func keyChanged(a, b *schema.Table) bool {
	if a == nil || b == nil || len(a.Key) != len(b.Key) {
		return true
	}
	for i := range a.Key {
		ca, cb := a.Columns[a.Key[i]], b.Columns[b.Key[i]]
		if ca.Name != cb.Name || !ca.Type.Equals(cb.Type) {
			return true
		}
	}
	return false
}

// besideTable is the state of one table snapshotted beside the stream.
type besideTable struct {
	// changed maps the keys (schema.AppendKey in the table's source
	// layout) of the changes the stream applied to the table to the
	// position of the last one: a chunk row of such a key read at a
	// watermark before it is older than what the table holds.
	changed map[string]capture.Position
	// truncatedAt is the position of the last truncate of the table the
	// stream applied: a chunk read at a watermark before it is older.
	truncatedAt capture.Position
	left        int // chunks not applied yet
	// byWatermark is set when the chunks are read at watermarks of their
	// own (capture.BesideWatermarker): a chunk is applied only once the
	// stream has applied its watermark, and a chunk's deletes are kept
	// only for keys the stream changed at or before it (see the top of
	// this file).
	byWatermark bool
}

// besideRun is the reading of the chunks of the tables snapshotted beside
// the stream.
type besideRun struct {
	tables  []*tableRun
	results <-chan chunkRead
	group   *errgroup.Group
	cancel  context.CancelFunc
	budget  *chunkBudget
	stopped bool
	// held are chunks read at watermarks the stream has not applied yet
	// (byWatermark), in the order they came; readsDone is set once every
	// read has come.
	held      []chunkRead
	readsDone bool
}

// besideEligible reports whether the tables that need a snapshot can be
// read beside the stream: some other table streams, the stream does not
// start at an exported snapshot, the run goes on after the snapshot, none
// of them resumes a plan (a resumed plan's chunks are read at later
// positions), and the source exports snapshots of its own or reads each
// of their chunks at a watermark.
func (c *Coordinator) besideEligible(info capture.StartInfo) bool {
	if info.Exact || c.opts.SnapshotMode == SnapshotInitialOnly {
		return false
	}
	_, exports := c.opts.Source.(capture.SnapshotExporter)
	streaming := false
	for _, t := range c.order {
		switch {
		case !t.needsSnapshot:
			streaming = true
		case t.plan != nil:
			return false
		case !exports && !c.readsAtWatermarks(t):
			return false
		}
	}
	return streaming
}

// readsAtWatermarks reports whether a source that exports no snapshot
// reads every chunk of t at a watermark beside the stream
// (capture.BesideWatermarker; MariaDB and MySQL in watermark windows, a key Go
// orders as the server does) and can tell a floor (capture.RowReader).
// Other tables are read before the stream.
func (c *Coordinator) readsAtWatermarks(t *tableRun) bool {
	bw, ok := c.opts.Source.(capture.BesideWatermarker)
	if _, reads := c.opts.Source.(capture.RowReader); !ok || !reads {
		return false
	}
	return bw.ReadsAtWatermarks(t.id)
}

// watermarkFloor sets, for a source that exports no snapshot, the floor
// of every table to be read beside the stream: the source's position
// now, before any chunk is read. Every chunk's watermark is at or after
// it, so the table's changes at or before it are in every chunk's rows
// and the stream's are skipped.
func (c *Coordinator) watermarkFloor(ctx context.Context) error {
	rr := c.opts.Source.(capture.RowReader) // besideEligible checked
	at, err := rr.CurrentPosition(ctx)
	if err != nil {
		return fmt.Errorf("position before the snapshot beside the stream: %w", err)
	}
	for _, t := range c.order {
		if t.needsSnapshot {
			t.floor = laterOf(t.floor, at)
		}
	}
	return nil
}

// prepareBeside exports the snapshot, plans every table that needs one
// and empties those to be reset (see the top of this file). It runs
// before the stream starts.
func (c *Coordinator) prepareBeside(ctx context.Context, info capture.StartInfo) error {
	snap, err := c.snapshotter()
	if err != nil {
		return err
	}
	if err := c.exportSnapshot(ctx, info); err != nil { // none without a SnapshotExporter
		return err
	}
	_, exports := c.opts.Source.(capture.SnapshotExporter)
	if !exports {
		if err := c.watermarkFloor(ctx); err != nil {
			return err
		}
	}
	c.opts.Metrics.SnapshotChunksPending.Set(0)
	for _, t := range c.order {
		if !t.needsSnapshot {
			continue
		}
		if exports && t.floor == nil {
			return fmt.Errorf("snapshot of %s beside the stream: no exported position", t.id)
		}
		chunks, err := snap.PlanChunks(ctx, t.id, c.opts.SnapshotChunkRows)
		if err != nil {
			return fmt.Errorf("plan snapshot of %s: %w", t.id, err)
		}
		t.plan = &capture.SnapshotPlan{Chunks: chunks, Done: map[int]bool{}, Streamed: true}
		t.beside = &besideTable{changed: map[string]capture.Position{}, left: len(chunks), byWatermark: !exports}
		c.log.Info("snapshot planned", "table", t.id.String(), "chunks", len(chunks), "remaining", len(chunks),
			"beside_stream", true, "position", fmtPos(t.floor))
		c.opts.Metrics.SnapshotChunksPending.Add(float64(len(chunks)))
		if t.reset != nil {
			// Emptied, with the plan, before the stream applies any
			// change of it.
			if err := c.resetTable(ctx, t); err != nil {
				return err
			}
		}
	}
	return nil
}

// startBeside starts reading the chunks of the tables planned by
// prepareBeside, if any, SnapshotParallelism at a time, within the
// snapshot's memory budget.
func (c *Coordinator) startBeside(ctx context.Context) {
	var tables []*tableRun
	var jobs []chunkJob
	for _, t := range c.order {
		if t.beside == nil {
			continue
		}
		tables = append(tables, t)
		planned := &plannedTable{plan: t.plan, remaining: t.beside.left}
		for k, ch := range t.plan.Remaining() {
			jobs = append(jobs, chunkJob{table: t, chunk: ch, planned: planned, first: k == 0})
		}
	}
	if len(tables) == 0 {
		return
	}
	snap := c.opts.Source.(capture.Snapshotter) // prepareBeside checked
	readCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	g, gctx := errgroup.WithContext(readCtx)
	// Every job is known here: the queue holds them all, closed, so no
	// goroutine feeds it. Once gctx is done a reader ends at its next job
	// (readStage: the reservation or the read sees gctx's end).
	queued := make(chan chunkJob, len(jobs))
	for _, j := range jobs {
		queued <- j
	}
	close(queued)
	budget := newChunkBudget(snapshotBytes(c.opts.MemoryBudget))
	results := c.readStage(gctx, g, snap, queued, nil, budget, false)
	c.beside = &besideRun{tables: tables, results: results, group: g, cancel: cancel, budget: budget}
}

// besideChunks is the channel the stream loop takes chunks from: nil
// (never ready) when no snapshot runs beside the stream, once every read
// has come, or inside a transaction, where a checkpoint cannot be cut.
func (c *Coordinator) besideChunks(inTxn bool) <-chan chunkRead {
	if c.beside == nil || c.beside.readsDone || inTxn {
		return nil
	}
	return c.beside.results
}

// stopBeside stops the chunk readers and waits for them, releasing what
// they read and nobody applied. It returns their error, if any, other
// than being stopped. Safe to call more than once.
func (c *Coordinator) stopBeside() error {
	b := c.beside
	if b == nil || b.stopped {
		return nil
	}
	b.stopped = true
	b.cancel()
	for _, r := range b.held {
		b.budget.free(r.held)
		r.release()
	}
	b.held = nil
	for r := range b.results {
		b.budget.free(r.held)
		r.release()
	}
	err := b.group.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// endBeside stops the chunk readers when the stream loop ends (see
// stopBeside); their error, the loop's result being decided, is logged.
func (c *Coordinator) endBeside() {
	if err := c.stopBeside(); err != nil {
		c.log.Warn("snapshot beside the stream", "err", err)
	}
}

// takeBesideChunk handles what the chunk channel delivered: a chunk to
// apply, or (ok false) the end of the reads, after which the snapshot is
// finished once every chunk is applied. It cuts a checkpoint when the
// buffers are due by volume, or at the end; cut reports whether it did.
func (c *Coordinator) takeBesideChunk(ctx context.Context, r chunkRead, ok bool) (cut bool, err error) {
	b := c.beside
	if !ok {
		b.readsDone = true
		if err := b.group.Wait(); err != nil {
			b.stopped = true
			return false, fmt.Errorf("snapshot beside the stream: %w", err)
		}
		return c.applyHeldChunks(ctx)
	}
	if c.besideWaits(r) {
		b.held = append(b.held, r)
		return false, nil
	}
	err = c.applyBesideChunk(ctx, r)
	b.budget.free(r.held)
	if err != nil || !c.volumeDue() {
		return false, err
	}
	return true, c.flush(ctx)
}

// besideWaits reports whether chunk r, read at a watermark W beside the
// stream (byWatermark), waits for the stream to apply W: every change at
// or before W the source emitted (before it registered W) is then
// applied before the chunk, which replaces their images; none is applied
// after it, where it would bring an older image back.
func (c *Coordinator) besideWaits(r chunkRead) bool {
	if r.batch.Chunk == nil {
		return false
	}
	t := c.tables[r.batch.Chunk.Table]
	if t == nil || t.beside == nil || !t.beside.byWatermark {
		return false
	}
	return c.lastPos == nil || r.batch.Position.Compare(c.lastPos) > 0
}

// applyHeldChunks applies the held chunks (see besideWaits) whose
// watermarks the stream has applied, at the end of a transaction, and
// finishes the snapshot once every read has come and none is held. It
// cuts a checkpoint when the buffers are due by volume, or at the end;
// cut reports whether it did.
func (c *Coordinator) applyHeldChunks(ctx context.Context) (cut bool, err error) {
	b := c.beside
	if b == nil {
		return false, nil
	}
	kept, applied := b.held[:0], 0
	for i, r := range b.held {
		if err != nil || c.besideWaits(r) {
			kept = append(kept, b.held[i])
			continue
		}
		err = c.applyBesideChunk(ctx, r)
		b.budget.free(r.held)
		applied++
	}
	clear(b.held[len(kept):])
	b.held = kept
	switch {
	case err != nil:
		return false, err
	case b.readsDone && len(b.held) == 0:
		b.stopped = true
		return true, c.finishBeside(ctx)
	case applied > 0 && c.volumeDue():
		return true, c.flush(ctx)
	}
	return false, nil
}

// applyBesideChunk applies one chunk read beside the stream to its
// table's buffer, leaving out, in upsert mode, the rows the stream has
// already superseded (see the top of this file).
func (c *Coordinator) applyBesideChunk(ctx context.Context, r chunkRead) error {
	if r.batch.Chunk == nil {
		r.release()
		return errors.New("snapshot batch without a chunk reference")
	}
	t := c.tables[r.batch.Chunk.Table]
	if t == nil {
		r.release()
		return nil // dropped at the source while it was read, and retired
	}
	if t.beside == nil {
		r.release()
		return fmt.Errorf("snapshot batch for %s, which is not snapshotted beside the stream", r.batch.Chunk.Table)
	}
	c.dropSuperseded(t, &r)
	if err := c.applyChunk(ctx, r); err != nil {
		return err
	}
	t.beside.left--
	return nil
}

// dropSuperseded leaves out of a chunk read at watermark W (its batch's
// Position) the rows the stream already superseded (upsert mode): those
// of a key it changed after W, and all of them after a truncate past W.
// In changelog mode such rows are kept, ordered by W before the stream's
// changes, but marked Superseded (transform.Meta): the key's last image
// in the buffer stays the stream's, so a later change's unchanged TOAST
// value is never filled from the older chunk row.
// A row of a key the stream changed at or before W (a watermarking
// source's chunk read after the change) is newer than the image the
// stream wrote, which may be committed already; a snapshot row carries
// no equality delete, so the row is preceded by a delete of its key,
// which replaces that image (the reset emptied everything older).
//
// A chunk's delete (capture.BesideWatermarker: a key the source emitted a
// change of at or before W is gone at W) is kept, in either mode, only
// when the stream applied a change of the key at or before W and none
// after: a change it skipped (at or before the table's floor) wrote no
// image, and a later one's image is newer.
func (c *Coordinator) dropSuperseded(t *tableRun, r *chunkRead) {
	w := r.batch.Position
	upsert := c.opts.Mode == transform.Upsert
	truncated := t.beside.truncatedAt != nil && t.beside.truncatedAt.Compare(w) > 0
	out := make([]capture.Change, 0, len(r.batch.Changes))
	rows, dropped := 0, 0
	var key []byte
	var marked []int // indexes in out of rows kept as Superseded (changelog mode)
	for _, ch := range r.batch.Changes {
		if ch.Op == capture.OpDelete && ch.Before != nil {
			key = schema.AppendKey(key[:0], ch.Schema, ch.Before)
			at, changed := t.beside.changed[string(key)]
			if (truncated && upsert) || !changed || at.Compare(w) > 0 {
				dropped++
				continue
			}
			rows++
			out = append(out, ch)
			continue
		}
		if ch.After != nil && ch.Err == nil {
			key = schema.AppendKey(key[:0], ch.Schema, ch.After)
			at, changed := t.beside.changed[string(key)]
			older := truncated || (changed && at.Compare(w) > 0)
			switch {
			case upsert && older:
				dropped++
				continue
			case upsert && changed:
				out = append(out, capture.Change{Table: ch.Table, Op: capture.OpDelete, Schema: ch.Schema, Before: ch.After})
			case older:
				marked = append(marked, len(out))
			}
		}
		rows++
		out = append(out, ch)
	}
	if dropped > 0 {
		c.log.Debug("snapshot rows superseded by the stream left out", "table", t.id.String(), "chunk", r.batch.Chunk.Index, "rows", dropped)
	}
	if len(marked) > 0 {
		r.superseded = make([]bool, len(out))
		for _, i := range marked {
			r.superseded[i] = true
		}
		c.log.Debug("snapshot rows superseded by the stream logged", "table", t.id.String(), "chunk", r.batch.Chunk.Index, "rows", len(marked))
	}
	r.n = rows
	r.batch.Changes = out
}

// replaceStreamed makes every row of a chunk of a plan the stream took
// changes beside (capture.SnapshotPlan.Streamed), read before the stream
// in a later attempt, replace what the table holds for its key: the
// stream may have committed an image of it while the plan was
// incomplete, and a snapshot row carries no equality delete, so each row
// is preceded by a delete of its key.
func replaceStreamed(b *capture.Batch) {
	out := make([]capture.Change, 0, 2*len(b.Changes))
	for _, ch := range b.Changes {
		if ch.After != nil && ch.Err == nil {
			out = append(out, capture.Change{Table: ch.Table, Op: capture.OpDelete, Schema: ch.Schema, Before: ch.After})
		}
		out = append(out, ch)
	}
	b.Changes = out
}

// CauseBesideInterrupted is the reset cause (ledger.Reset.Cause) of a
// table whose snapshot beside the stream, read at watermarks, was
// interrupted (see restartBesidePlans).
const CauseBesideInterrupted = "beside-snapshot-interrupted"

// restartBesidePlans resets every table whose plan was read beside the
// stream (SnapshotPlan.Streamed) and is incomplete, when the source
// exports no snapshot: its remaining chunks would be read at new
// watermarks W, and the source then drops a change of such a chunk at or
// before W; a delete there of a key whose image an earlier attempt's
// stream committed would be dropped while the chunk, lacking the key,
// deletes nothing. Emptied again and planned anew, the table holds no
// such image. It runs after recovery, before the continuity checks.
func (c *Coordinator) restartBesidePlans() {
	if _, exports := c.opts.Source.(capture.SnapshotExporter); exports {
		return // an exported snapshot's rows replace the stream's (replaceStreamed)
	}
	for _, t := range c.order {
		if t.reset != nil || t.plan == nil || !t.plan.Streamed || t.plan.Complete() {
			continue
		}
		c.markGap(t, CauseBesideInterrupted, fmt.Sprintf("its snapshot beside the stream stopped with %d of %d chunks read; "+
			"it is emptied and snapshotted again", len(t.plan.Done), len(t.plan.Chunks)))
	}
}

// noteBesideChange records the key and position of a change the stream
// applies to a table snapshotted beside it (see the top of this file).
func (t *tableRun) noteBesideChange(ch capture.Change, pos capture.Position) {
	if t.beside == nil {
		return
	}
	if ch.Op == capture.OpTruncate {
		t.beside.truncatedAt = pos
		if t.beside.byWatermark {
			clear(t.beside.changed) // their images are gone
		}
		return
	}
	for _, row := range []schema.Row{ch.Before, ch.After} {
		if row != nil && ch.Schema != nil {
			t.beside.changed[string(schema.AppendKey(nil, ch.Schema, row))] = pos
		}
	}
}

// finishBeside commits the last chunks read beside the stream, checks that
// every plan is complete, keeps the plans whose chunk watermarks the
// tables have not passed and releases the exported snapshot.
func (c *Coordinator) finishBeside(ctx context.Context) error {
	if err := c.flush(ctx); err != nil {
		return err
	}
	for _, t := range c.beside.tables {
		if c.tables[t.id] != t {
			continue // dropped at the source while it was read, and retired
		}
		if t.plan != nil && !t.plan.Complete() {
			return fmt.Errorf("snapshot of %s beside the stream ended with %d chunks unread", t.id, len(t.plan.Remaining()))
		}
		t.needsSnapshot, t.beside = false, nil
		if err := c.snapshotDone(ctx, t); err != nil {
			return err
		}
		c.log.Info("snapshot complete", "table", t.id.String(), "beside_stream", true, "position", fmtPos(t.committed))
	}
	c.beside = nil
	if snap, ok := c.opts.Source.(capture.Snapshotter); ok {
		if err := snap.EndSnapshot(ctx); err != nil {
			return fmt.Errorf("end snapshot: %w", err)
		}
	}
	c.publishStatus()
	return nil
}
