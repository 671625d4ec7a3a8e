package main

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// resultsVersion is the version of the results file format (Results as
// JSON). Bump it whenever a field changes meaning; the golden test in
// results_test.go pins the format. Version 1 (one source per file, its
// fields at the top level) is still read, by readResults.
const resultsVersion = 2

// Scenario names.
const (
	scSnapshot  = "snapshot"
	scStreaming = "streaming"
	scBigTxn    = "bigtxn"
	scFreshness = "freshness"
	// The memory scenarios (memory.go): peak RSS is their figure.
	scHugeTxn     = "hugetxn"
	scLargeValues = "largevalues"
)

// Results is one results file: the machine and, per source kind, the
// run that measured it (runs of different invocations may be merged, so
// scale, label and floe version are per source).
type Results struct {
	Version int             `json:"version"`
	Date    string          `json:"date"` // YYYY-MM-DD (local time of the start)
	Machine Machine         `json:"machine"`
	Sources []SourceResults `json:"sources"` // in allSources order
}

// Machine describes where the numbers were taken.
type Machine struct {
	NProc     int    `json:"nproc"`
	MemBytes  int64  `json:"mem_bytes"`
	CPU       string `json:"cpu"`
	OS        string `json:"os"`
	GoVersion string `json:"go_version"`
}

// SourceResults is one source kind's scenarios from one invocation.
type SourceResults struct {
	Source        string     `json:"source"`         // source kind: postgres | mariadb
	SourceVersion string     `json:"source_version"` // server version
	FloeVersion   string     `json:"floe_version"`
	StartedAt     string     `json:"started_at"` // RFC 3339
	Label         string     `json:"label"`      // full | quick | custom | -label: which scale
	Command       string     `json:"command"`    // how to reproduce
	Scale         Scale      `json:"scale"`
	Scenarios     []Scenario `json:"scenarios"`
}

// Scale is what was generated and how it was run.
type Scale struct {
	Rows               int64   `json:"rows"`
	Tables             int     `json:"tables"`
	AvgRowBytes        float64 `json:"avg_row_bytes"`
	Changes            int64   `json:"changes"`
	TxnChanges         int     `json:"txn_changes"`
	BigTxnRows         int64   `json:"bigtxn_rows"`
	HugeTxnRows        int64   `json:"hugetxn_rows,omitempty"`
	LargeValueBytes    int64   `json:"large_value_bytes,omitempty"`    // each large value of largevalues
	LargeValuesPerRow  int     `json:"large_values_per_row,omitempty"` // 1: a text or a binary value, 2: both
	MemoryRuns         int     `json:"memory_runs,omitempty"`          // runs of hugetxn and largevalues
	FreshnessRate      float64 `json:"freshness_rate"`                 // changes/s
	FreshnessSeconds   float64 `json:"freshness_seconds"`
	Runs               int     `json:"runs"`
	Parallelism        int     `json:"parallelism"`
	ChunkRows          int     `json:"chunk_rows"`
	StreamInterval     string  `json:"stream_checkpoint_interval"` // streaming and bigtxn
	CheckpointInterval string  `json:"checkpoint_interval"`        // freshness
	PollInterval       string  `json:"poll_interval"`
}

// Scenario is one scenario's runs and summary. Median and Baseline are
// medians over the runs of Floe's and the raw source's figure in Unit;
// Ratio = Median / Baseline. For freshness Median is the p99 delay.
// CPUPerMillion is the median over the runs of floe's CPU seconds (user
// plus system) per million rows or changes measured; CPUPerGiB, for
// largevalues, per GiB of values.
type Scenario struct {
	Name          string   `json:"name"`
	Source        string   `json:"source"`
	Unit          string   `json:"unit"`
	Runs          []Run    `json:"runs"`
	Median        float64  `json:"median"`
	Baseline      *float64 `json:"baseline,omitempty"`
	Ratio         *float64 `json:"ratio,omitempty"`
	P50Seconds    *float64 `json:"p50_seconds,omitempty"`    // freshness: median of the runs' p50
	PeakRSSBytes  int64    `json:"peak_rss_bytes,omitempty"` // highest over the runs
	CPUPerMillion *float64 `json:"cpu_seconds_per_million,omitempty"`
	CPUPerGiB     *float64 `json:"cpu_seconds_per_gib,omitempty"`
	Target        string   `json:"target"`
	Met           *bool    `json:"met,omitempty"`
	RSSMet        *bool    `json:"rss_met,omitempty"`
}

