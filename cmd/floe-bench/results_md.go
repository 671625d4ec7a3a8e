package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// markdown renders the results as the table for the README: one line
// per source (its version, scale and command), one table with a row per
// source and scenario, the baselines that moved since the previous
// results file, the targets met or not, then how each figure was
// measured.
func markdown(r *Results) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Benchmark %s\n\n", r.Date)
	fmt.Fprintf(&b, "%d cores, %s RAM, %s; %s.\n\n", r.Machine.NProc, fmtBytes(r.Machine.MemBytes), r.Machine.OS, r.Machine.GoVersion)
	for _, src := range r.Sources {
		sc := src.Scale
		runs := fmt.Sprintf("median of %d run%s", sc.Runs, plural(sc.Runs))
		if sc.Runs > 1 {
			runs += " (min-max in brackets)"
		}
		if alternated(src) {
			runs += ", each run the raw read and floe back to back, alternating which goes first"
		}
		if sc.MemoryRuns > 0 {
			runs += fmt.Sprintf(" (memory scenarios: %d run%s, their peak)", sc.MemoryRuns, plural(sc.MemoryRuns))
		}
		scale := src.Label + " scale"
		if src.Label != "full" {
			scale = "**" + src.Label + " scale, not the full scale the targets are defined at**"
		}
		fmt.Fprintf(&b, "- %s %s, %s: %s, %s, snapshot parallelism %s, %s-row chunks, checkpoint interval %s (catch-up) and %s (freshness%s). Reproduce: `%s`\n",
			src.Source, src.SourceVersion, src.FloeVersion, scale, runs, fmtInts(sc.SnapshotParallelism),
			fmtInt(int64(sc.ChunkRows)), sc.StreamInterval, sc.CheckpointInterval, compactionNote(sc), src.Command)
	}
	b.WriteString("\n| source | scenario | floe | raw source | ratio | floe CPU | raw CPU | target | met? |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, src := range r.Sources {
		sourceRows(&b, src)
	}
	shiftNotes(&b, r)
	targetTable(&b, r)
	b.WriteString("\nSnapshot: `floe run` (snapshot.mode initial_only) from start to exit, vs a raw read of the same key-range " +
		"chunks with the same parallelism into a discard (PostgreSQL: `COPY (chunk) TO STDOUT`; MariaDB: a chunked `SELECT` " +
		"drained through go-sql-driver/mysql). Streaming and bigtxn: the changes are written while floe is stopped, then " +
		"`floe run` is timed from start until every Iceberg table has committed past the last transaction, vs a bare " +
		"decoder reading the same log range and discarding the changes (PostgreSQL: a pglogrepl loop on a second slot; " +
		"MariaDB: a go-mysql BinlogSyncer loop from the GTID position before the workload). Each run measures both back " +
		"to back (odd runs the raw read first, even runs floe first) and its ratio pairs the two; the ratio shown is the " +
		"median of the runs' ratios. Freshness: per transaction, " +
		"source commit time (MariaDB: when COMMIT returned to the client, as binlog timestamps have 1 s resolution) to the " +
		"poll that sees it committed in Iceberg, under a steady paced load. Reads: Trino queries the table while floe " +
		"streams, each query on the table then and, back to back, on the table as `floe compact` left it before the stream " +
		"(FOR VERSION AS OF its snapshot), so both carry the same load on the machine. Floe CPU: user plus system seconds of the " +
		"measured `floe run` processes per million rows or changes (s/M; per GiB of values for largevalues); raw CPU: " +
		"the same for the raw reader's process (the client side only for both: the server's CPU is in neither). Memory " +
		"scenarios: hugetxn as bigtxn with a larger transaction; largevalues snapshots rows of large values, then " +
		"catches up with inserts, a multi-row transaction, updates leaving the values unchanged, updates replacing them " +
		"and deletes written while floe was stopped, and ends with `floe verify` equal; manytables captures N small tables, " +
		"snapshots them and streams small transactions (an insert, an update and a delete each) round-robin over all of " +
		"them while floe runs at its default checkpoint interval, ends with `floe verify` equal, and reports floe's peak " +
		"RSS per N and the MiB per table more between the fewest and the most tables.\n")
	return b.String()
}

