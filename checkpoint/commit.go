package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/jitter"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/state"
	"github.com/floe-cdc/floe/transform"
)

// flush cuts a checkpoint at c.lastPos: it commits every dirty table
// (data, deletes and position in one Iceberg snapshot each) and the quiet
// tables due for an empty commit, then acknowledges what every table has
// committed and records the committed tables in the state dir. A failure
// leaves some tables committed and others not; that is safe, because
// recovery reads each table's own position back and skips what it
// already holds.
func (c *Coordinator) flush(ctx context.Context) error {
	return c.cut(ctx, false, false)
}

// cut is flush. With all set (a capture.Batch.Sync), every table behind
// c.lastPos is moved to it, not only those quiet for IdleCommitInterval,
// so that c.lastPos itself is acknowledged. With lenient set (the last
// checkpoint before a stop, or a Sync, which may come from a server that
// is shutting down and takes no query), failing to check the source's
// tables does not stop the commits: the next run checks them against what
// the commits record before it streams.
func (c *Coordinator) cut(ctx context.Context, all, lenient bool) error {
	return c.cutCheckpoint(ctx, all, lenient, false)
}

// cutCheckpoint is cut. With overlap set (flushOverlapped) and a plain
// checkpoint (overlappable), the table commits are left landing in the
// background and settle finishes them; otherwise they land before it
// returns. A checkpoint still landing is settled first.
func (c *Coordinator) cutCheckpoint(ctx context.Context, all, lenient, overlap bool) error {
	if err := c.settle(ctx); err != nil {
		return err
	}
	idle := c.idleTables(all)
	if !c.dirty() && len(idle) == 0 {
		// Nothing to commit, but the stream may have moved up to tables
		// that are ahead of it (read under an exported snapshot).
		c.ackCommitted()
		c.publishStatus()
		return nil
	}
	// The source must still carry every table: a commit past the point
	// where it stopped would claim changes that were never seen.
	if err := c.verifyIdentities(ctx); err != nil {
		if !lenient || errors.Is(err, errIdentityChanged) {
			return err
		}
		c.log.Warn("could not check the source's tables before committing; committing anyway, the next run checks them", "err", err)
	}
	start := time.Now()
	checkpoint := c.nextCheckpoint
	pos := c.lastPos
	c.deletes = deleteCounts{}
	overlap = overlap && !all && !lenient && len(idle) == 0 && c.overlappable()
	// Finish every table's snapshot data files at once, in parallel,
	// before committing them one table after the other.
	for _, t := range c.order {
		if t.data != nil {
			t.data.finish(context.WithoutCancel(ctx))
		}
	}
	// Dead letters first: a table's commit accounts for its dead letters
	// only once they are in the dead-letter table.
	if err := c.commitDeadLetters(ctx, checkpoint, pos); err != nil { // deadletters.go
		return err
	}
	var commits []*tableCommit
	for _, t := range c.order {
		if t.buf == nil && t.data == nil && len(t.dead) == 0 {
			continue
		}
		p, err := c.prepareCommit(ctx, t, checkpoint, pos)
		if err != nil {
			return err
		}
		commits = append(commits, p)
	}
	// The checkpoint is counted once its commits are prepared, also when
	// they land in the background: what is applied from here on belongs
	// to the next one.
	c.nextCheckpoint++
	c.buffered = 0
	if overlap {
		c.launch(ctx, commits, checkpoint, pos, start) // overlap.go
		return nil
	}
	landAll(ctx, commits)
	return c.finishCut(ctx, commits, idle, checkpoint, pos, start)
}