// Run is one run of a scenario.
type Run struct {
	Floe         float64  `json:"floe"`
	Raw          *float64 `json:"raw,omitempty"`
	Count        int64    `json:"count"` // rows or changes measured
	FloeSeconds  float64  `json:"floe_seconds"`
	RawSeconds   *float64 `json:"raw_seconds,omitempty"`
	PeakRSSBytes int64    `json:"peak_rss_bytes,omitempty"`
	Txns         int64    `json:"txns,omitempty"`
	LoadRate     float64  `json:"load_rate,omitempty"` // changes/s the workload achieved
	P50Seconds   *float64 `json:"p50_seconds,omitempty"`
	P99Seconds   *float64 `json:"p99_seconds,omitempty"`
	MaxSeconds   *float64 `json:"max_seconds,omitempty"`
	// CPUSeconds is the user plus system CPU time of the measured floe
	// run processes (from rusage at exit).
	CPUSeconds float64 `json:"cpu_seconds,omitempty"`
	// Bytes is the size of the values the run moved (largevalues).
	Bytes   int64  `json:"bytes,omitempty"`
	Profile string `json:"profile,omitempty"`
}

// Targets (issue #4): reported, not asserted.
const (
	targetSnapshotRatio  = 0.5
	targetStreamingRatio = 0.7
	targetFreshSlackSec  = 2.0
	targetRSSBytes       = 1 << 30
)

// summarize fills the scenario's medians, ratio and target verdicts.
// checkpointSec is the freshness scenario's checkpoint interval.
func (s *Scenario) summarize(checkpointSec float64) {
	var floe, raw, p50, cpuM, cpuG []float64
	s.PeakRSSBytes = 0
	for _, r := range s.Runs {
		floe = append(floe, r.Floe)
		if r.CPUSeconds > 0 && r.Count > 0 {
			cpuM = append(cpuM, r.CPUSeconds/float64(r.Count)*1e6)
		}
		if r.CPUSeconds > 0 && r.Bytes > 0 {
			cpuG = append(cpuG, r.CPUSeconds/(float64(r.Bytes)/(1<<30)))
		}
		if r.Raw != nil {
			raw = append(raw, *r.Raw)
		}
		if r.P50Seconds != nil {
			p50 = append(p50, *r.P50Seconds)
		}
		s.PeakRSSBytes = max(s.PeakRSSBytes, r.PeakRSSBytes)
	}
	s.Median = median(floe)
	if len(raw) > 0 {
		s.Baseline = ptr(median(raw))
		if *s.Baseline > 0 {
			s.Ratio = ptr(round3(s.Median / *s.Baseline))
		}
	}
	if len(p50) > 0 {
		s.P50Seconds = ptr(median(p50))
	}
	s.CPUPerMillion, s.CPUPerGiB = nil, nil
	if len(cpuM) > 0 {
		s.CPUPerMillion = ptr(round3(median(cpuM)))
	}
	if len(cpuG) > 0 {
		s.CPUPerGiB = ptr(round3(median(cpuG)))
	}
	switch s.Name {
	case scSnapshot:
		s.Target = fmt.Sprintf(">= %.1fx raw", targetSnapshotRatio)
		if s.Ratio != nil {
			s.Met = ptr(*s.Ratio >= targetSnapshotRatio)
		}
	case scStreaming:
		s.Target = fmt.Sprintf(">= %.1fx raw", targetStreamingRatio)
		if s.Ratio != nil {
			s.Met = ptr(*s.Ratio >= targetStreamingRatio)
		}
	case scFreshness:
		limit := checkpointSec + targetFreshSlackSec
		s.Target = "p99 <= " + strconv.FormatFloat(limit, 'f', -1, 64) + " s"
		if len(s.Runs) > 0 {
			s.Met = ptr(s.Median <= limit)
		}
	}
	if s.PeakRSSBytes > 0 {
		s.RSSMet = ptr(s.PeakRSSBytes <= targetRSSBytes)
	}
}