// sourceRows writes one source's table rows.
func sourceRows(b *strings.Builder, src SourceResults) {
	row := func(cells ...string) { b.WriteString("| " + src.Source + " | " + strings.Join(cells, " | ") + " |\n") }
	sc := src.Scale
	for _, s := range src.Scenarios {
		floe, raw, ratio := fmtRateR(s.Median, s.MedianRange, s.Unit), fmtRateRP(s.Baseline, s.BaselineRange, s.Unit), fmtRatioR(s.Ratio, s.RatioRange)
		if s.BaselineShift != nil && s.BaselineShift.Moved {
			ratio += " (baseline moved)"
		}
		cpu, rawCPU := fmtCPU(s), fmtCPUP(s.RawCPUPerMillion)
		switch s.Name {
		case scSnapshot:
			row(fmt.Sprintf("snapshot: %s rows, %d tables, ~%.0f B/row, parallelism %d", fmtInt(sc.Rows), sc.Tables, sc.AvgRowBytes, s.Parallelism),
				floe, raw, ratio, cpu, rawCPU, s.Target, fmtMet(s.Met))
			if s.Scaling != nil || s.RawScaling != nil {
				row(fmt.Sprintf("snapshot scaling: parallelism %d over 1", s.Parallelism),
					fmtRatioR(s.Scaling, s.ScalingRange), fmtRatioR(s.RawScaling, s.RawScalingRange), "-", "-", "-", "-", "-")
			}
		case scStreaming:
			row(fmt.Sprintf("streaming: %s mixed changes, %d per transaction", fmtInt(runCount(s)), sc.TxnChanges),
				floe, raw, ratio, cpu, rawCPU, s.Target, fmtMet(s.Met))
		case scBigTxn:
			row(fmt.Sprintf("one transaction of %s inserted rows", fmtInt(sc.BigTxnRows)),
				floe, raw, ratio, cpu, rawCPU, orDash(s.Target), fmtMet(s.Met))
		case scHugeTxn:
			row(fmt.Sprintf("memory: one transaction of %s inserted rows", fmtInt(sc.HugeTxnRows)),
				floe, raw, ratio, cpu, rawCPU, "-", "-")
		case scLargeValues:
			what := fmt.Sprintf("a %s text or binary value", fmtBytes(sc.LargeValueBytes))
			if sc.LargeValuesPerRow == 2 {
				what = fmt.Sprintf("a %s text and a %s binary value", fmtBytes(sc.LargeValueBytes), fmtBytes(sc.LargeValueBytes))
			}
			row(fmt.Sprintf("memory: %s changes of rows with %s (snapshot and stream)", fmtInt(runCount(s)), what),
				floe, "-", "-", cpu, "-", "-", "-")
		case scManyTables:
			manyTablesRows(row, s, sc, cpu)
		case scFreshness:
			what := fmt.Sprintf("at %s changes/s, checkpoint %s", fmtInt(int64(sc.FreshnessRate)), sc.CheckpointInterval)
			row("freshness p50 "+what, fmtSecondsP(s.P50Seconds), "-", "-", "-", "-", "-", "-")
			row("freshness p99 "+what, fmtSecondsR(s.Median, s.MedianRange), "-", "-", cpu, "-", s.Target, fmtMet(s.Met))
			if f := s.Files; f != nil {
				row(fmt.Sprintf("freshness: most files in a table after %s s%s", fmtNum(sc.FreshnessSeconds), compactionNote(sc)),
					fmt.Sprintf("%d data, %d delete (during the run: %d, %d); %s compaction passes", f.EndData, f.EndDeletes,
						f.MaxData, f.MaxDeletes, fmtNum(f.CompactionPasses)), "-", "-", "-", "-", "bounded", "-")
			}
		case scReads:
			readRows(row, s, sc)
		}
	}
	for _, s := range src.Scenarios {
		if s.PeakRSSBytes > 0 {
			row("peak RSS, "+scenarioLabel(s), fmtBytes(s.PeakRSSBytes), "-", "-", "-", "-", "<= 1 GiB", fmtMet(s.RSSMet))
		}
	}
}

