package ledger

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files")

// Encoded snapshot plans (capture.SnapshotPlan, opaque here).
const (
	planOneDone  = `{"v":2,"chunks":[{"i":0,"hi":["100"]},{"i":1,"lo":["100"]}],"done":"0"}`
	planNoneDone = `{"v":2,"chunks":[{"i":0,"hi":["100"]},{"i":1,"lo":["100"]}],"done":""}`
	planWatermks = `{"v":2,"chunks":[{"i":0,"hi":["100"]},{"i":1,"lo":["100"]}],"done":"0-1","w":{"test.v1:5":"0","test.v1:6":"1"}}`
)

// goldenCommits are the cases of testdata/props.golden. checkpoint's
// TestCommitPropsGolden derives the same summaries from its own state and
// compares them with the same file.
func goldenCommits() map[string]Commit {
	shop := func(checkpoint int64, pos string) Commit {
		return Commit{Pipeline: "shop", Checkpoint: checkpoint, Epoch: 3, Position: pos}
	}
	with := func(c Commit, f func(*Commit)) Commit { f(&c); return c }
	return map[string]Commit{
		"streaming":  shop(42, "test.v1:7"),
		"snapshot":   with(shop(3, "test.v1:2"), func(c *Commit) { c.Snapshot, c.ConvergeUntil = planOneDone, "test.v1:4" }),
		"converging": with(shop(5, "test.v1:3"), func(c *Commit) { c.ConvergeUntil = "test.v1:4" }),
		"converged":  shop(6, "test.v1:4"),
		"watermarks": with(shop(7, "test.v1:2"), func(c *Commit) { c.Snapshot = planWatermks }),
		"passed":     shop(8, "test.v1:6"),
		// Record versions are set by the encoding.
		"evolved": with(shop(9, "test.v1:7"), func(c *Commit) {
			c.SchemaChanges = []SchemaChange{{At: "test.v1:7", Changes: []string{"add column n string", "widen column a int -> long"}, SchemaID: 1}}
		}),
		"evolved twice": with(shop(10, "test.v1:8"), func(c *Commit) {
			c.SchemaChanges = []SchemaChange{{At: "test.v1:7", Changes: []string{"add column n string"}, SchemaID: 1},
				{At: "test.v1:8", Changes: []string{"make column s optional"}, SchemaID: 2}}
		}),
		"evolved registered": with(shop(14, "test.v1:9"), func(c *Commit) {
			c.SchemaChanges = []SchemaChange{{At: "test.v1:9", Changes: []string{"add column n string"}, SchemaID: 3,
				Registry: &RegistryEntry{Subject: "shop.orders-value", ID: 7, Version: 2}}}
		}),
		"source table": with(shop(11, "test.v1:8"), func(c *Commit) {
			c.Source = &SourceTable{Table: "public.orders", Identity: "pg.v1:rel=16384/pub=16390"}
		}),
		"source table without identity": with(shop(12, "test.v1:8"), func(c *Commit) { c.Source = &SourceTable{Table: "shop.orders"} }),
		"reset": with(shop(13, "test.v1:9"), func(c *Commit) {
			c.Snapshot = planNoneDone
			c.Source = &SourceTable{Table: "public.orders", Identity: "pg.v1:rel=16400/pub=16402"}
			c.Reset = &Reset{Cause: CauseIdentity, Reason: "its identity at the source is pg.v1:rel=16400/pub=16402 but its last commit (at test.v1:3) recorded pg.v1:rel=16384/pub=16390",
				Previous: "test.v1:3"}
		}),
	}
}

// goldenClaim is the "claim" case of testdata/props.golden (version set by
// the encoding).
var goldenClaim = Claim{Pipeline: "shop", Epoch: 4, Run: "floe-shop-0/4242/9f3a0c1d"}

