package checkpoint

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"

	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
)

// Fencing is one `floe run`'s standing against other runs of its pipeline
// (on other machines or pods; the state directory's lock only excludes
// runs on one machine). Its epoch is chosen by the first coordinator that
// claims the pipeline's tables: one more than the highest epoch any of
// them records. Every later attempt of the same run (a Coordinator per
// attempt) keeps it, so that a run that lost its connections does not
// take its tables back from a newer run when it reconnects.
type Fencing struct {
	// Run names this process in its claims.
	Run string

	mu    sync.Mutex
	epoch int64
}

// NewFencing returns the Fencing of a new run, named host/pid/random.
func NewFencing() *Fencing {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return &Fencing{Run: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))}
}

// Epoch returns the run's epoch; 0 before its first claim.
func (f *Fencing) Epoch() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.epoch
}

// claim makes every table the run's, in discovery order, before anything
// of theirs is read: the run's epoch (chosen now on its first attempt) is
// recorded in an empty claim snapshot on each table that does not record
// it already. From then on a commit of an older run fails its catalog
// compare-and-swap and is refused on reload, or landed before the claim
// and is in the history recovery reads. A table that records a newer
// epoch, or the same epoch claimed by another run, stops this run with a
// lakewriter.FencedError.
func (c *Coordinator) claim(ctx context.Context, tables []*lakewriter.Table) error {
	f := c.opts.Fencing
	f.mu.Lock()
	defer f.mu.Unlock()
	owned := make([]ledger.Owned, len(tables))
	var newest int64
	for i, tbl := range tables {
		own, err := tbl.Epoch(ctx, c.opts.Pipeline)
		if err != nil {
			return err
		}
		owned[i] = own
		newest = max(newest, own.Epoch)
	}
	if f.epoch == 0 {
		f.epoch = newest + 1
	}
	claimed := 0
	for i, tbl := range tables {
		own := owned[i]
		if own.Epoch == f.epoch && (own.Claim == nil || own.Claim.Run == f.Run) {
			continue // claimed by an earlier attempt of this run
		}
		fence := &lakewriter.Fence{Pipeline: c.opts.Pipeline, Epoch: f.epoch, Claim: true, Shared: isDeadLetterTable(tbl)}
		_, err := tbl.Commit(ctx, lakewriter.Commit{
			Props: ledger.Claim{Pipeline: c.opts.Pipeline, Epoch: f.epoch, Run: f.Run}.Props(),
			Token: ledger.PropClaim,
			Fence: fence,
		})
		if err != nil {
			return fmt.Errorf("claim %s for epoch %d: %w", tbl.Ident(), f.epoch, err)
		}
		claimed++
	}
	c.epoch = f.epoch
	c.log.Info("tables claimed", "epoch", f.epoch, "run", f.Run, "claimed", claimed, "tables", len(tables))
	return nil
}

// fence is the Fence of every commit of this run.
func (c *Coordinator) fence() *lakewriter.Fence {
	return &lakewriter.Fence{Pipeline: c.opts.Pipeline, Epoch: c.epoch}
}

// isDeadLetterTable reports whether tbl is a namespace's dead-letter
// table, which every pipeline routing to the namespace writes (each its
// own rows and marks), so that no pipeline owns it (Fence.Shared).
func isDeadLetterTable(tbl *lakewriter.Table) bool {
	return tbl.Ident().Name == DeadLetterTableName
}

// fencedOr returns a FencedError when t records a newer epoch than the
// run's (another run took it over, which may be why err happened), else
// err.
func (c *Coordinator) fencedOr(ctx context.Context, t *tableRun, err error) error {
	own, rerr := t.table.Epoch(ctx, c.opts.Pipeline)
	if rerr != nil || own.Epoch <= c.epoch {
		return err
	}
	fe := &lakewriter.FencedError{Table: t.table.Ident(), Pipeline: c.opts.Pipeline, Epoch: c.epoch, TableEpoch: own.Epoch}
	if own.Claim != nil {
		fe.Run = own.Claim.Run
	}
	return fmt.Errorf("%w (while: %v)", fe, err)
}