// manyTablesRows writes a manytables scenario's rows: its peak RSS and,
// at the most tables, the MiB per table more.
func manyTablesRows(row func(...string), s Scenario, sc Scale, cpu string) {
	row(fmt.Sprintf("memory: %d table%s of %d rows, snapshot then %s small transactions/s for %s s, checkpoint %s",
		s.Tables, plural(s.Tables), sc.ManyTablesRows, fmtNum(sc.ManyTablesRate), fmtNum(sc.ManyTablesSeconds), orDash(sc.ManyTablesInterval)),
		fmtRateR(s.Median, s.MedianRange, s.Unit), "-", "-", cpu, "-", "-", "-")
	if s.MiBPerTable != nil {
		row(fmt.Sprintf("memory per table: median peak RSS at %d tables less at %d, per table more", s.Tables, s.PerTableFrom),
			fmtMiB(*s.MiBPerTable), "-", "-", "-", "-", "-", "-")
	}
}

// readRows writes the reads scenario's rows: per query, its latency
// while floe streamed, on the compacted table, and their ratio.
func readRows(row func(...string), s Scenario, sc Scale) {
	rd := s.Reads
	if rd == nil {
		return
	}
	load := fmt.Sprintf("%s changes/s for %s s at checkpoint %s%s", fmtInt(int64(sc.ReadsRate)), fmtNum(sc.ReadsSeconds), sc.CheckpointInterval, compactionNote(sc))
	for _, q := range []struct {
		name string
		r    ReadRatios
	}{{"full scan (count, sum)", rd.Scan}, {"key lookup", rd.Lookup}} {
		row(fmt.Sprintf("reads: Trino %s p50, streaming %s vs compacted", q.name, load),
			fmtSeconds(q.r.StreamingP50), fmtSeconds(q.r.CompactedP50), strconv.FormatFloat(q.r.RatioP50, 'f', 2, 64)+"x", "-", "-", "-", "-")
		row(fmt.Sprintf("reads: Trino %s p99, streaming vs compacted", q.name),
			fmtSeconds(q.r.StreamingP99), fmtSeconds(q.r.CompactedP99), strconv.FormatFloat(q.r.RatioP99, 'f', 2, 64)+"x", "-", "-", s.Target, fmtMet(s.Met))
	}
	for _, r := range s.Runs {
		if r.Reads == nil {
			continue
		}
		st, co := r.Reads.Streaming, r.Reads.Compacted
		row(fmt.Sprintf("reads: files of %s (%s live rows), end of streaming vs compacted", r.Reads.Table, fmtInt(r.Reads.Rows)),
			fmt.Sprintf("%d data, %d delete", st.DataFiles, st.DeleteFiles), fmt.Sprintf("%d data, %d delete", co.DataFiles, co.DeleteFiles),
			"-", "-", "-", "-", "-")
	}
}

// scenarioLabel names a scenario, a snapshot with its parallelism.
func scenarioLabel(s Scenario) string {
	if s.Name == scSnapshot && s.Parallelism > 0 {
		return fmt.Sprintf("%s at parallelism %d", s.Name, s.Parallelism)
	}
	if s.Name == scManyTables {
		return fmt.Sprintf("%s at %d table%s", s.Name, s.Tables, plural(s.Tables))
	}
	return s.Name
}

// compactionNote says how freshness and reads ran compaction ("" for
// floe's default interval).
func compactionNote(sc Scale) string {
	if sc.CompactionInterval == "" {
		return ""
	}
	return ", compaction every " + sc.CompactionInterval
}

