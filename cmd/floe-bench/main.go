package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the command-line settings.
type options struct {
	floeBin         string
	quick           bool
	rows            int64
	changes         int64
	txnChanges      int
	bigTxn          int64
	hugeTxn         int64
	largeValueMiB   int
	largeBoth       bool
	memoryRuns      int
	manyTables      []int // table counts of the manytables scenario, ascending
	manyTablesRows  int
	manyTablesRate  float64
	manyTablesDur   time.Duration
	rate            float64
	duration        time.Duration
	freshTxnChanges int
	runs            int
	parallelisms    []int // snapshot.parallelism values of the snapshot scenario, ascending
	compactEvery    time.Duration
	readsRate       float64
	readsDuration   time.Duration
	filesEvery      time.Duration
	chunkRows       int
	interval        time.Duration
	streamInterval  time.Duration
	poll            time.Duration
	scenarios       []string
	sources         []string
	merge           string
	previous        string
	render          string
	tolerancePct    float64
	workdir         string
	out             string
	profiles        string
	label           string
	keep            bool
	verbose         bool
}

var allScenarios = []string{scSnapshot, scStreaming, scBigTxn, scFreshness, scHugeTxn, scLargeValues, scManyTables}

// knownScenarios are allScenarios and those run only when named: reads
// needs Trino (a JDK and deploy/trino/fetch.sh's download).
var knownScenarios = append(slices.Clone(allScenarios), scReads)

// memoryScenarios are the scenarios whose figure is the peak RSS: they run
// -memory-runs times, and -memory runs only them.
var memoryScenarios = []string{scHugeTxn, scLargeValues, scManyTables}

// Source kinds, in the order they run and are reported.
const (
	srcPostgres = "postgres"
	srcMariaDB  = "mariadb"
)

