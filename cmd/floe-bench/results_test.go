package main

import (
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// fixedResults is a results value with every kind of scenario.
func fixedResults() *Results {
	snap1 := Scenario{Name: scSnapshot, Source: "postgres", Unit: "rows/s", Parallelism: 1, Runs: []Run{
		{Floe: 60_000, Raw: ptr(250_000.0), Order: orderRawFirst, Count: 5_000_000, FloeSeconds: 83.3, RawSeconds: ptr(20.0), PeakRSSBytes: 250 << 20,
			CPUSeconds: 80, RawCPUSeconds: ptr(5.0)},
		{Floe: 60_000, Raw: ptr(250_000.0), Order: orderFloeFirst, Count: 5_000_000, FloeSeconds: 83.3, RawSeconds: ptr(20.0), PeakRSSBytes: 250 << 20,
			CPUSeconds: 80, RawCPUSeconds: ptr(5.0)},
		{Floe: 50_000, Raw: ptr(300_000.0), Order: orderRawFirst, Count: 5_000_000, FloeSeconds: 100, RawSeconds: ptr(16.7), PeakRSSBytes: 250 << 20,
			CPUSeconds: 80, RawCPUSeconds: ptr(5.0)},
	}}
	snap := Scenario{Name: scSnapshot, Source: "postgres", Unit: "rows/s", Parallelism: 2, Runs: []Run{
		{Floe: 100_000, Raw: ptr(400_000.0), Order: orderRawFirst, Count: 5_000_000, FloeSeconds: 50, RawSeconds: ptr(12.5), PeakRSSBytes: 300 << 20,
			CPUSeconds: 95, RawCPUSeconds: ptr(6.0), Profile: "snapshot-run1.pprof"},
		{Floe: 120_000, Raw: ptr(500_000.0), Order: orderFloeFirst, Count: 5_000_000, FloeSeconds: 41.7, RawSeconds: ptr(10.0), PeakRSSBytes: 310 << 20,
			CPUSeconds: 90, RawCPUSeconds: ptr(5.5)},
		{Floe: 110_000, Raw: ptr(450_000.0), Order: orderRawFirst, Count: 5_000_000, FloeSeconds: 45.5, RawSeconds: ptr(11.1), PeakRSSBytes: 305 << 20,
			CPUSeconds: 92, RawCPUSeconds: ptr(5.0)},
	}}
	stream := Scenario{Name: scStreaming, Source: "postgres", Unit: "changes/s", Runs: []Run{
		{Floe: 80_000, Raw: ptr(100_000.0), Count: 1_000_004, FloeSeconds: 12.5, RawSeconds: ptr(10.0), PeakRSSBytes: 2 << 30, Txns: 10_001, LoadRate: 70_000},
	}}
	big := Scenario{Name: scBigTxn, Source: "postgres", Unit: "rows/s", Runs: []Run{
		{Floe: 50_000, Raw: ptr(100_000.0), Count: 1_000_004, FloeSeconds: 20, RawSeconds: ptr(10.0), PeakRSSBytes: 700 << 20, Txns: 2},
	}}
	fresh := Scenario{Name: scFreshness, Source: "postgres", Unit: "s", Runs: []Run{
		{Floe: 11.2, Count: 600_004, Txns: 12_001, LoadRate: 9_998, P50Seconds: ptr(6.1), P99Seconds: ptr(11.2), MaxSeconds: ptr(11.9), PeakRSSBytes: 200 << 20,
			Files:            []TableFiles{{Table: "t1", Data: 3, Deletes: 1, MaxData: 40, MaxDeletes: 38}, {Table: "t2", Data: 2, Deletes: 0, MaxData: 45, MaxDeletes: 30}},
			CompactionPasses: 40},
		{Floe: 12.4, Count: 600_004, Txns: 12_001, LoadRate: 9_990, P50Seconds: ptr(6.5), P99Seconds: ptr(12.4), MaxSeconds: ptr(13.0), PeakRSSBytes: 210 << 20,
			Files: []TableFiles{{Table: "t1", Data: 4, Deletes: 2, MaxData: 41, MaxDeletes: 39}}, CompactionPasses: 38},
	}}
	reads := Scenario{Name: scReads, Source: "postgres", Unit: "s", Runs: []Run{
		{Floe: 0.9, Count: 120_000, LoadRate: 2_000, FloeSeconds: 60, PeakRSSBytes: 180 << 20, CPUSeconds: 30, Reads: &ReadRun{Table: "orders", Rows: 50_000,
			Streaming: ReadPhase{Scan: Latency{N: 40, P50: 0.6, P99: 0.9, Max: 1.1}, Lookup: Latency{N: 40, P50: 0.3, P99: 0.5, Max: 0.6}, DataFiles: 61, DeleteFiles: 60},
			Compacted: ReadPhase{Scan: Latency{N: 40, P50: 0.2, P99: 0.3, Max: 0.3}, Lookup: Latency{N: 40, P50: 0.2, P99: 0.4, Max: 0.4}, DataFiles: 1, DeleteFiles: 0}}},
	}}
	scs := []Scenario{snap1, snap, stream, big, fresh, reads}
	for i := range scs {
		scs[i].summarize(1)
	}
	setScaling(scs)
	pgPrev := SourceResults{Scenarios: []Scenario{
		{Name: scSnapshot, Parallelism: 2, Comparison: Comparison{Median: 105_000, Baseline: ptr(440_000.0), Ratio: ptr(0.239)}},
		{Name: scStreaming, Comparison: Comparison{Median: 79_000, Baseline: ptr(200_000.0), Ratio: ptr(0.395)}},
	}}
	compareBaselines(&SourceResults{Scenarios: scs}, "2026-11-20.json", &pgPrev, 0.15)
	mySnap := Scenario{Name: scSnapshot, Source: "mariadb", Unit: "rows/s", Parallelism: 2, Runs: []Run{
		{Floe: 50_000, Raw: ptr(200_000.0), Count: 1_000_000, FloeSeconds: 20, RawSeconds: ptr(5.0), PeakRSSBytes: 400 << 20, CPUSeconds: 31.5, Profile: "mariadb-snapshot-run1.pprof"},
	}}
	myStream := Scenario{Name: scStreaming, Source: "mariadb", Unit: "changes/s", Runs: []Run{
		{Floe: 30_000, Raw: ptr(150_000.0), Count: 300_004, FloeSeconds: 10, RawSeconds: ptr(2.0), PeakRSSBytes: 150 << 20, Txns: 3_001, LoadRate: 20_000},
	}}
	myHuge := Scenario{Name: scHugeTxn, Source: "mariadb", Unit: "rows/s", Runs: []Run{
		{Floe: 60_000, Raw: ptr(200_000.0), Count: 10_000_004, FloeSeconds: 166.7, RawSeconds: ptr(50.0), PeakRSSBytes: 900 << 20, CPUSeconds: 250.5, Txns: 2},
	}}
	myLarge := Scenario{Name: scLargeValues, Source: "mariadb", Unit: "MiB/s", Runs: []Run{
		{Floe: 40.5, Count: 18, FloeSeconds: 30.3, PeakRSSBytes: 1200 << 20, CPUSeconds: 45.2, Txns: 10, Bytes: 1200 << 20},
	}}
	myMany := func(n int, rss int64) Scenario {
		return Scenario{Name: scManyTables, Source: "mariadb", Unit: "MiB", Tables: n, Runs: []Run{
			{Floe: float64(rss) / (1 << 20), Count: int64(n*200) + 7_500, FloeSeconds: 38.5, PeakRSSBytes: rss, CPUSeconds: 12.5, Txns: 2_501, LoadRate: 299.5},
		}}
	}
	myScs := []Scenario{mySnap, myStream, myHuge, myLarge, myMany(1, 120<<20), myMany(50, 160<<20), myMany(200, 319<<20)}
	for i := range myScs {
		myScs[i].summarize(10)
	}
	setPerTable(myScs)
	return &Results{
		Version: resultsVersion, Date: "2026-11-24",
		Machine: Machine{NProc: 2, MemBytes: 24 << 30, CPU: "Test CPU", OS: "linux/amd64", GoVersion: "go1.26.8"},
		Sources: []SourceResults{{
			Source: "postgres", SourceVersion: "15.18", FloeVersion: "floe v0.1.0", StartedAt: "2026-11-24T15:00:00Z",
			Label: "full", Command: "make bench",
			Scale: Scale{Rows: 5_000_000, Tables: 4, AvgRowBytes: 141.2, Changes: 1_000_000, TxnChanges: 100, BigTxnRows: 1_000_000,
				FreshnessRate: 10_000, FreshnessSeconds: 60, Runs: 3, SnapshotParallelism: []int{1, 2}, ChunkRows: 50_000,
				StreamInterval: "1s", CheckpointInterval: "1s", PollInterval: "100ms", CompactionInterval: "1m0s",
				ReadsRate: 2_000, ReadsSeconds: 60},
			Scenarios: scs,
		}, {
			Source: "mariadb", SourceVersion: "10.11.14-MariaDB", FloeVersion: "floe v0.1.1", StartedAt: "2026-11-24T16:00:00Z",
			Label: "custom", Command: "make bench BENCH_FLAGS='-source mariadb -rows 1000000 -changes 300000 -runs 1'",
			Scale: Scale{Rows: 1_000_000, Tables: 4, AvgRowBytes: 180.5, Changes: 300_000, TxnChanges: 100, BigTxnRows: 1_000_000,
				HugeTxnRows: 10_000_000, LargeValueBytes: 50 << 20, LargeValuesPerRow: 1, MemoryRuns: 1,
				ManyTablesRows: 200, ManyTablesRate: 100, ManyTablesSeconds: 25, ManyTablesInterval: "10s",
				FreshnessRate: 10_000, FreshnessSeconds: 60, Runs: 1, SnapshotParallelism: []int{2}, ChunkRows: 50_000,
				StreamInterval: "1s", CheckpointInterval: "10s", PollInterval: "100ms"},
			Scenarios: myScs,
		}},
	}
}

// TestResultsGolden pins the persisted results format (JSON) and the
// markdown derived from it.
func TestResultsGolden(t *testing.T) {
	r := fixedResults()
	js, err := marshalResults(r)
	require.NoError(t, err)
	for name, got := range map[string][]byte{"results.json.golden": js, "results.md.golden": []byte(markdown(r))} {
		path := filepath.Join("testdata", name)
		if *update {
			require.NoError(t, os.WriteFile(path, got, 0o644))
		}
		want, err := os.ReadFile(path)
		require.NoError(t, err, "run go test -update to create the golden files")
		assert.Equal(t, string(want), string(got), "%s differs (go test -update rewrites it after an intended change; bump resultsVersion if the JSON meaning changed)", name)
	}
}

func TestSummarize(t *testing.T) {
	r := fixedResults().Sources[0]
	r.Scenarios = r.Scenarios[1:5] // snapshot at 2, streaming, bigtxn, freshness
	tests := []struct {
		name             string
		sc               Scenario
		median, baseline float64
		ratio            float64
		met, rssMet      *bool
		peakRSS          int64
		target           string
	}{
		{"snapshot", r.Scenarios[0], 110_000, 450_000, 0.244, ptr(false), ptr(true), 310 << 20, ">= 0.6x raw"},
		{"streaming", r.Scenarios[1], 80_000, 100_000, 0.8, ptr(true), ptr(false), 2 << 30, ">= 0.7x raw"},
		{"bigtxn", r.Scenarios[2], 50_000, 100_000, 0.5, ptr(true), ptr(true), 700 << 20, ">= 0.5x raw"},
		{"freshness", r.Scenarios[3], 11.8, 0, 0, ptr(false), ptr(true), 210 << 20, "p99 <= 2 s at 1 s checkpoints"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.sc
			assert.InDelta(t, tt.median, s.Median, 1e-9)
			if tt.baseline == 0 {
				assert.Nil(t, s.Baseline)
				assert.Nil(t, s.Ratio)
			} else {
				require.NotNil(t, s.Ratio)
				assert.InDelta(t, tt.baseline, *s.Baseline, 1e-9)
				assert.InDelta(t, tt.ratio, *s.Ratio, 1e-9)
			}
			assert.Equal(t, tt.met, s.Met)
			assert.Equal(t, tt.rssMet, s.RSSMet)
			assert.Equal(t, tt.peakRSS, s.PeakRSSBytes)
			assert.Equal(t, tt.target, s.Target)
		})
	}
	assert.InDelta(t, 6.3, *r.Scenarios[3].P50Seconds, 1e-9)
}

