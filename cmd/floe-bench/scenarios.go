package main

import (
	"context"
	"fmt"
	"log/slog"
	"syscall"
	"time"
)

// bench runs the scenarios against one source.
type bench struct {
	o      options
	log    *slog.Logger
	src    benchSource
	floe   *floeRunner
	tables []string
	// reads are the reads scenario's S3 and Trino, once started.
	reads *readServices
}

// Generous ceilings: a run that takes longer has hung.
const (
	runTimeout  = 45 * time.Minute
	stopTimeout = 3 * time.Minute
)

// scenarios runs scenario name: one Scenario, or for snapshot one per
// parallelism and for manytables one per table count.
func (b *bench) scenarios(ctx context.Context, name string) ([]Scenario, error) {
	switch name {
	case scSnapshot:
		return b.snapshotScenarios(ctx)
	case scManyTables:
		return b.manyTablesScenarios(ctx)
	}
	sc, err := b.runScenario(ctx, name)
	if err != nil {
		return nil, err
	}
	return []Scenario{sc}, nil
}

// runScenario runs scenario name o.runs times (snapshot: see
// snapshotScenarios).
func (b *bench) runScenario(ctx context.Context, name string) (Scenario, error) {
	sc := Scenario{Name: name, Source: b.src.Kind(), Unit: "changes/s"}
	switch name {
	case scBigTxn, scHugeTxn:
		sc.Unit = "rows/s"
	case scLargeValues:
		sc.Unit = "MiB/s"
	case scFreshness, scReads:
		sc.Unit = "s"
	}
	runs := b.o.runs
	if contains(memoryScenarios, name) {
		runs = b.o.memoryRuns
	}
	for i := 1; i <= runs; i++ {
		var (
			r   Run
			err error
		)
		switch name {
		case scStreaming:
			r, err = b.catchUpRun(ctx, name, i, workload{Changes: b.o.changes, TxnChanges: b.o.txnChanges})
		case scBigTxn:
			r, err = b.catchUpRun(ctx, name, i, workload{BigInsert: b.o.bigTxn})
		case scFreshness:
			r, err = b.freshnessRun(ctx, i)
		case scHugeTxn:
			r, err = b.catchUpRun(ctx, name, i, workload{BigInsert: b.o.hugeTxn})
		case scLargeValues:
			r, err = b.largeValuesRun(ctx, i)
		case scReads:
			r, err = b.readsRun(ctx, i)
		default:
			return sc, fmt.Errorf("unknown scenario %q", name)
		}
		if err != nil {
			return sc, fmt.Errorf("%s run %d: %w", name, i, err)
		}
		b.log.Info("run done", "scenario", name, "run", i, "floe", round3(r.Floe), "raw", round3(deref(r.Raw)), "unit", sc.Unit,
			"order", r.Order,
			"peak_rss_mib", r.PeakRSSBytes>>20, "floe_seconds", round3(r.FloeSeconds), "floe_cpu_seconds", r.CPUSeconds,
			"raw_cpu_seconds", round3(deref(r.RawCPUSeconds)))
		sc.Runs = append(sc.Runs, r)
	}
	sc.summarize(b.o.interval.Seconds())
	return sc, nil
}

// Which side of a run's pair goes first (Run.Order): odd runs read the
// raw source first, even runs floe, so that a cache the first warms, or
// a machine getting busier, does not favour the same side every time.
const (
	orderRawFirst  = "raw_first"
	orderFloeFirst = "floe_first"
)

func runOrder(i int) string {
	if i%2 == 1 {
		return orderRawFirst
	}
	return orderFloeFirst
}

// pairedRun runs raw and floe back to back in the order of run i (see
// runOrder), stopping at the first error, and returns the order.
func pairedRun(i int, raw, floe func() error) (string, error) {
	order := runOrder(i)
	first, second := raw, floe
	if order == orderFloeFirst {
		first, second = floe, raw
	}
	if err := first(); err != nil {
		return order, err
	}
	return order, second()
}

// rawRead runs read (a raw baseline in this process) and returns its
// wall time and the CPU time (user plus system) this process used
// meanwhile: nothing else of floe-bench runs during a raw read. An error
// of read is wrapped with what.
func rawRead(what string, read func() error) (wall, cpu float64, err error) {
	cpu0 := selfCPUSeconds()
	start := time.Now()
	if err := read(); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", what, err)
	}
	return time.Since(start).Seconds(), selfCPUSeconds() - cpu0, nil
}