var allSources = []string{srcPostgres, srcMariaDB}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("floe-bench", flag.ContinueOnError)
	fs.StringVar(&o.floeBin, "floe", "bin/floe", "the floe binary to measure (make build)")
	fs.BoolVar(&o.quick, "quick", false, "development scale: 200k rows, 100k changes, 100k-row transaction, 15 s freshness, 1 run, 500k-row hugetxn, 8 MiB large values (explicit flags still win)")
	fs.Int64Var(&o.rows, "rows", 5_000_000, "rows generated over the 4 tables")
	fs.Int64Var(&o.changes, "changes", 1_000_000, "streaming changes (insert:update:delete 2:2:1)")
	fs.IntVar(&o.txnChanges, "txn-changes", 100, "changes per streaming transaction")
	fs.Int64Var(&o.bigTxn, "bigtxn", 1_000_000, "rows inserted by the single big transaction")
	fs.Int64Var(&o.hugeTxn, "hugetxn", 10_000_000, "rows inserted by the single transaction of the hugetxn memory scenario")
	fs.IntVar(&o.largeValueMiB, "large-value-mib", 50, "MiB of each large value of the largevalues memory scenario")
	fs.BoolVar(&o.largeBoth, "large-both", false, "largevalues: each row carries a large text and a large binary value (default: one of them, alternately)")
	fs.IntVar(&o.memoryRuns, "memory-runs", 1, "runs of each memory scenario (hugetxn, largevalues, manytables at each table count)")
	many := fs.String("manytables", "1,50,200", "manytables memory scenario: the numbers of small tables floe captures, comma-separated (MiB per table: between the smallest and the largest)")
	fs.IntVar(&o.manyTablesRows, "manytables-rows", 200, "manytables: rows of each table")
	fs.Float64Var(&o.manyTablesRate, "manytables-rate", 100, "manytables: small transactions/s streamed over all tables (round-robin)")
	fs.DurationVar(&o.manyTablesDur, "manytables-duration", 25*time.Second, "manytables: how long the small transactions are streamed after the snapshot")
	memory := fs.Bool("memory", false, "only the memory scenarios (hugetxn, largevalues, manytables) over a minimal data set: -scenarios "+
		strings.Join(memoryScenarios, ",")+" -rows 4000 -label memory (explicit flags still win)")
	fs.Float64Var(&o.rate, "rate", 10_000, "freshness load in changes/s")
	fs.DurationVar(&o.duration, "duration", 60*time.Second, "freshness load duration")
	fs.IntVar(&o.freshTxnChanges, "fresh-txn-changes", 50, "changes per freshness transaction")
	fs.IntVar(&o.runs, "runs", 3, "runs (rounds) per scenario; each run measures the raw source and floe back to back, alternating which goes first")
	par := fs.String("parallelism", "1,2,all", "snapshot.parallelism values the snapshot scenario measures, comma-separated (all = every core); each is paired with the raw chunked read at the same parallelism")
	fs.DurationVar(&o.compactEvery, "compaction-interval", 0, "freshness and reads: run floe with background compaction every this long (compaction.interval); 0 = floe's default (30m: no pass in a short run)")
	fs.DurationVar(&o.filesEvery, "files-every", 5*time.Second, "freshness: how often each table's live data and delete files are counted (the maximum over the run is reported)")
	fs.Float64Var(&o.readsRate, "reads-rate", 2_000, "reads: changes/s floe streams while Trino queries (update-heavy: insert:update:delete 1:8:1)")
	fs.DurationVar(&o.readsDuration, "reads-duration", time.Minute, "reads: how long Trino queries the table while floe streams (issue 12's goal: 30m)")
	sustained := fs.Bool("sustained", false, "freshness sustained: -scenarios freshness -duration 10m -compaction-interval 1m -label sustained (explicit flags still win)")
	fs.IntVar(&o.chunkRows, "chunk-rows", 50_000, "snapshot chunk rows (floe and the raw COPY)")
	fs.DurationVar(&o.interval, "interval", time.Second, "checkpoint interval of the freshness scenario (the target, p99 <= 2 s, is at 1 s; floe's default is 10 s)")
	fs.DurationVar(&o.streamInterval, "stream-interval", time.Second, "checkpoint interval of the snapshot, streaming and bigtxn scenarios (bounds the wait for the last checkpoint)")
	fs.DurationVar(&o.poll, "poll", 100*time.Millisecond, "freshness: how often each Iceberg table's position is read")
	scen := fs.String("scenarios", strings.Join(allScenarios, ","), "scenarios to run, comma-separated")
	srcs := fs.String("source", strings.Join(allSources, ","), "source kinds to measure, comma-separated (each starts its own server)")
	fs.StringVar(&o.merge, "merge", "", "an existing results file (version 1 or 2): the sources measured now replace theirs in it, the others are kept, and it (and its .md) is rewritten")
	fs.StringVar(&o.previous, "previous", "auto", "results file to compare the baselines with: auto = the newest file in -out (the -merge file's directory) of the same source, label and sizes; none = no comparison")
	fs.Float64Var(&o.tolerancePct, "baseline-tolerance", 15, "percent a raw baseline may differ from the previous results before its ratio is flagged as moved by its baseline")
	fs.StringVar(&o.render, "render", "", "measure nothing: read this results file, summarize its runs with this build's rules (paired ratios, spreads, the current targets) and print its markdown")
	fs.StringVar(&o.workdir, "workdir", "bench/work", "floe configs, logs and lakes (the lakes are removed after each run)")
	fs.StringVar(&o.out, "out", "bench/results", "directory for <date>.json and <date>.md")
	fs.StringVar(&o.profiles, "profiles", "bench/profiles", "directory for CPU profiles (a <date>-<label> folder is made); empty = none")
	fs.StringVar(&o.label, "label", "", "scale label in the results (default: full, quick, memory or custom)")
	fs.BoolVar(&o.keep, "keep", false, "keep each run's lake")
	fs.BoolVar(&o.verbose, "v", false, "debug logging")
	err := fs.Parse(args)
	if err != nil {
		return o, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	o.applyPresets(set, scen, *sustained, *memory)
	if o.label == "" {
		o.label = "full"
		if o.quick {
			o.label = "quick"
		}
		if *memory {
			o.label = strings.TrimSuffix("memory-"+o.label, "-full")
		}
		for _, name := range []string{"changes", "bigtxn", "duration", "runs", "rate", "txn-changes", "hugetxn", "large-value-mib", "large-both", "memory-runs",
			"manytables", "manytables-rows", "manytables-rate", "manytables-duration"} {
			if set[name] {
				o.label = "custom"
			}
		}
		if set["rows"] {
			o.label = "custom"
		}
	}
	if o.scenarios, err = splitList("-scenarios", "scenario", *scen, knownScenarios); err != nil {
		return o, err
	}
	if o.sources, err = splitList("-source", "source", *srcs, allSources); err != nil {
		return o, err
	}
	if o.parallelisms, err = parseParallelisms(*par, runtime.NumCPU()); err != nil {
		return o, err
	}
	if o.manyTables, err = parseTableCounts(*many); err != nil {
		return o, err
	}
	if contains(o.scenarios, scReads) && contains(o.sources, srcMariaDB) {
		return o, errors.New("-scenarios reads: Trino reads the lake through a catalog database on the PostgreSQL source server; add -source postgres")
	}
	return o, o.validate()
}

