package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadResultsV1 reads a version 1 file (the format before sources
// were split out) as one source.
func TestReadResultsV1(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "results_v1.json"))
	require.NoError(t, err)
	r, err := readResults(b)
	require.NoError(t, err)
	assert.Equal(t, resultsVersion, r.Version)
	assert.Equal(t, "2026-11-24", r.Date)
	assert.Equal(t, "Test CPU", r.Machine.CPU)
	require.Len(t, r.Sources, 1)
	s := r.Sources[0]
	assert.Equal(t, "postgres", s.Source)
	assert.Equal(t, "15.18", s.SourceVersion)
	assert.Equal(t, "floe v0.1.0", s.FloeVersion)
	assert.Equal(t, "full", s.Label)
	assert.Equal(t, "make bench", s.Command)
	assert.Equal(t, "2026-11-24T15:00:00Z", s.StartedAt)
	assert.Equal(t, int64(5_000_000), s.Scale.Rows)
	require.Len(t, s.Scenarios, 4)
	// The file was written by the version 1 harness: its summaries are
	// kept as written (ratio = quotient of the medians, targets of then).
	assert.Equal(t, []string{scSnapshot, scStreaming, scBigTxn, scFreshness}, names(s.Scenarios))
	assert.InDelta(t, 110_000, s.Scenarios[0].Median, 1e-9)
	assert.InDelta(t, 450_000, *s.Scenarios[0].Baseline, 1e-9)
	assert.Equal(t, ">= 0.5x raw", s.Scenarios[0].Target)
	assert.Len(t, s.Scenarios[0].Runs, 3)
	assert.Equal(t, fixedResults().Sources[0].Scenarios[1].Runs[0].Floe, s.Scenarios[0].Runs[0].Floe)
	assert.Equal(t, 2, s.Scenarios[0].Parallelism, "version 1's Scale.Parallelism moves to the snapshot")
	assert.Equal(t, ptr(400_000.0), s.Scenarios[0].Runs[0].Raw)
}

// TestReadResultsV2 reads the last version 2 file make bench wrote: its
// ratios (quotients of medians) and targets are kept as written, and it
// has no spreads.
func TestReadResultsV2(t *testing.T) {
	r, err := readResultsFile(filepath.Join("testdata", "results_v2.json"))
	require.NoError(t, err)
	assert.Equal(t, resultsVersion, r.Version)
	require.Len(t, r.Sources, 2)
	pg := r.Sources[0]
	assert.Equal(t, "postgres", pg.Source)
	require.Equal(t, scSnapshot, pg.Scenarios[0].Name)
	assert.InDelta(t, 0.372, *pg.Scenarios[0].Ratio, 1e-9)
	assert.Nil(t, pg.Scenarios[0].RatioRange)
	assert.Len(t, pg.Scenarios[0].Runs, 3)
}

// TestReadResultsV3: a version 3 file's single snapshot parallelism
// moves to the scale's list and its snapshot scenario, where version 4
// compares and renders it.
func TestReadResultsV3(t *testing.T) {
	r, err := readResultsFile(filepath.Join("testdata", "results_v3.json"))
	require.NoError(t, err)
	require.Len(t, r.Sources, 2)
	pg := r.Sources[0]
	assert.Zero(t, pg.Scale.Parallelism)
	assert.Equal(t, []int{2}, pg.Scale.SnapshotParallelism)
	require.Equal(t, scSnapshot, pg.Scenarios[0].Name)
	assert.Equal(t, 2, pg.Scenarios[0].Parallelism)
	assert.Zero(t, pg.Scenarios[1].Parallelism, "only the snapshot has a parallelism")
	md, err := renderFile(filepath.Join("testdata", "results_v3.json"))
	require.NoError(t, err)
	assert.Contains(t, md, "| postgres | snapshot: 5,000,000 rows, 4 tables, ~141 B/row, parallelism 2 |")
	assert.Contains(t, md, "| snapshot >= 0.6x raw | 0.24x at 2: **no** |")
}

func names(scs []Scenario) []string {
	var out []string
	for _, s := range scs {
		out = append(out, s.Name)
	}
	return out
}