func TestStats(t *testing.T) {
	tests := []struct {
		name   string
		xs     []float64
		median float64
		p50    float64
		p99    float64
		p100   float64
	}{
		{"empty", nil, 0, 0, 0, 0},
		{"one", []float64{3}, 3, 3, 3, 3},
		{"even", []float64{4, 1, 3, 2}, 2.5, 2, 4, 4},
		{"hundred", seq(100), 50.5, 50, 99, 100},
		{"unsorted odd", []float64{9, 1, 5}, 5, 5, 9, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]float64(nil), tt.xs...)
			assert.Equal(t, tt.median, median(tt.xs))
			assert.Equal(t, tt.p50, percentile(tt.xs, 50))
			assert.Equal(t, tt.p99, percentile(tt.xs, 99))
			assert.Equal(t, tt.p100, percentile(tt.xs, 100))
			assert.Equal(t, in, tt.xs, "input must not be reordered")
		})
	}
}

func seq(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = float64(n - i)
	}
	return out
}

func TestFormat(t *testing.T) {
	tests := []struct{ got, want string }{
		{fmtInt(0), "0"},
		{fmtInt(999), "999"},
		{fmtInt(1000), "1,000"},
		{fmtInt(-1234567), "-1,234,567"},
		{fmtBytes(300 << 20), "300 MiB"},
		{fmtBytes(3 << 29), "1.5 GiB"},
		{fmtRatio(ptr(0.2449)), "0.24x"},
		{fmtRatio(nil), "-"},
		{fmtMet(ptr(false)), "**no**"},
		{fmtSeconds(11.234), "11.23 s"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.got)
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		label   string
		rows    int64
		runs    int
		dur     time.Duration
		scen    []string
		wantErr string
	}{
		{"defaults are the issue's sizes", nil, "full", 5_000_000, 3, time.Minute, allScenarios, ""},
		{"unknown source", []string{"-source", "postgres,oracle"}, "", 0, 0, 0, nil, `unknown source "oracle"`},
		{"no source", []string{"-source", " , "}, "", 0, 0, 0, nil, "-source: nothing given"},
		{"quick", []string{"-quick"}, "quick", 200_000, 1, 15 * time.Second, allScenarios, ""},
		{"quick with an explicit size", []string{"-quick", "-rows", "1000000"}, "custom", 1_000_000, 1, 15 * time.Second, allScenarios, ""},
		{"explicit label", []string{"-rows", "1000000", "-label", "medium"}, "medium", 1_000_000, 3, time.Minute, allScenarios, ""},
		{"scenario subset", []string{"-scenarios", "freshness, snapshot"}, "full", 5_000_000, 3, time.Minute, []string{scFreshness, scSnapshot}, ""},
		{"unknown scenario", []string{"-scenarios", "snapshot,nope"}, "", 0, 0, 0, nil, `unknown scenario "nope"`},
		{"zero runs", []string{"-runs", "0"}, "", 0, 0, 0, nil, "-runs"},
		{"zero tolerance", []string{"-baseline-tolerance", "0"}, "", 0, 0, 0, nil, "-baseline-tolerance"},
	}
	o, err := parseFlags(nil)
	require.NoError(t, err)
	assert.Equal(t, time.Second, o.interval, "freshness is measured at the target's 1 s checkpoints")
	assert.Equal(t, "auto", o.previous)
	assert.InDelta(t, 15, o.tolerancePct, 1e-9)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseFlags(tt.args)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.label, o.label)
			assert.Equal(t, tt.rows, o.rows)
			assert.Equal(t, tt.runs, o.runs)
			assert.Equal(t, tt.dur, o.duration)
			assert.Equal(t, tt.scen, o.scenarios)
		})
	}
}

