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
	defer cancel() // also when Stream ended by itself: the queue stops

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
	for {
		select {
		case <-ctx.Done():
			// Commit first, then stop the stream: its last standby status
			// then reports this final acknowledgement.
			if inTxn {
				c.log.Warn("stopping inside a split transaction; its changes are replayed on restart")
			} else if err := c.cut(context.WithoutCancel(ctx), false, true); err != nil {
				return errors.Join(err, stopSource())
			}
			c.log.Info("stopped", "position", fmtPos(c.ackedPos))
			return stopSource()
		case err := <-streamDone:
			if err == nil {
				err = errors.New("source stream ended unexpectedly")
			}
			return fmt.Errorf("stream: %w", err)
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
			c.lastPos = b.Position
			c.opts.Metrics.observeBatch(b)
			if control {
				control = false
				if err := c.takeControl(ctx, stopSource); err != nil {
					return err
				}
			}
			if len(b.Dropped)+len(b.Added) > 0 {
				// Tables dropped or created: see tables_online.go.
				if err := c.tablesChanged(ctx, b); err != nil {
					return errors.Join(err, stopSource())
				}
				lastCut = time.Now()
				timer.Reset(c.opts.Interval)
				continue
			}
			if b.Sync {
				// Commit everything, and move every table, up to here now.
				if err := c.cut(ctx, true, true); err != nil {
					return errors.Join(err, stopSource())
				}
				lastCut = time.Now()
				timer.Reset(c.opts.Interval)
				continue
			}
			if !c.dirty() {
				continue
			}
			// A schema change is a barrier: the rows before it are
			// committed before any change after it is applied.
			if b.Barrier || c.buffered >= c.opts.MaxCheckpointChanges || time.Since(lastCut) >= c.opts.Interval {
				if err := c.flush(ctx); err != nil {
					return errors.Join(err, stopSource())
				}
				lastCut = time.Now()
				timer.Reset(c.opts.Interval)
			}
		case <-timer.C:
			// Inside a split transaction the cut waits for its last part,
			// which the batch branch above then takes.
			timer.Reset(c.opts.Interval)
			if inTxn {
				continue
			}
			if err := c.flush(ctx); err != nil {
				return errors.Join(err, stopSource())
			}
			lastCut = time.Now()
			// A pause requested while its table was not streaming yet
			// takes effect at the first tick after it streams.
			if err := c.takeControl(ctx, stopSource); err != nil {
				return err
			}
			if err := c.findNewTables(ctx); err != nil { // tables_online.go
				return errors.Join(err, stopSource())
			}
		}
	}
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
// stops the pipeline.
func (c *Coordinator) applyStream(b capture.Batch, seqBase int64) error {
	if len(b.Changes) == 0 {
		return nil
	}
	meta := transform.Meta{Pos: b.Position.String(), CommitMicros: b.CommitTime.UnixMicro()}
	skipped := 0
	for i, ch := range b.Changes {
		t := c.tables[ch.Table]
		if t == nil {
			return fmt.Errorf("change for table %s, which is not captured", ch.Table)
		}
		if t.committed != nil && b.Position.Compare(t.committed) <= 0 {
			skipped++ // also a change the source could not decode: the table holds its effect
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
			return ch.Err // it names the table, the position and the fix
		}
		if ch.Err != nil {
			return fmt.Errorf("change of %s at %s: %w; fix: correct or delete the row at the source, then re-snapshot the table "+
				"with `floe resnapshot --config FILE --table %s` (its new snapshot holds the row's state, and the changes before it are skipped)",
				t.id, b.Position, ch.Err, t.id)
		}
		buf, err := c.buffer(t)
		if err != nil {
			return err
		}
		meta.Seq = seqBase + int64(i)
		meta.Converging = t.convergeUntil != nil && b.Position.Compare(t.convergeUntil) <= 0
		if err := buf.Apply(ch, meta); err != nil {
			return fmt.Errorf("apply %s change at %s: %w", t.id, b.Position, err)
		}
		c.opts.Metrics.Changes.WithLabelValues(t.id.String(), ch.Op.String()).Inc()
	}
	if skipped > 0 {
		c.log.Debug("skipped changes already committed", "position", b.Position.String(), "changes", skipped)
	}
	c.buffered += len(b.Changes) - skipped
	return nil
}

// adoptLayouts takes on the source layouts b's changes come in, and
// those b.Layouts states (in table order, before the changes). A layout
// the table's sink layout does not hold yet evolves the Iceberg table
// (transform.EvolveSinkLayout: columns added as optional, types widened,
// columns the source dropped kept, columns the source renamed renamed):
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
	if t.committed != nil && b.Position.Compare(t.committed) <= 0 {
		return nil
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
	changes, err := c.evolveSink(ctx, t.id, b.Position, t.table, src, flushOld)
	if err != nil {
		return fmt.Errorf("schema change of %s at %s: %w", t.id, b.Position, err)
	}
	if changes != nil {
		t.layout = t.table.Layout()
		// Registered before the table evolved; this finds that entry.
		entry, err := c.registerLayout(ctx, t.id, t.table.Ident(), t.layout)
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
// it holds rows of source layout src (transform.EvolveSinkLayout), seen
// at position at (nil: at start), calling beforeCommit first, and returns
// what changed (nil: nothing to evolve). Only a source that follows
// schema changes (capture.SchemaFollower) may evolve a table; for any
// other a difference is an error naming floe resnapshot. At start, a
// capture.AddedColumnChecker must accept the columns to be added.
func (c *Coordinator) evolveSink(ctx context.Context, id capture.TableID, at capture.Position, tbl *lakewriter.Table, src *schema.Table, beforeCommit func() error) ([]string, error) {
	evolved, changes, err := transform.EvolveSinkLayout(tbl.Layout(), src, c.opts.Mode)
	if err != nil || evolved == tbl.Layout() {
		return nil, err
	}
	if f, ok := c.opts.Source.(capture.SchemaFollower); !ok || !f.FollowsSchemaChanges() {
		return nil, fmt.Errorf("the source table's layout is not the Iceberg table's (%s), and this source does not follow schema changes; re-snapshot the table with floe resnapshot",
			strings.Join(changes, "; "))
	}
	if ch, ok := c.opts.Source.(capture.AddedColumnChecker); ok && at == nil {
		var added []string
		for _, col := range src.Columns {
			if tbl.Layout().Index(col.Name) < 0 {
				added = append(added, col.Name)
			}
		}
		if len(added) > 0 {
			if err := ch.CheckAddedColumns(ctx, id, added); err != nil {
				return nil, err
			}
		}
	}
	if _, err := c.registerLayout(ctx, id, tbl.Ident(), evolved); err != nil {
		return nil, err
	}
	if err := beforeCommit(); err != nil {
		return nil, err
	}
	if err := tbl.Evolve(ctx, evolved); err != nil {
		return nil, err
	}
	c.log.Info("iceberg table evolved with its source", "table", id.String(), "position", fmtPos(at),
		"changes", strings.Join(changes, "; "))
	c.opts.Metrics.SchemaChanges.WithLabelValues(id.String()).Inc()
	return changes, nil
}
