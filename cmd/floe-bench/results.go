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
// fields at the top level) and version 2 (Ratio the quotient of the two
// medians, no spreads) are still read, by readResults.
//
// Version 3: Ratio is the median of the runs' paired ratios (each run
// measures the raw source and floe back to back, alternating which goes
// first), with the spreads of the figures and of the ratio, the raw
// reader's CPU, and the baseline's shift from the previous results file.
//
// Version 4: the snapshot scenario is measured at several parallelisms
// (Scale.SnapshotParallelism; one snapshot Scenario each, with its
// Parallelism and its Scaling against parallelism 1), Scale.Parallelism
// is gone; freshness may run with background compaction
// (Scale.CompactionInterval) and reports the tables' files (Files); the
// reads scenario (Trino query latency, Reads). Versions 2 and 3 are
// read as one snapshot Scenario at Scale.Parallelism.
//
// Version 5: the manytables memory scenario, one Scenario per table
// count (Tables; Unit MiB, its figure floe's peak RSS), the one with the
// most tables with MiBPerTable against PerTableFrom tables, and its load
// in Scale (ManyTablesRows, ManyTablesRate, ManyTablesSeconds,
// ManyTablesInterval). Version 4 files read as they are.
//
// Version 6: a reads run's compacted latencies are measured while floe
// streams, back to back with the streaming ones, on the snapshot floe
// compact left before the stream (ReadRun.CompactedSnapshot; before,
// after the stream with floe stopped), and reads may run with background
// compaction (Scale.CompactionInterval). Version 5 files read as they are.
const resultsVersion = 6

// Scenario names.
const (
	scSnapshot  = "snapshot"
	scStreaming = "streaming"
	scBigTxn    = "bigtxn"
	scFreshness = "freshness"
	// The memory scenarios (memory.go): peak RSS is their figure.
	scHugeTxn     = "hugetxn"
	scLargeValues = "largevalues"
	scManyTables  = "manytables"
	// scReads is Trino query latency while floe streams (reads.go); it
	// needs Trino and is not in the default list.
	scReads = "reads"
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
	Rows              int64   `json:"rows"`
	Tables            int     `json:"tables"`
	AvgRowBytes       float64 `json:"avg_row_bytes"`
	Changes           int64   `json:"changes"`
	TxnChanges        int     `json:"txn_changes"`
	BigTxnRows        int64   `json:"bigtxn_rows"`
	HugeTxnRows       int64   `json:"hugetxn_rows,omitempty"`
	LargeValueBytes   int64   `json:"large_value_bytes,omitempty"`    // each large value of largevalues
	LargeValuesPerRow int     `json:"large_values_per_row,omitempty"` // 1: a text or a binary value, 2: both
	MemoryRuns        int     `json:"memory_runs,omitempty"`          // runs of each memory scenario (at each table count)
	// ManyTablesRows is the rows of each manytables table, ManyTablesRate
	// and ManyTablesSeconds its stream (transactions/s, for how long),
	// ManyTablesInterval floe's checkpoint interval there.
	ManyTablesRows     int     `json:"manytables_rows,omitempty"`
	ManyTablesRate     float64 `json:"manytables_rate,omitempty"`
	ManyTablesSeconds  float64 `json:"manytables_seconds,omitempty"`
	ManyTablesInterval string  `json:"manytables_checkpoint_interval,omitempty"`
	FreshnessRate      float64 `json:"freshness_rate"` // changes/s
	FreshnessSeconds   float64 `json:"freshness_seconds"`
	Runs               int     `json:"runs"`
	// Parallelism is the single snapshot parallelism of versions 1-3;
	// version 4 has SnapshotParallelism (ascending) instead.
	Parallelism         int   `json:"parallelism,omitempty"`
	SnapshotParallelism []int `json:"snapshot_parallelism,omitempty"`
	ChunkRows           int   `json:"chunk_rows"`
	// CompactionInterval is the compaction.interval of freshness and
	// reads ("" = floe's default, 30m).
	CompactionInterval string `json:"compaction_interval,omitempty"`
	// ReadsRate and ReadsSeconds are the reads scenario's load.
	ReadsRate          float64 `json:"reads_rate,omitempty"`
	ReadsSeconds       float64 `json:"reads_seconds,omitempty"`
	StreamInterval     string  `json:"stream_checkpoint_interval"` // streaming and bigtxn
	CheckpointInterval string  `json:"checkpoint_interval"`        // freshness
	PollInterval       string  `json:"poll_interval"`
}