// finishCut records the landed commits of a checkpoint (finishCommit),
// advances the idle tables, acknowledges and reports it.
func (c *Coordinator) finishCut(ctx context.Context, commits []*tableCommit, idle []*tableRun, checkpoint int64, pos capture.Position, start time.Time) error {
	recorded := map[string]state.TableState{}
	// Every landed commit is recorded before the first failure is
	// returned.
	var failed error
	for _, p := range commits {
		if err := c.finishCommit(ctx, p); err != nil {
			if failed == nil {
				failed = err
			}
			continue
		}
		recorded[p.t.id.String()] = state.TableState{Checkpoint: checkpoint}
	}
	if failed != nil {
		return failed
	}
	for _, t := range idle {
		if err := c.advanceTable(ctx, t, checkpoint, pos); err != nil {
			return err
		}
		recorded[t.id.String()] = state.TableState{Checkpoint: checkpoint}
	}
	c.ackCommitted()
	if c.opts.Store != nil {
		// Evidence for the next start that these tables hold commits (see
		// package state); never fatal, the truth is in Iceberg.
		if err := c.opts.Store.PutTables(recorded); err != nil {
			c.log.Warn("record committed tables in the state dir", "err", err)
		}
	}
	c.publishStatus()
	c.opts.Metrics.Checkpoints.Inc()
	c.opts.Metrics.CheckpointSeconds.Observe(time.Since(start).Seconds())
	c.log.Info("checkpoint committed", "checkpoint", checkpoint, "position", fmtPos(pos),
		"tables", len(recorded), "acknowledged", fmtPos(c.ackedPos), "duration", time.Since(start).Round(time.Millisecond).String(),
		"position_deletes", c.deletes.position, "equality_deletes", c.deletes.equality, "skipped_deletes", c.deletes.skipped)
	return c.retireDropping(ctx) // tables_online.go
}

// commitTable resolves the table's pending TOAST lookups and commits its
// buffer, and the data files of snapshot chunks written past it, as one
// Iceberg snapshot.
func (c *Coordinator) commitTable(ctx context.Context, t *tableRun, checkpoint int64, pos capture.Position) error {
	p, err := c.prepareCommit(ctx, t, checkpoint, pos)
	if err != nil {
		return err
	}
	p.land(ctx)
	return c.finishCommit(ctx, p)
}

// tableCommit is one table's commit of a checkpoint: prepared
// (prepareCommit), landed (land, which touches nothing of the
// Coordinator, so the commits of one checkpoint land concurrently), and
// finished (finishCommit).
type tableCommit struct {
	t          *tableRun
	checkpoint int64
	pos        capture.Position // the table's position after the commit
	plan       *capture.SnapshotPlan
	commit     lakewriter.Commit
	buf        *transform.Buffer // nil when the commit carries no streamed rows
	rows       int
	// detached is set when the table took a new buffer while this commit
	// landed (launch): finishCommit then leaves the table's buffer and
	// per-checkpoint state alone, as they belong to the next checkpoint.
	detached bool

	res lakewriter.CommitResult
	err error // land's
}

