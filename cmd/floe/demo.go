package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/floe-cdc/floe/deploy/testdb"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/schema"
)

func demoCommand() *cobra.Command {
	var (
		duration time.Duration
		keep     bool
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run Floe end to end on a throwaway PostgreSQL, with no configuration",
		Long: `demo starts a throwaway PostgreSQL on a free port, creates a small shop schema
and a workload of inserts, updates and deletes, runs Floe into a local Iceberg
warehouse with an embedded SQLite catalog, stops the workload, verifies every
table and prints a few rows read back from Iceberg. Nothing is left running.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), cmd.OutOrStdout(), duration, keep)
		},
	}
	cmd.Flags().DurationVar(&duration, "duration", 30*time.Second, "how long the workload runs")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the demo directory (warehouse, catalog, logs)")
	return cmd
}

const demoSchema = `
CREATE TYPE order_status AS ENUM ('new', 'paid', 'shipped', 'cancelled');
CREATE TABLE customers (
  id bigserial PRIMARY KEY,
  name text NOT NULL,
  email varchar(200),
  created_at timestamptz NOT NULL DEFAULT now(),
  profile jsonb,
  notes text
);
CREATE TABLE orders (
  id bigserial PRIMARY KEY,
  customer_id bigint NOT NULL,
  status order_status NOT NULL DEFAULT 'new',
  total numeric(12,2) NOT NULL,
  placed_on date NOT NULL DEFAULT current_date,
  tags text[],
  ref uuid NOT NULL DEFAULT gen_random_uuid()
);
CREATE TABLE line_items (
  order_id bigint NOT NULL,
  line_no int NOT NULL,
  sku varchar(32) NOT NULL,
  qty smallint NOT NULL,
  price numeric(10,2) NOT NULL,
  PRIMARY KEY (order_id, line_no)
);
INSERT INTO customers (name, email, profile, notes)
  SELECT 'customer ' || g, 'c' || g || '@example.com', jsonb_build_object('tier', g % 3),
         CASE WHEN g % 50 = 0 THEN repeat(md5(g::text), 400) END
  FROM generate_series(1, 2000) g;
INSERT INTO orders (customer_id, total, tags)
  SELECT 1 + g % 2000, (g % 1000) + 0.99, ARRAY['web', 'promo' || (g % 7)]
  FROM generate_series(1, 5000) g;
INSERT INTO line_items
  SELECT o, l, 'SKU-' || (o * 7 + l) % 997, 1 + l, 9.99 * l FROM generate_series(1, 5000) o, generate_series(1, 3) l;
`

// runDemo is `floe demo`: every resource it starts is stopped before it returns.
func runDemo(ctx context.Context, out io.Writer, duration time.Duration, keep bool) (err error) {
	start := time.Now()
	say := func(format string, args ...any) {
		fmt.Fprintf(out, "[%5.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	if err := testdb.EnsurePostgresInstalled(ctx); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "floe-demo-")
	if err != nil {
		return err
	}
	if keep {
		say("demo directory: %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	pg, err := testdb.StartPostgres(ctx, testdb.PostgresOptions{})
	if err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	defer func() {
		if serr := pg.Stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	dsn, err := pg.CreateDatabase(ctx, "shop", "floe", "floe-demo")
	if err != nil {
		return err
	}
	if err := pg.Exec(ctx, "shop", demoSchema); err != nil {
		return fmt.Errorf("create demo schema: %w", err)
	}
	if err := pg.Exec(ctx, "shop", "ALTER TABLE customers OWNER TO floe", "ALTER TABLE orders OWNER TO floe",
		"ALTER TABLE line_items OWNER TO floe"); err != nil {
		return err
	}
	say("PostgreSQL started on 127.0.0.1:%d with a shop schema (2000 customers, 5000 orders, 15000 line items)", pg.Port)

	cfg := DefaultConfig()
	cfg.Pipeline.Name = "demo"
	cfg.Pipeline.CheckpointInterval = 5 * time.Second
	cfg.State.Dir = filepath.Join(dir, "state")
	cfg.Source.Type = "postgres"
	cfg.Source.Port = pg.Port
	cfg.Source.Username = "floe"
	cfg.Source.Password = "floe-demo"
	cfg.Source.Database = "shop"
	cfg.Source.Tables = []string{`public\..*`}
	cfg.Sink.Type = "iceberg"
	cfg.Sink.Warehouse = filepath.Join(dir, "warehouse")
	cfg.Sink.Catalog.URI = "sqlite://" + filepath.Join(dir, "catalog.db")
	cfg.Sink.Namespace = "shop"
	cfg.Log.Level = "info"
	if err := cfg.ApplyDefaults(); err != nil {
		return err
	}
	if problems := cfg.Validate(); len(problems) > 0 {
		return &ConfigError{File: "demo", Problems: problems}
	}
	logPath := filepath.Join(dir, "floe.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()

	// The pipeline and the workload run side by side.
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	runDone := make(chan error, 1)
	go func() { runDone <- runPipeline(runCtx, cfg, logFile, nil) }()
	say("floe run started: snapshot, then streaming (log: %s)", logPath)

	workCtx, stopWork := context.WithTimeout(ctx, duration)
	defer stopWork()
	stats, werr := demoWorkload(workCtx, dsn)
	if werr != nil && !errors.Is(werr, context.DeadlineExceeded) && !errors.Is(werr, context.Canceled) {
		stopRun()
		<-runDone
		return fmt.Errorf("demo workload: %w", werr)
	}
	say("workload stopped: %d transactions (%d inserts, %d updates, %d deletes)", stats.txns, stats.inserts, stats.updates, stats.deletes)

	if err := waitCaughtUp(ctx, dsn, cfg.Source.SlotName, 90*time.Second, runDone); err != nil {
		stopRun()
		<-runDone
		return err
	}
	stopRun()
	if err := <-runDone; err != nil {
		return fmt.Errorf("floe run: %w", err)
	}
	say("floe caught up with the source and stopped cleanly")

	say("floe verify:")
	if err := runVerify(ctx, cfg, out); err != nil {
		return err
	}
	say("floe status:")
	st, err := pipelineStatus(ctx, cfg, time.Now())
	if err != nil {
		return err
	}
	if err := printStatus(out, st); err != nil {
		return err
	}
	say("floe compact (applies the equality deletes into the data files; floe run does this every 30m):")
	if err := compactTables(ctx, cfg, nil, out, logFile); err != nil {
		return err
	}
	say("floe verify after compaction:")
	verr := runVerify(ctx, cfg, out)
	if err := printSample(ctx, cfg, out); err != nil {
		return err
	}
	say("done")
	return verr
}

type workloadStats struct{ txns, inserts, updates, deletes int }

// demoWorkload runs small shop transactions until ctx ends.
func demoWorkload(ctx context.Context, dsn string) (workloadStats, error) {
	var st workloadStats
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return st, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rng := rand.New(rand.NewPCG(1, 2))
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	// ctx only says when to stop, between transactions: a transaction
	// cancelled mid-flight may still commit on the server after this
	// returns, behind the position the demo then waits for.
	txCtx := context.WithoutCancel(ctx)
	for {
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-tick.C:
		}
		ctx := txCtx
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			switch n := rng.IntN(10); {
			case n < 4: // a new order with its lines
				var id int64
				if err := tx.QueryRow(ctx, `INSERT INTO orders (customer_id, total, tags) VALUES ($1, $2, $3) RETURNING id`,
					1+rng.IntN(2000), fmt.Sprintf("%d.%02d", rng.IntN(500), rng.IntN(100)), []string{"app"}).Scan(&id); err != nil {
					return err
				}
				for l := 1; l <= 1+rng.IntN(3); l++ {
					if _, err := tx.Exec(ctx, `INSERT INTO line_items VALUES ($1, $2, $3, $4, $5)`,
						id, l, fmt.Sprintf("SKU-%d", rng.IntN(997)), 1+rng.IntN(5), "4.50"); err != nil {
						return err
					}
					st.inserts++
				}
				st.inserts++
			case n < 7: // an order moves on
				tag, err := tx.Exec(ctx, `UPDATE orders SET status = 'paid', total = total + 1 WHERE id = $1`, 1+rng.IntN(5000))
				if err != nil {
					return err
				}
				st.updates += int(tag.RowsAffected())
			case n < 8: // a customer with a large (TOASTed) note changes only its email
				tag, err := tx.Exec(ctx, `UPDATE customers SET email = 'new' || id || '@example.com' WHERE id = $1`, 50*(1+rng.IntN(40)))
				if err != nil {
					return err
				}
				st.updates += int(tag.RowsAffected())
			case n < 9: // a line item is removed
				tag, err := tx.Exec(ctx, `DELETE FROM line_items WHERE order_id = $1 AND line_no = 3`, 1+rng.IntN(5000))
				if err != nil {
					return err
				}
				st.deletes += int(tag.RowsAffected())
			default: // an order is cancelled and renumbered (a primary-key change)
				tag, err := tx.Exec(ctx, `UPDATE orders SET id = id + 1000000, status = 'cancelled' WHERE id = $1`, 1+rng.IntN(5000))
				if err != nil {
					return err
				}
				st.updates += int(tag.RowsAffected())
			}
			return nil
		})
		if err != nil {
			return st, err
		}
		st.txns++
	}
}

// waitCaughtUp waits until the slot's confirmed position passes a marker
// written after the workload stopped: Floe acknowledges only what every
// table committed, so then every workload change is in Iceberg. The
// marker is a sync message (postgres.SyncPrefix), which has Floe commit
// every table up to it at once rather than after its idle interval.
func waitCaughtUp(ctx context.Context, dsn, slot string, timeout time.Duration, runDone <-chan error) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// The marker must come after the slot's start point: a slot that finds
	// its consistent point later starts past the marker and would look
	// caught up before its snapshot is done. confirmed_flush_lsn stays NULL
	// until that point is found.
	deadline := time.Now().Add(timeout)
	for {
		var exists bool
		if err := conn.QueryRow(ctx, `SELECT count(*) > 0 FROM pg_replication_slots WHERE slot_name = $1 AND confirmed_flush_lsn IS NOT NULL`, slot).Scan(&exists); err != nil {
			return fmt.Errorf("look for the replication slot: %w", err)
		}
		if exists {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("floe did not create replication slot %s within %s", slot, timeout)
		}
		select {
		case err := <-runDone:
			return fmt.Errorf("floe run stopped early: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	var marker string
	if err := conn.QueryRow(ctx, `SELECT pg_logical_emit_message(false, 'floe.sync', 'caught up?')::text`).Scan(&marker); err != nil {
		return fmt.Errorf("write catch-up marker: %w", err)
	}
	// From here timeout bounds the wait for progress: while the slot's
	// confirmed position moves (a long backlog on a loaded machine) the
	// wait goes on; a slot that stays put for timeout means floe is stuck.
	deadline = time.Now().Add(timeout)
	var confirmed string
	for time.Now().Before(deadline) {
		var done bool
		var at *string
		err := conn.QueryRow(ctx, `SELECT coalesce(confirmed_flush_lsn >= $1::pg_lsn, false), confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $2`,
			marker, slot).Scan(&done, &at)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("read slot position: %w", err)
		}
		if done {
			return nil
		}
		if at != nil && *at != confirmed {
			confirmed, deadline = *at, time.Now().Add(timeout)
		}
		select {
		case err := <-runDone:
			return fmt.Errorf("floe run stopped early: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return fmt.Errorf("floe did not catch up with the source: the slot's confirmed position stayed at %s for %s", confirmed, timeout)
}

// printSample prints a few rows of each demo table read back from Iceberg.
func printSample(ctx context.Context, cfg *Config, out io.Writer) error {
	cat, err := openCatalog(ctx, cfg, newLogger(cfg.Log, io.Discard))
	if err != nil {
		return err
	}
	defer cat.Close()
	for _, name := range []string{"orders", "customers"} {
		tbl, err := cat.LoadTable(ctx, lakewriter.Ident{Namespace: cfg.Sink.Namespace, Name: name})
		if err != nil {
			return err
		}
		layout := tbl.Layout()
		fmt.Fprintf(out, "\n%s.%s (first rows read back from Iceberg):\n", cfg.Sink.Namespace, name)
		n := 0
		errEnough := errors.New("enough")
		err = tbl.Scan(ctx, func(row schema.Row) error {
			cells := make([]string, 0, len(row))
			for i, c := range layout.Columns {
				v := schema.FormatValue(row[i], c.Type)
				if len(v) > 40 {
					v = v[:37] + "..."
				}
				cells = append(cells, c.Name+"="+v)
			}
			fmt.Fprintln(out, "  "+strings.Join(cells, " "))
			n++
			if n == 3 {
				return errEnough
			}
			return nil
		})
		if err != nil && !errors.Is(err, errEnough) {
			return err
		}
	}
	return nil
}
