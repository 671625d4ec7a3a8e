package lakewriter

import (
	"context"
	"testing"

	"github.com/apache/iceberg-go/table"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/lakewriter/ledger"
	"github.com/floe-cdc/floe/schema"
)

// pipelineWriter commits and claims as one run of a named pipeline.
type pipelineWriter struct {
	tbl      *Table
	pipeline string
}

func (w pipelineWriter) claim() error {
	_, err := w.tbl.Commit(context.Background(), Commit{Props: ledger.Claim{Pipeline: w.pipeline, Epoch: 1, Run: w.pipeline + "-run"}.Props(),
		Token: ledger.PropClaim, Fence: &Fence{Pipeline: w.pipeline, Epoch: 1, Claim: true}})
	return err
}

func (w pipelineWriter) commit(checkpoint int64, fenced bool, rows ...schema.Row) error {
	// Unfenced: a commit of a build before fencing and ownership (epoch 0).
	c := Commit{Rows: seqOf(rows...), Props: ledger.Commit{Pipeline: w.pipeline, Checkpoint: checkpoint}.Props(), Token: ledger.PropCheckpoint}
	if fenced {
		c.Props = ledger.Commit{Pipeline: w.pipeline, Checkpoint: checkpoint, Epoch: 1}.Props()
		c.Fence = &Fence{Pipeline: w.pipeline, Epoch: 1}
	}
	_, err := w.tbl.Commit(context.Background(), c)
	return err
}

func requireOwned(t *testing.T, err error, tbl *Table, pipeline, owner string, history bool) {
	t.Helper()
	var oe *OwnedError
	require.ErrorAs(t, err, &oe)
	require.Equal(t, OwnedError{Table: tbl.Ident(), Pipeline: pipeline, Owner: owner, History: history}, *oe)
	require.NotContains(t, err.Error(), "\n")
	for _, s := range []string{tbl.Ident().String(), "pipeline " + owner, "pipeline " + pipeline, "fix:"} {
		require.Contains(t, err.Error(), s)
	}
}

// TestOwnerRecordedAndEnforced: a pipeline's first claim of a table records
// it as the owner (table property floe.owner, in the claim's metadata
// commit); another pipeline's claims and commits are then refused with an
// OwnedError naming both and the fix, also when it lost the race to claim
// a new table (its attempt was staged before the owner's claim landed),
// and nothing of it lands. A table that names no owner yet but holds
// another pipeline's commits (written by a build before ownership) is
// refused too.
func TestOwnerRecordedAndEnforced(t *testing.T) {
	c1, dir := openTestCatalog(t)
	c2 := openSecondCatalog(t, dir)
	a := pipelineWriter{tbl: ensureSimple(t, c1, "owned"), pipeline: "shard-a"}
	b := pipelineWriter{tbl: ensureSimple(t, c2, "owned"), pipeline: "shard-b"}

	// b's claim is staged on the empty table, then a claims it first.
	raced := false
	b.tbl.commitVia = func(base *table.Table) *table.Table {
		if !raced {
			raced = true
			require.NoError(t, a.claim())
		}
		return base
	}
	requireOwned(t, b.claim(), b.tbl, "shard-b", "shard-a", false)
	require.True(t, raced)
	b.tbl.commitVia = nil
	require.NoError(t, a.commit(1, true, simpleRow(1, "a")))

	meta, err := c1.LoadTable(context.Background(), a.tbl.Ident())
	require.NoError(t, err)
	tbl, err := meta.refresh(context.Background())
	require.NoError(t, err)
	require.Equal(t, "shard-a", tbl.Metadata().Properties()[PropOwner])

	requireOwned(t, b.claim(), b.tbl, "shard-b", "shard-a", false)
	requireOwned(t, b.commit(1, true, simpleRow(2, "b")), b.tbl, "shard-b", "shard-a", false)
	require.NoError(t, a.commit(2, true, simpleRow(3, "a")))
	require.Equal(t, []schema.Row{simpleRow(1, "a"), simpleRow(3, "a")}, scanAll(t, a.tbl))

	// A table written without ownership (no claim, no property).
	old := pipelineWriter{tbl: ensureSimple(t, c1, "legacy"), pipeline: "shard-a"}
	require.NoError(t, old.commit(1, false, simpleRow(1, "a")))
	other := pipelineWriter{tbl: ensureSimple(t, c2, "legacy"), pipeline: "shard-b"}
	requireOwned(t, other.claim(), other.tbl, "shard-b", "shard-a", true)
	require.NoError(t, old.claim(), "its own pipeline takes it")
	requireOwned(t, other.claim(), other.tbl, "shard-b", "shard-a", false)
}

// TestSharedTableHasNoOwner: a table several pipelines write (Fence.Shared,
// a namespace's dead-letter table) records no owner, and each pipeline's
// claims and commits land; each pipeline's own epochs still fence it.
func TestSharedTableHasNoOwner(t *testing.T) {
	c, _ := openTestCatalog(t)
	tbl := ensureSimple(t, c, "shared")
	commit := func(pipeline string, epoch int64, claim bool, rows ...schema.Row) error {
		props := ledger.Commit{Pipeline: pipeline, Checkpoint: 1, Epoch: epoch}.Props()
		token := ledger.PropCheckpoint
		if claim {
			props, token = ledger.Claim{Pipeline: pipeline, Epoch: epoch, Run: pipeline + "-run"}.Props(), ledger.PropClaim
		}
		_, err := tbl.Commit(context.Background(), Commit{Rows: seqOf(rows...), Props: props, Token: token,
			Fence: &Fence{Pipeline: pipeline, Epoch: epoch, Claim: claim, Shared: true}})
		return err
	}
	require.NoError(t, commit("shard-a", 1, true))
	require.NoError(t, commit("shard-b", 1, true))
	require.NoError(t, commit("shard-a", 1, false, simpleRow(1, "a")))
	require.NoError(t, commit("shard-b", 1, false, simpleRow(2, "b")))
	meta, err := tbl.refresh(context.Background())
	require.NoError(t, err)
	require.Empty(t, meta.Metadata().Properties()[PropOwner])
	require.NoError(t, commit("shard-b", 2, true))
	var fe *FencedError
	require.ErrorAs(t, commit("shard-b", 1, false, simpleRow(3, "old")), &fe, "shard-b's older run is fenced")
	require.NoError(t, commit("shard-a", 1, false, simpleRow(4, "a")), "shard-a's epochs are its own")
}