// prepareCommit resolves t's pending TOAST lookups, waits for the data
// files of its snapshot chunks and builds its commit.
func (c *Coordinator) prepareCommit(ctx context.Context, t *tableRun, checkpoint int64, pos capture.Position) (*tableCommit, error) {
	buf := t.buf
	if buf != nil {
		if err := c.resolve(ctx, t); err != nil {
			// Rows a newer run committed can fail the lookup (a key it
			// deleted): name the takeover, not the symptom.
			return nil, c.fencedOr(ctx, t, err)
		}
	}
	var data []*lakewriter.WrittenData
	if cw := t.data; cw != nil {
		// From here the files are the commit's: after a failed commit
		// they may still have landed, so nothing may remove them.
		t.data = nil
		written, err := cw.wait(context.WithoutCancel(ctx))
		if err != nil {
			return nil, fmt.Errorf("write snapshot rows of %s (checkpoint %d): %w", t.id, checkpoint, err)
		}
		data = written
	}
	plan := t.plan
	if len(t.chunks) > 0 {
		plan = t.plan.Clone()
		for _, rc := range t.chunks {
			plan.MarkDone(rc.index, rc.watermark)
		}
	}
	kept, keepUntil := plan, capture.Position(nil)
	if plan == nil {
		kept, keepUntil = t.window, t.windowEnd
	} else if plan.Complete() {
		var err error
		if keepUntil, err = c.latestWatermark(plan); err != nil {
			return nil, fmt.Errorf("commit %s (checkpoint %d): %w", t.id, checkpoint, err)
		}
	}
	// A table's position never moves backwards, and a table snapshotted
	// at a position of its own (an exported snapshot) holds every change
	// up to that one.
	pos = laterOf(laterOf(pos, t.floor), t.committed)
	p := &tableCommit{t: t, checkpoint: checkpoint, pos: pos, plan: plan, commit: lakewriter.Commit{
		Data: data,
		Props: commitMeta{pipeline: c.opts.Pipeline, checkpoint: checkpoint, epoch: c.epoch, pos: pos, plan: kept, keepUntil: keepUntil,
			convergeUntil: t.convergeUntil, source: t.sourceTable(), reset: t.reset, schemaChanges: t.schemaChanges}.props(),
		Token:  ledger.PropCheckpoint,
		Fence:  c.fence(),
		Branch: t.branch,
	}}
	for _, d := range data {
		p.rows += int(d.Rows())
	}
	if buf != nil {
		p.buf = buf
		// The buffered rows go to the writer encoded, as the buffer holds
		// them: each value is copied into its Arrow builder, not decoded.
		p.commit.Encoded = &lakewriter.EncodedRows{Layout: buf.Layout(), Rows: buf.EncodedRows()}
		p.commit.DeleteAll = buf.Truncated()
		if c.opts.Mode == transform.Upsert && buf.NumDeleteKeys() > 0 {
			p.commit.DeleteKeys = buf.DeleteKeys()
			p.commit.DeleteKeyImages = &lakewriter.KeyImages{Layout: buf.Layout(), Keys: buf.DeleteKeyImages()}
		}
		p.rows += buf.Len()
	}
	return p, nil
}

// landHook runs as each table commit starts landing; tests set it.
var landHook = func(capture.TableID) {}

// land commits p to its Iceberg table.
func (p *tableCommit) land(ctx context.Context) {
	landHook(p.t.id)
	jitter.At(jitter.BeforeCommit)
	p.res, p.err = p.t.table.Commit(ctx, p.commit)
	jitter.At(jitter.AfterCommit)
}

// landAll lands commits concurrently, at most commitParallelism at a
// time: each table's commit is its own Iceberg snapshot with its own
// position, so their order does not matter (recovery reads each table's
// position back), and one after the other the tables of a checkpoint
// waited for each other's encoding and catalog round trips (four tables
// at 0.3-0.6 s each made 2-4 s checkpoints of a 1 s interval while
// compaction ran).
func landAll(ctx context.Context, commits []*tableCommit) {
	if len(commits) == 1 {
		commits[0].land(ctx)
		return
	}
	sem := make(chan struct{}, commitParallelism())
	var wg sync.WaitGroup
	for _, p := range commits {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			p.land(ctx)
		}()
	}
	wg.Wait()
}

// commitParallelism is how many table commits of one checkpoint land at
// once: the cores Go may use, at least 2 (a commit waits on storage and
// the catalog as much as it computes) and at most 8.
func commitParallelism() int {
	return max(2, min(8, runtime.GOMAXPROCS(0)))
}