// applyPresets applies -quick, -sustained and -memory to the settings
// not given explicitly (set) and to the scenario list.
func (o *options) applyPresets(set map[string]bool, scen *string, sustained, memory bool) {
	if o.quick {
		quick := map[string]func(){
			"rows": func() { o.rows = 200_000 }, "changes": func() { o.changes = 100_000 },
			"bigtxn": func() { o.bigTxn = 100_000 }, "duration": func() { o.duration = 15 * time.Second },
			"runs": func() { o.runs = 1 }, "hugetxn": func() { o.hugeTxn = 500_000 },
			"large-value-mib": func() { o.largeValueMiB = 8 },
		}
		for name, apply := range quick {
			if !set[name] {
				apply()
			}
		}
	}
	if sustained {
		sustain := map[string]func(){
			"scenarios": func() { *scen = scFreshness }, "duration": func() { o.duration = 10 * time.Minute },
			"compaction-interval": func() { o.compactEvery = time.Minute }, "label": func() { o.label = "sustained" },
		}
		for name, apply := range sustain {
			if !set[name] {
				apply()
			}
		}
	}
	if memory {
		if !set["scenarios"] {
			*scen = strings.Join(memoryScenarios, ",")
		}
		if !set["rows"] {
			o.rows = 4000
		}
	}
}

// validate checks the numeric settings.
func (o options) validate() error {
	switch {
	case o.tolerancePct <= 0:
		return errors.New("-baseline-tolerance: must be positive")
	case o.runs < 1 || o.memoryRuns < 1:
		return errors.New("-runs and -memory-runs: must be at least 1")
	case o.hugeTxn < 1 || o.largeValueMiB < 1:
		return errors.New("-hugetxn and -large-value-mib: must be positive")
	case o.rows < 4000:
		return errors.New("-rows: must be at least 4000")
	case o.manyTablesRows < 1 || o.manyTablesRate <= 0 || o.manyTablesDur <= 0:
		return errors.New("-manytables-rows, -manytables-rate and -manytables-duration: must be positive")
	case o.chunkRows < 1:
		return errors.New("-chunk-rows: must be positive")
	case o.readsRate <= 0 || o.readsDuration <= 0:
		return errors.New("-reads-rate and -reads-duration: must be positive")
	case o.compactEvery < 0 || o.filesEvery <= 0:
		return errors.New("-compaction-interval must not be negative and -files-every must be positive")
	case o.txnChanges < 5 || o.freshTxnChanges < 5:
		return errors.New("-txn-changes and -fresh-txn-changes: must be at least 5")
	}
	return nil
}

