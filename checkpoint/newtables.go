package checkpoint

import (
	"context"
	"fmt"
	"time"

	"github.com/floe-cdc/floe/capture"
)

// NewTablesInterval is how long the coordinator waits after one look for
// new tables ended before it starts the next (at a checkpoint tick).
const NewTablesInterval = 10 * time.Second

// newTablesLookup is a look for new tables in flight. The source is asked
// on a goroutine of its own, never on the coordinator's: against a source
// that stopped answering (a half-open connection), one ask lasts as long
// as the source's connect timeout, and a coordinator waiting for it
// could not see the stream's end, or a stop signal, in the meantime
// (asked back to back, it saw them only by the luck of its select).
type newTablesLookup struct {
	answer chan newTablesAnswer // receives exactly once
	cancel context.CancelFunc
}

// newTablesAnswer is what one look found.
type newTablesAnswer struct {
	ids []capture.TableID
	err error
}

// startNewTablesLookup asks a capture.NewTableFinder source, on its own
// goroutine, for tables source.tables matches: at a tick with nothing
// buffered, when no look is in flight and NewTablesInterval has passed
// since the last one ended. The answer arrives on newTablesAnswered.
func (c *Coordinator) startNewTablesLookup(ctx context.Context) {
	f, ok := c.opts.Source.(capture.NewTableFinder)
	if !ok || c.lookup != nil || time.Since(c.newTablesAt) < NewTablesInterval || c.dirty() {
		return
	}
	lctx, cancel := context.WithCancel(ctx)
	l := &newTablesLookup{answer: make(chan newTablesAnswer, 1), cancel: cancel}
	c.lookup = l
	go func() {
		ids, err := f.NewTables(lctx)
		l.answer <- newTablesAnswer{ids: ids, err: err}
	}()
}

// newTablesAnswered is the channel of the look in flight; nil (never
// ready) when there is none.
func (c *Coordinator) newTablesAnswered() <-chan newTablesAnswer {
	if c.lookup == nil {
		return nil
	}
	return c.lookup.answer
}

// takeNewTablesAnswer records a look's answer. A failure to ask is logged,
// not fatal: a later tick asks again. Tables found wait for the next
// tick (restartForNewTables), which comes between transactions.
func (c *Coordinator) takeNewTablesAnswer(a newTablesAnswer) {
	c.lookup.cancel()
	c.lookup = nil
	c.newTablesAt = time.Now()
	if a.err != nil {
		c.log.Warn("could not look for new tables at the source", "err", a.err)
		return
	}
	c.newTables = append(c.newTables, a.ids...)
}

// endNewTablesLookup cancels the look in flight, if any, and waits for
// it, so that the source is not asked after the stream loop ended.
func (c *Coordinator) endNewTablesLookup() {
	if c.lookup == nil {
		return
	}
	c.lookup.cancel()
	<-c.lookup.answer
	c.lookup = nil
}

// restartForNewTables returns ErrRestart when a look found a table this
// run does not capture: called at a tick, right after its commits and
// between transactions; the next attempt discovers the table, adds it to
// the publication and snapshots it.
func (c *Coordinator) restartForNewTables(ctx context.Context) error {
	var added []string
	for _, id := range c.newTables {
		// Once per table in a run: one that the next attempt does not
		// capture after all is not restarted for every tick.
		if c.tables[id] == nil && c.opts.Control.firstAdd(id, nil) {
			added = append(added, id.String())
		}
	}
	c.newTables = nil
	if len(added) == 0 {
		return nil
	}
	// The attempt ends: what is landing is settled first (overlap.go).
	if err := c.settle(ctx); err != nil {
		return err
	}
	c.log.Info("restarting the stream to capture a new table", "position", fmtPos(c.lastPos), "tables", fmt.Sprint(added))
	return ErrRestart
}
