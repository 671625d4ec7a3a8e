package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/floe-cdc/floe/deploy/testdb"
	"github.com/floe-cdc/floe/lakewriter"
)

// floeRunner starts floe processes for pipelines against one source and
// keeps track of them, so that every one is stopped by its PID.
type floeRunner struct {
	bin         string
	workdir     string
	src         benchSource
	log         *slog.Logger
	parallelism int
	chunkRows   int
	// profiles is the directory for CPU profiles; "" when floe cannot
	// write them (no --cpuprofile flag) or profiling is off.
	profiles string
	// heapProfiles is set when floe can also write a heap profile at its
	// peak (run --memprofile).
	heapProfiles bool

	mu   sync.Mutex
	live map[*floeProc]struct{}
}

// pipelineDir is one pipeline's config, log, state and lake.
type pipelineDir struct {
	name, dir, config, log string
	// lake opens a lake other than the local SQLite one (nil: that one);
	// env is added to floe's environment.
	lake *lakewriter.Options
	env  []string
}

// floeProc is one running `floe run`: a testdb.Process (Exited is closed
// when it has exited, Err is set from then on) with its start time and
// log.
type floeProc struct {
	*testdb.Process
	started time.Time
	logPath string
}

// supportsRunFlag reports whether bin's run verb has the flag (e.g.
// --cpuprofile, which older builds lack).
func supportsRunFlag(bin, flag string) bool {
	out, err := exec.Command(bin, "run", "--help").CombinedOutput()
	return err == nil && strings.Contains(string(out), flag)
}

// pipelineOpts are a pipeline's settings beyond the defaults.
type pipelineOpts struct {
	// parallelism is snapshot.parallelism (0: the runner's).
	parallelism int
	// compaction is the compaction: section's body (indented two
	// spaces); "" leaves floe's defaults.
	compaction string
	// sink is the sink's catalog, warehouse and s3 settings (indented two
	// spaces, replacing the SQLite catalog and local warehouse); "" = those.
	// lake must then say how floe-bench opens that lake, and env holds
	// what floe needs in its environment for it.
	sink string
	lake *lakewriter.Options
	env  []string
}

// newPipeline writes a fresh config for pipeline capturing tables (bare
// names), removing any earlier files of that name.
func (r *floeRunner) newPipeline(name, snapshotMode string, tables []string, interval time.Duration) (*pipelineDir, error) {
	return r.newPipelineWith(name, snapshotMode, tables, interval, pipelineOpts{})
}

// newPipelineWith is newPipeline with settings of its own.
func (r *floeRunner) newPipelineWith(name, snapshotMode string, tables []string, interval time.Duration, po pipelineOpts) (*pipelineDir, error) {
	d := &pipelineDir{name: name, dir: filepath.Join(r.workdir, name), lake: po.lake, env: po.env}
	if err := os.RemoveAll(d.dir); err != nil {
		return nil, fmt.Errorf("clear %s: %w", d.dir, err)
	}
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", d.dir, err)
	}
	d.config = filepath.Join(d.dir, "floe.yaml")
	d.log = filepath.Join(d.dir, "floe.log")
	parallelism := r.parallelism
	if po.parallelism > 0 {
		parallelism = po.parallelism
	}
	sink := po.sink
	if sink == "" {
		sink = fmt.Sprintf("  catalog:\n    type: sql\n    name: floe\n    uri: sqlite://%s/catalog.db\n  warehouse: %s/warehouse\n", d.dir, d.dir)
	}
	cfg := fmt.Sprintf(`pipeline:
  name: %s
  checkpoint-interval: %s
state:
  dir: %s/state
source:
%ssink:
  type: iceberg
%s  namespace: bench
  mode: upsert
log:
  level: info
`, name, interval, d.dir, r.src.FloeSourceYAML(name, snapshotMode, tables, parallelism, r.chunkRows), sink)
	if po.compaction != "" {
		cfg += "compaction:\n" + po.compaction
	}
	if err := os.WriteFile(d.config, []byte(cfg), 0o644); err != nil {
		return nil, fmt.Errorf("write config: %w", err)
	}
	return d, nil
}

// lakeOptions are how floe-bench opens the pipeline's lake.
func (d *pipelineDir) lakeOptions() lakewriter.Options {
	if d.lake != nil {
		return *d.lake
	}
	return lakewriter.Options{CatalogType: "sql", CatalogName: "floe", URI: "sqlite://" + d.dir + "/catalog.db", Warehouse: d.dir + "/warehouse"}
}

// dropLake removes the pipeline's state and lake, keeping config and log.
func (d *pipelineDir) dropLake() error {
	for _, p := range []string{"state", "warehouse", "catalog.db", "catalog.db-wal", "catalog.db-shm"} {
		if err := os.RemoveAll(filepath.Join(d.dir, p)); err != nil {
			return fmt.Errorf("remove %s: %w", p, err)
		}
	}
	return nil
}

