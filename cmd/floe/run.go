package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/checkpoint"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/state"
	"github.com/floe-cdc/floe/transform"
)

func runCommand() *cobra.Command {
	var configPath, cpuProfile, memProfile string
	cmd := &cobra.Command{
		Use:   "run --config FILE",
		Short: "Snapshot (when needed), then stream changes until SIGINT/SIGTERM",
		Long: `run mirrors the configured source tables into Iceberg. It snapshots tables
that have no committed data, then streams changes. On SIGINT/SIGTERM it commits
the current checkpoint and exits 0; a second signal exits at once (also safe).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := LoadConfig(configPath)
			if err != nil {
				return err
			}
			var progress io.Writer
			if isTerminal(os.Stderr) {
				progress = os.Stderr
			}
			if cpuProfile != "" {
				stop, err := startCPUProfile(cpuProfile)
				if err != nil {
					return err
				}
				defer stop()
			}
			if memProfile != "" {
				stop, err := startHeapProfile(memProfile)
				if err != nil {
					return err
				}
				defer stop()
			}
			return runPipeline(cmd.Context(), cfg, os.Stderr, progress)
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "c", "", "pipeline configuration file (YAML)")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a pprof CPU profile of the run to this file")
	cmd.Flags().StringVar(&memProfile, "memprofile", "", "write a pprof heap profile to this file at each new peak of the Go heap")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

// startCPUProfile profiles the process into path until the returned stop
// is called (a SIGKILLed run leaves an incomplete profile).
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// runPipeline runs one pipeline until ctx is cancelled.
func runPipeline(ctx context.Context, cfg *Config, logOut, progress io.Writer) error {
	log := newLogger(cfg.Log, logOut).With("pipeline", cfg.Pipeline.Name)
	applyMemoryLimit(cfg, log)
	mode, err := sinkMode(cfg)
	if err != nil {
		return err
	}
	store, err := state.Open(cfg.State.Dir)
	if err != nil {
		return setupError(cfg, err)
	}
	defer store.Close()

	reg := prometheus.NewRegistry()
	metrics := checkpoint.NewMetrics(reg)
	live := capture.NewLiveness()
	metrics.SetBehind(live.Behind)
	if cfg.Server.MetricsAddress != "" {
		ready := readiness(live, metrics.SourceLag, cfg.Server.ReadyMaxLag)
		if err := serveMetrics(ctx, cfg.Server.MetricsAddress, reg, ready, log); err != nil {
			return err
		}
	}
	src, err := openStreamingSource(cfg, log, live)
	if err != nil {
		return err
	}
	run := &pipelineRun{cfg: cfg, src: src, mode: mode, store: store, metrics: metrics, live: live, log: log, progress: progress}
	defer func() { // the source of the last attempt
		if run.src != nil {
			run.src.Close()
		}
	}()
	// The same preflight as floe check, so a misconfigured source fails
	// with the setting and the fix before anything is created.
	if problems := src.Check(ctx); len(problems) > 0 {
		return cfg.problemError(problems)
	}
	cat, err := openCatalog(ctx, cfg, log)
	if err != nil {
		return setupError(cfg, err)
	}
	defer cat.Close()
	if err := cat.CheckWritable(); err != nil {
		return setupError(cfg, err)
	}
	if err := checkStateMatchesCatalog(ctx, cfg, store, cat); err != nil {
		return err
	}
	comp := newCompactor(cfg, cat, reg, log)
	if cfg.Compaction.On() {
		// Stopped before the catalog closes (defers run last-in first-out).
		compactCtx, stopCompactor := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			comp.loop(compactCtx)
		}()
		defer func() { stopCompactor(); <-done }()
	}
	board, control := checkpoint.NewStatusBoard(), checkpoint.NewControl()
	if cfg.Server.AdminAddress != "" {
		_, stop, err := serveAdmin(ctx, cfg, &admin{cfg: cfg, reg: reg, board: board, live: live, lag: metrics.SourceLag,
			cat: cat, compact: comp.pass, control: control, log: log})
		if err != nil {
			return err
		}
		defer stop() // before the catalog closes: waits for requests in flight
	}

	run.cat, run.board, run.control = cat, board, control
	return run.attempts(ctx)
}

// pipelineRun is what the attempts of one floe run share.
type pipelineRun struct {
	cfg      *Config
	src      floeSource // the current attempt's; replaced for the next
	cat      *lakewriter.Catalog
	mode     transform.Mode
	store    *state.Store
	metrics  *checkpoint.Metrics
	board    *checkpoint.StatusBoard
	control  *checkpoint.Control
	live     *capture.Liveness
	log      *slog.Logger
	progress io.Writer
}

// attempts runs the coordinator until ctx is cancelled. An attempt ends
// with an error; one that can pass (a lost or stalled connection, a full
// disk) is logged and the next attempt starts from what the Iceberg
// tables hold, as after a crash. Others end the run.
//
// The attempts are one run against other runs of the pipeline (on other
// machines): they share its epoch (see checkpoint.Fencing).
func (r *pipelineRun) attempts(ctx context.Context) error {
	cfg, log := r.cfg, r.log
	fencing := checkpoint.NewFencing()
	runStart := time.Now()
	backoff := time.Second
	for attempt := 1; ; attempt++ {
		started := time.Now()
		err := r.attempt(ctx, fencing)
		if err == nil || ctx.Err() != nil {
			return err
		}
		streamed := r.live.Status(time.Now()).Streamed
		kind := classify(err, streamed)
		if errors.Is(err, checkpoint.ErrRestart) {
			kind = restart
		}
		if kind == fatal && !streamed && slotInUse(err) && fencing.Epoch() > 0 && time.Since(runStart) < slotTakeover {
			kind = slotHeld
		}
		if kind == fatal {
			return fatalError(cfg, err)
		}
		if time.Since(started) > time.Minute {
			backoff = time.Second
		}
		wait := backoff
		if kind == layoutChanged || kind == restart {
			// Nothing to wait for: the table's new layout is there to
			// be discovered now (or a resumed table's changes to be
			// replayed), and the server is fine.
			wait = 0
		} else {
			backoff = min(2*backoff, maxBackoff)
		}
		logRetry(log, cfg, kind, err, attempt, wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		r.src.Close()
		next, err := openStreamingSource(cfg, log, r.live)
		if err != nil {
			r.src = nil // closed above
			return err
		}
		r.src = next
	}
}

// maxBackoff bounds the wait between attempts (1 s, doubling).
const maxBackoff = 30 * time.Second

// slotTakeover is how long a run that has claimed its tables waits for the
// replication slot at its start: an older run of the pipeline (another
// pod) holding it stops at its next commit, and the server ends the
// walsender of a frozen one after wal_sender_timeout (60 s by default).
// Past it, a slot still in use is fatal (another pipeline's slot).
const slotTakeover = 5 * time.Minute

// logRetry logs why an attempt ended and when the next one starts.
func logRetry(log *slog.Logger, cfg *Config, kind failureKind, err error, attempt int, wait time.Duration) {
	args := []any{"err", err, "attempt", attempt, "retry_in", wait.String()}
	switch kind {
	case noSpace:
		fault, _ := lakewriter.ClassifyStorage(err)
		log.Error(storageProblem(cfg, fault)+"; retrying from the committed positions", args...)
	case stalled:
		log.Warn("stream stalled; restarting from the committed positions",
			append([]any{"endpoint", endpoint(err, cfg), "stall_timeout", cfg.Source.StallTimeout.String()}, args...)...)
	case layoutChanged:
		log.Info("a table changed its layout during its snapshot; restarting from the committed positions", args...)
	case restart:
		// The coordinator logged why (a resumed table, a re-snapshot, a
		// new or dropped table, an unfollowable change).
		log.Info("restarting the stream from the committed positions", "attempt", attempt, "reason", err.Error())
	case slotHeld:
		log.Warn("the replication slot is held by another process, e.g. an older run of this pipeline that stops once it finds its tables claimed; waiting for it",
			append([]any{"wait_at_most", slotTakeover.String()}, args...)...)
	default:
		log.Warn("connection lost; restarting from the committed positions", append([]any{"endpoint", endpoint(err, cfg)}, args...)...)
	}
}

// fatalError is the one line floe run ends with for an error of an
// attempt: a storage fault names the setting, the problem, the path and
// the fix.
func fatalError(cfg *Config, err error) error {
	if fault, ok := lakewriter.ClassifyStorage(err); ok {
		return errors.New(storageProblem(cfg, fault))
	}
	var fenced *lakewriter.FencedError
	if errors.As(err, &fenced) {
		return errors.New(fenced.Error())
	}
	var owned *lakewriter.OwnedError
	if errors.As(err, &owned) {
		return errors.New(owned.Error())
	}
	return fmt.Errorf("pipeline %s: %w", cfg.Pipeline.Name, err)
}

// setupError is fatalError for errors before the first attempt, which
// name their setting already.
func setupError(cfg *Config, err error) error {
	if fault, ok := lakewriter.ClassifyStorage(err); ok {
		return errors.New(storageProblem(cfg, fault))
	}
	return err
}

// attempt runs the coordinator once on a fresh source (r.src).
func (r *pipelineRun) attempt(ctx context.Context, fencing *checkpoint.Fencing) error {
	cfg := r.cfg
	reg, err := openRegistry(ctx, cfg, r.log)
	if err != nil {
		return err
	}
	if reg != nil {
		defer reg.Close()
	}
	coord, err := checkpoint.New(checkpoint.Options{
		Registry: reg,
		Subjects: cfg.Registry.Subjects(),
		Pipeline: cfg.Pipeline.Name,
		Source:   r.src,
		Catalog:  r.cat,
		Router:   newRouter(cfg),
		Mode:     r.mode,
		Store:    r.store,
		Config:   checkpointConfig(cfg),
		SpillDir: filepath.Join(cfg.State.Dir, "spill"),
		Logger:   r.log,
		Metrics:  r.metrics,
		Progress: r.progress,
		Fencing:  fencing,
		Status:   r.board,
		Control:  r.control,
	})
	if err != nil {
		return err
	}
	return coord.Run(ctx)
}
