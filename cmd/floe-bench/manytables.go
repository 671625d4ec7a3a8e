package main

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The manytables memory scenario (issue 13) measures what each captured
// table costs floe in memory: for every table count N of -manytables it
// creates N small tables of -manytables-rows rows (manyTableNames,
// manyTableDDL), runs `floe run` over them at floe's default checkpoint
// interval (the snapshot, then a steady stream of small transactions
// spread round-robin over all tables for -manytables-duration at
// -manytables-rate transactions/s, then a marker transaction touching
// every table), stops it once every table has committed the marker,
// and checks `floe verify` is equal. Its figure is floe's peak RSS per
// N; the scenario at the largest N also carries the MiB per additional
// table against the smallest N (setPerTable).

// manyTablePrefix names the scenario's tables: mt_0001, mt_0002, ...
const manyTablePrefix = "mt_"

// floeDefaultInterval is floe's default checkpoint interval, the one the
// manytables pipelines run at.
const floeDefaultInterval = 10 * time.Second

// manyTableNames are the names of the first n tables of the scenario.
func manyTableNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s%04d", manyTablePrefix, i+1)
	}
	return names
}

// manyTableDDL are the statements that drop the tables of drop (those of
// an earlier N: none may be left over, a capture is per name) and create
// the tables of names, each with rows rows (ids 1..rows), in SQL both
// PostgreSQL and MariaDB accept.
func manyTableDDL(drop, names []string, rows int) []string {
	stmts := []string{"DROP TABLE IF EXISTS " + strings.Join(drop, ", ")}
	for _, name := range names {
		stmts = append(stmts,
			"CREATE TABLE "+name+" (id BIGINT PRIMARY KEY, k INT NOT NULL, v VARCHAR(64) NOT NULL, amount DECIMAL(12,2) NOT NULL)")
		var b strings.Builder
		b.WriteString("INSERT INTO " + name + " VALUES ")
		for id := 1; id <= rows; id++ {
			if id > 1 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "(%d, %d, 'v%d', %d.%02d)", id, id%100, id, id, id%100)
		}
		stmts = append(stmts, b.String())
	}
	return stmts
}

// manyTxn is stream transaction k (from 0) over names, whose tables
// start with rows rows: it goes to table k mod N, whose round r = k div
// N; it inserts row rows+1+r, updates row r mod rows + 1 (of the initial
// rows, never deleted) and, from round 1 on, deletes the row the
// previous round inserted, so every table keeps rows+1 rows. The number
// of changes is len of the result.
func manyTxn(names []string, rows, k int) []string {
	name, r := names[k%len(names)], k/len(names)
	id := rows + 1 + r
	stmts := []string{
		fmt.Sprintf("INSERT INTO %s VALUES (%d, %d, 'i%d', %d.50)", name, id, r%100, k, r),
		fmt.Sprintf("UPDATE %s SET k = k + 1, v = 'u%d' WHERE id = %d", name, k, r%rows+1),
	}
	if r > 0 {
		stmts = append(stmts, fmt.Sprintf("DELETE FROM %s WHERE id = %d", name, id-1))
	}
	return stmts
}

// manyMarker is the marker transaction: one update of row 1 of every
// table, so every table's next commit is past it.
func manyMarker(names []string) []string {
	stmts := make([]string, len(names))
	for i, name := range names {
		stmts[i] = fmt.Sprintf("UPDATE %s SET amount = amount + 1 WHERE id = 1", name)
	}
	return stmts
}

// manyStream yields manyTxn 0, 1, ... paced at rate transactions/s
// until d has passed since the first (or ctx ends: the consumer then
// sees ctx.Err()).
func manyStream(ctx context.Context, names []string, rows int, rate float64, d time.Duration) iter.Seq[[]string] {
	return func(yield func([]string) bool) {
		start := time.Now()
		for k := 0; ; k++ {
			at := start.Add(time.Duration(float64(k) / rate * float64(time.Second)))
			if at.Sub(start) >= d || sleepUntil(ctx, at) != nil {
				return
			}
			if !yield(manyTxn(names, rows, k)) {
				return
			}
		}
	}
}