// TestDelays checks the freshness computation: a transaction is visible
// when every table it touched was seen committed at or past its end.
func TestDelays(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC)
	lp := &lakePoller{obs: map[string][]observation{
		"a": {{at: t0.Add(10 * time.Second), pos: 100}, {at: t0.Add(20 * time.Second), pos: 300}},
		"b": {{at: t0.Add(11 * time.Second), pos: 150}},
	}}
	txns := []txnInfo{
		{End: 100, Commit: t0.Add(1 * time.Second), Tables: []string{"a"}},       // 9 s
		{End: 90, Commit: t0.Add(2 * time.Second), Tables: []string{"a", "b"}},   // both seen: b at 11 s -> 9 s
		{End: 200, Commit: t0.Add(12 * time.Second), Tables: []string{"a"}},      // 8 s
		{End: 200, Commit: t0.Add(12 * time.Second), Tables: []string{"a", "b"}}, // b never past 150
		{End: 50, Commit: t0, Tables: nil},                                       // touched nothing
	}
	got, missing := lp.delays(txns)
	assert.Equal(t, []float64{9, 9, 8}, got)
	assert.Equal(t, 2, missing)
}

func TestReproduceCommand(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "make bench"},
		{[]string{"-floe", "/x/floe", "-out=/r", "-v"}, "make bench"},
		{[]string{"-quick", "-workdir", "/tmp/w", "-rows", "1000000"}, "make bench BENCH_FLAGS='-quick -rows 1000000'"},
		{[]string{"-floe", "bin/floe", "-memory"}, "make bench-memory"},
		{[]string{"-memory", "-source", "mariadb"}, "make bench-memory BENCH_FLAGS='-source mariadb'"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, reproduceCommand(tt.args))
	}
}