// TestCommitPropsGolden pins the snapshot summary properties of an
// ingestion commit, a persisted format.
func TestCommitPropsGolden(t *testing.T) {
	got := map[string]map[string]string{}
	for name, c := range goldenCommits() {
		got[name] = c.Props()
	}
	got["claim"] = goldenClaim.Props()
	b, err := json.MarshalIndent(got, "", "  ")
	require.NoError(t, err)
	golden := filepath.Join("testdata", "props.golden")
	if *update {
		require.NoError(t, os.WriteFile(golden, b, 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(b), "the summary properties changed: bump the version of what changed and rerun with -update")
}

// TestParseGolden: every golden commit parses back to what was encoded
// (the history records through their own parsers).
func TestParseGolden(t *testing.T) {
	for name, c := range goldenCommits() {
		props := c.Props()
		got, err := Parse(props)
		require.NoError(t, err, name)
		want := c
		want.Reset, want.SchemaChanges = nil, nil // not Parse's
		if c.Source != nil {
			src := *c.Source
			src.Version = SourceTableVersion
			want.Source = &src
		}
		require.Equal(t, want, got, name)
		if s, ok := props[PropReset]; ok {
			r, err := ParseReset(s)
			require.NoError(t, err)
			wantReset := *c.Reset
			wantReset.Version = ResetVersion
			require.Equal(t, wantReset, r, name)
		}
		if s, ok := props[PropSchemaChange]; ok {
			changes, err := ParseSchemaChanges(s)
			require.NoError(t, err)
			require.Len(t, changes, len(c.SchemaChanges), name)
			for i, ch := range changes {
				wantVersion := SchemaChangeVersion
				if c.SchemaChanges[i].Registry == nil {
					wantVersion = schemaChangeVersionV1 // nothing of version 2 to record
				}
				require.Equal(t, wantVersion, ch.Version, name)
				require.Equal(t, c.SchemaChanges[i].Changes, ch.Changes, name)
				require.Equal(t, c.SchemaChanges[i].At, ch.At, name)
				require.Equal(t, c.SchemaChanges[i].Registry, ch.Registry, name)
			}
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		props map[string]string
		want  string
	}{
		{"newer set", map[string]string{PropVersion: "3", PropCheckpoint: "1"}, `snapshot summary has floe.version="3", this build reads "1" or "2"`},
		{"no epoch", map[string]string{PropVersion: "2", PropCheckpoint: "1"}, `parse floe.epoch: "" is no epoch`},
		{"bad epoch", map[string]string{PropVersion: "2", PropCheckpoint: "1", PropEpoch: "0"}, `parse floe.epoch: "0" is no epoch`},
		{"no set version", map[string]string{PropCheckpoint: "1"}, `floe.version=""`},
		{"bad checkpoint", map[string]string{PropVersion: "1", PropCheckpoint: "x"}, "parse floe.checkpoint"},
		{"newer source table", map[string]string{PropVersion: "1", PropCheckpoint: "1", PropSourceTable: `{"v":2,"table":"a.b"}`},
			"parse floe.source-table: version 2, this build reads 1"},
		{"broken source table", map[string]string{PropVersion: "1", PropCheckpoint: "1", PropSourceTable: `{`}, "parse floe.source-table"},
	} {
		_, err := Parse(tc.props)
		require.ErrorContains(t, err, tc.want, tc.name)
	}
	// History records are not Parse's to refuse.
	_, err := Parse(map[string]string{PropVersion: "1", PropCheckpoint: "1", PropReset: `{"v":9}`, PropSchemaChange: `[{"v":9}]`})
	require.NoError(t, err)
	_, err = ParseReset(`{"v":9}`)
	require.ErrorContains(t, err, "parse floe.reset: version 9, this build reads 1")
	_, err = ParseSchemaChanges(`[{"v":9}]`)
	require.ErrorContains(t, err, "parse floe.schema-change: version 9, this build reads 1 or 2")
}

func TestLast(t *testing.T) {
	type snap struct {
		id    int
		props map[string]string
	}
	summary := func(s snap) map[string]string { return s.props }
	hist := []snap{ // newest first
		{5, CompactionProps("ab")},
		{4, Commit{Pipeline: "other", Checkpoint: 9}.Props()},
		{3, Commit{Pipeline: "shop", Checkpoint: 2}.Props()},
		{2, nil},
		{1, Commit{Pipeline: "shop", Checkpoint: 1}.Props()},
	}
	s, ok := Last(hist, summary, "shop")
	require.True(t, ok)
	require.Equal(t, 3, s.id)
	s, ok = Last(hist, summary, "other")
	require.True(t, ok)
	require.Equal(t, 4, s.id)
	_, ok = Last(hist, summary, "none")
	require.False(t, ok)
	_, ok = Last(nil, summary, "shop")
	require.False(t, ok)

	require.True(t, IsCommit(hist[1].props))
	require.False(t, IsCommit(hist[0].props), "a compaction snapshot is no ingestion commit")
	require.True(t, CommitOf("shop")(hist[2].props))
	require.False(t, CommitOf("shop")(hist[1].props))
	require.True(t, IsCompaction(hist[0].props))
	require.True(t, IsPass(hist[0].props, "ab"))
	require.False(t, IsPass(hist[0].props, "cd"))
	require.False(t, IsCompaction(hist[2].props))
}

// TestCompactionProps pins the rewrite snapshot's properties (also pinned,
// as a real pass writes them, by compaction's TestCompactionPropsGolden).
func TestCompactionProps(t *testing.T) {
	require.Equal(t, map[string]string{"floe.compaction": "0123456789abcdef", "floe.compaction-version": "1"},
		CompactionProps("0123456789abcdef"))
}

// TestEpochOf: which snapshots record a pipeline's epoch, and what epoch.
func TestEpochOf(t *testing.T) {
	for _, tc := range []struct {
		name  string
		props map[string]string
		owned bool
		want  Owned
	}{
		{"commit", Commit{Pipeline: "shop", Checkpoint: 2, Epoch: 5}.Props(), true, Owned{Epoch: 5}},
		{"commit before fencing", map[string]string{PropVersion: "1", PropPipeline: "shop", PropCheckpoint: "1"}, true, Owned{}},
		{"claim", goldenClaim.Props(), true, Owned{Epoch: 4, Claim: &Claim{Version: ClaimVersion, Pipeline: "shop", Epoch: 4, Run: goldenClaim.Run}}},
		{"other pipeline's commit", Commit{Pipeline: "other", Checkpoint: 2, Epoch: 5}.Props(), false, Owned{}},
		{"other pipeline's claim", Claim{Pipeline: "other", Epoch: 7, Run: "x"}.Props(), false, Owned{}},
		{"compaction", CompactionProps("ab"), false, Owned{}},
		{"nothing", nil, false, Owned{}},
	} {
		got, owned, err := EpochOf(tc.props, "shop")
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.owned, owned, tc.name)
		require.Equal(t, tc.want, got, tc.name)
	}
	require.Equal(t, "1", Commit{Pipeline: "shop", Checkpoint: 1}.Props()[PropVersion], "a commit without an epoch is the version 1 set")
	require.True(t, IsClaim(goldenClaim.Props()))
	require.False(t, IsCommit(goldenClaim.Props()), "a claim is no ingestion commit")
	for name, props := range map[string]map[string]string{
		"newer claim":     {PropClaim: `{"v":2,"pipeline":"shop","epoch":3}`},
		"claim epoch 0":   {PropClaim: `{"v":1,"pipeline":"shop","epoch":0}`},
		"newer commit":    {PropVersion: "3", PropPipeline: "shop", PropCheckpoint: "1"},
		"commit no epoch": {PropVersion: "2", PropPipeline: "shop", PropCheckpoint: "1"},
	} {
		_, owned, err := EpochOf(props, "shop")
		require.Error(t, err, name)
		require.True(t, owned, name)
	}
}
