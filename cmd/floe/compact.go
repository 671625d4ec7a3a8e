package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/spf13/cobra"

	"github.com/floe-cdc/floe/checkpoint"
	"github.com/floe-cdc/floe/compaction"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
)

func compactCommand() *cobra.Command {
	var configPath, cpuProfile string
	var tables []string
	cmd := &cobra.Command{
		Use:   "compact --config FILE [--table NAMESPACE.TABLE]...",
		Short: "Run one maintenance pass over the pipeline's Iceberg tables",
		Long: `compact runs one pass of the maintenance floe run does in the background
(the compaction: section): it rewrites small data files, applies equality
deletes into the data files they cover, expires old snapshots and removes
orphan files. Readers see the same rows before and after.

It may run while floe run is running elsewhere: a pass that overlaps one of
its commits is not committed ("conflict") and changes nothing; run it again,
or let floe run compact in the background, where passes never conflict.
Without --table it covers every table the pipeline has committed to, and
its dead-letter tables.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := LoadConfig(configPath)
			if err != nil {
				return err
			}
			if cpuProfile != "" {
				stop, err := startCPUProfile(cpuProfile)
				if err != nil {
					return err
				}
				defer stop()
			}
			return compactTables(cmd.Context(), cfg, tables, cmd.OutOrStdout(), os.Stderr)
		},
	}
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a pprof CPU profile of the pass to this file")
	cmd.Flags().StringVarP(&configPath, "config", "c", "", "pipeline configuration file (YAML)")
	cmd.Flags().StringArrayVar(&tables, "table", nil, "an Iceberg table of the pipeline, as namespace.table (repeatable)")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

// compactTables runs one pass over the named tables (all of the
// pipeline's when names is empty) and prints one line per table. A table
// that fails or conflicts makes the verb exit 1 after the others ran.
func compactTables(ctx context.Context, cfg *Config, names []string, out, logOut io.Writer) error {
	log := newLogger(cfg.Log, logOut).With("pipeline", cfg.Pipeline.Name)
	cat, err := openCatalog(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer cat.Close()
	var tables []*lakewriter.Table
	if len(names) == 0 {
		if tables, err = maintainedTables(ctx, cfg, cat); err != nil {
			return err
		}
		if len(tables) == 0 {
			fmt.Fprintf(out, "pipeline %s has no committed tables yet; nothing to compact\n", cfg.Pipeline.Name)
			return nil
		}
	}
	for _, name := range names {
		ns, table, ok := cutLast(name)
		if !ok {
			return fmt.Errorf("--table %q: write namespace.table, e.g. %s.orders", name, cfg.Sink.Namespace)
		}
		t, err := cat.LoadTable(ctx, lakewriter.Ident{Namespace: ns, Name: table})
		if err != nil {
			return fmt.Errorf("--table %s: %w", name, err)
		}
		tables = append(tables, t)
	}
	failed := 0
	opts := compactionOptions(cfg, log)
	for _, t := range tables {
		res, err := compaction.Compact(ctx, t, opts)
		switch {
		case errors.Is(err, compaction.ErrConflict):
			failed++
			fmt.Fprintf(out, "%s: CONFLICT: another writer committed during the pass; nothing changed, run again\n", t.Ident())
		case err != nil:
			failed++
			fmt.Fprintf(out, "%s: FAILED: %v\n", t.Ident(), err)
		default:
			fmt.Fprintf(out, "%s: %s\n", t.Ident(), describe(res))
		}
	}
	if failed > 0 {
		return exitError{code: 1}
	}
	return nil
}

// describe renders a pass's result for people.
func describe(r compaction.Result) string {
	s := "no files to rewrite"
	if r.SnapshotID != 0 {
		s = fmt.Sprintf("rewrote %d data files into %d (%s -> %s), dropped %d delete files",
			r.RewrittenDataFiles, r.AddedDataFiles, mib(r.BytesBefore), mib(r.BytesAfter), r.RemovedDeleteFiles)
	}
	if r.ConvertedDataFiles > 0 {
		s += fmt.Sprintf("; left %d data files in place, their %d deleted rows now position deletes", r.ConvertedDataFiles, r.ConvertedDeleteRows)
	}
	return fmt.Sprintf("%s; expired %d snapshots; removed %d orphan files", s, r.ExpiredSnapshots, r.RemovedOrphans)
}

// mib renders a byte count as MiB, or KiB below one MiB.
func mib(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// cutLast splits "a.b.c" into "a.b" and "c"; both parts must be non-empty.
func cutLast(s string) (string, string, bool) {
	i := strings.LastIndex(s, ".")
	return s[:max(i, 0)], s[i+1:], i > 0 && i+1 < len(s)
}

// compactionOptions is the pass the compaction: section asks for.
func compactionOptions(cfg *Config, log *slog.Logger) compaction.Options {
	return cfg.Compaction.Options(log.With("component", "compaction"))
}

// pipelineTables opens every table in the pipeline's namespaces (sink
// namespace and route targets) whose history holds a commit of this
// pipeline.
func pipelineTables(ctx context.Context, cfg *Config, cat *lakewriter.Catalog) ([]*lakewriter.Table, error) {
	return listTables(ctx, cfg, cat, false)
}

// maintainedTables is pipelineTables and the pipeline's dead-letter
// tables: what compaction maintains.
func maintainedTables(ctx context.Context, cfg *Config, cat *lakewriter.Catalog) ([]*lakewriter.Table, error) {
	return listTables(ctx, cfg, cat, true)
}

// listTables lists the Iceberg tables of the pipeline's sink namespaces
// that its commits reached: those it committed rows to, and with
// deadLetters its dead-letter tables (whose commits carry its
// dead-letter marks, not floe.pipeline).
func listTables(ctx context.Context, cfg *Config, cat *lakewriter.Catalog, deadLetters bool) ([]*lakewriter.Table, error) {
	namespaces := []string{cfg.Sink.Namespace}
	for _, r := range cfg.Route {
		if ns, _ := r.SinkIdent(); ns != "" && !slices.Contains(namespaces, ns) {
			namespaces = append(namespaces, ns)
		}
	}
	var out []*lakewriter.Table
	for _, ns := range namespaces {
		ids, err := cat.ListTables(ctx, ns)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			t, err := cat.LoadTable(ctx, id)
			if errors.Is(err, lakewriter.ErrNoSuchTable) {
				continue // dropped meanwhile
			}
			if err != nil {
				return nil, err
			}
			match := ledger.CommitOf(cfg.Pipeline.Name)
			if deadLetters && id.Name == checkpoint.DeadLetterTableName {
				match = ledger.DeadLettersOf(cfg.Pipeline.Name)
			}
			props, err := t.LatestProps(ctx, match)
			if err != nil {
				return nil, err
			}
			if props != nil {
				out = append(out, t)
			}
		}
	}
	return out, nil
}

// compactionMetrics count the background passes of floe run.
type compactionMetrics struct {
	passes          *prometheus.CounterVec
	rewrittenFiles  prometheus.Counter
	removedDeletes  prometheus.Counter
	convertedFiles  prometheus.Counter
	expiredSnaps    prometheus.Counter
	removedOrphans  prometheus.Counter
	lastPassSeconds prometheus.Gauge
}

func newCompactionMetrics(reg prometheus.Registerer) *compactionMetrics {
	f := promauto.With(reg)
	return &compactionMetrics{
		passes: f.NewCounterVec(prometheus.CounterOpts{Name: "floe_compaction_passes_total",
			Help: "Table maintenance passes by outcome (ok, conflict, error)."}, []string{"outcome"}),
		rewrittenFiles: f.NewCounter(prometheus.CounterOpts{Name: "floe_compaction_rewritten_data_files_total", Help: "Data files replaced by compaction rewrites."}),
		removedDeletes: f.NewCounter(prometheus.CounterOpts{Name: "floe_compaction_removed_delete_files_total", Help: "Delete files applied and dropped by compaction rewrites."}),
		convertedFiles: f.NewCounter(prometheus.CounterOpts{Name: "floe_compaction_converted_data_files_total", Help: "Data files left in place whose deletes compaction wrote as one position-delete file each."}),
		expiredSnaps:   f.NewCounter(prometheus.CounterOpts{Name: "floe_compaction_expired_snapshots_total", Help: "Snapshots expired."}),
		removedOrphans: f.NewCounter(prometheus.CounterOpts{Name: "floe_compaction_removed_orphan_files_total", Help: "Orphan files removed."}),
		lastPassSeconds: f.NewGauge(prometheus.GaugeOpts{Name: "floe_compaction_last_pass_duration_seconds",
			Help: "Duration of the last maintenance pass over all tables."}),
	}
}

// compactor runs the maintenance passes of floe run: in the background
// every compaction.interval (loop) and on demand (the admin API's
// /actions/compact). It shares cat with the pipeline, and with it the
// tables' commit locks and the marks of files being rewritten
// (lakewriter.Table.ReplacingFiles), so a pass never conflicts with an
// ingestion commit of this process; passes run one at a time.
type compactor struct {
	cfg  *Config
	cat  *lakewriter.Catalog
	m    *compactionMetrics
	opts compaction.Options
	log  *slog.Logger
	mu   sync.Mutex
	// orphansSwept is when each table's orphan files were last removed
	// (see passOptions); guarded by mu.
	orphansSwept map[string]time.Time
}

// passOptions are the options of one table's pass: orphan removal runs
// at most once per compaction.MinOrphanAge per table. It reads every
// snapshot's manifests (seconds of CPU on a table of hundreds of
// snapshots) and removes only files older than that age, so running it
// every interval (a minute, for fresh tables) spends the CPU the
// checkpoints need and finds nothing new. Called with mu held.
func (c *compactor) passOptions(table string, now time.Time) compaction.Options {
	opts := c.opts
	if opts.OrphansOlderThan <= 0 {
		return opts
	}
	if last, ok := c.orphansSwept[table]; ok && now.Sub(last) < compaction.MinOrphanAge {
		opts.OrphansOlderThan = 0
		return opts
	}
	c.orphansSwept[table] = now
	return opts
}

func newCompactor(cfg *Config, cat *lakewriter.Catalog, reg prometheus.Registerer, log *slog.Logger) *compactor {
	opts := compactionOptions(cfg, log)
	opts.ReadConcurrency = 1 // beside the stream: see compaction.Options
	return &compactor{cfg: cfg, cat: cat, m: newCompactionMetrics(reg), opts: opts, log: opts.Logger, orphansSwept: map[string]time.Time{}}
}

// tableCompaction is the outcome of one table's pass.
type tableCompaction struct {
	Table string `json:"table"`
	// Outcome is ok, conflict (another writer committed during the pass;
	// nothing changed) or error.
	Outcome string `json:"outcome"`
	Error   string `json:"error,omitempty"`
	// SnapshotID is the rewrite snapshot; 0 when nothing was rewritten.
	SnapshotID         int64 `json:"snapshot_id,omitempty"`
	RewrittenDataFiles int   `json:"rewritten_data_files"`
	AddedDataFiles     int   `json:"added_data_files"`
	RemovedDeleteFiles int   `json:"removed_delete_files"`
	// ConvertedDataFiles are data files left in place whose deletes the
	// pass wrote as one position-delete file each (ConvertedDeleteRows
	// rows in all).
	ConvertedDataFiles  int   `json:"converted_data_files"`
	ConvertedDeleteRows int64 `json:"converted_delete_rows"`
	ExpiredSnapshots    int   `json:"expired_snapshots"`
	RemovedOrphans      int   `json:"removed_orphan_files"`
}

// pass runs one maintenance pass over the pipeline's tables. Failures of
// one table are in its outcome and do not stop the others; the error is
// for a failure to list the tables or a cancelled ctx.
func (c *compactor) pass(ctx context.Context) ([]tableCompaction, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	start := time.Now()
	tables, err := maintainedTables(ctx, c.cfg, c.cat)
	if err != nil {
		if ctx.Err() == nil {
			c.m.passes.WithLabelValues("error").Inc()
		}
		return nil, fmt.Errorf("compaction: list tables: %w", err)
	}
	out := make([]tableCompaction, 0, len(tables))
	for _, t := range tables {
		res, err := compaction.Compact(ctx, t, c.passOptions(t.Ident().String(), time.Now()))
		tc := tableCompaction{Table: t.Ident().String(), Outcome: "ok"}
		switch {
		case ctx.Err() != nil:
			return out, ctx.Err()
		case errors.Is(err, compaction.ErrConflict):
			tc.Outcome = "conflict"
			c.log.Info("compaction: a commit during the pass conflicts with it (another writer, a truncate or a re-snapshot); retrying next interval",
				"table", tc.Table, "reason", err.Error())
		case err != nil:
			tc.Outcome, tc.Error = "error", err.Error()
			c.log.Warn("compaction pass failed; retrying next interval", "table", tc.Table, "err", err)
		default:
			tc.SnapshotID, tc.RewrittenDataFiles, tc.AddedDataFiles = res.SnapshotID, res.RewrittenDataFiles, res.AddedDataFiles
			tc.RemovedDeleteFiles, tc.ExpiredSnapshots, tc.RemovedOrphans = res.RemovedDeleteFiles, res.ExpiredSnapshots, res.RemovedOrphans
			tc.ConvertedDataFiles, tc.ConvertedDeleteRows = res.ConvertedDataFiles, res.ConvertedDeleteRows
			c.m.rewrittenFiles.Add(float64(res.RewrittenDataFiles))
			c.m.removedDeletes.Add(float64(res.RemovedDeleteFiles))
			c.m.convertedFiles.Add(float64(res.ConvertedDataFiles))
			c.m.expiredSnaps.Add(float64(res.ExpiredSnapshots))
			c.m.removedOrphans.Add(float64(res.RemovedOrphans))
		}
		c.m.passes.WithLabelValues(tc.Outcome).Inc()
		out = append(out, tc)
	}
	c.m.lastPassSeconds.Set(time.Since(start).Seconds())
	return out, nil
}

// loop runs a pass every compaction.interval until ctx is done. Failures
// are logged and retried at the next interval; they never stop the
// pipeline.
func (c *compactor) loop(ctx context.Context) {
	ticker := time.NewTicker(c.cfg.Compaction.Interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		if _, err := c.pass(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("compaction pass failed; retrying next interval", "err", err)
		}
	}
}
