package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
	"github.com/floe-cdc/floe/state"
)

func resnapshotCommand() *cobra.Command {
	var (
		configPath string
		tables     []string
		online     bool
	)
	cmd := &cobra.Command{
		Use:   "resnapshot --config FILE --table SCHEMA.TABLE [--table SCHEMA.TABLE ...] [--online]",
		Short: "Drop a table's Iceberg table so that the next run snapshots it again",
		Long: `resnapshot makes floe read one source table again from scratch. It drops the
Iceberg table that the source table is routed to, with its files; the next
floe run creates it empty and snapshots the source table again, while every
other table resumes from its own committed position. The state dir needs no
reset.

Stop floe first: floe must not run while its tables are dropped. resnapshot
refuses while a floe process on this machine holds the state dir (state.dir),
and while the source shows the pipeline's stream in use, wherever floe runs:
PostgreSQL's replication slot active (pg_replication_slots.active), or a
MySQL/MariaDB binlog reader registered with the pipeline's server id (SHOW
SLAVE HOSTS). It names the holder. The state dir forgets the dropped tables.

--table names the SOURCE table as the run sees it (PostgreSQL schema.table,
MySQL/MariaDB database.table); source.tables must match it, and route: decides
the Iceberg table, as in floe run. Give --table more than once for several
tables. The Iceberg table's history goes with it: in changelog mode the past
changes are replaced by the snapshot's rows.

Use it when floe run stops because the replication slot was lost (re-snapshot
every table that holds a committed position) or the binlog was purged past a
table's position, when a value the source cannot decode stopped it (correct or
delete the row at the source first: on PostgreSQL the new snapshot is exact at a
position of its own, and the table's older changes, the undecodable one among
them, are skipped), or to rebuild a damaged table.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := LoadConfig(configPath)
			if err != nil {
				return err
			}
			if online {
				return resnapshotOnline(cmd.Context(), cfg, tables, os.Stdout)
			}
			return runResnapshot(cmd.Context(), cfg, tables, os.Stdout)
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "c", "", "pipeline configuration file (YAML)")
	cmd.Flags().StringArrayVarP(&tables, "table", "t", nil, "source table to snapshot again, as SCHEMA.TABLE (repeatable)")
	cmd.Flags().BoolVar(&online, "online", false, "ask the running floe run to do it (admin API) instead of dropping the table with floe stopped")
	_ = cmd.MarkFlagRequired("config")
	_ = cmd.MarkFlagRequired("table")
	return cmd
}

// resnapshotOnline asks the running floe run to snapshot each table
// again (POST /actions/resnapshot), one after the other.
func resnapshotOnline(ctx context.Context, cfg *Config, names []string, out io.Writer) error {
	if _, err := resnapshotTargets(cfg, names); err != nil {
		return err
	}
	for _, name := range names {
		var res resnapshotAction
		code, err := postAdminAction(ctx, cfg, "/actions/resnapshot", url.Values{"table": {name}}, &res)
		if err != nil {
			return fmt.Errorf("--table %s: %w", name, err)
		}
		if code == http.StatusAccepted {
			fmt.Fprintf(out, "re-snapshot of %s requested; not started yet (state %s); floe status shows its progress\n", res.Table, res.State)
			continue
		}
		if res.State == "snapshotting" {
			fmt.Fprintf(out, "%s (%s) is being snapshotted again by floe run on branch %s (%d of %d chunks done); readers of main see the old rows until it is complete; floe status shows its progress\n",
				res.Table, res.Sink, lakewriter.ResnapshotBranch, res.ChunksDone, res.ChunksTotal)
			continue
		}
		fmt.Fprintf(out, "%s (%s) was snapshotted again by floe run, and main holds the new rows; it is %s again\n", res.Table, res.Sink, res.State)
	}
	return nil
}

// resnapshotTable is one table to snapshot again: the source table named
// on the command line and the Iceberg table its route writes to.
type resnapshotTable struct {
	source capture.TableID
	sink   lakewriter.Ident
	// What the Iceberg table holds, for the report.
	snapshots  int
	checkpoint string // floe.checkpoint of the pipeline's last commit, "" if none
	position   string // floe.position of that commit
}

// runResnapshot drops the Iceberg tables of the named source tables. It
// checks every table first and drops nothing when any check fails.
func runResnapshot(ctx context.Context, cfg *Config, names []string, out io.Writer) error {
	tables, err := resnapshotTargets(cfg, names)
	if err != nil {
		return err
	}
	store, err := lockStateDir(cfg.State.Dir)
	if err != nil {
		return err
	}
	if store != nil {
		defer store.Close()
	}
	cat, err := openCatalog(ctx, cfg, newLogger(cfg.Log, io.Discard))
	if err != nil {
		return err
	}
	defer cat.Close()
	if err := inspectSinks(ctx, cat, cfg.Pipeline.Name, tables); err != nil {
		return err
	}
	if err := refuseWhileStreaming(ctx, cfg); err != nil {
		return err
	}
	reg, err := openRegistry(ctx, cfg, newLogger(cfg.Log, io.Discard))
	if err != nil {
		return err
	}
	if reg != nil {
		defer reg.Close()
	}
	sources := make([]string, len(tables))
	for i, t := range tables {
		if err := cat.DropTable(ctx, t.sink, true); err != nil {
			return fmt.Errorf("--table %s: %w", t.source, err)
		}
		// The table's old schema versions must not refuse the layout it
		// is snapshotted again with (a change only a re-snapshot follows).
		if err := retireSubject(ctx, reg, cfg, t.source, t.sink); err != nil {
			return fmt.Errorf("--table %s: %w", t.source, err)
		}
		fmt.Fprintf(out, "dropped %s (source %s) and its files: %s\n", t.sink, t.source, t.held())
		sources[i] = t.source.String()
	}
	// The state dir must not remember checkpoints of tables dropped on
	// purpose: floe run refuses to start over such a record.
	if store != nil {
		if err := store.DeleteTables(sources...); err != nil {
			return fmt.Errorf("state.dir: forget the dropped tables: %w", err)
		}
	}
	fmt.Fprintf(out, "the next floe run snapshots %s again; the other tables resume from their committed positions\n", strings.Join(sources, ", "))
	return nil
}

// held describes what the dropped table held.
func (t resnapshotTable) held() string {
	if t.checkpoint == "" {
		return fmt.Sprintf("%d snapshots, no commit of this pipeline", t.snapshots)
	}
	pos := t.position
	if pos == "" {
		pos = "none"
	}
	return fmt.Sprintf("%d snapshots, last committed at checkpoint %s, position %s", t.snapshots, t.checkpoint, pos)
}

// resnapshotTargets resolves the --table values through source.tables and
// route: exactly as floe run does. It reports every bad value at once.
func resnapshotTargets(cfg *Config, names []string) ([]*resnapshotTable, error) {
	if len(names) == 0 {
		return nil, errors.New("--table: name at least one source table as SCHEMA.TABLE")
	}
	router := newRouter(cfg)
	var (
		errs   []error
		tables []*resnapshotTable
		ids    []capture.TableID
		seen   = map[capture.TableID]bool{}
	)
	for _, name := range names {
		schemaName, table, ok := strings.Cut(name, ".")
		if !ok || schemaName == "" || table == "" {
			errs = append(errs, fmt.Errorf("--table %q: want SCHEMA.TABLE (PostgreSQL schema.table, MySQL database.table)", name))
			continue
		}
		id := capture.TableID{Schema: schemaName, Name: table}
		if !captured(cfg, id) {
			errs = append(errs, fmt.Errorf("--table %s: source.tables (%s) does not match it, so floe does not capture it; name a captured source table",
				id, strings.Join(cfg.Source.Tables, ", ")))
			continue
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		ids = append(ids, id)
		target := router.Target(id)
		tables = append(tables, &resnapshotTable{source: id, sink: lakewriter.Ident{Namespace: target.Namespace, Name: target.Name}})
	}
	if err := router.ValidateTargets(ids); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return tables, nil
}

// captured reports whether source.tables matches id, as the sources'
// discovery does (each pattern anchored, on "schema.table").
func captured(cfg *Config, id capture.TableID) bool {
	for _, re := range cfg.Source.TableRegexps {
		if re.MatchString(id.String()) {
			return true
		}
	}
	return false
}

// lockStateDir opens the state dir, taking its lock, which floe run holds
// while it runs, so that the two exclude each other on this machine. A
// state dir that does not exist is not created (nil store): no run used it.
func lockStateDir(dir string) (*state.Store, error) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	store, err := state.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: stop floe before resnapshot (state.dir)", err)
	}
	return store, nil
}

// refuseWhileStreaming fails while a floe run of this pipeline streams
// from the source, wherever it runs: the state dir's lock guards only this
// machine and this state dir. A source that cannot be asked is a refusal
// too: resnapshot must know.
func refuseWhileStreaming(ctx context.Context, cfg *Config) error {
	src, err := openSource(cfg, newLogger(cfg.Log, io.Discard))
	if err != nil {
		return err
	}
	defer src.Close()
	h, ok := src.(capture.StreamHolder)
	if !ok {
		return nil
	}
	who, err := h.StreamHolder(ctx)
	if err != nil {
		return fmt.Errorf("cannot check that no floe run streams from the source, so nothing was dropped: %w (fix: make the source reachable and run floe resnapshot again)", err)
	}
	if who != "" {
		return fmt.Errorf("a floe run of this pipeline is streaming: %s; nothing was dropped (fix: stop that floe run, wherever it runs, then run floe resnapshot again)", who)
	}
	return nil
}

// inspectSinks loads each table's Iceberg table and what this pipeline
// committed to it. It refuses a table the catalog does not have (nothing
// to drop) and one whose history holds only other writers' snapshots, and
// reports every such table at once.
func inspectSinks(ctx context.Context, cat *lakewriter.Catalog, pipeline string, tables []*resnapshotTable) error {
	var errs []error
	for _, t := range tables {
		tbl, err := cat.LoadTable(ctx, t.sink)
		if errors.Is(err, lakewriter.ErrNoSuchTable) {
			errs = append(errs, fmt.Errorf("--table %s: its Iceberg table %s is not in the catalog, so there is nothing to drop (the next floe run creates and snapshots it)", t.source, t.sink))
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("--table %s: %w", t.source, err))
			continue
		}
		hist, err := tbl.History(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("--table %s: read history of %s: %w", t.source, t.sink, err))
			continue
		}
		last, committed := ledger.Last(hist, summary, pipeline)
		if !committed && len(hist) > 0 && !claimedBy(hist, pipeline) {
			errs = append(errs, fmt.Errorf("--table %s: Iceberg table %s has %d snapshots but none of pipeline %q (pipeline.name); refusing to drop a table this pipeline did not write",
				t.source, t.sink, len(hist), pipeline))
			continue
		}
		t.snapshots = len(hist)
		if committed {
			t.checkpoint, t.position = last.Props[ledger.PropCheckpoint], last.Props[ledger.PropPosition]
		}
	}
	return errors.Join(errs...)
}

// claimedBy reports whether a run of pipeline claimed the table (see
// checkpoint.Fencing): one that stopped before its first commit left only
// its claim.
func claimedBy(hist []lakewriter.Snapshot, pipeline string) bool {
	for _, s := range hist {
		if own, ok, err := ledger.EpochOf(s.Props, pipeline); ok && err == nil && own.Claim != nil {
			return true
		}
	}
	return false
}