// marshalResults is the results file's bytes.
func marshalResults(r *Results) ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode results: %w", err)
	}
	return append(b, '\n'), nil
}

// markdown renders the results as the table for the README: one line
// per source (its version, scale and command), one table with a row per
// source and scenario, then how each baseline was measured.
func markdown(r *Results) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Benchmark %s\n\n", r.Date)
	fmt.Fprintf(&b, "%d cores, %s RAM, %s; %s.\n\n", r.Machine.NProc, fmtBytes(r.Machine.MemBytes), r.Machine.OS, r.Machine.GoVersion)
	for _, src := range r.Sources {
		sc := src.Scale
		runs := fmt.Sprintf("median of %d run%s", sc.Runs, plural(sc.Runs))
		if sc.MemoryRuns > 0 {
			runs += fmt.Sprintf(" (memory scenarios: %d run%s, their peak)", sc.MemoryRuns, plural(sc.MemoryRuns))
		}
		fmt.Fprintf(&b, "- %s %s, %s: %s scale, %s, parallelism %d, %s-row chunks, checkpoint interval %s (catch-up) and %s (freshness). Reproduce: `%s`\n",
			src.Source, src.SourceVersion, src.FloeVersion, src.Label, runs, sc.Parallelism,
			fmtInt(int64(sc.ChunkRows)), sc.StreamInterval, sc.CheckpointInterval, src.Command)
	}
	b.WriteString("\n| source | scenario | floe | raw source | ratio | floe CPU | target | met? |\n|---|---|---|---|---|---|---|---|\n")
	for _, src := range r.Sources {
		sourceRows(&b, src)
	}
	b.WriteString("\nSnapshot: `floe run` (snapshot.mode initial_only) from start to exit, vs a raw read of the same key-range " +
		"chunks with the same parallelism into a discard (PostgreSQL: `COPY (chunk) TO STDOUT`; MariaDB: a chunked `SELECT` " +
		"drained through go-sql-driver/mysql). Streaming and bigtxn: the changes are written while floe is stopped, then " +
		"`floe run` is timed from start until every Iceberg table has committed past the last transaction, vs a bare " +
		"decoder reading the same log range and discarding the changes (PostgreSQL: a pglogrepl loop on a second slot; " +
		"MariaDB: a go-mysql BinlogSyncer loop from the GTID position before the workload). Freshness: per transaction, " +
		"source commit time (MariaDB: when COMMIT returned to the client, as binlog timestamps have 1 s resolution) to the " +
		"poll that sees it committed in Iceberg, under a steady paced load. Floe CPU: user plus system seconds of the " +
		"measured `floe run` processes per million rows or changes (s/M; per GiB of values for largevalues). Memory " +
		"scenarios: hugetxn as bigtxn with a larger transaction; largevalues snapshots rows of large values, then " +
		"catches up with inserts, a multi-row transaction, updates leaving the values unchanged, updates replacing them " +
		"and deletes written while floe was stopped, and ends with `floe verify` equal.\n")
	return b.String()
}

