package checkpoint

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/lakewriter/ledger"
)

// testPos is a minimal Position for unit tests.
type testPos int

func (p testPos) String() string { return "test.v1:" + string(rune('0'+int(p))) }
func (p testPos) Compare(o capture.Position) int {
	q := o.(testPos)
	switch {
	case p < q:
		return -1
	case p > q:
		return 1
	}
	return 0
}

func decodeTestPos(s string) (capture.Position, error) {
	return testPos(s[len(s)-1] - '0'), nil
}

// TestCommitPropsGolden: what the coordinator records of a table's state
// (which plan it keeps, when converge-until is dropped) encodes to the
// summaries the ledger's golden file pins, byte for byte. The file is
// written only by the ledger's TestCommitPropsGolden (-update there).
func TestCommitPropsGolden(t *testing.T) {
	plan := &capture.SnapshotPlan{
		Chunks: []capture.Chunk{{Index: 0, Upper: []string{"100"}}, {Index: 1, Lower: []string{"100"}}},
		Done:   map[int]bool{0: true},
	}
	watermarked := plan.Clone()
	watermarked.MarkDone(1, testPos(6).String())
	watermarked.Watermarks[0] = testPos(5).String()
	cp := func(checkpoint int64, pos capture.Position, plan *capture.SnapshotPlan, keepUntil, convergeUntil capture.Position, changes ...ledger.SchemaChange) map[string]string {
		return commitMeta{pipeline: "shop", checkpoint: checkpoint, epoch: 3, pos: pos, plan: plan, keepUntil: keepUntil,
			convergeUntil: convergeUntil, schemaChanges: changes}.props()
	}
	got := map[string]map[string]string{
		"streaming":  cp(42, testPos(7), nil, nil, nil),
		"snapshot":   cp(3, testPos(2), plan, nil, testPos(4)),
		"converging": cp(5, testPos(3), nil, nil, testPos(4)),
		"converged":  cp(6, testPos(4), nil, nil, testPos(4)),
		// A complete plan with chunk watermarks, kept until passed.
		"watermarks": cp(7, testPos(2), watermarked, testPos(6), nil),
		"passed":     cp(8, testPos(6), watermarked, testPos(6), nil),
		// The first commit after the table's Iceberg schema evolved.
		"evolved": cp(9, testPos(7), nil, nil, nil, ledger.SchemaChange{Version: ledger.SchemaChangeVersion, At: testPos(7).String(),
			Changes: []string{"add column n string", "widen column a int -> long"}, SchemaID: 1}),
		"evolved twice": cp(10, testPos(8), nil, nil, nil,
			ledger.SchemaChange{Version: ledger.SchemaChangeVersion, At: testPos(7).String(), Changes: []string{"add column n string"}, SchemaID: 1},
			ledger.SchemaChange{Version: ledger.SchemaChangeVersion, At: testPos(8).String(), Changes: []string{"make column s optional"}, SchemaID: 2}),
		// A schema change registered in a schema registry.
		"evolved registered": cp(14, testPos(9), nil, nil, nil, ledger.SchemaChange{At: testPos(9).String(),
			Changes: []string{"add column n string"}, SchemaID: 3,
			Registry: &ledger.RegistryEntry{Subject: "shop.orders-value", ID: 7, Version: 2}}),
		// Every commit of a run records its source table (and identity,
		// for a source that has them).
		"source table": commitMeta{pipeline: "shop", checkpoint: 11, epoch: 3, pos: testPos(8),
			source: ledger.SourceTable{Table: "public.orders", Identity: "pg.v1:rel=16384/pub=16390"}}.props(),
		"source table without identity": commitMeta{pipeline: "shop", checkpoint: 12, epoch: 3, pos: testPos(8),
			source: ledger.SourceTable{Table: "shop.orders"}}.props(),
		// The commit that empties a table whose continuity was lost, with
		// its new snapshot plan.
		"reset": commitMeta{pipeline: "shop", checkpoint: 13, epoch: 3, pos: testPos(9), plan: &capture.SnapshotPlan{
			Chunks: []capture.Chunk{{Index: 0, Upper: []string{"100"}}, {Index: 1, Lower: []string{"100"}}}, Done: map[int]bool{}},
			source: ledger.SourceTable{Table: "public.orders", Identity: "pg.v1:rel=16400/pub=16402"},
			reset: &ledger.Reset{Cause: ledger.CauseIdentity, Reason: "its identity at the source is pg.v1:rel=16400/pub=16402 but its last commit (at test.v1:3) recorded pg.v1:rel=16384/pub=16390",
				Previous: testPos(3).String()}}.props(),
	}
	// The claim a run takes a table over with (see claim).
	got["claim"] = ledger.Claim{Pipeline: "shop", Epoch: 4, Run: "floe-shop-0/4242/9f3a0c1d"}.Props()
	b, err := json.MarshalIndent(got, "", "  ")
	require.NoError(t, err)
	want, err := os.ReadFile(filepath.Join("..", "lakewriter", "ledger", "testdata", "props.golden"))
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(b))
}

func TestParsePropsRoundTrip(t *testing.T) {
	plan := &capture.SnapshotPlan{Chunks: []capture.Chunk{{Index: 0}, {Index: 1}}, Done: map[int]bool{1: true}}
	src := ledger.SourceTable{Table: "public.orders", Identity: "pg.v1:rel=1/pub=2"}
	st, err := parseProps(commitMeta{pipeline: "shop", checkpoint: 9, pos: testPos(5), plan: plan, convergeUntil: testPos(8), source: src}.props(), decodeTestPos)
	require.NoError(t, err)
	require.True(t, st.found)
	require.Equal(t, int64(9), st.checkpoint)
	require.Equal(t, testPos(5), st.position)
	require.Equal(t, []capture.Chunk{{Index: 0}}, st.plan.Remaining())
	require.Equal(t, testPos(8), st.convergeUntil)
	src.Version = ledger.SourceTableVersion
	require.Equal(t, &src, st.source)

	// A complete plan is not written: the table's snapshot is over.
	plan.MarkDone(0, "")
	st, err = parseProps(commitMeta{pipeline: "shop", checkpoint: 10, pos: testPos(6), plan: plan, convergeUntil: testPos(6)}.props(), decodeTestPos)
	require.NoError(t, err)
	require.Nil(t, st.plan)
	require.Nil(t, st.source, "a commit that records no source table (an older build's)")
	require.Nil(t, st.convergeUntil, "a table at its converge position has converged")

	st, err = parseProps(nil, decodeTestPos)
	require.NoError(t, err)
	require.False(t, st.found)

	_, err = parseProps(map[string]string{ledger.PropVersion: "3", ledger.PropCheckpoint: "1"}, decodeTestPos)
	require.ErrorContains(t, err, "floe.version")
	_, err = parseProps(map[string]string{ledger.PropVersion: "1", ledger.PropCheckpoint: "1", ledger.PropSourceTable: `{"v":2,"table":"a.b"}`}, decodeTestPos)
	require.ErrorContains(t, err, "floe.source-table: version 2, this build reads 1")
}