// finishCommit records a landed commit in the Coordinator and the table's
// state, or returns land's error.
func (c *Coordinator) finishCommit(ctx context.Context, p *tableCommit) error {
	t, res := p.t, p.res
	if p.err != nil {
		return fmt.Errorf("commit %s (checkpoint %d): %w", t.id, p.checkpoint, p.err)
	}
	c.log.Debug("table committed", "table", t.id.String(), "checkpoint", p.checkpoint, "rows", p.rows,
		"snapshot_id", res.SnapshotID, "position_deletes", res.PositionDeletes, "equality_deletes", res.EqualityDeletes,
		"skipped_deletes", res.SkippedDeletes)
	c.deletes.add(res)
	c.opts.Metrics.CommittedRows.WithLabelValues(t.id.String()).Add(float64(p.rows))
	c.closeCommitBuffer(p)
	if !p.detached {
		t.buf = nil
		t.chunks = nil
		t.dead, t.deadSkip = nil, nil
		t.schemaChanges = nil
		t.reset = nil
	}
	t.plan = p.plan
	t.committed = p.pos
	t.checkpoint = p.checkpoint
	t.lastCommit = time.Now()
	t.snapshotID = res.SnapshotID
	if t.convergeUntil != nil && p.pos != nil && p.pos.Compare(t.convergeUntil) >= 0 {
		c.log.Info("table converged after resumed snapshot", "table", t.id.String(), "position", p.pos.String())
		t.convergeUntil = nil
	}
	c.closeWindow(t)
	return c.fastForward(ctx, t) // onestate.go
}

// closeCommitBuffer closes the buffer a commit was written from, keeping
// its peak key count for the next buffer's sizing.
func (c *Coordinator) closeCommitBuffer(p *tableCommit) {
	if p.buf == nil {
		return
	}
	p.t.bufKeys = p.buf.PeakKeys()
	if err := p.buf.Close(); err != nil {
		c.log.Warn("close buffer", "table", p.t.id.String(), "err", err)
	}
	p.buf = nil
}

// deleteCounts are the delete keys of a checkpoint's commits by how
// lakewriter deleted them (sink.delete-mode): by position, by equality,
// or not at all (keys the table did not hold).
type deleteCounts struct{ position, equality, skipped int64 }

func (d *deleteCounts) add(res lakewriter.CommitResult) {
	d.position += res.PositionDeletes
	d.equality += res.EqualityDeletes
	d.skipped += res.SkippedDeletes
}

// resolve fills the unchanged TOAST values the buffer could not fill
// itself, in one Resolve: from the Iceberg rows of the keys they lived
// under before this checkpoint, or, for changes replayed inside the table's
// convergence window, from the source's current rows. Rows read now are
// ahead of the stream, so the window extends past the read; a row the
// source no longer has is deleted by a change still to come, and its image
// is dropped.
func (c *Coordinator) resolve(ctx context.Context, t *tableRun) error {
	buf := t.buf
	var found map[string]schema.Row
	if keys := buf.PendingKeys(); len(keys) > 0 {
		var err error
		if found, err = t.table.LookupOn(ctx, t.branch, keys, c.newer(t)); err != nil {
			return fmt.Errorf("look up %d unchanged-TOAST rows of %s: %w", len(keys), t.id, err)
		}
	}
	keys, err := buf.RereadKeys()
	if err != nil {
		return err
	}
	var reread map[string]schema.Row
	var readBy capture.Position
	if len(keys) > 0 {
		rr, ok := c.opts.Source.(capture.RowReader)
		if !ok {
			return fmt.Errorf("fill unchanged TOAST values of %s: the source cannot read rows by key", t.id)
		}
		rows, layout, err := rr.ReadRows(ctx, t.id, keys)
		if err != nil {
			return fmt.Errorf("read %d rows of %s again: %w", len(keys), t.id, err)
		}
		if readBy, err = rr.CurrentPosition(ctx); err != nil {
			return err
		}
		reread = make(map[string]schema.Row, len(rows))
		// The rows are in the source's layout now, matched to the
		// buffer's by name (with the sink names of columns renamed under
		// ignore).
		toBuffer := buf.Reread(t.fitOnce(layout))
		for _, r := range rows {
			reread[string(schema.AppendKey(nil, layout, r))] = toBuffer(r)
		}
	}
	if found == nil && reread == nil {
		return nil
	}
	dropped, err := buf.Resolve(found, reread)
	if err != nil {
		return fmt.Errorf("fill unchanged TOAST values of %s: %w", t.id, err)
	}
	if readBy != nil {
		t.convergeUntil = laterOf(t.convergeUntil, readBy)
		c.log.Info("filled replayed changes from current source rows", "table", t.id.String(), "keys", len(keys),
			"dropped", dropped, "converge_until", readBy.String())
	}
	return nil
}