// sourceRows writes one source's table rows.
func sourceRows(b *strings.Builder, src SourceResults) {
	row := func(cells ...string) { b.WriteString("| " + src.Source + " | " + strings.Join(cells, " | ") + " |\n") }
	sc := src.Scale
	for _, s := range src.Scenarios {
		cpu := fmtCPU(s)
		switch s.Name {
		case scSnapshot:
			row(fmt.Sprintf("snapshot: %s rows, %d tables, ~%.0f B/row, parallelism %d", fmtInt(sc.Rows), sc.Tables, sc.AvgRowBytes, sc.Parallelism),
				fmtRate(s.Median, s.Unit), fmtRateP(s.Baseline, s.Unit), fmtRatio(s.Ratio), cpu, s.Target, fmtMet(s.Met))
		case scStreaming:
			row(fmt.Sprintf("streaming: %s mixed changes, %d per transaction", fmtInt(runCount(s)), sc.TxnChanges),
				fmtRate(s.Median, s.Unit), fmtRateP(s.Baseline, s.Unit), fmtRatio(s.Ratio), cpu, s.Target, fmtMet(s.Met))
		case scBigTxn:
			row(fmt.Sprintf("one transaction of %s inserted rows", fmtInt(sc.BigTxnRows)),
				fmtRate(s.Median, s.Unit), fmtRateP(s.Baseline, s.Unit), fmtRatio(s.Ratio), cpu, "-", "-")
		case scHugeTxn:
			row(fmt.Sprintf("memory: one transaction of %s inserted rows", fmtInt(sc.HugeTxnRows)),
				fmtRate(s.Median, s.Unit), fmtRateP(s.Baseline, s.Unit), fmtRatio(s.Ratio), cpu, "-", "-")
		case scLargeValues:
			what := fmt.Sprintf("a %s text or binary value", fmtBytes(sc.LargeValueBytes))
			if sc.LargeValuesPerRow == 2 {
				what = fmt.Sprintf("a %s text and a %s binary value", fmtBytes(sc.LargeValueBytes), fmtBytes(sc.LargeValueBytes))
			}
			row(fmt.Sprintf("memory: %s changes of rows with %s (snapshot and stream)", fmtInt(runCount(s)), what),
				fmtRate(s.Median, s.Unit), "-", "-", cpu, "-", "-")
		case scFreshness:
			what := fmt.Sprintf("at %s changes/s, checkpoint %s", fmtInt(int64(sc.FreshnessRate)), sc.CheckpointInterval)
			row("freshness p50 "+what, fmtSecondsP(s.P50Seconds), "-", "-", "-", "-", "-")
			row("freshness p99 "+what, fmtSeconds(s.Median), "-", "-", "-", s.Target, fmtMet(s.Met))
		}
	}
	for _, s := range src.Scenarios {
		if s.PeakRSSBytes > 0 {
			row("peak RSS, "+s.Name, fmtBytes(s.PeakRSSBytes), "-", "-", "-", "<= 1 GiB", fmtMet(s.RSSMet))
		}
	}
}

// fmtCPU is a scenario's floe CPU seconds per million rows or changes
// (per GiB of values for largevalues); "-" when not measured.
func fmtCPU(s Scenario) string {
	switch {
	case s.CPUPerGiB != nil:
		return strconv.FormatFloat(*s.CPUPerGiB, 'f', 1, 64) + " s/GiB"
	case s.CPUPerMillion != nil:
		return strconv.FormatFloat(*s.CPUPerMillion, 'f', 1, 64) + " s/M"
	}
	return "-"
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func runCount(s Scenario) int64 {
	if len(s.Runs) == 0 {
		return 0
	}
	return s.Runs[0].Count
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// percentile is the nearest-rank p-th percentile (0 < p <= 100).
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

func ptr[T any](v T) *T { return &v }

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

func fmtInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

func fmtRate(v float64, unit string) string { return fmtInt(int64(math.Round(v))) + " " + unit }

func fmtRateP(v *float64, unit string) string {
	if v == nil {
		return "-"
	}
	return fmtRate(*v, unit)
}

func fmtRatio(v *float64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(*v, 'f', 2, 64) + "x"
}

func fmtSeconds(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) + " s" }

func fmtSecondsP(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmtSeconds(*v)
}

func fmtMet(m *bool) string {
	switch {
	case m == nil:
		return "-"
	case *m:
		return "yes"
	default:
		return "**no**"
	}
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return strconv.FormatFloat(float64(n)/(1<<30), 'f', 1, 64) + " GiB"
	default:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	}
}
