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
	// Shared marks a table several pipelines write, each its own rows (a
	// namespace's dead-letter table): no pipeline owns it, so PropOwner is
	// neither recorded nor checked; each pipeline's epochs still fence
	// its own runs.
	Shared bool
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

// PropOwner is the Iceberg table property naming the one pipeline
// (pipeline.name) that may write the table: a plain name, set in the same
// metadata commit as the pipeline's first claim of a table that names no
// owner. A Fence refuses every commit and claim of another pipeline with
// an OwnedError.
const PropOwner = "floe.owner"

// OwnedError refuses a commit (or claim) of a pipeline to a table another
// pipeline owns (PropOwner, or, on a table that names no owner yet, a
// history holding that pipeline's commits): two pipelines, e.g. two shards
// of one source, route to one Iceberg table. Retrying cannot heal it.
type OwnedError struct {
	Table Ident
	// Pipeline is the refused writer's, Owner the table's.
	Pipeline, Owner string
	// History is set when the owner was found in the table's history
	// rather than in PropOwner.
	History bool
}

func (e *OwnedError) Error() string {
	by := "its table property " + PropOwner + " names pipeline " + e.Owner
	if e.History {
		by = "its history holds commits of pipeline " + e.Owner
	}
	return fmt.Sprintf("table %s belongs to pipeline %s (%s), so pipeline %s refuses to write it and stops: two pipelines route to one Iceberg table "+
		"(fix: give each pipeline its own tables: disjoint source.tables, or a sink.namespace or route: of its own; to move the table to pipeline %s "+
		"for good, stop %s first and remove the table property %s, e.g. in Spark ALTER TABLE ... UNSET TBLPROPERTIES ('%s'))",
		e.Table, e.Owner, by, e.Pipeline, e.Pipeline, e.Owner, PropOwner, PropOwner)
}

// owner returns the pipeline that owns tbl: its PropOwner, or, when it
// names none, the first pipeline other than pipeline whose commit or claim
// its history holds (history set).
func owner(tbl *table.Table, pipeline string) (name string, history bool) {
	if o := tbl.Metadata().Properties()[PropOwner]; o != "" {
		return o, false
	}
	for s := range Ancestry(tbl) {
		if s.Summary == nil {
			continue
		}
		p := s.Summary.Properties[ledger.PropPipeline]
		if v, ok := s.Summary.Properties[ledger.PropClaim]; ok {
			if c, err := ledger.ParseClaim(v); err == nil {
				p = c.Pipeline
			}
		}
		if p != "" && p != pipeline {
			return p, true
		}
	}
	return "", false
}

// stage adds to a claim's transaction the table property that makes
// f.Pipeline the table's owner, when the table names none (check has
// refused a table another pipeline owns).
func (f *Fence) stage(tx *table.Transaction, tbl *table.Table) error {
	if !f.Claim || f.Shared || tbl.Metadata().Properties()[PropOwner] == f.Pipeline {
		return nil
	}
	if err := tx.SetProperties(map[string]string{PropOwner: f.Pipeline}); err != nil {
		return fmt.Errorf("record the owner %s in the table properties: %w", f.Pipeline, err)
	}
	return nil
}

// check refuses a commit staged on tbl when another pipeline owns the
// table (OwnedError), or when the table records an epoch of f.Pipeline
// above f.Epoch (or equal to it, for a claim).
func (f *Fence) check(tbl *table.Table, id Ident) error {
	if o, history := owner(tbl, f.Pipeline); !f.Shared && o != "" && o != f.Pipeline {
		return &OwnedError{Table: id, Pipeline: f.Pipeline, Owner: o, History: history}
	}
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

// Owner reloads the table and returns the pipeline its PropOwner names
// ("" when none does yet).
func (t *Table) Owner(ctx context.Context) (string, error) {
	tbl, err := t.refresh(t.cat.ioContext(ctx))
	if err != nil {
		return "", err
	}
	return tbl.Metadata().Properties()[PropOwner], nil
}