// parseParallelisms parses -parallelism: positive integers or "all"
// (cores), comma-separated; the result is ascending without duplicates
// (on 2 cores "1,2,all" is 1 and 2).
func parseParallelisms(value string, cores int) ([]int, error) {
	var out []int
	for _, s := range strings.Split(value, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		n := cores
		if s != "all" {
			v, err := strconv.Atoi(s)
			if err != nil || v < 1 {
				return nil, fmt.Errorf("-parallelism: %q is neither a positive number nor all (e.g. -parallelism 1,2,all)", s)
			}
			n = v
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("-parallelism: nothing given (e.g. -parallelism 1,2,all)")
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// splitList splits a comma-separated flag value, checking each item
// against known.
func splitList(flagName, what, value string, known []string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(value, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !contains(known, s) {
			return nil, fmt.Errorf("%s: unknown %s %q (known: %s)", flagName, what, s, strings.Join(known, ", "))
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: nothing given", flagName)
	}
	return out, nil
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "floe-bench:", err)
		os.Exit(2)
	}
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if o.render != "" {
		md, err := renderFile(o.render)
		if err != nil {
			fmt.Fprintln(os.Stderr, "floe-bench:", err)
			os.Exit(1)
		}
		fmt.Print(md)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = runBench(ctx, o, log)
	stop()
	if err != nil {
		log.Error("benchmark failed", "err", err)
		os.Exit(1)
	}
}

// runBench starts the source, loads the data, runs the scenarios and
// writes the results. Every process it starts is stopped before it
// returns, whatever happens.
func runBench(ctx context.Context, o options, log *slog.Logger) (err error) {
	started := time.Now()
	bin, err := filepath.Abs(o.floeBin)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("floe binary: %w (build it with make build)", err)
	}
	floeVersion, err := exec.CommandContext(ctx, bin, "version").Output()
	if err != nil {
		return fmt.Errorf("floe version: %w", err)
	}
	workdir, err := filepath.Abs(o.workdir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(workdir, 0o755); err != nil {
		return fmt.Errorf("create workdir: %w", err)
	}
	date := started.Format("2006-01-02")
	var profiles string
	if o.profiles != "" {
		if !supportsRunFlag(bin, "--cpuprofile") {
			log.Warn("this floe has no run --cpuprofile flag: no CPU profiles")
		} else if profiles, err = filepath.Abs(filepath.Join(o.profiles, date+"-"+o.label)); err != nil {
			return err
		} else if err := os.MkdirAll(profiles, 0o755); err != nil {
			return fmt.Errorf("create profiles dir: %w", err)
		}
	}

	var base *Results
	if o.merge != "" {
		// Read it first: a bad file should fail before the measurement.
		if base, err = readResultsFile(o.merge); err != nil {
			return err
		}
	}
	res := &Results{Version: resultsVersion, Date: date, Machine: machineInfo()}
	for _, kind := range o.sources {
		sr, err := runSource(ctx, o, log, kind, bin, firstLine(string(floeVersion)), filepath.Join(workdir, kind), profiles)
		if err != nil {
			return fmt.Errorf("%s: %w", kind, err)
		}
		res.Sources = append(res.Sources, sr)
	}
	if base == nil {
		name := res.Date
		if label := res.Sources[0].Label; label != "full" {
			name += "-" + label
		}
		annotateShifts(res, o.previous, o.out, o.tolerancePct/100, log)
		return writeResults(o.out, name, res, log)
	}
	annotateShifts(res, o.previous, filepath.Dir(o.merge), o.tolerancePct/100, log)
	merged := mergeResults(base, res)
	return writeResults(filepath.Dir(o.merge), strings.TrimSuffix(filepath.Base(o.merge), ".json"), merged, log)
}

// startSource starts the server of a source kind.
func startSource(ctx context.Context, kind string, log *slog.Logger) (benchSource, error) {
	switch kind {
	case srcPostgres:
		return startPostgres(ctx, log)
	case srcMariaDB:
		return startMariaDB(ctx, log)
	}
	return nil, fmt.Errorf("unknown source kind %q", kind)
}

// runSource starts one source, loads the data and runs the scenarios on
// it. The server and every floe process are stopped before it returns,
// whatever happens.
func runSource(ctx context.Context, o options, log *slog.Logger, kind, bin, floeVersion, workdir, profiles string) (SourceResults, error) {
	log = log.With("source", kind)
	srcStarted := time.Now()
	if err := os.MkdirAll(workdir, 0o755); err != nil {
		return SourceResults{}, fmt.Errorf("create workdir: %w", err)
	}
	src, err := startSource(ctx, kind, log)
	if err != nil {
		return SourceResults{}, err
	}
	defer func() {
		if serr := src.Stop(); serr != nil {
			log.Warn("stop source", "err", serr)
		}
	}()
	runner := &floeRunner{bin: bin, workdir: workdir, src: src, log: log, parallelism: slices.Max(o.parallelisms), chunkRows: o.chunkRows,
		profiles: profiles, heapProfiles: profiles != "" && supportsRunFlag(bin, "--memprofile")}
	defer runner.killAll()

	srcVersion, err := src.Version(ctx)
	if err != nil {
		return SourceResults{}, err
	}
	log.Info("loading", "rows", o.rows)
	info, err := src.Load(ctx, o.rows)
	if err != nil {
		return SourceResults{}, err
	}
	log.Info("loaded", "rows", info.Rows, "avg_row_bytes", round3(info.AvgRowBytes), "seconds", round3(info.Elapsed.Seconds()))
	sr := SourceResults{Source: kind, SourceVersion: srcVersion, FloeVersion: floeVersion,
		StartedAt: srcStarted.Format(time.RFC3339), Label: o.label, Command: reproduceCommand(os.Args[1:]),
		Scale: Scale{Rows: info.Rows, Tables: len(info.Tables), AvgRowBytes: round3(info.AvgRowBytes), Changes: o.changes,
			TxnChanges: o.txnChanges, BigTxnRows: o.bigTxn, FreshnessRate: o.rate, FreshnessSeconds: o.duration.Seconds(),
			Runs: o.runs, SnapshotParallelism: o.parallelisms, ChunkRows: o.chunkRows, StreamInterval: o.streamInterval.String(),
			CheckpointInterval: o.interval.String(), PollInterval: o.poll.String()},
	}
	if (contains(o.scenarios, scFreshness) || contains(o.scenarios, scReads)) && o.compactEvery > 0 {
		sr.Scale.CompactionInterval = o.compactEvery.String()
	}
	if contains(o.scenarios, scReads) {
		sr.Scale.ReadsRate, sr.Scale.ReadsSeconds = o.readsRate, o.readsDuration.Seconds()
	}
	if contains(o.scenarios, scHugeTxn) {
		sr.Scale.HugeTxnRows = o.hugeTxn
	}
	if contains(o.scenarios, scLargeValues) {
		sr.Scale.LargeValueBytes = int64(o.largeValueMiB) << 20
		sr.Scale.LargeValuesPerRow = 1
		if o.largeBoth {
			sr.Scale.LargeValuesPerRow = 2
		}
	}
	if contains(o.scenarios, scManyTables) {
		sr.Scale.ManyTablesRows, sr.Scale.ManyTablesRate = o.manyTablesRows, o.manyTablesRate
		sr.Scale.ManyTablesSeconds, sr.Scale.ManyTablesInterval = o.manyTablesDur.Seconds(), floeDefaultInterval.String()
	}
	for _, name := range memoryScenarios {
		if contains(o.scenarios, name) {
			sr.Scale.MemoryRuns = o.memoryRuns
		}
	}
	b := &bench{o: o, log: log, src: src, floe: runner, tables: info.Tables}
	defer b.stopReadServices()
	for _, name := range o.scenarios {
		log.Info("scenario", "name", name)
		scs, err := b.scenarios(ctx, name)
		if err != nil {
			return sr, err
		}
		sr.Scenarios = append(sr.Scenarios, scs...)
	}
	return sr, nil
}

// writeResults writes base.json and base.md into dir and prints the
// markdown.
func writeResults(dir, base string, res *Results, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create results dir: %w", err)
	}
	js, err := marshalResults(res)
	if err != nil {
		return err
	}
	md := markdown(res)
	for name, data := range map[string][]byte{base + ".json": js, base + ".md": []byte(md)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	fmt.Print("\n" + md)
	log.Info("results written", "json", filepath.Join(dir, base+".json"))
	return nil
}

// machineInfo describes this machine from /proc and the runtime.
func machineInfo() Machine {
	m := Machine{NProc: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, GoVersion: runtime.Version()}
	if v, ok := procField("/proc/meminfo", "MemTotal"); ok {
		kb, _ := strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64)
		m.MemBytes = kb * 1024
	}
	if v, ok := procField("/proc/cpuinfo", "model name"); ok {
		m.CPU = v
	}
	return m
}

// procField returns the value of the first "key: value" line for key.
func procField(path, key string) (string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// reproduceCommand is the make invocation with the flags that shape the
// measurement (paths and -v are left out; -memory is make bench-memory).
func reproduceCommand(args []string) string {
	skip := map[string]bool{"floe": true, "out": true, "profiles": true, "workdir": true, "merge": true}
	var kept []string
	for i := 0; i < len(args); i++ {
		name, _, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		switch {
		case name == "v":
		case skip[name]:
			if !hasValue {
				i++
			}
		default:
			kept = append(kept, args[i])
		}
	}
	target := "make bench"
	if i := slices.Index(kept, "-memory"); i >= 0 {
		target, kept = "make bench-memory", slices.Delete(kept, i, i+1)
	}
	if len(kept) == 0 {
		return target
	}
	return target + " BENCH_FLAGS='" + strings.Join(kept, " ") + "'"
}