// selfCPUSeconds is this process's user plus system CPU time so far.
func selfCPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// snapshotScenarios runs the snapshot scenario at each parallelism of
// -parallelism, o.runs rounds; a round measures every parallelism (a
// paired raw and floe run each) before the next round starts, so a
// machine that gets busier slows every parallelism alike. It returns
// one Scenario per parallelism, ascending, with its scaling.
func (b *bench) snapshotScenarios(ctx context.Context) ([]Scenario, error) {
	scs := make([]Scenario, len(b.o.parallelisms))
	for j, n := range b.o.parallelisms {
		scs[j] = Scenario{Name: scSnapshot, Source: b.src.Kind(), Unit: "rows/s", Parallelism: n}
	}
	for i := 1; i <= b.o.runs; i++ {
		for j, n := range b.o.parallelisms {
			r, err := b.snapshotRun(ctx, i, n)
			if err != nil {
				return nil, fmt.Errorf("snapshot at parallelism %d, run %d: %w", n, i, err)
			}
			b.log.Info("run done", "scenario", scSnapshot, "parallelism", n, "run", i, "floe", round3(r.Floe), "raw", round3(deref(r.Raw)),
				"unit", "rows/s", "order", r.Order, "peak_rss_mib", r.PeakRSSBytes>>20, "floe_cpu_seconds", r.CPUSeconds,
				"raw_cpu_seconds", round3(deref(r.RawCPUSeconds)))
			scs[j].Runs = append(scs[j].Runs, r)
		}
	}
	for j := range scs {
		scs[j].summarize(b.o.interval.Seconds())
	}
	setScaling(scs)
	return scs, nil
}

// snapshotRun times the raw chunked read and `floe run` with
// snapshot.mode initial_only from start to exit, both at parallelism,
// back to back, in the run's order.
func (b *bench) snapshotRun(ctx context.Context, i, parallelism int) (Run, error) {
	var (
		rows, got      int64
		rawSec, rawCPU float64
		floeSec        float64
		profile        = b.profileFile(fmt.Sprintf("%s-p%d", scSnapshot, parallelism), i)
		p              *floeProc
	)
	raw := func() (err error) {
		rawSec, rawCPU, err = rawRead("raw snapshot", func() (err error) {
			rows, err = b.src.RawSnapshot(ctx, parallelism, b.o.chunkRows)
			return err
		})
		return err
	}
	floe := func() error {
		d, err := b.floe.newPipelineWith(fmt.Sprintf("snap%dp%d", i, parallelism), "initial_only", b.tables, b.o.streamInterval,
			pipelineOpts{parallelism: parallelism})
		if err != nil {
			return err
		}
		if p, err = b.floe.start(d, profile); err != nil {
			return err
		}
		if err := p.wait(ctx, runTimeout); err != nil {
			return d.withLog(err)
		}
		floeSec = time.Since(p.started).Seconds()
		if got, err = b.lakeRowCount(ctx, d, b.tables); err != nil {
			return err
		}
		return b.cleanup(ctx, d)
	}
	order, err := pairedRun(i, raw, floe)
	if err != nil {
		return Run{}, err
	}
	if got != rows {
		return Run{}, fmt.Errorf("floe snapshot holds %d rows, the source %d", got, rows)
	}
	return Run{Floe: float64(rows) / floeSec, Raw: ptr(float64(rows) / rawSec), Order: order, Count: rows,
		FloeSeconds: floeSec, RawSeconds: ptr(rawSec), PeakRSSBytes: p.peakRSS(), CPUSeconds: round3(p.cpuSeconds()),
		RawCPUSeconds: ptr(round3(rawCPU)), Profile: b.profileName(profile)}, nil
}

// lakeRowCount is the number of live rows in the pipeline's tables.
func (b *bench) lakeRowCount(ctx context.Context, d *pipelineDir, tables []string) (int64, error) {
	cat, err := openLake(ctx, d)
	if err != nil {
		return 0, err
	}
	defer cat.Close()
	return lakeRows(ctx, cat, tables, d.name)
}