// Scenario is one scenario's runs and summary: its Comparison of Floe
// with the raw source, and for a snapshot its SnapshotScaling (both
// embedded: their fields stand in the JSON object where the embedded
// struct stands, as the results format has them). CPUPerMillion is
// the median over the runs of floe's CPU seconds (user plus system) per
// million rows or changes measured; RawCPUPerMillion the raw reader's
// (floe-bench's own process during the raw read: the client side, like
// floe's, not the server's); CPUPerGiB, for largevalues, per GiB of
// values. BaselineShift compares with the previous results file.
type Scenario struct {
	Name   string `json:"name"`
	Source string `json:"source"`
	Unit   string `json:"unit"`
	// Parallelism is the snapshot scenario's snapshot.parallelism (floe's
	// and the raw read's).
	Parallelism int `json:"parallelism,omitempty"`
	// Tables is the manytables scenario's number of captured tables.
	// MiBPerTable, on the one with the most tables, is its Median (the
	// median of the runs' peak RSS, MiB) less that at PerTableFrom (the
	// fewest) tables, per table more.
	Tables       int      `json:"tables,omitempty"`
	MiBPerTable  *float64 `json:"mib_per_table,omitempty"`
	PerTableFrom int      `json:"per_table_from,omitempty"`
	SnapshotScaling
	Files *FileSummary `json:"files,omitempty"`
	Reads *ReadSummary `json:"reads,omitempty"`
	Runs  []Run        `json:"runs"`
	Comparison
	P50Seconds       *float64       `json:"p50_seconds,omitempty"`    // freshness: median of the runs' p50
	PeakRSSBytes     int64          `json:"peak_rss_bytes,omitempty"` // highest over the runs
	CPUPerMillion    *float64       `json:"cpu_seconds_per_million,omitempty"`
	RawCPUPerMillion *float64       `json:"raw_cpu_seconds_per_million,omitempty"`
	CPUPerGiB        *float64       `json:"cpu_seconds_per_gib,omitempty"`
	BaselineShift    *BaselineShift `json:"baseline_shift,omitempty"`
	Target           string         `json:"target"`
	Met              *bool          `json:"met,omitempty"`
	RSSMet           *bool          `json:"rss_met,omitempty"`
}

// Comparison is Floe's figure in Unit against the raw source's over a
// scenario's runs (see compare). Median and Baseline are medians over
// the runs of Floe's and the raw source's figure; Ratio is the median
// over the runs of each run's Floe / Raw (a run pairs two measurements
// taken back to back, so a machine whose speed drifts between runs moves
// both). Each range is the lowest and highest of the runs. For freshness
// Median is the p99 delay.
type Comparison struct {
	Median        float64  `json:"median"`
	MedianRange   *Range   `json:"median_range,omitempty"`
	Baseline      *float64 `json:"baseline,omitempty"`
	BaselineRange *Range   `json:"baseline_range,omitempty"`
	Ratio         *float64 `json:"ratio,omitempty"`
	RatioRange    *Range   `json:"ratio_range,omitempty"`
}

// SnapshotScaling is, for a snapshot at Parallelism N > 1, the median
// over the rounds of floe's throughput at N over its throughput at 1 in
// the same round, with its range; RawScaling the same for the raw read
// (see setScaling). It is empty for other scenarios.
type SnapshotScaling struct {
	Scaling         *float64 `json:"scaling,omitempty"`
	ScalingRange    *Range   `json:"scaling_range,omitempty"`
	RawScaling      *float64 `json:"raw_scaling,omitempty"`
	RawScalingRange *Range   `json:"raw_scaling_range,omitempty"`
}

// TableFiles is one table's live files (freshness).
type TableFiles struct {
	Table      string `json:"table"`
	Data       int    `json:"data"`    // at the end
	Deletes    int    `json:"deletes"` // at the end
	MaxData    int    `json:"max_data"`
	MaxDeletes int    `json:"max_deletes"`
}

// FileSummary is the most files any table held, at the end of a run and
// in any sample during it, over the runs; and the median of the runs'
// compaction passes.
type FileSummary struct {
	EndData          int     `json:"end_data"`
	EndDeletes       int     `json:"end_deletes"`
	MaxData          int     `json:"max_data"`
	MaxDeletes       int     `json:"max_deletes"`
	CompactionPasses float64 `json:"compaction_passes"`
}

// Range is the lowest and the highest of the runs' values.
type Range struct {
	Min float64 `json:"min"`
	Max float64 `json:"max"`
}