// idleTables returns the tables with nothing buffered whose committed
// position lags the current one and that either have not committed for
// IdleCommitInterval (with all: regardless of when they committed) or
// whose snapshot or convergence window the stream has passed.
func (c *Coordinator) idleTables(all bool) []*tableRun {
	var out []*tableRun
	for _, t := range c.order {
		if t.buf != nil || t.data != nil || len(t.dead) > 0 || t.needsSnapshot || t.plan != nil || c.lastPos == nil || t.paused { // a paused table stays where it paused
			continue
		}
		if t.committed != nil && t.committed.Compare(c.lastPos) >= 0 {
			continue
		}
		// A table whose snapshot window (chunk watermarks) or
		// convergence window the stream has passed is advanced at once,
		// so that its committed position, and with it floe status and
		// the resume point, do not stay behind until the idle interval
		// (its changes inside the window may all have been held by its
		// chunks, leaving nothing to commit).
		passed := (t.window != nil && c.lastPos.Compare(t.windowEnd) >= 0) ||
			(t.convergeUntil != nil && c.lastPos.Compare(t.convergeUntil) >= 0)
		if all || passed || time.Since(t.lastCommit) >= c.opts.IdleCommitInterval {
			out = append(out, t)
		}
	}
	return out
}

// advanceTable commits an empty snapshot that moves a quiet table's
// position to pos: it holds every change up to pos, because it has none
// buffered. It records the schema changes not recorded yet (a rename at a
// Barrier that no change of the table followed).
func (c *Coordinator) advanceTable(ctx context.Context, t *tableRun, checkpoint int64, pos capture.Position) error {
	jitter.At(jitter.BeforeCommit)
	res, err := t.table.Commit(ctx, lakewriter.Commit{
		Props: commitMeta{pipeline: c.opts.Pipeline, checkpoint: checkpoint, epoch: c.epoch, pos: pos, plan: t.window, keepUntil: t.windowEnd,
			convergeUntil: t.convergeUntil, source: t.sourceTable(), schemaChanges: t.schemaChanges}.props(),
		Token:  ledger.PropCheckpoint,
		Fence:  c.fence(),
		Branch: t.branch,
	})
	jitter.At(jitter.AfterCommit)
	if err != nil {
		return fmt.Errorf("advance the position of quiet table %s (checkpoint %d): %w", t.id, checkpoint, err)
	}
	c.log.Debug("quiet table position advanced", "table", t.id.String(), "position", pos.String())
	t.committed, t.checkpoint, t.lastCommit, t.snapshotID = pos, checkpoint, time.Now(), res.SnapshotID
	t.schemaChanges = nil
	if t.convergeUntil != nil && pos.Compare(t.convergeUntil) >= 0 {
		t.convergeUntil = nil
	}
	c.closeWindow(t)
	return c.fastForward(ctx, t) // onestate.go
}

// newer orders two rows of one key in a changelog table by position, then
// sequence; upsert tables hold one row per key and need no order.
func (c *Coordinator) newer(t *tableRun) func(a, b schema.Row) bool {
	if c.opts.Mode != transform.Changelog {
		return nil
	}
	posCol, seqCol := t.layout.Index(transform.ColPos), t.layout.Index(transform.ColSeq)
	return func(a, b schema.Row) bool {
		pa, errA := c.opts.Source.DecodePosition(asString(a[posCol]))
		pb, errB := c.opts.Source.DecodePosition(asString(b[posCol]))
		if errA != nil || errB != nil {
			return errB != nil
		}
		if cmp := pa.Compare(pb); cmp != 0 {
			return cmp > 0
		}
		sa, _ := a[seqCol].(int64)
		sb, _ := b[seqCol].(int64)
		return sa > sb
	}
}

func asString(v any) string {
	s, _ := v.(string)
	return s
}