// manyTablesScenarios runs the manytables scenario at every N of
// -manytables, -memory-runs times each, and returns one Scenario per N,
// ascending, the largest with its MiB per table.
func (b *bench) manyTablesScenarios(ctx context.Context) ([]Scenario, error) {
	var scs []Scenario
	for _, n := range b.o.manyTables {
		sc := Scenario{Name: scManyTables, Source: b.src.Kind(), Unit: "MiB", Tables: n}
		for i := 1; i <= b.o.memoryRuns; i++ {
			r, err := b.manyTablesRun(ctx, n, i)
			if err != nil {
				return nil, fmt.Errorf("%s at %d tables, run %d: %w", scManyTables, n, i, err)
			}
			b.log.Info("run done", "scenario", scManyTables, "tables", n, "run", i, "peak_rss_mib", r.PeakRSSBytes>>20,
				"changes", r.Count, "floe_seconds", round3(r.FloeSeconds), "floe_cpu_seconds", r.CPUSeconds)
			sc.Runs = append(sc.Runs, r)
		}
		sc.summarize(b.o.interval.Seconds())
		scs = append(scs, sc)
	}
	setPerTable(scs)
	return scs, nil
}

// manyTablesRun is one run at n tables: the tables are (re)created and
// filled, floe snapshots them and streams the paced load, and stops once
// every table has committed the marker; floe verify must be equal. The
// figure is floe's peak RSS in MiB.
func (b *bench) manyTablesRun(ctx context.Context, n, i int) (Run, error) {
	names := manyTableNames(n)
	rows := b.o.manyTablesRows
	if err := b.src.ExecOwned(ctx, manyTableDDL(manyTableNames(slices.Max(b.o.manyTables)), names, rows)); err != nil {
		return Run{}, fmt.Errorf("create %d tables: %w", n, err)
	}
	d, err := b.floe.newPipeline(fmt.Sprintf("many%dr%d", n, i), "initial", names, floeDefaultInterval)
	if err != nil {
		return Run{}, err
	}
	profile := b.profileFile(fmt.Sprintf("%s-%d", scManyTables, n), i)
	p, err := b.floe.startStreaming(ctx, d, profile, runTimeout)
	if err != nil {
		return Run{}, err
	}
	defer p.killIfRunning()
	ap, err := applyTxns(ctx, b.src, manyStream(ctx, names, rows, b.o.manyTablesRate, b.o.manyTablesDur), manyMarker(names))
	if err != nil {
		return Run{}, fmt.Errorf("stream transactions: %w", err)
	}
	b.log.Info("many-table load written", "tables", n, "txns", ap.Txns, "changes", ap.Changes,
		"rate", round3(float64(ap.Txns)/ap.Elapsed.Seconds()))
	sec, err := b.commitAndStop(ctx, d, names, p, ap.Marker)
	if err != nil {
		return Run{}, err
	}
	if err := b.floe.verify(ctx, d); err != nil {
		return Run{}, err
	}
	if err := b.cleanup(ctx, d); err != nil {
		return Run{}, err
	}
	return Run{Floe: float64(p.peakRSS()) / (1 << 20), Count: int64(n*rows) + ap.Changes, Txns: ap.Txns,
		FloeSeconds: sec, LoadRate: float64(ap.Changes) / ap.Elapsed.Seconds(), PeakRSSBytes: p.peakRSS(),
		CPUSeconds: round3(p.cpuSeconds()), Profile: b.profileName(profile)}, nil
}

// setPerTable sets, on the manytables scenario with the most tables,
// MiBPerTable: its Median (the median of its runs' peak RSS, in MiB)
// less that of the one with the fewest tables, over the difference in
// tables (none with fewer than two table counts). It may be negative
// when the difference is below the noise.
func setPerTable(scs []Scenario) {
	var lo, hi *Scenario
	for i := range scs {
		s := &scs[i]
		if s.Name != scManyTables {
			continue
		}
		s.MiBPerTable, s.PerTableFrom = nil, 0
		if lo == nil || s.Tables < lo.Tables {
			lo = s
		}
		if hi == nil || s.Tables > hi.Tables {
			hi = s
		}
	}
	if lo == nil || lo.Tables == hi.Tables {
		return
	}
	hi.MiBPerTable = ptr(mibPerTable(lo.Median, hi.Median, lo.Tables, hi.Tables))
	hi.PerTableFrom = lo.Tables
}

// mibPerTable is (mibHi - mibLo) over (hi - lo) tables, rounded to 3
// places.
func mibPerTable(mibLo, mibHi float64, lo, hi int) float64 {
	return round3((mibHi - mibLo) / float64(hi-lo))
}

// parseTableCounts parses -manytables: positive integers, comma-separated;
// the result is ascending without duplicates.
func parseTableCounts(value string) ([]int, error) {
	var out []int
	for _, s := range strings.Split(value, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > 9999 {
			return nil, fmt.Errorf("-manytables: %q is not a table count from 1 to 9999 (e.g. -manytables 1,50,200)", s)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, errors.New("-manytables: nothing given (e.g. -manytables 1,50,200)")
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// fmtMiB is a MiB figure with two decimals.
func fmtMiB(x float64) string {
	return strconv.FormatFloat(x, 'f', 2, 64) + " MiB"
}