// catchUpRun writes the workload while floe is stopped (its slot and a
// raw slot both exist), then times `floe run` from start until every
// Iceberg table has committed the last transaction, and the raw decoder
// over the same range, back to back in the run's order. Both read the
// same WAL, so the ratio compares decode-and-deliver with decode alone,
// not with the speed of the load generator.
func (b *bench) catchUpRun(ctx context.Context, name string, i int, w workload) (Run, error) {
	d, err := b.floe.newPipeline(fmt.Sprintf("%s%d", name, i), "never", b.tables, b.o.streamInterval)
	if err != nil {
		return Run{}, err
	}
	// First start: creates the slot, the publication and the tables.
	p, err := b.floe.startStreaming(ctx, d, "", 2*time.Minute)
	if err != nil {
		return Run{}, err
	}
	// Prime: one marker transaction, committed by floe before it stops, so
	// that the pipeline has a durable position to resume from. PostgreSQL
	// keeps it in the slot anyway; a MySQL-family server keeps nothing,
	// and floe stopped before its first checkpoint restarts at the
	// server's current position, skipping the workload.
	prime, err := b.src.Apply(ctx, workload{})
	if err != nil {
		p.Kill()
		return Run{}, fmt.Errorf("prime: %w", err)
	}
	if _, err := waitCommitted(ctx, d, b.tables, b.src.DecodeFloePosition, p, prime.Marker, 2*time.Minute); err != nil {
		p.Kill()
		return Run{}, d.withLog(fmt.Errorf("prime: %w", err))
	}
	if err := p.stop(stopTimeout); err != nil {
		return Run{}, err
	}
	rawName := fmt.Sprintf("bench_raw_%s%d", name, i)
	if err := b.src.OpenRawCursor(ctx, rawName); err != nil {
		return Run{}, err
	}
	defer func() { _ = b.src.CloseRawCursor(context.WithoutCancel(ctx), rawName) }()
	ap, err := b.src.Apply(ctx, w)
	if err != nil {
		return Run{}, err
	}
	b.log.Info("workload written", "scenario", name, "run", i, "changes", ap.Changes, "txns", ap.Txns,
		"seconds", round3(ap.Elapsed.Seconds()))

	var (
		dr      decodeResult
		rawCPU  float64
		floeSec float64
		profile = b.profileFile(name, i)
	)
	raw := func() (err error) {
		_, rawCPU, err = rawRead("raw decode", func() (err error) {
			dr, err = b.src.RawDecode(ctx, rawName, ap.Marker, false)
			return err
		})
		return err
	}
	floe := func() (err error) {
		if p, err = b.floe.start(d, profile); err != nil {
			return err
		}
		floeSec, err = b.commitAndStop(ctx, d, b.tables, p, ap.Marker)
		return err
	}
	order, err := pairedRun(i, raw, floe)
	if err != nil {
		return Run{}, err
	}
	if dr.Changes != ap.Changes {
		b.log.Warn("raw decoder saw a different number of changes than written", "decoded", dr.Changes, "written", ap.Changes)
	}
	if err := b.cleanup(ctx, d); err != nil {
		return Run{}, err
	}
	rawSec := dr.Elapsed.Seconds()
	n := float64(dr.Changes)
	return Run{Floe: n / floeSec, Raw: ptr(n / rawSec), Order: order, Count: dr.Changes, FloeSeconds: floeSec, RawSeconds: ptr(rawSec),
		PeakRSSBytes: p.peakRSS(), CPUSeconds: round3(p.cpuSeconds()), RawCPUSeconds: ptr(round3(rawCPU)), Txns: ap.Txns,
		LoadRate: float64(ap.Changes) / ap.Elapsed.Seconds(), Profile: b.profileName(profile)}, nil
}

// pacedLoad writes the freshness run's paced load (the measured part)
// and waits until floe, p, has committed it. The load keeps going
// (unmeasured) until then: a steady load has no idle tail, which would
// time the last checkpoint differently.
func (b *bench) pacedLoad(ctx context.Context, d *pipelineDir, p *floeProc, i int) (applyResult, error) {
	ap, err := b.src.Apply(ctx, workload{TxnChanges: b.o.freshTxnChanges, Rate: b.o.rate, Duration: b.o.duration})
	if err != nil {
		return applyResult{}, err
	}
	b.log.Info("paced load done", "run", i, "changes", ap.Changes, "txns", ap.Txns, "rate", round3(float64(ap.Changes)/ap.Elapsed.Seconds()))
	tailStop := make(chan struct{})
	tailDone := make(chan error, 1)
	go func() {
		_, err := b.src.Apply(ctx, workload{TxnChanges: b.o.freshTxnChanges, Rate: b.o.rate, Duration: runTimeout, Stop: tailStop})
		tailDone <- err
	}()
	_, err = waitCommitted(ctx, d, b.tables, b.src.DecodeFloePosition, p, ap.Marker, b.o.interval*3+2*time.Minute)
	close(tailStop)
	if terr := <-tailDone; err == nil && terr != nil {
		err = fmt.Errorf("tail load: %w", terr)
	}
	if err != nil {
		return applyResult{}, d.withLog(err)
	}
	return ap, nil
}

