package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/floe-cdc/floe/capture/postgres"
	"github.com/floe-cdc/floe/deploy/testdb"
)

const (
	pgDatabase     = "bench"
	pgUser         = "floe_bench"
	pgPassword     = "bench-pw"
	pgPasswordEnv  = "FLOE_BENCH_PASSWORD"
	rawPublication = "bench_raw"
)

// pgServerConf tunes the throwaway cluster for throughput; testdb already
// turns fsync, synchronous_commit and full_page_writes off.
var pgServerConf = []string{
	"shared_buffers = 512MB",
	"wal_buffers = 64MB",
	"max_wal_size = 8GB",
	"min_wal_size = 1GB",
	"checkpoint_timeout = 30min",
	"maintenance_work_mem = 256MB",
	"autovacuum = off", // no background noise; the loader vacuums once
	"max_replication_slots = 20",
	"max_wal_senders = 20",
}

// pgTable is one generated table: its DDL, the SELECT list that makes row
// g, the SET list of its workload updates and its share of the rows.
// pgTables are four tables of mixed types, ~150 bytes a row on disk.
var pgTables = []benchTable{
	{
		name: "customers", share: 0.1,
		ddl: `id bigint PRIMARY KEY, name text NOT NULL, email text, country char(2), balance numeric(12,2),
  active boolean, created_at timestamptz, birthday date, note text`,
		gen: `g, 'customer ' || g, 'user' || g || '@example.com', (ARRAY['DE','FR','US','JP','BR'])[1 + g % 5],
  (g % 100000) / 100.0, g % 3 <> 0, timestamptz '2020-01-01 00:00+00' + g * interval '17 seconds',
  date '1950-01-01' + (g % 20000)::int, 'note ' || md5(g::text)`,
		set: `balance = balance + 1, active = NOT active`,
	},
	{
		name: "orders", share: 0.4,
		ddl: `id bigint PRIMARY KEY, customer_id bigint NOT NULL, status varchar(16), amount numeric(12,2), qty int,
  placed_at timestamptz, shipped_at timestamp, ref uuid, comment text`,
		gen: `g, 1 + g % 500000, (ARRAY['new','paid','shipped','done'])[1 + g % 4], (g % 99991) / 10.0, (1 + g % 7)::int,
  timestamptz '2021-01-01 00:00+00' + g * interval '11 seconds', timestamp '2021-01-02' + g * interval '13 seconds',
  md5(g::text)::uuid, 'order ' || md5((g * 7)::text)`,
		set: `status = 'done', amount = amount + 1`,
	},
	{
		name: "events", share: 0.3,
		ddl: `id bigint PRIMARY KEY, kind text, payload jsonb, score double precision, at timestamptz, tags text[], session uuid`,
		gen: `g, (ARRAY['view','click','buy'])[1 + g % 3], jsonb_build_object('n', g, 'page', '/p/' || (g % 1000)),
  g * 0.37, timestamptz '2022-01-01 00:00+00' + g * interval '3 seconds', ARRAY['t' || (g % 10), 'x' || (g % 7)],
  md5('s' || g)::uuid`,
		set: `score = score + 1`,
	},
	{
		name: "items", share: 0.2,
		ddl: `id bigint PRIMARY KEY, sku text, price numeric(10,2), weight real, day date, flags int[], data bytea, descr text`,
		gen: `g, 'SKU-' || lpad(g::text, 10, '0'), (g % 100000) / 100.0, (g % 1000) * 0.25, date '2022-01-01' + (g % 1000)::int,
  ARRAY[(g % 3)::int, (g % 5)::int], decode(md5(g::text), 'hex'), 'item ' || md5((g * 3)::text)`,
		set: `price = price + 0.01`,
	},
}

// pgSource is the PostgreSQL benchSource.
type pgSource struct {
	db     *testdb.Postgres
	log    *slog.Logger
	rng    *rand.Rand
	ranges map[string]*idRange
}

var _ benchSource = (*pgSource)(nil)

// startPostgres starts a tuned throwaway cluster with the bench database.
// testdb.StartPostgres installs the server when it needs Debian's (and
// fetches another version named by $FLOE_TEST_PG).
func startPostgres(ctx context.Context, log *slog.Logger) (*pgSource, error) {
	db, err := testdb.StartPostgres(ctx, testdb.PostgresOptions{ExtraConf: pgServerConf})
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	log.Info("postgres started", "port", db.Port, "dir", db.Dir)
	if _, err := db.CreateDatabase(ctx, pgDatabase, pgUser, pgPassword); err != nil {
		_ = db.Stop()
		return nil, fmt.Errorf("create bench database: %w", err)
	}
	return &pgSource{db: db, log: log, rng: rand.New(rand.NewPCG(4, 2)), ranges: map[string]*idRange{}}, nil
}

func (p *pgSource) Kind() string { return "postgres" }

func (p *pgSource) Stop() error { return p.db.Stop() }

// connect opens a connection as the table owner, with the session settings
// floe uses, so both sides read the same text forms.
func (p *pgSource) connect(ctx context.Context) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(p.db.DSN(pgDatabase, pgUser, pgPassword))
	if err != nil {
		return nil, err
	}
	for k, v := range map[string]string{"DateStyle": "ISO", "IntervalStyle": "iso_8601", "TimeZone": "UTC",
		"extra_float_digits": "3", "bytea_output": "hex"} {
		cfg.RuntimeParams[k] = v
	}
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", pgDatabase, err)
	}
	return c, nil
}

