package checkpoint

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture"
)

var update = flag.Bool("update", false, "rewrite golden files")

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

// TestCommitPropsGolden pins the snapshot summary properties, a persisted format.
func TestCommitPropsGolden(t *testing.T) {
	plan := &capture.SnapshotPlan{
		Chunks: []capture.Chunk{{Index: 0, Upper: []string{"100"}}, {Index: 1, Lower: []string{"100"}}},
		Done:   map[int]bool{0: true},
	}
	watermarked := plan.Clone()
	watermarked.MarkDone(1, testPos(6).String())
	watermarked.Watermarks[0] = testPos(5).String()
	got := map[string]map[string]string{
		"streaming":  commitProps("shop", 42, testPos(7), nil, nil, nil),
		"snapshot":   commitProps("shop", 3, testPos(2), plan, nil, testPos(4)),
		"converging": commitProps("shop", 5, testPos(3), nil, nil, testPos(4)),
		"converged":  commitProps("shop", 6, testPos(4), nil, nil, testPos(4)),
		// A complete plan with chunk watermarks, kept until passed.
		"watermarks": commitProps("shop", 7, testPos(2), watermarked, testPos(6), nil),
		"passed":     commitProps("shop", 8, testPos(6), watermarked, testPos(6), nil),
		// The first commit after the table's Iceberg schema evolved.
		"evolved": commitProps("shop", 9, testPos(7), nil, nil, nil, SchemaChange{Version: SchemaChangeVersion, At: testPos(7).String(),
			Changes: []string{"add column n string", "widen column a int -> long"}, SchemaID: 1}),
		"evolved twice": commitProps("shop", 10, testPos(8), nil, nil, nil,
			SchemaChange{Version: SchemaChangeVersion, At: testPos(7).String(), Changes: []string{"add column n string"}, SchemaID: 1},
			SchemaChange{Version: SchemaChangeVersion, At: testPos(8).String(), Changes: []string{"make column s optional"}, SchemaID: 2}),
	}
	b, err := json.MarshalIndent(got, "", "  ")
	require.NoError(t, err)
	golden := filepath.Join("testdata", "props.golden")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(golden, b, 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(b))
}

func TestParsePropsRoundTrip(t *testing.T) {
	plan := &capture.SnapshotPlan{Chunks: []capture.Chunk{{Index: 0}, {Index: 1}}, Done: map[int]bool{1: true}}
	st, err := parseProps(commitProps("shop", 9, testPos(5), plan, nil, testPos(8)), decodeTestPos)
	require.NoError(t, err)
	require.True(t, st.found)
	require.Equal(t, int64(9), st.checkpoint)
	require.Equal(t, testPos(5), st.position)
	require.Equal(t, []capture.Chunk{{Index: 0}}, st.plan.Remaining())
	require.Equal(t, testPos(8), st.convergeUntil)

	// A complete plan is not written: the table's snapshot is over.
	plan.MarkDone(0, "")
	st, err = parseProps(commitProps("shop", 10, testPos(6), plan, nil, testPos(6)), decodeTestPos)
	require.NoError(t, err)
	require.Nil(t, st.plan)
	require.Nil(t, st.convergeUntil, "a table at its converge position has converged")

	st, err = parseProps(nil, decodeTestPos)
	require.NoError(t, err)
	require.False(t, st.found)

	_, err = parseProps(map[string]string{PropVersion: "2", PropCheckpoint: "1"}, decodeTestPos)
	require.ErrorContains(t, err, "floe.version")
}
