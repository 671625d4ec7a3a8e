package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/jitter"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/transform"
)

// stream applies source batches until ctx is cancelled, cutting a
// checkpoint every Interval (or every MaxCheckpointChanges changes) at a
// transaction boundary.
func (c *Coordinator) stream(ctx context.Context) error {
	queue, streamDone, stopSource, cancel := c.startStream(ctx)
	defer cancel()     // also when Stream ended by itself: the queue stops
	c.startBeside(ctx) // beside.go
	defer c.endBeside()
	defer c.endNewTablesLookup() // newtables.go
	commitCtx := commitContext(ctx)
	defer c.abandonLanding() // overlap.go; settled on every other way out

	// The timer fires Interval after the last cut, so a checkpoint is
	// never later than that when the source goes quiet.
	timer := time.NewTimer(c.opts.Interval)
	defer timer.Stop()
	var (
		inTxn   bool  // the last batch had More set
		txnSeq  int64 // changes of the current transaction applied so far
		lastCut = time.Now()
		// control is set when a Control request waits for the end of
		// a split transaction.
		control bool
	)
	// markCut restarts the interval after a cut.
	markCut := func(cut bool) {
		if cut {
			lastCut = time.Now()
			timer.Reset(c.opts.Interval)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return c.stopStreaming(ctx, inTxn, stopSource)
		case err := <-streamDone:
			if err == nil {
				err = errors.New("source stream ended unexpectedly")
			}
			return fmt.Errorf("stream: %w", err)
		case r, ok := <-c.besideChunks(inTxn):
			// Between transactions, so that the cuts it leads to are too.
			cut, err := c.takeBesideChunk(commitCtx, r, ok) // beside.go
			if err != nil {
				return errors.Join(err, stopSource())
			}
			markCut(cut)
		case <-c.landed():
			// The checkpoint left landing has landed: acknowledge it now.
			if err := c.settle(commitCtx); err != nil {
				return errors.Join(err, stopSource())
			}
		case a := <-c.newTablesAnswered():
			c.takeNewTablesAnswer(a) // acted on at the next tick
		case <-c.opts.Control.wakeup():
			if inTxn {
				control = true
				continue
			}
			if err := c.takeControl(ctx, stopSource); err != nil {
				return err
			}
		case qb := <-queue.out:
			jitter.At(jitter.Receive)
			b := qb.Batch
			if err := c.adoptLayouts(ctx, b, inTxn); err != nil {
				return errors.Join(err, stopSource())
			}
			if err := c.applyStream(b, txnSeq); err != nil {
				return errors.Join(err, stopSource())
			}
			queue.release(qb) // its values are in the buffers now
			if b.More {
				inTxn = true
				txnSeq += int64(len(b.Changes))
				continue
			}
			inTxn, txnSeq = false, 0
			cut, err := c.txnApplied(commitCtx, b)
			if err != nil {
				return errors.Join(err, stopSource())
			}
			markCut(cut)
			if control {
				control = false
				if err := c.takeControl(ctx, stopSource); err != nil {
					return err
				}
			}
			cut, err = c.endOfTxn(commitCtx, b, lastCut)
			if err != nil {
				return errors.Join(err, stopSource())
			}
			markCut(cut)
		case <-timer.C:
			// Inside a split transaction the cut waits for its last part (the batch branch).
			timer.Reset(c.opts.Interval)
			if inTxn {
				continue
			}
			if err := c.tick(ctx, commitCtx, stopSource); err != nil {
				return err
			}
			lastCut = time.Now()
		}
	}
}