func TestReadResultsRoundTripAndVersions(t *testing.T) {
	want := fixedResults()
	js, err := marshalResults(want)
	require.NoError(t, err)
	got, err := readResults(js)
	require.NoError(t, err)
	assert.Equal(t, want, got)

	v4, err := readResults([]byte(`{"version": 4, "date": "2026-12-01", "sources": [{"source": "postgres"}]}`))
	require.NoError(t, err, "version 4 files are read as they are")
	assert.Equal(t, resultsVersion, v4.Version)

	for _, bad := range []string{fmt.Sprintf(`{"version": %d}`, resultsVersion+1), `{"version": 0}`, `not json`} {
		_, err := readResults([]byte(bad))
		assert.Error(t, err, bad)
	}
}

func TestMergeResults(t *testing.T) {
	src := func(kind, label string) SourceResults { return SourceResults{Source: kind, Label: label} }
	tests := []struct {
		name        string
		base, fresh []SourceResults
		want        []SourceResults
	}{
		{"add mariadb to a postgres file", []SourceResults{src("postgres", "full")}, []SourceResults{src("mariadb", "custom")},
			[]SourceResults{src("postgres", "full"), src("mariadb", "custom")}},
		{"replace mariadb, keep postgres", []SourceResults{src("postgres", "full"), src("mariadb", "quick")}, []SourceResults{src("mariadb", "full")},
			[]SourceResults{src("postgres", "full"), src("mariadb", "full")}},
		{"postgres first whatever the order", []SourceResults{src("mariadb", "full")}, []SourceResults{src("postgres", "quick")},
			[]SourceResults{src("postgres", "quick"), src("mariadb", "full")}},
		{"replace both", []SourceResults{src("postgres", "a"), src("mariadb", "a")}, []SourceResults{src("postgres", "b"), src("mariadb", "b")},
			[]SourceResults{src("postgres", "b"), src("mariadb", "b")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := &Results{Version: 2, Date: "2026-11-24", Machine: Machine{CPU: "old"}, Sources: tt.base}
			fresh := &Results{Version: 2, Date: "2026-11-25", Machine: Machine{CPU: "new"}, Sources: tt.fresh}
			got := mergeResults(base, fresh)
			assert.Equal(t, tt.want, got.Sources)
			assert.Equal(t, "2026-11-24", got.Date, "the merged file keeps its date")
			assert.Equal(t, "new", got.Machine.CPU)
			assert.Equal(t, resultsVersion, got.Version)
			assert.Len(t, base.Sources, len(tt.base), "base is not modified")
		})
	}
}

func TestParseFlagsSources(t *testing.T) {
	o, err := parseFlags(nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"postgres", "mariadb"}, o.sources)
	o, err = parseFlags([]string{"-source", "mariadb", "-merge", "bench/results/x.json"})
	require.NoError(t, err)
	assert.Equal(t, []string{"mariadb"}, o.sources)
	assert.Equal(t, "bench/results/x.json", o.merge)
	assert.Equal(t, "make bench BENCH_FLAGS='-source mariadb'", reproduceCommand([]string{"-source", "mariadb", "-merge", "x.json"}))
}

// TestRenderFile: -render summarizes an older file's runs again with the
// current rules: the paired ratio with its spread, the issue 16 targets.
func TestRenderFile(t *testing.T) {
	md, err := renderFile(filepath.Join("testdata", "results_v2.json"))
	require.NoError(t, err)
	assert.Contains(t, md, "| postgres | streaming: 1,000,004 mixed changes, 100 per transaction | 104,653 changes/s [99,862-105,343] | 341,339 changes/s [333,438-347,783] | 0.30x [0.30-0.31] |")
	assert.Contains(t, md, "| snapshot >= 0.6x raw | 0.37x at 2: **no** | 0.30x at 2: **no** |")
	assert.Contains(t, md, "| freshness p99 <= 2 s at 1 s checkpoints | not measured: checkpoint 10s | not measured: checkpoint 10s |")
	assert.NotContains(t, md, "alternating", "the 2026-11-30 runs did not alternate")
}
