package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/checkpoint"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
)

func statusCommand() *cobra.Command {
	var configPath string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status --config FILE [--json]",
		Short: "Show what each of the pipeline's Iceberg tables has committed",
		Long: `status reads the pipeline's Iceberg tables (not the source, which may be down)
and prints per table: the last checkpoint and source position committed, when,
the initial snapshot's progress, the live data and delete files, and the last
compaction. It may run while floe run is running. When server.admin-address
is set and floe run answers there, status prints its /status instead (JSON
format version in "v"), with the live lag and each table's freshness.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := LoadConfig(configPath)
			if err != nil {
				return err
			}
			if live, ok, err := fetchAdminStatus(cmd.Context(), cfg); err != nil {
				return err
			} else if ok {
				if asJSON {
					enc := json.NewEncoder(cmd.OutOrStdout())
					enc.SetIndent("", "  ")
					return enc.Encode(live)
				}
				return printAdminStatus(cmd.OutOrStdout(), live)
			}
			st, err := pipelineStatus(cmd.Context(), cfg, time.Now())
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			return printStatus(cmd.OutOrStdout(), st)
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "c", "", "pipeline configuration file (YAML)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (format version in \"version\")")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

// statusVersion is the version of status --json's output format.
const statusVersion = 1

// Status is what `floe status --json` prints.
type Status struct {
	Version  int           `json:"version"`
	Pipeline string        `json:"pipeline"`
	Tables   []TableStatus `json:"tables"`
}

// TableStatus is one Iceberg table of the pipeline.
type TableStatus struct {
	Table      string    `json:"table"`
	Checkpoint int64     `json:"checkpoint"`
	Position   string    `json:"position,omitempty"`
	CommitTime time.Time `json:"commit_time"`
	// SnapshotID is the Iceberg snapshot of the last commit of the
	// pipeline (the one Checkpoint and Position come from); SchemaID the
	// table's current Iceberg schema.
	SnapshotID int64 `json:"snapshot_id,omitempty"`
	SchemaID   int   `json:"schema_id"`
	// Snapshot is "complete", or "N/M chunks" while the initial snapshot
	// runs.
	Snapshot string `json:"snapshot"`
	// ConvergeUntil is set while a resumed snapshot is being converged.
	ConvergeUntil  string     `json:"converge_until,omitempty"`
	DataFiles      int        `json:"data_files"`
	DeleteFiles    int        `json:"delete_files"`
	Snapshots      int        `json:"snapshots"`
	LastCompaction *time.Time `json:"last_compaction,omitempty"`
	// DroppedAt is the source position where the table's source table
	// was dropped (the Iceberg table property floe.dropped-at), and
	// DroppedTime when; both empty for a table that is captured.
	DroppedAt   string `json:"dropped_at,omitempty"`
	DroppedTime string `json:"dropped_time,omitempty"`
	// DeadLetters is the number of the table's changes the pipeline
	// wrote to its namespace's dead-letter table (pipeline.dead-letter)
	// instead of the table.
	DeadLetters int64 `json:"dead_letters"`
	age         time.Duration
	source      string // the source table its last commit records
}

// pipelineStatus collects the status of every table the pipeline has
// committed to.
func pipelineStatus(ctx context.Context, cfg *Config, now time.Time) (*Status, error) {
	log := newLogger(cfg.Log, io.Discard)
	cat, err := openCatalog(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	defer cat.Close()
	tables, err := pipelineTables(ctx, cfg, cat)
	if err != nil {
		return nil, err
	}
	st := &Status{Version: statusVersion, Pipeline: cfg.Pipeline.Name, Tables: []TableStatus{}}
	for _, t := range tables {
		ts, err := tableStatus(ctx, cfg.Pipeline.Name, t, now)
		if err != nil {
			return nil, err
		}
		st.Tables = append(st.Tables, ts)
	}
	if err := countDeadLetters(ctx, cat, cfg.Pipeline.Name, st.Tables); err != nil {
		return nil, err
	}
	return st, nil
}

// countDeadLetters sets each table's DeadLetters from the marks of the
// newest dead-letter commit of pipeline in its namespace's dead-letter
// table (ledger.DeadLetters), by the source table its last commit records.
func countDeadLetters(ctx context.Context, cat *lakewriter.Catalog, pipeline string, tables []TableStatus) error {
	marks := map[string]map[string]ledger.DeadLetterMark{} // by namespace
	for i := range tables {
		ns, _, _ := cutLast(tables[i].Table)
		m, ok := marks[ns]
		if !ok {
			var err error
			if m, err = deadLetterMarks(ctx, cat, ns, pipeline); err != nil {
				return err
			}
			marks[ns] = m
		}
		tables[i].DeadLetters = m[tables[i].source].Count
	}
	return nil
}

// deadLetterMarks reads the marks of pipeline's newest commit to the
// dead-letter table of namespace ns (none when it has no such table).
func deadLetterMarks(ctx context.Context, cat *lakewriter.Catalog, ns, pipeline string) (map[string]ledger.DeadLetterMark, error) {
	t, err := cat.LoadTable(ctx, lakewriter.Ident{Namespace: ns, Name: checkpoint.DeadLetterTableName})
	if errors.Is(err, lakewriter.ErrNoSuchTable) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	props, err := t.LatestProps(ctx, ledger.DeadLettersOf(pipeline))
	if err != nil || props == nil {
		return nil, err
	}
	d, err := ledger.ParseDeadLetters(props[ledger.PropDeadLetters])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.Ident(), err)
	}
	return d.Tables, nil
}

func tableStatus(ctx context.Context, pipeline string, t *lakewriter.Table, now time.Time) (TableStatus, error) {
	ts := TableStatus{Table: t.Ident().String(), Snapshot: "complete"}
	hist, err := t.History(ctx)
	if err != nil {
		return ts, err
	}
	ts.Snapshots = len(hist)
	for _, s := range hist {
		if ledger.IsCompaction(s.Props) {
			at := time.UnixMilli(s.TimestampMs).UTC()
			ts.LastCompaction = &at
			break
		}
	}
	if s, ok := ledger.Last(hist, summary, pipeline); ok {
		ts.CommitTime = time.UnixMilli(s.TimestampMs).UTC()
		ts.SnapshotID = s.ID
		ts.age = now.Sub(ts.CommitTime)
		ts.Checkpoint, _ = ledger.ParseCheckpoint(s.Props)
		ts.Position = s.Props[ledger.PropPosition]
		ts.ConvergeUntil = s.Props[ledger.PropConvergeUntil]
		if src, err := ledger.ParseSourceTable(s.Props[ledger.PropSourceTable]); err == nil {
			ts.source = src.Table
		}
		if enc := s.Props[ledger.PropSnapshot]; enc != "" {
			plan, err := capture.DecodeSnapshotPlan(enc)
			if err != nil {
				return ts, fmt.Errorf("%s: %s: %w", ts.Table, ledger.PropSnapshot, err)
			}
			ts.Snapshot = fmt.Sprintf("%d/%d chunks", len(plan.Chunks)-len(plan.Remaining()), len(plan.Chunks))
			if plan.Complete() {
				// Kept until the stream passes the chunks' watermarks.
				ts.Snapshot = fmt.Sprintf("done (%d chunks), stream reconciling", len(plan.Chunks))
			}
		}
	}
	if ts.DataFiles, ts.DeleteFiles, err = t.FileCounts(ctx); err != nil {
		return ts, err
	}
	ts.SchemaID = t.SchemaID()
	ts.DroppedAt, ts.DroppedTime = t.Property(checkpoint.PropDroppedAt), t.Property(checkpoint.PropDroppedTime)
	return ts, nil
}

// summary is a snapshot's summary properties (for ledger.Last).
func summary(s lakewriter.Snapshot) map[string]string { return s.Props }

// printStatus renders st as an aligned table.
func printStatus(out io.Writer, st *Status) error {
	if len(st.Tables) == 0 {
		_, err := fmt.Fprintf(out, "pipeline %s has not committed to any table yet\n", st.Pipeline)
		return err
	}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "TABLE\tCHECKPOINT\tPOSITION\tCOMMITTED\tSNAPSHOT\tDATA FILES\tDELETE FILES\tSNAPSHOTS\tLAST COMPACTION\tDEAD LETTERS")
	for _, t := range st.Tables {
		snap := t.Snapshot
		if t.ConvergeUntil != "" {
			snap += ", converging until " + t.ConvergeUntil
		}
		if t.DroppedAt != "" {
			snap = "source dropped at " + t.DroppedAt + " (" + t.DroppedTime + ")"
		}
		compacted := "never"
		if t.LastCompaction != nil {
			compacted = t.LastCompaction.Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s (%s ago)\t%s\t%d\t%d\t%d\t%s\t%d\n", t.Table, t.Checkpoint, orNone(t.Position),
			t.CommitTime.Format(time.RFC3339), t.age.Round(time.Second), snap, t.DataFiles, t.DeleteFiles, t.Snapshots, compacted, t.DeadLetters)
	}
	return w.Flush()
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
