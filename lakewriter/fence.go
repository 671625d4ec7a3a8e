package lakewriter

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/iceberg-go/table"

	"github.com/floe-cdc/floe/lakewriter/ledger"
)

// Fence makes a Commit conditional on its writer's epoch (see
// ledger.Claim): the commit is staged only on a base whose history records
// no newer epoch of the pipeline than the writer's, and since every commit
// attempt pins main's snapshot (the catalog's compare-and-swap), a claim
// that lands between the check and the catalog commit fails the attempt;
// the reload that follows sees it and the commit is refused.
type Fence struct {
	Pipeline string
	// Epoch is the writer's epoch (>= 1).
	Epoch int64
	// Claim is set on the commit that claims the table for Epoch: it is
	// refused also when the table already records Epoch (another run
	// claimed it with the same epoch).
	Claim bool
}

// ErrFenced is matched (errors.Is) by every FencedError.
var ErrFenced = errors.New("fenced by a newer run")

// FencedError refuses a commit (or claim) of a run whose epoch is not the
// newest the table records for the pipeline: another run of the pipeline
// has taken the table over. It wraps nothing a retry could heal.
type FencedError struct {
	Table    Ident
	Pipeline string
	// Epoch is the refused writer's; TableEpoch the table's.
	Epoch, TableEpoch int64
	// Run names the run whose claim recorded TableEpoch ("" when the
	// newest record is one of its commits).
	Run string
	// Claim: the refused commit was a claim, and another run claimed the
	// table with the same epoch (two runs started at once).
	Claim bool
}

func (e *FencedError) Error() string {
	by := fmt.Sprintf("epoch %d", e.TableEpoch)
	if e.Run != "" {
		by += " (run " + e.Run + ")"
	}
	if e.Claim {
		return fmt.Sprintf("table %s: another run of pipeline %s claimed it with %s while this run was claiming it with epoch %d: "+
			"two runs of one pipeline started at once; this one stops and commits nothing (fix: run one `floe run` per pipeline, e.g. one pod per StatefulSet shard)",
			e.Table, e.Pipeline, by, e.Epoch)
	}
	return fmt.Sprintf("table %s: a newer run of pipeline %s took it over with %s; this run's epoch %d is older, so it stops and commits nothing more "+
		"(fix: another `floe run` of this pipeline is running on another machine or pod; leave that one running and do not restart this one while it does)",
		e.Table, e.Pipeline, by, e.Epoch)
}

// Is makes errors.Is(err, ErrFenced) true.
func (e *FencedError) Is(target error) bool { return target == ErrFenced }

// check refuses a commit staged on tbl when the table records an epoch
// of f.Pipeline above f.Epoch (or equal to it, for a claim).
func (f *Fence) check(tbl *table.Table, id Ident) error {
	own, err := tableEpoch(tbl, f.Pipeline)
	if err != nil {
		return fmt.Errorf("commit %s: read the table's epoch: %w", id, err)
	}
	if own.Epoch > f.Epoch || (f.Claim && own.Epoch == f.Epoch) {
		e := &FencedError{Table: id, Pipeline: f.Pipeline, Epoch: f.Epoch, TableEpoch: own.Epoch, Claim: own.Epoch == f.Epoch}
		if own.Claim != nil {
			e.Run = own.Claim.Run
		}
		return e
	}
	return nil
}

// tableEpoch returns the epoch the newest commit or claim of pipeline in
// main's history records (the zero Owned when there is none), with the
// claim of that epoch when the history still holds it.
func tableEpoch(tbl *table.Table, pipeline string) (ledger.Owned, error) {
	var newest ledger.Owned
	found := false
	for s := range Ancestry(tbl) {
		if s.Summary == nil {
			continue
		}
		own, ok, err := ledger.EpochOf(s.Summary.Properties, pipeline)
		if err != nil {
			return ledger.Owned{}, fmt.Errorf("snapshot %d: %w", s.SnapshotID, err)
		}
		switch {
		case !ok:
			continue
		case !found:
			newest, found = own, true
		case own.Epoch != newest.Epoch:
			return newest, nil
		}
		if own.Claim != nil {
			newest.Claim = own.Claim
			return newest, nil
		}
	}
	return newest, nil
}

// Epoch reloads the table and returns the epoch the newest commit or claim
// of pipeline in main's history records (0 when there is none, or only
// commits of a build before fencing) and the claim of that epoch, when the
// history still holds it (snapshot expiry may have removed it).
func (t *Table) Epoch(ctx context.Context, pipeline string) (ledger.Owned, error) {
	ctx = t.cat.ioContext(ctx)
	tbl, err := t.refresh(ctx)
	if err != nil {
		return ledger.Owned{}, err
	}
	own, err := tableEpoch(tbl, pipeline)
	if err != nil {
		return ledger.Owned{}, fmt.Errorf("read the epoch of %s: %w", t.id, err)
	}
	return own, nil
}