// tail returns the last n lines of the pipeline's log.
func (d *pipelineDir) tail(n int) string {
	b, _ := os.ReadFile(d.log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// withLog adds the end of d's floe log to err, the error of a step that
// waited on floe.
func (d *pipelineDir) withLog(err error) error {
	return fmt.Errorf("%w; log:\n%s", err, d.tail(20))
}

// startStreaming starts `floe run` for d (see start for profile) and
// waits up to timeout until it streams. When the wait fails, floe is
// killed and the error carries the end of its log.
func (r *floeRunner) startStreaming(ctx context.Context, d *pipelineDir, profile string, timeout time.Duration) (*floeProc, error) {
	p, err := r.start(d, profile)
	if err != nil {
		return nil, err
	}
	if err := waitLog(ctx, p, "msg=streaming", timeout); err != nil {
		p.killIfRunning()
		return nil, d.withLog(err)
	}
	return p, nil
}

// peakRSSInterval is how often a floe run's peak resident set is sampled:
// growth within the last interval before it exits is not seen.
const peakRSSInterval = 10 * time.Millisecond

// start launches `floe run` for d, writing a CPU profile named profile
// into the profiles directory when profiling is on.
func (r *floeRunner) start(d *pipelineDir, profile string) (*floeProc, error) {
	args := []string{"run", "--config", d.config}
	if r.profiles != "" && profile != "" {
		args = append(args, "--cpuprofile", filepath.Join(r.profiles, profile))
		if r.heapProfiles {
			args = append(args, "--memprofile", filepath.Join(r.profiles, strings.TrimSuffix(profile, ".pprof")+".heap.pprof"))
		}
	}
	cmd := exec.Command(r.bin, args...)
	cmd.Env = append(append(os.Environ(), r.src.FloeEnv()...), d.env...)
	cmd.Dir = d.dir
	proc, err := testdb.StartLogged(cmd, d.log)
	if err != nil {
		return nil, fmt.Errorf("floe: %w", err)
	}
	proc.TrackPeakRSS(peakRSSInterval)
	p := &floeProc{Process: proc, started: time.Now(), logPath: d.log}
	r.mu.Lock()
	if r.live == nil {
		r.live = map[*floeProc]struct{}{}
	}
	r.live[p] = struct{}{}
	r.mu.Unlock()
	go func() {
		<-p.Exited
		r.mu.Lock()
		delete(r.live, p)
		r.mu.Unlock()
	}()
	r.log.Debug("floe started", "pid", cmd.Process.Pid, "pipeline", d.name)
	return p, nil
}

// verify runs `floe verify` on d's pipeline (floe must be stopped and the
// source quiet); an error carries its report.
func (r *floeRunner) verify(ctx context.Context, d *pipelineDir) error {
	return r.runVerb(ctx, d, "verify")
}

// compact runs `floe compact` on d's pipeline (floe stopped).
func (r *floeRunner) compact(ctx context.Context, d *pipelineDir) error {
	return r.runVerb(ctx, d, "compact")
}

// runVerb runs `floe <verb>` on d's pipeline to its end and logs its
// report; an error carries the report.
func (r *floeRunner) runVerb(ctx context.Context, d *pipelineDir, verb string) error {
	cmd := exec.CommandContext(ctx, r.bin, verb, "--config", d.config)
	cmd.Env = append(append(os.Environ(), r.src.FloeEnv()...), d.env...)
	cmd.Dir = d.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("floe %s of %s: %w\n%s", verb, d.name, err, out)
	}
	r.log.Info("floe "+verb, "pipeline", d.name, "report", strings.TrimSpace(string(out)))
	return nil
}

// killIfRunning kills the process unless it has exited: the deferred
// clean-up of a scenario that may return while floe still runs.
func (p *floeProc) killIfRunning() {
	select {
	case <-p.Exited:
	default:
		p.Kill()
	}
}

// wait waits for the process to exit on its own; after timeout, or when
// ctx ends, it kills the process.
func (p *floeProc) wait(ctx context.Context, timeout time.Duration) error {
	if err := p.Wait(ctx, timeout); err != nil {
		p.killIfRunning()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("floe run: %w", err)
	}
	return nil
}

// stop sends SIGTERM (floe commits its checkpoint and exits 0) and waits;
// after timeout it kills the process.
func (p *floeProc) stop(timeout time.Duration) error {
	if err := p.Stop(timeout); err != nil {
		p.killIfRunning()
		return fmt.Errorf("floe run: %w", err)
	}
	return nil
}

// state is the process's state at exit; nil before it has exited.
func (p *floeProc) state() *os.ProcessState {
	select {
	case <-p.Exited:
		return p.Cmd.ProcessState
	default:
		return nil
	}
}

// peakRSS is the process's peak resident set size in bytes, sampled from
// its own address space while it ran (testdb.Process.TrackPeakRSS: the
// kernel's ru_maxrss of a child would count this benchmark's own size);
// 0 before it has exited.
func (p *floeProc) peakRSS() int64 {
	if p.state() == nil {
		return 0
	}
	return p.PeakRSS()
}

// cpuSeconds is the user plus system CPU time the process used, in
// seconds (from the kernel's rusage at exit); 0 before it has exited.
func (p *floeProc) cpuSeconds() float64 {
	state := p.state()
	if state == nil {
		return 0
	}
	return (state.UserTime() + state.SystemTime()).Seconds()
}

// killAll kills every floe process still running.
func (r *floeRunner) killAll() {
	r.mu.Lock()
	procs := make([]*floeProc, 0, len(r.live))
	for p := range r.live {
		procs = append(procs, p)
	}
	r.mu.Unlock()
	for _, p := range procs {
		select {
		case <-p.Exited:
			continue
		default:
		}
		r.log.Warn("killing floe", "pid", p.Cmd.Process.Pid)
		p.Kill()
	}
}

// waitLog waits until the process's log contains needle.
func waitLog(ctx context.Context, p *floeProc, needle string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		b, _ := os.ReadFile(p.logPath)
		if strings.Contains(string(b), needle) {
			return nil
		}
		select {
		case <-p.Exited:
			return fmt.Errorf("floe exited (%v) before logging %q", p.Err, needle)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("floe did not log %q within %s", needle, timeout)
		}
	}
}