// fmtInts is a list of numbers, comma-separated ("-" for none).
func fmtInts(xs []int) string {
	if len(xs) == 0 {
		return "-"
	}
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.Itoa(x)
	}
	return strings.Join(parts, ", ")
}

// shiftNotes lists, per source, how each baseline compares with the
// previous results file, flagging those that moved.
func shiftNotes(b *strings.Builder, r *Results) {
	var lines []string
	tol := 0.0
	for _, src := range r.Sources {
		for _, s := range src.Scenarios {
			sh := s.BaselineShift
			if sh == nil {
				continue
			}
			tol = sh.Tolerance
			verdict := "baseline steady"
			if sh.Moved {
				verdict = "**ratio moved because its baseline did**"
				if math.Abs(sh.MedianChange) > sh.Tolerance {
					verdict = "**baseline and floe both moved** (the machine, not floe, is the likelier cause)"
				}
			}
			lines = append(lines, fmt.Sprintf("- %s %s, against %s: raw %s -> %s (%s), floe %s -> %s (%s), ratio %.2fx -> %s; %s",
				src.Source, scenarioLabel(s), sh.Previous, fmtRate(sh.PreviousBaseline, s.Unit), fmtRateP(s.Baseline, s.Unit), fmtPct(sh.BaselineChange),
				fmtRate(sh.PreviousMedian, s.Unit), fmtRate(s.Median, s.Unit), fmtPct(sh.MedianChange),
				sh.PreviousRatio, fmtRatio(s.Ratio), verdict))
		}
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(b, "\nBaselines against the previous results of the same source and scale (moved: more than %.0f %%):\n\n", tol*100)
	b.WriteString(strings.Join(lines, "\n") + "\n")
}

// targetTable is the targets, one row each, one column per
// source: the figure and whether it is met.
func targetTable(b *strings.Builder, r *Results) {
	b.WriteString("\nTargets (issue 16, and issue 12's reads; defined at full scale, median of 3 runs; reads over 30 minutes):\n\n| target |")
	for _, src := range r.Sources {
		b.WriteString(" " + src.Source + " |")
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(r.Sources)) + "\n")
	type target struct {
		name     string
		scenario string
	}
	for _, t := range []target{
		{fmt.Sprintf("snapshot >= %.1fx raw", targetSnapshotRatio), scSnapshot},
		{fmt.Sprintf("streaming catch-up >= %.1fx raw", targetStreamingRatio), scStreaming},
		{fmt.Sprintf("one 1M-row transaction >= %.1fx raw", targetBigTxnRatio), scBigTxn},
		{fmt.Sprintf("freshness p99 <= %s s at %s s checkpoints", fmtNum(targetFreshP99Sec), fmtNum(targetFreshIntervalSec)), scFreshness},
		{fmt.Sprintf("reads while streaming: p99 <= %.1fx compacted (issue 12)", targetReadRatio), scReads},
	} {
		b.WriteString("| " + t.name + " |")
		for _, src := range r.Sources {
			b.WriteString(" " + targetCell(src, t.scenario) + " |")
		}
		b.WriteString("\n")
	}
	b.WriteString("| peak RSS <= 1 GiB in every scenario |")
	for _, src := range r.Sources {
		b.WriteString(" " + rssCell(src) + " |")
	}
	b.WriteString("\n")
}