// BaselineShift compares a scenario's figures with the same scenario in
// the previous results file of the same source, label and scale.
// Moved is set when the baseline changed by more than Tolerance: the
// ratio then moved (at least partly) because its baseline did.
type BaselineShift struct {
	Previous         string  `json:"previous"` // file name
	PreviousBaseline float64 `json:"previous_baseline"`
	BaselineChange   float64 `json:"baseline_change"` // relative: 0.1 = 10 % higher now
	PreviousMedian   float64 `json:"previous_median"`
	MedianChange     float64 `json:"median_change"`
	PreviousRatio    float64 `json:"previous_ratio"`
	Tolerance        float64 `json:"tolerance"`
	Moved            bool    `json:"moved"`
}

// Run is one run of a scenario.
type Run struct {
	Floe float64  `json:"floe"`
	Raw  *float64 `json:"raw,omitempty"`
	// Order is which of the pair ran first: raw_first (odd runs) or
	// floe_first (even runs), so a cache warmed by the first does not
	// favour the same side every time.
	Order        string   `json:"order,omitempty"`
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
	// RawCPUSeconds is floe-bench's own user plus system CPU time during
	// the raw read (rusage of the process before and after).
	RawCPUSeconds *float64 `json:"raw_cpu_seconds,omitempty"`
	// Bytes is the size of the values the run moved (largevalues).
	Bytes int64 `json:"bytes,omitempty"`
	// Files is, per table, its live data and delete files at the end of a
	// freshness run and the most seen in a sample during it;
	// CompactionPasses the compaction snapshots committed meanwhile.
	Files            []TableFiles `json:"files,omitempty"`
	CompactionPasses int          `json:"compaction_passes,omitempty"`
	// Reads is the reads scenario's query latencies.
	Reads   *ReadRun `json:"reads,omitempty"`
	Profile string   `json:"profile,omitempty"`
}

// Targets (issue 16): reported, not asserted. They are defined at full
// scale; the freshness target at 1 s checkpoints.
const (
	targetSnapshotRatio    = 0.6
	targetStreamingRatio   = 0.7
	targetBigTxnRatio      = 0.5
	targetFreshP99Sec      = 2.0
	targetFreshIntervalSec = 1.0
	targetRSSBytes         = 1 << 30
)

// summarize fills the scenario's medians, spreads, ratio and target
// verdicts. checkpointSec is the freshness scenario's checkpoint
// interval.
func (s *Scenario) summarize(checkpointSec float64) {
	var floe, raw, ratio, p50, cpuM, rawCPUM, cpuG []float64
	var files []Run
	s.PeakRSSBytes = 0
	for _, r := range s.Runs {
		floe = append(floe, r.Floe)
		if r.CPUSeconds > 0 && r.Count > 0 {
			cpuM = append(cpuM, r.CPUSeconds/float64(r.Count)*1e6)
		}
		if r.RawCPUSeconds != nil && r.Count > 0 {
			rawCPUM = append(rawCPUM, *r.RawCPUSeconds/float64(r.Count)*1e6)
		}
		if r.CPUSeconds > 0 && r.Bytes > 0 {
			cpuG = append(cpuG, r.CPUSeconds/(float64(r.Bytes)/(1<<30)))
		}
		if r.Raw != nil {
			raw = append(raw, *r.Raw)
			if *r.Raw > 0 {
				ratio = append(ratio, r.Floe / *r.Raw)
			}
		}
		if r.P50Seconds != nil {
			p50 = append(p50, *r.P50Seconds)
		}
		if len(r.Files) > 0 {
			files = append(files, r)
		}
		s.PeakRSSBytes = max(s.PeakRSSBytes, r.PeakRSSBytes)
	}
	s.Comparison = compare(floe, raw, ratio)
	if len(p50) > 0 {
		s.P50Seconds = ptr(median(p50))
	}
	s.CPUPerMillion, s.RawCPUPerMillion, s.CPUPerGiB = nil, nil, nil
	if len(cpuM) > 0 {
		s.CPUPerMillion = ptr(round3(median(cpuM)))
	}
	if len(rawCPUM) > 0 {
		s.RawCPUPerMillion = ptr(round3(median(rawCPUM)))
	}
	if len(cpuG) > 0 {
		s.CPUPerGiB = ptr(round3(median(cpuG)))
	}
	s.Files = summarizeFiles(files)
	s.Reads = summarizeReads(s.Runs)
	s.setTarget(checkpointSec)
	s.RSSMet = nil
	if s.PeakRSSBytes > 0 {
		s.RSSMet = ptr(s.PeakRSSBytes <= targetRSSBytes)
	}
}