// TestPairedRatio: the ratio pairs each run's two measurements, taken
// back to back, instead of dividing medians taken from different runs.
// Here the machine slowed down over the runs: the median of the paired
// ratios (0.6) is what floe achieved against the source in each moment;
// the quotient of the medians (100/200 = 0.5) mixes moments.
func TestPairedRatio(t *testing.T) {
	s := Scenario{Name: scStreaming, Unit: "changes/s", Runs: []Run{
		{Floe: 300, Raw: ptr(400.0), Count: 1e6, CPUSeconds: 10, RawCPUSeconds: ptr(2.0)},
		{Floe: 60, Raw: ptr(100.0), Count: 1e6, CPUSeconds: 12, RawCPUSeconds: ptr(3.0)},
		{Floe: 100, Raw: ptr(200.0), Count: 1e6, CPUSeconds: 11, RawCPUSeconds: ptr(2.5)},
	}}
	s.summarize(1)
	require.NotNil(t, s.Ratio)
	assert.InDelta(t, 0.6, *s.Ratio, 1e-9)
	assert.Equal(t, &Range{Min: 0.5, Max: 0.75}, s.RatioRange)
	assert.Equal(t, &Range{Min: 60, Max: 300}, s.MedianRange)
	assert.Equal(t, &Range{Min: 100, Max: 400}, s.BaselineRange)
	assert.InDelta(t, 200, *s.Baseline, 1e-9)
	assert.InDelta(t, 11, *s.CPUPerMillion, 1e-9)
	assert.InDelta(t, 2.5, *s.RawCPUPerMillion, 1e-9)
	assert.Equal(t, ptr(false), s.Met)

	one := Scenario{Name: scSnapshot, Runs: []Run{{Floe: 70, Raw: ptr(100.0)}}}
	one.summarize(1)
	assert.Nil(t, one.RatioRange, "one run has no spread")
	assert.Nil(t, one.MedianRange)
	assert.Equal(t, ptr(true), one.Met, "0.7x meets the 0.6x snapshot target")
}