// freshnessRun streams a paced load through a running floe with the
// default checkpoint interval and measures, per transaction, the delay
// from its source commit to the poll that saw it committed in Iceberg.
func (b *bench) freshnessRun(ctx context.Context, i int) (Run, error) {
	d, err := b.floe.newPipelineWith(fmt.Sprintf("fresh%d", i), "never", b.tables, b.o.interval, pipelineOpts{compaction: b.backgroundCompaction()})
	if err != nil {
		return Run{}, err
	}
	profile := b.profileFile(scFreshness, i)
	p, err := b.floe.startStreaming(ctx, d, profile, 2*time.Minute)
	if err != nil {
		return Run{}, err
	}
	defer p.killIfRunning()
	raw := fmt.Sprintf("bench_raw_fresh%d", i)
	if err := b.src.OpenRawCursor(ctx, raw); err != nil {
		return Run{}, err
	}
	defer func() { _ = b.src.CloseRawCursor(context.WithoutCancel(ctx), raw) }()
	cat, err := openLake(ctx, d)
	if err != nil {
		return Run{}, err
	}
	defer cat.Close()
	lp, err := newLakePoller(ctx, cat, b.tables, d.name, b.src.DecodeFloePosition, b.o.poll, b.log)
	if err != nil {
		return Run{}, err
	}
	pctx, stopPoll := context.WithCancel(ctx)
	polled := make(chan struct{})
	go func() { defer close(polled); lp.run(pctx) }()
	defer func() { stopPoll(); <-polled }()
	smp, err := b.startSampling(ctx, d)
	if err != nil {
		return Run{}, err
	}
	defer smp.halt()

	ap, err := b.pacedLoad(ctx, d, p, i)
	if err != nil {
		return Run{}, err
	}
	loadRate := float64(ap.Changes) / ap.Elapsed.Seconds()
	// Give the poller two more rounds to see the last commit.
	if err := sleepUntil(ctx, time.Now().Add(2*b.o.poll+50*time.Millisecond)); err != nil {
		return Run{}, err
	}
	stopPoll()
	<-polled
	if err := p.stop(stopTimeout); err != nil {
		return Run{}, err
	}
	files, passes, err := smp.finish(ctx, b.tables)
	if err != nil {
		return Run{}, err
	}
	dr, err := b.src.RawDecode(ctx, raw, ap.Marker, true)
	if err != nil {
		return Run{}, fmt.Errorf("raw decode: %w", err)
	}
	delays, missing := lp.delays(dr.Txns)
	if missing > 0 {
		return Run{}, fmt.Errorf("%d of %d transactions were never seen committed in Iceberg", missing, len(dr.Txns))
	}
	if err := b.cleanup(ctx, d); err != nil {
		return Run{}, err
	}
	p99 := percentile(delays, 99)
	return Run{Floe: p99, Count: dr.Changes, Txns: int64(len(dr.Txns)), LoadRate: loadRate,
		FloeSeconds: ap.Elapsed.Seconds(), PeakRSSBytes: p.peakRSS(), CPUSeconds: round3(p.cpuSeconds()),
		P50Seconds: ptr(percentile(delays, 50)), P99Seconds: ptr(p99), MaxSeconds: ptr(percentile(delays, 100)),
		Files: files, CompactionPasses: passes, Profile: b.profileName(profile)}, nil
}

// backgroundCompaction is the compaction section of the freshness and
// reads pipelines: a pass every -compaction-interval when set ("": floe's
// default).
func (b *bench) backgroundCompaction() string {
	if b.o.compactEvery <= 0 {
		return ""
	}
	return fmt.Sprintf("  enabled: true\n  interval: %s\n", b.o.compactEvery)
}

// cleanup drops a finished pipeline's slot, publication and lake (unless
// -keep), keeping its config and log.
func (b *bench) cleanup(ctx context.Context, d *pipelineDir) error {
	if err := b.src.DropPipeline(ctx, d.name); err != nil {
		return fmt.Errorf("drop pipeline %s: %w", d.name, err)
	}
	if b.o.keep {
		return nil
	}
	return d.dropLake()
}

// profileFile is the CPU profile file name of a scenario's run i.
func (b *bench) profileFile(scenario string, i int) string {
	return fmt.Sprintf("%s-%s-run%d.pprof", b.src.Kind(), scenario, i)
}

func (b *bench) profileName(p string) string {
	if b.floe.profiles == "" {
		return ""
	}
	return p
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

// commitAndStop waits (up to runTimeout) until floe run p has committed
// marker in every one of tables, then stops p, and returns the seconds
// from p's start to that commit. When the wait fails, p is killed and
// the error carries the end of its log.
func (b *bench) commitAndStop(ctx context.Context, d *pipelineDir, tables []string, p *floeProc, marker pos) (float64, error) {
	seen, err := waitCommitted(ctx, d, tables, b.src.DecodeFloePosition, p, marker, runTimeout)
	if err != nil {
		p.Kill()
		return 0, d.withLog(err)
	}
	if err := p.stop(stopTimeout); err != nil {
		return 0, err
	}
	return seen.Sub(p.started).Seconds(), nil
}
