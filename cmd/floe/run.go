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
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

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
	budget := applyMemoryLimit(cfg, log)
	mode, err := sinkMode(cfg)
	if err != nil {
		return err
	}
	store, err := state.Open(cfg.State.Dir)
	if err != nil {
		return err
	}
	defer store.Close()

	reg := prometheus.NewRegistry()
	metrics := checkpoint.NewMetrics(reg)
	if cfg.Server.MetricsAddress != "" {
		if err := serveMetrics(ctx, cfg.Server.MetricsAddress, reg, log); err != nil {
			return err
		}
	}
	src, err := openSource(cfg, log)
	if err != nil {
		return err
	}
	defer func() { src.Close() }()
	// The same preflight as floe check, so a misconfigured source fails
	// with the setting and the fix before anything is created.
	if problems := src.Check(ctx); len(problems) > 0 {
		lines := make([]string, len(problems))
		for i, p := range problems {
			lines[i] = formatSourceProblem(p)
		}
		return errors.New(strings.Join(lines, "\n"))
	}
	cat, err := openCatalog(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer cat.Close()
	if cfg.Compaction.On() {
		// Stopped before the catalog closes (defers run last-in first-out).
		compactCtx, stopCompactor := context.WithCancel(ctx)
		done := make(chan struct{})
		metrics := newCompactionMetrics(reg)
		go func() {
			defer close(done)
			runCompactor(compactCtx, cfg, cat, metrics, log)
		}()
		defer func() { stopCompactor(); <-done }()
	}

	// A lost connection ends one attempt; the next starts from what the
	// Iceberg tables hold, as after a crash. Other errors end the run.
	backoff := time.Second
	for attempt := 1; ; attempt++ {
		started := time.Now()
		err := runAttempt(ctx, cfg, src, cat, mode, budget, store, metrics, log, progress)
		if err == nil || ctx.Err() != nil {
			return err
		}
		if !transient(err) {
			return fmt.Errorf("pipeline %s: %w", cfg.Pipeline.Name, err)
		}
		if time.Since(started) > time.Minute {
			backoff = time.Second
		}
		log.Warn("connection lost; restarting from the committed positions", "err", err, "attempt", attempt, "retry_in", backoff.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
		src.Close()
		if src, err = openSource(cfg, log); err != nil {
			return err
		}
	}
}

// runAttempt runs the coordinator once on a fresh source.
func runAttempt(ctx context.Context, cfg *Config, src floeSource, cat *lakewriter.Catalog, mode transform.Mode,
	budget int64, store *state.Store, metrics *checkpoint.Metrics, log *slog.Logger, progress io.Writer) error {
	coord, err := checkpoint.New(checkpoint.Options{
		Pipeline:            cfg.Pipeline.Name,
		Source:              src,
		Catalog:             cat,
		Router:              newRouter(cfg),
		Mode:                mode,
		Store:               store,
		Interval:            cfg.Pipeline.CheckpointInterval,
		SnapshotMode:        cfg.Source.SnapshotMode,
		SnapshotParallelism: cfg.Source.SnapshotParallelism,
		SnapshotChunkRows:   cfg.Source.SnapshotChunkRows,
		SpillDir:            filepath.Join(cfg.State.Dir, "spill"),
		MemoryBudget:        budget,
		Logger:              log,
		Metrics:             metrics,
		Progress:            progress,
	})
	if err != nil {
		return err
	}
	return coord.Run(ctx)
}