// compare is the Comparison of Floe's figures floe with the raw source's
// raw and their paired ratios; no raw figures or ratios leave Baseline or
// Ratio nil.
func compare(floe, raw, ratio []float64) Comparison {
	c := Comparison{Median: median(floe), MedianRange: spread(floe)}
	if len(raw) > 0 {
		c.Baseline, c.BaselineRange = ptr(median(raw)), spread(raw)
	}
	c.Ratio, c.RatioRange = medianSpread(ratio)
	return c
}

// summarizeFiles is the file summary of the runs that counted files (nil
// when none did).
func summarizeFiles(runs []Run) *FileSummary {
	if len(runs) == 0 {
		return nil
	}
	f := &FileSummary{}
	var passes []float64
	for _, r := range runs {
		for _, t := range r.Files {
			f.EndData, f.EndDeletes = max(f.EndData, t.Data), max(f.EndDeletes, t.Deletes)
			f.MaxData, f.MaxDeletes = max(f.MaxData, t.MaxData, t.Data), max(f.MaxDeletes, t.MaxDeletes, t.Deletes)
		}
		passes = append(passes, float64(r.CompactionPasses))
	}
	f.CompactionPasses = median(passes)
	return f
}

// setScaling sets each snapshot scenario's scaling against the one at
// parallelism 1 of scs (none there: no scaling). Runs are paired by
// index: run k of every parallelism is in the same round.
func setScaling(scs []Scenario) {
	one := slices.IndexFunc(scs, func(s Scenario) bool { return s.Name == scSnapshot && s.Parallelism == 1 })
	for i := range scs {
		s := &scs[i]
		if s.Name != scSnapshot {
			continue
		}
		s.SnapshotScaling = SnapshotScaling{}
		if one < 0 || s.Parallelism <= 1 {
			continue
		}
		var fl, raw []float64
		for k, r := range s.Runs {
			if k >= len(scs[one].Runs) {
				break
			}
			base := scs[one].Runs[k]
			if base.Floe > 0 {
				fl = append(fl, r.Floe/base.Floe)
			}
			if base.Raw != nil && r.Raw != nil && *base.Raw > 0 {
				raw = append(raw, *r.Raw / *base.Raw)
			}
		}
		s.Scaling, s.ScalingRange = medianSpread(fl)
		s.RawScaling, s.RawScalingRange = medianSpread(raw)
	}
}

// medianSpread is the median of xs and their range, rounded to 3
// places; nil, nil for none.
func medianSpread(xs []float64) (*float64, *Range) {
	if len(xs) == 0 {
		return nil, nil
	}
	r := spread(xs)
	if r != nil {
		r = &Range{Min: round3(r.Min), Max: round3(r.Max)}
	}
	return ptr(round3(median(xs))), r
}

// setTarget sets the scenario's target and whether it is met (nil: no
// target, or not measured where it is defined).
func (s *Scenario) setTarget(checkpointSec float64) {
	s.Target, s.Met = "", nil
	ratioTarget := func(t float64) {
		s.Target = fmt.Sprintf(">= %.1fx raw", t)
		if s.Ratio != nil {
			s.Met = ptr(*s.Ratio >= t)
		}
	}
	switch s.Name {
	case scSnapshot:
		ratioTarget(targetSnapshotRatio)
	case scStreaming:
		ratioTarget(targetStreamingRatio)
	case scBigTxn:
		ratioTarget(targetBigTxnRatio)
	case scReads:
		s.readsTarget()
	case scFreshness:
		s.Target = fmt.Sprintf("p99 <= %s s at %s s checkpoints", fmtNum(targetFreshP99Sec), fmtNum(targetFreshIntervalSec))
		if checkpointSec != targetFreshIntervalSec {
			s.Target += fmt.Sprintf(" (measured at %s s)", fmtNum(checkpointSec))
		} else if len(s.Runs) > 0 {
			s.Met = ptr(s.Median <= targetFreshP99Sec)
		}
	}
}

// spread is the lowest and highest of xs; nil for fewer than two values
// (one run has no spread).
func spread(xs []float64) *Range {
	if len(xs) < 2 {
		return nil
	}
	return &Range{Min: slices.Min(xs), Max: slices.Max(xs)}
}

func fmtNum(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

// marshalResults is the results file's bytes.
func marshalResults(r *Results) ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode results: %w", err)
	}
	return append(b, '\n'), nil
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