// commitContext is the context of the stream's commits: a checkpoint that
// has begun to commit finishes when ctx ends (the first signal: "stopping
// after the current checkpoint"); only the commit's own bounds end it.
// Cancelled mid-commit, it left some tables committed and the others not,
// and the run stopped without its final cut.
func commitContext(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// txnApplied records the end of a transaction the stream applied (b, its
// last batch): its position is the stream's, and the chunks read beside
// the stream that waited for it are applied (beside.go). It reports
// whether that cut a checkpoint.
func (c *Coordinator) txnApplied(ctx context.Context, b capture.Batch) (bool, error) {
	c.lastPos = b.Position
	c.opts.Metrics.observeBatch(b)
	return c.applyHeldChunks(ctx)
}

// stopStreaming ends the stream loop on a signal: it commits first, then
// stops the stream, whose last standby status then reports this final
// acknowledgement. Inside a split transaction nothing is committed: its
// changes are replayed on restart.
func (c *Coordinator) stopStreaming(ctx context.Context, inTxn bool, stopSource func() error) error {
	if inTxn {
		c.log.Warn("stopping inside a split transaction; its changes are replayed on restart")
	} else if err := c.cut(context.WithoutCancel(ctx), false, true); err != nil {
		return errors.Join(err, stopSource())
	}
	c.log.Info("stopped", "position", fmtPos(c.ackedPos))
	return stopSource()
}

// tick is what the checkpoint interval brings between transactions: a
// cut, the Control's requests (a pause requested while its table was not
// streaming yet takes effect at the first tick after it streams), a
// restart for new tables a look found, and the start of the next look
// (newtables.go). Its errors have stopped the source.
func (c *Coordinator) tick(ctx, commitCtx context.Context, stopSource func() error) error {
	if err := c.flushOverlapped(commitCtx); err != nil {
		return errors.Join(err, stopSource())
	}
	if err := c.takeControl(ctx, stopSource); err != nil {
		return err
	}
	if err := c.restartForNewTables(commitCtx); err != nil {
		return errors.Join(err, stopSource())
	}
	c.startNewTablesLookup(ctx)
	return nil
}

// endOfTxn decides, after b, the last batch of a transaction, whether to
// cut a checkpoint now, and cuts it (cut reports whether it did): tables
// dropped or created (tables_online.go); a Sync commits everything and
// moves every table up to b now; otherwise buffered changes are committed
// at a barrier (a schema change: the rows before it are committed before
// any change after it is applied), once the buffers are due by volume, or
// once Interval has passed since lastCut.
func (c *Coordinator) endOfTxn(ctx context.Context, b capture.Batch, lastCut time.Time) (cut bool, err error) {
	switch {
	case len(b.Dropped)+len(b.Added) > 0:
		return true, c.tablesChanged(ctx, b)
	case b.Sync:
		return true, c.cut(ctx, true, true)
	case !c.dirty():
		return false, nil
	case b.Barrier:
		return true, c.flush(ctx)
	case c.volumeDue() || time.Since(lastCut) >= c.opts.Interval:
		return true, c.flushOverlapped(ctx)
	}
	return false, nil
}

// takeControl applies the Control's requests at a transaction boundary
// (applyControl). When they need the stream to start again (ErrRestart),
// it commits what is buffered, as a stop does, and stops the source.
func (c *Coordinator) takeControl(ctx context.Context, stopSource func() error) error {
	err := c.applyControl(ctx)
	if errors.Is(err, ErrRestart) {
		if err := c.cut(context.WithoutCancel(ctx), false, true); err != nil {
			return errors.Join(err, stopSource())
		}
		c.log.Info("restarting the stream from the committed positions for a resumed table", "acknowledged", fmtPos(c.ackedPos))
	}
	if err != nil {
		return errors.Join(err, stopSource())
	}
	return nil
}

// startStream runs the source's Stream into a byte-bounded queue, on a
// context of its own: the stream outlives ctx until stopSource, so that
// the final checkpoint is committed before the source's last standby
// status goes out. stopSource stops the stream and queue goroutines and
// waits for them; it is the owner that waits, so no goroutine outlives
// stream(). Batches not applied are replayed on restart. streamDone
// receives Stream's result; cancel ends the stream's context without
// waiting (the queue goroutine then stops too).
func (c *Coordinator) startStream(ctx context.Context) (queue *batchQueue, streamDone chan error, stopSource func() error, cancel context.CancelFunc) {
	streamCtx, stopStream := context.WithCancel(context.WithoutCancel(ctx))
	queue = newBatchQueue(streamCtx)
	streamDone = make(chan error, 1)
	go func() { streamDone <- c.opts.Source.Stream(streamCtx, queue.in) }()
	stopSource = func() error {
		stopStream()
		<-queue.done
		for {
			select {
			case err := <-streamDone:
				if errors.Is(err, context.Canceled) {
					return nil
				}
				return err
			case <-queue.in: // unblock a send that does not watch ctx
			}
		}
	}
	return queue, streamDone, stopSource, stopStream
}

// applyStream buffers the changes of one stream batch, skipping those at or
// before their table's committed position (already in Iceberg). A change
// the source could not decode (capture.Change.Err) that the table needs
// is held as a dead letter (pipeline.dead-letter table, a value error) or
// stops the pipeline; the dead letters of a transaction get their
// position and identity after its last batch (endDeadTxn).
func (c *Coordinator) applyStream(b capture.Batch, seqBase int64) error {
	if !b.More {
		defer c.endDeadTxn(b.Position) // deadletters.go; also after a part without changes
	}
	if len(b.Changes) == 0 {
		return nil
	}
	meta := transform.Meta{Pos: b.Position.String(), CommitMicros: b.CommitTime.UnixMicro()}
	skipped := 0
	var applied appliedCounts
	defer func() { applied.report(c.opts.Metrics) }()
	for i, ch := range b.Changes {
		t := c.tables[ch.Table]
		if t == nil {
			return fmt.Errorf("change for table %s, which is not captured", ch.Table)
		}
		if held := laterOf(t.committed, t.floor); held != nil && b.Position.Compare(held) <= 0 {
			// Also a change the source could not decode: the table holds
			// its effect (committed, or in its snapshot at its floor).
			skipped++
			continue
		}
		if t.paused {
			// It stays at the source: nothing past the table's position
			// is acknowledged, and a resume replays it.
			t.missed = true
			skipped++
			continue
		}
		if ch.Err != nil && ch.Op == capture.OpUnreadable {
			return c.unfollowable(t, b.Position, ch.Err)
		}
		if ch.Err != nil && c.deadLetters() && deadLetterable(ch) {
			c.addStreamDead(t, ch, seqBase+int64(i), b.CommitTime.UnixMicro()) // deadletters.go
			continue
		}
		if ch.Err != nil {
			return fmt.Errorf("change of %s at %s: %w; fix: correct or delete the row at the source, then re-snapshot the table "+
				"with `floe resnapshot --config FILE --table %s` (its new snapshot holds the row's state, and the changes before it are skipped), "+
				"or set pipeline.dead-letter: table to write such changes to the dead-letter table and go on",
				t.id, b.Position, ch.Err, t.id)
		}
		buf, err := c.buffer(t)
		if err != nil {
			return err
		}
		meta.Seq = seqBase + int64(i)
		// A table snapshotted beside the stream was emptied at its floor and
		// its chunk rows come later, or are left out as superseded: Iceberg
		// holds no reliable row to fill an unchanged value from, so such a
		// value is read from the source's current row, as in a convergence
		// window (see beside.go).
		meta.Converging = (t.convergeUntil != nil && b.Position.Compare(t.convergeUntil) <= 0) || t.beside != nil
		t.noteBesideChange(ch, b.Position) // beside.go; in the source's layout
		ch.Schema = t.fit(ch.Schema)
		if err := buf.Apply(ch, meta); err != nil {
			if c.unplaceable(t, &ch, err) { // deadletters.go
				c.addStreamDead(t, ch, meta.Seq, meta.CommitMicros)
				continue
			}
			return fmt.Errorf("apply %s change at %s: %w", t.id, b.Position, err)
		}
		applied.add(t, ch.Op)
	}
	if skipped > 0 {
		c.log.Debug("skipped changes already committed", "position", b.Position.String(), "changes", skipped)
	}

	c.buffered += len(b.Changes) - skipped
	return nil
}

// appliedCounts counts the changes of one batch applied, by table and
// op, for Metrics.Changes: one counter update per table and op of a
// batch rather than a label lookup per change.
type appliedCounts []appliedCount

type appliedCount struct {
	t  *tableRun
	op capture.Op
	n  int
}

func (a *appliedCounts) add(t *tableRun, op capture.Op) {
	for i := len(*a) - 1; i >= 0; i-- {
		if x := &(*a)[i]; x.t == t && x.op == op {
			x.n++
			return
		}
	}
	*a = append(*a, appliedCount{t: t, op: op, n: 1})
}

// report adds the counts to m.Changes.
func (a appliedCounts) report(m *Metrics) {
	for _, x := range a {
		m.Changes.WithLabelValues(x.t.id.String(), x.op.String()).Add(float64(x.n))
	}
}

// unfollowable answers a change of table t at pos that the stream cannot
// follow from the log (capture.OpUnreadable; err names the table, the
// position and the fix). With Config.UnfollowableChange resnapshot (and a
// Control, and a snapshot mode that snapshots), the table is to be
// snapshotted again online: the Control holds the request and the attempt
// ends with ErrRestart at once, committing nothing more, so no table
// position passes the change before the table's reset commit lands (a
// crash before then replays the change, which asks again). The next
// attempt resets the table (requestedResets) while the others resume.
// Otherwise err stops the run.
func (c *Coordinator) unfollowable(t *tableRun, pos capture.Position, err error) error {
	if !c.resnapshotsUnfollowable() {
		return err // it names the table, the position and the fix
	}
	c.log.Warn("a change of the table cannot be followed from the log; the table is snapshotted again online",
		"table", t.id.String(), "position", pos.String(), "change", err.Error())
	c.opts.Control.backfill(t.id, err.Error())
	return fmt.Errorf("table %s: %w", t.id, ErrRestart)
}

// resnapshotsUnfollowable reports whether a table with a change its
// stream cannot follow is snapshotted again online (see unfollowable):
// not under schema-change-behavior exception, which stops at any change.
func (c *Coordinator) resnapshotsUnfollowable() bool {
	return c.opts.UnfollowableChange == UnfollowableResnapshot && c.opts.Control != nil && c.opts.SnapshotMode != SnapshotNever &&
		c.opts.SchemaChangeBehavior != transform.Exception
}

// checkAddedAtStart has the source (capture.AddedColumnChecker) check the
// columns added to table id since its Iceberg table's layout, found at
// start. A table to be snapshotted again (Control) needs no check: it is
// emptied and read again. A refusal (a column added with a default
// while floe was stopped: the log has no row events for the values the
// server filled in) is the error, or, when unfollowable changes are
// re-snapshotted, a request to snapshot the table again, which the
// attempt's requestedResets then marks.
func (c *Coordinator) checkAddedAtStart(ctx context.Context, id capture.TableID, added []string) error {
	ch, ok := c.opts.Source.(capture.AddedColumnChecker)
	if !ok || len(added) == 0 || c.opts.Control.resnapshotRequested(id) {
		return nil
	}
	err := ch.CheckAddedColumns(ctx, id, added)
	if err == nil || !c.resnapshotsUnfollowable() {
		return err
	}
	c.log.Warn("a change of the table found at start cannot be followed from the log; the table is snapshotted again online",
		"table", id.String(), "change", err.Error())
	c.opts.Control.backfill(id, err.Error())
	return nil
}

// adoptLayouts takes on the source layouts b's changes come in, and
// those b.Layouts states (in table order, before the changes). A layout
// the table's sink layout does not hold yet evolves the Iceberg table as
// pipeline.schema-change-behavior says (transform.PlanSinkChange; the
// default, lenient: columns added as optional, types widened, columns
// the source dropped kept, columns the source renamed renamed; ignore
// evolves nothing and follows renames in followRenames):
// the rows buffered in the old sink layout are committed first (at the
// last complete transaction, before b), then the schema change is
// committed, and later buffers use the new layout. A change the sink
// cannot follow is an error naming the table and the fix. Replaying
// after a crash evolves nothing twice: a table already evolved holds the
// layout, and a layout seen at or before the table's committed position
// is not adopted (the table holds every change up to there, in the
// layout it has; a replayed row in a column's old name must not add that
// name back).
func (c *Coordinator) adoptLayouts(ctx context.Context, b capture.Batch, inTxn bool) error {
	for _, id := range slices.SortedFunc(maps.Keys(b.Layouts), func(x, y capture.TableID) int { return strings.Compare(x.String(), y.String()) }) {
		if err := c.adoptLayout(ctx, b, inTxn, id, b.Layouts[id]); err != nil {
			return err
		}
	}
	for _, ch := range b.Changes {
		if err := c.adoptLayout(ctx, b, inTxn, ch.Table, ch.Schema); err != nil {
			return err
		}
	}
	return nil
}

// adoptLayout is adoptLayouts for one table's layout src.
func (c *Coordinator) adoptLayout(ctx context.Context, b capture.Batch, inTxn bool, id capture.TableID, src *schema.Table) error {
	t := c.tables[id]
	if t == nil || src == nil || src == t.src {
		return nil
	}
	// A new layout may evolve the table: not while a commit lands.
	if err := c.settle(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	if held := laterOf(t.committed, t.floor); held != nil && b.Position.Compare(held) <= 0 {
		return nil
	}
	if t.beside != nil && keyChanged(t.src, src) {
		return fmt.Errorf("table %s: %w (%w)", t.id, errBesideLayout, ErrRestart)
	}
	if t.paused {
		// Its changes are replayed after the resume, this one with
		// them; the table evolves then.
		t.missed = true
		return nil
	}
	// Rows buffered in the old sink layout are committed first, at
	// the last complete transaction, before b.
	flushOld := func() error {
		if t.buf == nil && t.data == nil {
			return nil
		}
		if inTxn {
			return errors.New("rows of the old layout are buffered inside a split transaction; restart the pipeline")
		}
		return c.flush(ctx)
	}
	sinkSrc := src
	if c.opts.SchemaChangeBehavior == transform.Ignore {
		c.followRenames(t, src)
		sinkSrc = t.fit(src)
	}
	changes, err := c.evolveSink(ctx, t.id, b.Position, t.table, sinkSrc, flushOld)
	if err != nil {
		return fmt.Errorf("schema change of %s at %s: %w", t.id, b.Position, err)
	}
	if changes != nil {
		t.layout = t.table.Layout()
		// Registered before the table evolved; this finds that entry.
		entry, err := c.registerLayout(ctx, t.id, t.table.Ident(), t.layout, t.table.FormerNames())
		if err != nil {
			return fmt.Errorf("schema change of %s at %s: %w", t.id, b.Position, err)
		}
		t.schemaChanges = append(t.schemaChanges, ledger.SchemaChange{Version: ledger.SchemaChangeVersion, At: b.Position.String(),
			Changes: changes, SchemaID: t.table.SchemaID(), Registry: entry})
	}
	t.src = src
	return nil
}

// evolveSink evolves the Iceberg schema of source table id's tbl so that
// it holds rows of source layout src as pipeline.schema-change-behavior
// says (transform.PlanSinkChange; under ignore nothing evolves), seen at
// position at (nil: at start), calling beforeCommit first, and returns
// what changed (nil: nothing to evolve). Under exception a change is an
// error (transform.ErrStopped) returned after beforeCommit, so the table
// is committed up to the change. Only a source that follows
// schema changes (capture.SchemaFollower) may evolve a table; for any
// other a difference is an error naming floe resnapshot. At start, a
// capture.AddedColumnChecker must accept the columns to be added, unless
// the table is to be snapshotted again (Control).
func (c *Coordinator) evolveSink(ctx context.Context, id capture.TableID, at capture.Position, tbl *lakewriter.Table, src *schema.Table, beforeCommit func() error) ([]string, error) {
	plan, err := transform.PlanSinkChange(tbl.Layout(), src, c.opts.Mode, c.opts.SchemaChangeBehavior, tbl.PinnedColumns())
	if errors.Is(err, transform.ErrStopped) {
		if at == nil {
			return nil, fmt.Errorf("at start, the source's current layout differs from the Iceberg table's (a change while floe was stopped): %w", err)
		}
		// The table is committed up to the change, and no further.
		if ferr := beforeCommit(); ferr != nil {
			return nil, fmt.Errorf("%w (committing the rows before the change failed too: %w)", err, ferr)
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	if gone, added := transform.ReplacedColumns(tbl.Layout(), src); gone != nil && c.opts.SchemaChangeBehavior == transform.Ignore {
		// followRenames maps the renames this run saw; one before it
		// (committed past by an earlier run) looks like this.
		c.log.Warn("the source lacks iceberg columns and has new ones; under schema-change-behavior ignore they are written NULL and left out, which is wrong if they were renamed before this run saw it",
			"table", id.String(), "position", fmtPos(at), "gone", strings.Join(gone, ","), "added", strings.Join(added, ","))
	}
	if len(plan.Skipped) > 0 {
		c.log.Info("source schema change not applied to the iceberg table", "table", id.String(), "position", fmtPos(at),
			"behavior", string(c.opts.SchemaChangeBehavior), "skipped", strings.Join(plan.Skipped, "; "))
	}
	evolved, changes := plan.Layout, plan.Changes
	if evolved == tbl.Layout() {
		return nil, nil
	}
	if f, ok := c.opts.Source.(capture.SchemaFollower); !ok || !f.FollowsSchemaChanges() {
		return nil, fmt.Errorf("the source table's layout is not the Iceberg table's (%s), and this source does not follow schema changes; re-snapshot the table with floe resnapshot",
			strings.Join(changes, "; "))
	}
	if at == nil {
		var added []string
		for _, col := range src.Columns {
			if tbl.Layout().Index(col.Name) < 0 {
				added = append(added, col.Name)
			}
		}
		if err := c.checkAddedAtStart(ctx, id, added); err != nil {
			return nil, err
		}
	}
	entry, err := c.registerLayout(ctx, id, tbl.Ident(), evolved, tbl.FormerNames())
	if err != nil {
		return nil, err
	}
	if err := beforeCommit(); err != nil {
		return nil, err
	}
	if err := tbl.EvolveProps(ctx, evolved, registryProps(entry)); err != nil {
		return nil, err
	}
	c.log.Info("iceberg table evolved with its source", "table", id.String(), "position", fmtPos(at),
		"changes", strings.Join(changes, "; "))
	c.opts.Metrics.SchemaChanges.WithLabelValues(id.String()).Inc()
	return changes, nil
}

// followRenames records, under schema-change-behavior ignore (the sink
// table keeps its column names), the renames source layout src states:
// a column renamed from a name that lands in sink column x (x itself, or
// a name renamed to x before) lands in x from now on, and is x's holder.
// A name renamed away keeps its alias for the layouts before the rename
// (changes of one batch may come in both); see fit.
func (c *Coordinator) followRenames(t *tableRun, src *schema.Table) {
	sink := t.table.Layout()
	for _, col := range src.Columns {
		if col.RenamedFrom == "" || src.Index(col.RenamedFrom) >= 0 {
			continue
		}
		to := col.RenamedFrom
		if a, ok := t.aliases[to]; ok {
			to = a
		}
		if sink.Index(to) < 0 {
			continue // renamed from a column the sink never had: an added one
		}
		if to != col.Name && sink.Index(col.Name) >= 0 {
			// Renamed onto the name of another sink column: it lands in
			// that column, by its name, as any column does.
			continue
		}
		if t.holder == nil {
			t.aliases, t.holder = map[string]string{}, map[string]string{}
		}
		t.holder[to] = col.Name
		if to == col.Name {
			continue // renamed back to the sink's name
		}
		if t.aliases[col.Name] == to {
			continue // a later layout stating the same rename
		}
		t.aliases[col.Name] = to
		c.log.Info("source column renamed; its values keep landing in the iceberg column (schema-change-behavior ignore)",
			"table", t.id.String(), "column", col.Name, "iceberg_column", to)
	}
	t.fitted = nil
}

// fit returns src with the renamed columns followRenames recorded under
// their sink names (src itself when none applies), cached by src. A
// column takes its sink name unless that name's holder is another column
// of src; a column of src named like a sink column that a renamed column
// of src lands in is a new column and is renamed out of the way (its
// values are left out, as an added column's).
func (t *tableRun) fit(src *schema.Table) *schema.Table {
	if len(t.aliases) == 0 || src == nil {
		return src
	}
	if f, ok := t.fitted[src]; ok {
		return f
	}
	out := t.fitOnce(src)
	if t.fitted == nil {
		t.fitted = map[*schema.Table]*schema.Table{}
	}
	t.fitted[src] = out
	return out
}

// fitOnce is fit without the cache, for a layout used once (the one rows
// read again by key come in, new at every read).
func (t *tableRun) fitOnce(src *schema.Table) *schema.Table {
	if len(t.aliases) == 0 || src == nil {
		return src
	}
	out := src
	taken := map[string]bool{}
	for i, col := range src.Columns {
		to, ok := t.aliases[col.Name]
		if !ok {
			continue
		}
		if h := t.holder[to]; h != col.Name && src.Index(h) >= 0 {
			continue
		}
		if out == src {
			out = &schema.Table{Columns: slices.Clone(src.Columns), Key: src.Key}
		}
		out.Columns[i].Name, out.Columns[i].RenamedFrom = to, ""
		taken[to] = true
	}
	for i, col := range src.Columns {
		if out.Columns[i].Name == col.Name && taken[col.Name] {
			out.Columns[i].Name = col.Name + " (added after a rename)"
		}
	}
	return out
}
