package main

import "fmt"

// Latency is one query's latencies over a phase of the reads scenario.
type Latency struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_seconds"`
	P99 float64 `json:"p99_seconds"`
	Max float64 `json:"max_seconds"`
}

// ReadPhase is the queries of one table state of a reads run and the
// table's live files in it (streaming: when the stream ended).
type ReadPhase struct {
	Scan        Latency `json:"scan"`   // SELECT count(*), sum(...) over the whole table
	Lookup      Latency `json:"lookup"` // SELECT * ... WHERE id = <a live key>
	DataFiles   int     `json:"data_files"`
	DeleteFiles int     `json:"delete_files"`
}

// ReadRun is one run of the reads scenario: the queries while floe
// streamed, on the table as it was then (Streaming) and on the table as
// floe compact left it before the stream (Compacted: the same queries,
// back to back with those on the table then, at snapshot
// CompactedSnapshot).
type ReadRun struct {
	Table             string    `json:"table"`
	Rows              int64     `json:"rows"` // live rows after the run
	CompactedSnapshot int64     `json:"compacted_snapshot"`
	Streaming         ReadPhase `json:"streaming"`
	Compacted         ReadPhase `json:"compacted"`
}

// ReadSummary is the median over the runs of each query's streaming and
// compacted p50 and p99, and of the runs' ratios streaming / compacted.
type ReadSummary struct {
	Scan   ReadRatios `json:"scan"`
	Lookup ReadRatios `json:"lookup"`
}

// ReadRatios is one query's summary.
type ReadRatios struct {
	StreamingP50 float64 `json:"streaming_p50_seconds"`
	StreamingP99 float64 `json:"streaming_p99_seconds"`
	CompactedP50 float64 `json:"compacted_p50_seconds"`
	CompactedP99 float64 `json:"compacted_p99_seconds"`
	RatioP50     float64 `json:"ratio_p50"`
	RatioP99     float64 `json:"ratio_p99"`
}

// targetReadRatio is issue 12's goal: queries while floe streams are
// never more than 1.5x slower than on the compacted table (defined over
// a 30-minute run at 1 s checkpoints).
const targetReadRatio = 1.5

// summarizeReads is the reads summary of runs (nil when none has reads).
func summarizeReads(runs []Run) *ReadSummary {
	var scan, lookup [6][]float64
	add := func(into *[6][]float64, s, c Latency) {
		into[0], into[1] = append(into[0], s.P50), append(into[1], s.P99)
		into[2], into[3] = append(into[2], c.P50), append(into[3], c.P99)
		if c.P50 > 0 && c.P99 > 0 {
			into[4], into[5] = append(into[4], s.P50/c.P50), append(into[5], s.P99/c.P99)
		}
	}
	for _, r := range runs {
		if r.Reads == nil {
			continue
		}
		add(&scan, r.Reads.Streaming.Scan, r.Reads.Compacted.Scan)
		add(&lookup, r.Reads.Streaming.Lookup, r.Reads.Compacted.Lookup)
	}
	if len(scan[0]) == 0 {
		return nil
	}
	ratios := func(x [6][]float64) ReadRatios {
		return ReadRatios{StreamingP50: median(x[0]), StreamingP99: median(x[1]), CompactedP50: median(x[2]),
			CompactedP99: median(x[3]), RatioP50: round3(median(x[4])), RatioP99: round3(median(x[5]))}
	}
	return &ReadSummary{Scan: ratios(scan), Lookup: ratios(lookup)}
}

// readsTarget sets the reads scenario's target: both queries' p99 while
// streaming within targetReadRatio of the compacted table's.
func (s *Scenario) readsTarget() {
	s.Target = fmt.Sprintf("p99 <= %.1fx compacted (scan and lookup)", targetReadRatio)
	if s.Reads != nil {
		s.Met = ptr(s.Reads.Scan.RatioP99 <= targetReadRatio && s.Reads.Lookup.RatioP99 <= targetReadRatio)
	}
}