// targetCell is a scenario's figure and verdict for the target table
// (the snapshot: at each parallelism, met when met at every one).
func targetCell(src SourceResults, scenario string) string {
	if scenario == scSnapshot {
		return snapshotCell(src)
	}
	for _, s := range src.Scenarios {
		if s.Name != scenario {
			continue
		}
		switch {
		case scenario == scFreshness && s.Met == nil:
			return "not measured: checkpoint " + src.Scale.CheckpointInterval
		case scenario == scFreshness:
			return fmtSeconds(s.Median) + ": " + fmtMet(s.Met)
		case scenario == scReads && s.Reads != nil:
			return fmt.Sprintf("scan %.2fx, lookup %.2fx: %s", s.Reads.Scan.RatioP99, s.Reads.Lookup.RatioP99, fmtMet(s.Met))
		case scenario == scBigTxn && src.Scale.BigTxnRows != 1_000_000:
			return fmtRatio(s.Ratio) + " at " + fmtInt(src.Scale.BigTxnRows) + " rows: " + fmtMet(s.Met)
		}
		return fmtRatio(s.Ratio) + ": " + fmtMet(s.Met)
	}
	return "not run"
}

// snapshotCell is the snapshot's ratio at each parallelism and whether
// the target is met at every one.
func snapshotCell(src SourceResults) string {
	var parts []string
	met := true
	for _, s := range src.Scenarios {
		if s.Name != scSnapshot {
			continue
		}
		parts = append(parts, fmtRatio(s.Ratio)+fmt.Sprintf(" at %d", s.Parallelism))
		met = met && s.Met != nil && *s.Met
	}
	if len(parts) == 0 {
		return "not run"
	}
	return strings.Join(parts, ", ") + ": " + fmtMet(&met)
}

// rssCell is the highest peak RSS over a source's scenarios and whether
// every one is within the target.
func rssCell(src SourceResults) string {
	var peak int64
	var name string
	met := true
	for _, s := range src.Scenarios {
		if s.PeakRSSBytes > peak {
			peak, name = s.PeakRSSBytes, scenarioLabel(s)
		}
		if s.RSSMet != nil && !*s.RSSMet {
			met = false
		}
	}
	if peak == 0 {
		return "not measured"
	}
	return fmtBytes(peak) + " (" + name + "): " + fmtMet(&met)
}

// fmtCPU is a scenario's floe CPU seconds per million rows or changes
// (per GiB of values for largevalues); "-" when not measured.
func fmtCPU(s Scenario) string {
	if s.CPUPerGiB != nil {
		return strconv.FormatFloat(*s.CPUPerGiB, 'f', 1, 64) + " s/GiB"
	}
	return fmtCPUP(s.CPUPerMillion)
}

func fmtCPUP(v *float64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(*v, 'f', 1, 64) + " s/M"
}

// fmtRateR is a rate with its range of runs, when there is one.
func fmtRateR(v float64, r *Range, unit string) string {
	if r == nil {
		return fmtRate(v, unit)
	}
	return fmtRate(v, unit) + " [" + fmtInt(int64(math.Round(r.Min))) + "-" + fmtInt(int64(math.Round(r.Max))) + "]"
}

func fmtRateRP(v *float64, r *Range, unit string) string {
	if v == nil {
		return "-"
	}
	return fmtRateR(*v, r, unit)
}

func fmtRatioR(v *float64, r *Range) string {
	if v == nil || r == nil {
		return fmtRatio(v)
	}
	return fmtRatio(v) + " [" + strconv.FormatFloat(r.Min, 'f', 2, 64) + "-" + strconv.FormatFloat(r.Max, 'f', 2, 64) + "]"
}

func fmtSecondsR(v float64, r *Range) string {
	if r == nil {
		return fmtSeconds(v)
	}
	return fmtSeconds(v) + " [" + strconv.FormatFloat(r.Min, 'f', 2, 64) + "-" + strconv.FormatFloat(r.Max, 'f', 2, 64) + "]"
}

// fmtPct is a relative change as a signed percentage.
func fmtPct(x float64) string {
	return fmt.Sprintf("%+.0f %%", x*100)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// alternated reports whether src's runs recorded their order (version 3
// runs alternate which side of the pair goes first).
func alternated(src SourceResults) bool {
	for _, s := range src.Scenarios {
		for _, r := range s.Runs {
			if r.Order != "" {
				return true
			}
		}
	}
	return false
}