func TestTargets(t *testing.T) {
	fresh := func(p99, interval float64) Scenario {
		s := Scenario{Name: scFreshness, Runs: []Run{{Floe: p99, P50Seconds: ptr(p99 / 2)}}}
		s.summarize(interval)
		return s
	}
	assert.Equal(t, ptr(true), fresh(1.9, 1).Met)
	assert.Equal(t, ptr(false), fresh(2.1, 1).Met)
	s := fresh(1.9, 10)
	assert.Nil(t, s.Met, "the freshness target is defined at 1 s checkpoints only")
	assert.Equal(t, "p99 <= 2 s at 1 s checkpoints (measured at 10 s)", s.Target)

	big := Scenario{Name: scBigTxn, Runs: []Run{{Floe: 49, Raw: ptr(100.0)}}}
	big.summarize(1)
	assert.Equal(t, ptr(false), big.Met)
	assert.Equal(t, ">= 0.5x raw", big.Target)
	huge := Scenario{Name: scHugeTxn, Runs: []Run{{Floe: 49, Raw: ptr(100.0)}}}
	huge.summarize(1)
	assert.Nil(t, huge.Met, "hugetxn's figure is its peak RSS")
}

func TestCompareBaselines(t *testing.T) {
	cur := fixedResults().Sources[0]
	assert.Nil(t, cur.Scenarios[0].BaselineShift, "the previous file has no snapshot at parallelism 1")
	cur.Scenarios = cur.Scenarios[1:]
	snap, stream := cur.Scenarios[0].BaselineShift, cur.Scenarios[1].BaselineShift
	require.NotNil(t, snap)
	require.NotNil(t, stream)
	assert.False(t, snap.Moved, "450k against 440k is within 15 %%")
	assert.InDelta(t, 0.023, snap.BaselineChange, 1e-9)
	assert.True(t, stream.Moved, "100k against 200k moved")
	assert.InDelta(t, -0.5, stream.BaselineChange, 1e-9)
	assert.InDelta(t, 0.013, stream.MedianChange, 1e-9)
	assert.Equal(t, "2026-11-20.json", stream.Previous)
	assert.Nil(t, cur.Scenarios[2].BaselineShift, "bigtxn was not in the previous file")
	assert.Nil(t, cur.Scenarios[3].BaselineShift, "freshness has no baseline")
}