func (p *pgSource) Version(ctx context.Context) (string, error) {
	c, err := p.connect(ctx)
	if err != nil {
		return "", err
	}
	defer c.Close(context.WithoutCancel(ctx))
	var v string
	if err := c.QueryRow(ctx, "SHOW server_version").Scan(&v); err != nil {
		return "", fmt.Errorf("read server version: %w", err)
	}
	return v, nil
}

// Load creates the tables and fills them server-side, two tables at once,
// in statements of at most 500k rows; then it vacuums (hint bits and the
// visibility map, so the first reader does not pay for them) and measures
// the average row size.
func (p *pgSource) Load(ctx context.Context, rows int64) (loadInfo, error) {
	start := time.Now()
	c, err := p.connect(ctx)
	if err != nil {
		return loadInfo{}, err
	}
	defer c.Close(context.WithoutCancel(ctx))
	names := make([]string, len(pgTables))
	for i, t := range pgTables {
		names[i] = t.name
		if _, err := c.Exec(ctx, fmt.Sprintf("CREATE TABLE %s (%s)", t.name, t.ddl)); err != nil {
			return loadInfo{}, fmt.Errorf("create table %s: %w", t.name, err)
		}
	}
	if _, err := c.Exec(ctx, fmt.Sprintf("CREATE PUBLICATION %s FOR TABLE %s", rawPublication, strings.Join(names, ", "))); err != nil {
		return loadInfo{}, fmt.Errorf("create publication: %w", err)
	}
	stmts, total := loadPlan(pgTables, rows, p.ranges, pgSeries)
	err = runLoad(ctx, stmts, func(ctx context.Context) (func(context.Context, string) error, func(), error) {
		wc, err := p.connect(ctx)
		if err != nil {
			return nil, nil, err
		}
		exec := func(ctx context.Context, sql string) error { _, err := wc.Exec(ctx, sql); return err }
		return exec, func() { wc.Close(context.WithoutCancel(ctx)) }, nil
	})
	if err != nil {
		return loadInfo{}, err
	}
	var bytes float64
	for _, name := range names {
		if _, err := c.Exec(ctx, "VACUUM ANALYZE "+name); err != nil {
			return loadInfo{}, fmt.Errorf("vacuum %s: %w", name, err)
		}
		var b float64
		if err := c.QueryRow(ctx, fmt.Sprintf("SELECT coalesce(sum(pg_column_size(t.*)), 0)::float8 FROM %s t", name)).Scan(&b); err != nil {
			return loadInfo{}, fmt.Errorf("measure %s: %w", name, err)
		}
		bytes += b
	}
	// Flush the load's dirty pages now, not during a measurement.
	if err := p.db.Exec(ctx, pgDatabase, "CHECKPOINT"); err != nil {
		return loadInfo{}, err
	}
	return loadInfo{Tables: names, Rows: total, AvgRowBytes: bytes / float64(total), Elapsed: time.Since(start)}, nil
}

func (p *pgSource) FloeSourceYAML(pipeline, snapshotMode string, names []string, parallelism, chunkRows int) string {
	tables := make([]string, len(names))
	for i, name := range names {
		tables[i] = `public\.` + name
	}
	own := fmt.Sprintf("  database: %s\n  tables: %s\n", pgDatabase, strings.Join(tables, ", "))
	return sourceYAML("postgres", p.db.Port, pgUser, own, snapshotMode, parallelism, chunkRows)
}

func (p *pgSource) FloeEnv() []string { return []string{pgPasswordEnv + "=" + pgPassword} }

// RawSnapshot copies every table in key-range chunks of chunkRows rows
// (the shape of floe's chunk query), parallelism at once, into io.Discard.
func (p *pgSource) RawSnapshot(ctx context.Context, parallelism, chunkRows int) (int64, error) {
	chunks := rawChunks(pgTables, p.ranges, chunkRows)
	return runWorkers(ctx, chunks, parallelism, func(ctx context.Context) (func(context.Context, rawChunk) (int64, error), func(), error) {
		c, err := p.connect(ctx)
		if err != nil {
			return nil, nil, err
		}
		copyChunk := func(ctx context.Context, ch rawChunk) (int64, error) {
			sql := fmt.Sprintf("COPY (SELECT * FROM %s WHERE id > %d AND id <= %d ORDER BY id) TO STDOUT", ch.table, ch.lo, ch.hi)
			tag, err := c.PgConn().CopyTo(ctx, io.Discard, sql)
			if err != nil {
				return 0, fmt.Errorf("copy chunk of %s: %w", ch.table, err)
			}
			return tag.RowsAffected(), nil
		}
		return copyChunk, func() { c.Close(context.WithoutCancel(ctx)) }, nil
	})
}

func (p *pgSource) OpenRawCursor(ctx context.Context, name string) error {
	err := p.db.Exec(ctx, pgDatabase, fmt.Sprintf("SELECT pg_create_logical_replication_slot('%s', 'pgoutput')", name))
	if err != nil {
		return fmt.Errorf("create raw slot %s: %w", name, err)
	}
	return nil
}

func (p *pgSource) CloseRawCursor(ctx context.Context, name string) error {
	return p.db.Exec(ctx, pgDatabase, fmt.Sprintf(
		"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '%s'", name))
}

func (p *pgSource) DecodeFloePosition(s string) (pos, error) {
	fp, err := postgres.DecodePosition(s)
	if err != nil {
		return 0, err
	}
	return pos(fp.LSN), nil
}

func (p *pgSource) DropPipeline(ctx context.Context, pipeline string) error {
	return p.db.Exec(ctx, pgDatabase,
		fmt.Sprintf("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'floe_%s' AND NOT active", pipeline),
		fmt.Sprintf("DROP PUBLICATION IF EXISTS floe_%s", pipeline))
}