// TestFindPrevious: the previous results are the newest file of the
// same source at the same scale started before this run (the file this
// run will overwrite counts), not one of another scale or a later one.
func TestFindPrevious(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	full := fixedResults()
	cur := full.Sources[0]
	cur.StartedAt = "2026-12-03T02:00:00Z"
	write := func(name string, r *Results) {
		js, err := marshalResults(r)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), js, 0o644))
	}
	write("2026-11-24.json", full)
	other := fixedResults()
	other.Sources[0].Scale.Rows = 200_000
	write("2026-11-30.json", other) // newer, another scale
	later := fixedResults()
	later.Sources[0].StartedAt = "2026-12-04T00:00:00Z"
	write("2026-12-04.json", later) // not before this run
	require.NoError(t, os.WriteFile(filepath.Join(dir, "2026-12-01.json"), []byte("not json"), 0o644))

	name, prev := findPrevious(dir, cur, log)
	assert.Equal(t, "2026-11-24.json", name)
	require.NotNil(t, prev)
	assert.Equal(t, "postgres", prev.Source)

	write("2026-12-03.json", full) // this run's file, from an earlier run today
	name, _ = findPrevious(dir, cur, log)
	assert.Equal(t, "2026-12-03.json", name)

	cur.Label = "small"
	name, prev = findPrevious(dir, cur, log)
	assert.Empty(t, name)
	assert.Nil(t, prev)

	res := &Results{Sources: []SourceResults{full.Sources[0]}}
	res.Sources[0].StartedAt = "2026-12-03T02:00:00Z"
	for i := range res.Sources[0].Scenarios {
		res.Sources[0].Scenarios[i].BaselineShift = nil
	}
	annotateShifts(res, "auto", dir, 0.15, log)
	sh := res.Sources[0].Scenarios[1].BaselineShift
	require.NotNil(t, sh)
	assert.Equal(t, "2026-12-03.json", sh.Previous)
	assert.False(t, sh.Moved)
	annotateShifts(res, filepath.Join(dir, "2026-11-24.json"), "", 0.15, log)
	assert.Equal(t, "2026-11-24.json", res.Sources[0].Scenarios[1].BaselineShift.Previous, "-previous FILE")
}

func TestParseParallelisms(t *testing.T) {
	tests := []struct {
		value   string
		cores   int
		want    []int
		wantErr string
	}{
		{"1,2,all", 2, []int{1, 2}, ""},
		{"1,2,all", 8, []int{1, 2, 8}, ""},
		{"all", 4, []int{4}, ""},
		{" 4, 1 ,2", 2, []int{1, 2, 4}, ""},
		{"0", 2, nil, `"0" is neither a positive number nor all`},
		{"two", 2, nil, `"two"`},
		{" , ", 2, nil, "nothing given"},
	}
	for _, tt := range tests {
		got, err := parseParallelisms(tt.value, tt.cores)
		if tt.wantErr != "" {
			assert.ErrorContains(t, err, tt.wantErr, tt.value)
			continue
		}
		require.NoError(t, err, tt.value)
		assert.Equal(t, tt.want, got, tt.value)
	}
	o, err := parseFlags(nil)
	require.NoError(t, err)
	assert.Equal(t, 1, o.parallelisms[0], "the default measures parallelism 1 first")
	assert.Contains(t, o.parallelisms, 2)
}

// TestSetScaling: each parallelism's scaling pairs its runs with the
// runs at parallelism 1 of the same round, for floe and the raw read.
func TestSetScaling(t *testing.T) {
	scs := fixedResults().Sources[0].Scenarios
	one, two := scs[0], scs[1]
	assert.Nil(t, one.Scaling, "parallelism 1 has no scaling of its own")
	require.NotNil(t, two.Scaling)
	// Rounds: 100k/60k, 120k/60k, 110k/50k -> 1.667, 2, 2.2.
	assert.InDelta(t, 2.0, *two.Scaling, 1e-9)
	assert.Equal(t, &Range{Min: 1.667, Max: 2.2}, two.ScalingRange)
	// Raw: 400k/250k, 500k/250k, 450k/300k -> 1.6, 2, 1.5.
	require.NotNil(t, two.RawScaling)
	assert.InDelta(t, 1.6, *two.RawScaling, 1e-9)

	noOne := []Scenario{two}
	setScaling(noOne)
	assert.Nil(t, noOne[0].Scaling, "without a run at parallelism 1 there is no scaling")
}

func TestSummarizeFiles(t *testing.T) {
	fresh := fixedResults().Sources[0].Scenarios[4]
	require.Equal(t, scFreshness, fresh.Name)
	assert.Equal(t, &FileSummary{EndData: 4, EndDeletes: 2, MaxData: 45, MaxDeletes: 39, CompactionPasses: 39}, fresh.Files)
	none := Scenario{Name: scFreshness, Runs: []Run{{Floe: 1}}}
	none.summarize(1)
	assert.Nil(t, none.Files)
}

func TestSummarizeReads(t *testing.T) {
	reads := fixedResults().Sources[0].Scenarios[5]
	require.Equal(t, scReads, reads.Name)
	require.NotNil(t, reads.Reads)
	assert.InDelta(t, 3.0, reads.Reads.Scan.RatioP50, 1e-9)
	assert.InDelta(t, 3.0, reads.Reads.Scan.RatioP99, 1e-9)
	assert.InDelta(t, 1.25, reads.Reads.Lookup.RatioP99, 1e-9)
	assert.Equal(t, ptr(false), reads.Met, "the scan is 3x slower while streaming")
	assert.Equal(t, "p99 <= 1.5x compacted (scan and lookup)", reads.Target)

	ok := Scenario{Name: scReads, Runs: []Run{{Reads: &ReadRun{
		Streaming: ReadPhase{Scan: Latency{P50: 1, P99: 1.4}, Lookup: Latency{P50: 1, P99: 1}},
		Compacted: ReadPhase{Scan: Latency{P50: 1, P99: 1}, Lookup: Latency{P50: 1, P99: 1}}}}}}
	ok.summarize(1)
	assert.Equal(t, ptr(true), ok.Met)
}
