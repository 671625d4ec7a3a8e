package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/floe-cdc/floe/deploy/e2e"
	"github.com/floe-cdc/floe/deploy/testdb"
	"github.com/floe-cdc/floe/lakewriter"
)

// The integration tests of this package run the real floe binary against a
// real PostgreSQL, as a user would (deploy/e2e). TestMain builds the binary
// and starts one cluster; each test uses its own database.
var (
	suite    e2e.Suite
	floeBin  string           // suite.Bin
	sharedPG *testdb.Postgres // suite.PG
)

func TestMain(m *testing.M) {
	os.Exit(func() int {
		defer suite.Setup(testdb.PostgresOptions{
			ExtraConf: []string{"max_replication_slots = 20", "max_wal_senders = 20"},
		})()
		floeBin, sharedPG = suite.Bin, suite.PG
		return m.Run()
	}())
}

// needServers skips in -short mode and fails when the servers could not start.
func needServers(t *testing.T) {
	t.Helper()
	suite.Need(t, "PostgreSQL")
}

// pipelineEnv is one test's database, config and directories.
type pipelineEnv struct {
	t       *testing.T
	pg      *testdb.Postgres
	db      string
	dsn     string
	dir     string
	config  string
	slot    string
	logPath string
}

const testPassword = "s3cret-pw"

// newPipelineEnv creates database db owned by a replication user and writes
// a config with the given extra YAML under source: and sink:.
func newPipelineEnv(t *testing.T, db, tables, sinkMode string, extraSource string) *pipelineEnv {
	t.Helper()
	return newPipelineEnvOn(t, sharedPG, db, tables, sinkMode, extraSource)
}

// ownPostgres starts a PostgreSQL cluster for one test alone (for tests
// that stop, signal or starve its processes), stopped when the test ends.
func ownPostgres(t *testing.T) *testdb.Postgres {
	t.Helper()
	needServers(t)
	pg, err := testdb.StartPostgres(context.Background(), testdb.PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Stop() })
	return pg
}

// newPipelineEnvOn is newPipelineEnv on the cluster pg.
func newPipelineEnvOn(t *testing.T, pg *testdb.Postgres, db, tables, sinkMode string, extraSource string) *pipelineEnv {
	t.Helper()
	needServers(t) // every test that builds one needs the servers (skipped by make unit)
	f := e2e.NewPipeline(t, floeBin)
	e := &pipelineEnv{t: t, pg: pg, db: db, dir: f.Dir, config: f.Config, logPath: f.Log, slot: "floe_" + db}
	e.dsn = pg.DatabaseForTest(t, db, "u_"+db, testPassword, e.slot)
	f.WriteConfig(e2e.Config{Name: db,
		Source: e2e.Source{Type: "postgres", Port: pg.Port, User: "u_" + db, Database: db, Tables: tables,
			Extra: "  snapshot.parallelism: 2\n" + extraSource},
		Sink: e2e.Sink{Mode: sinkMode}})
	return e
}

// floe is the env's pipeline as deploy/e2e runs it, made from the fields
// (which some tests set themselves).
func (e *pipelineEnv) floe() *e2e.Pipeline {
	return &e2e.Pipeline{T: e.t, Bin: floeBin, Dir: e.dir, Config: e.config, Log: e.logPath,
		Env: []string{e2e.PasswordEnv + "=" + testPassword}}
}

// appendConfig adds top-level YAML sections to the env's config file.
func (e *pipelineEnv) appendConfig(yaml string) {
	e.t.Helper()
	f, err := os.OpenFile(e.config, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(yaml); err != nil {
		e.t.Fatal(err)
	}
}

// exec runs SQL as the superuser in the test database.
func (e *pipelineEnv) exec(sql ...string) {
	e.t.Helper()
	if err := e.pg.Exec(context.Background(), e.db, sql...); err != nil {
		e.t.Fatal(err)
	}
}

// floeCmd prepares a floe invocation with the test's environment.
func (e *pipelineEnv) floeCmd(args ...string) *exec.Cmd { return e.floe().Cmd(args...) }

// running is a floe run process.
type running = testdb.Process

// start launches `floe run`, appending its output to the env's log.
func (e *pipelineEnv) start() *running { e.t.Helper(); return e.floe().Start() }

// stop sends SIGTERM and expects a clean exit (the final checkpoint commits).
func (e *pipelineEnv) stop(r *running) { e.t.Helper(); e.floe().Stop(r) }

// kill sends SIGKILL and waits for the process to be gone.
func (e *pipelineEnv) kill(r *running) { r.Kill() }

// waitCaughtUp waits until floe has acknowledged a marker written now.
func (e *pipelineEnv) waitCaughtUp(r *running, timeout time.Duration) {
	e.t.Helper()
	if err := testdb.WaitSlotCaughtUp(context.Background(), e.dsn, e.slot, timeout, r); err != nil {
		e.t.Fatalf("%v; log:\n%s", err, e.tail(60))
	}
}

// replicationState describes the slot and its walsender as the server
// sees them, for a failure message: where WAL is written and flushed, how
// far the walsender sent and floe confirmed, and what the walsender waits
// on. It never fails the test: an error is part of the description.
func (e *pipelineEnv) replicationState() string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, e.pg.AdminDSN(e.db))
	if err != nil {
		return "connect: " + err.Error()
	}
	defer c.Close(context.Background())
	var out string
	err = c.QueryRow(ctx, `SELECT format('wal insert %s, flushed %s; slot confirmed %s, restart %s, active pid %s; walsender %s',
			pg_current_wal_insert_lsn(), pg_current_wal_flush_lsn(), s.confirmed_flush_lsn, s.restart_lsn, s.active_pid,
			COALESCE((SELECT format('state %s, sent %s, written %s, flushed %s, wait event %s/%s', r.state, r.sent_lsn, r.write_lsn,
				r.flush_lsn, a.wait_event_type, a.wait_event)
				FROM pg_stat_replication r LEFT JOIN pg_stat_activity a ON a.pid = r.pid WHERE r.pid = s.active_pid), 'none'))
		FROM pg_replication_slots s WHERE s.slot_name = $1`, e.slot).Scan(&out)
	if err != nil {
		return "query: " + err.Error()
	}
	return out
}

// verify runs `floe verify` and returns its output and exit code.
func (e *pipelineEnv) verify() (string, int) {
	e.t.Helper()
	return e.runVerb("verify", "--config", e.config)
}

// runVerb runs a floe verb to its end and returns its combined output and
// exit code; a failure to run it at all fails the test.
func (e *pipelineEnv) runVerb(args ...string) (string, int) {
	e.t.Helper()
	return e.floe().Run(0, args...)
}

// mustVerify fails the test unless every table verifies.
func (e *pipelineEnv) mustVerify(wantTables int) string {
	e.t.Helper()
	out, code := e.verify()
	if code != 0 {
		e.t.Fatalf("floe verify exit %d:\n%s\nfloe log tail:\n%s", code, out, e.tail(60))
	}
	if n := strings.Count(out, "OK "); n != wantTables {
		e.t.Fatalf("floe verify reported %d OK tables, want %d:\n%s", n, wantTables, out)
	}
	return out
}

// tail returns the last n lines of the floe log.
func (e *pipelineEnv) tail(n int) string { return e.floe().Tail(n) }

// conn opens a connection to the test database as the superuser.
func (e *pipelineEnv) conn() *pgx.Conn {
	e.t.Helper()
	c, err := pgx.Connect(context.Background(), e.pg.AdminDSN(e.db))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// loadConfig parses the env's config file as floe would.
func (e *pipelineEnv) loadConfig() *Config {
	e.t.Helper()
	data, err := os.ReadFile(e.config)
	if err != nil {
		e.t.Fatal(err)
	}
	cfg, err := ParseConfig(e.config, data, func(k string) (string, bool) {
		if k == e2e.PasswordEnv {
			return testPassword, true
		}
		return "", false
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return cfg
}

// sinkTable opens the env's Iceberg table name through the configured catalog.
func (e *pipelineEnv) sinkTable(name string) *lakewriter.Table {
	e.t.Helper()
	ctx := context.Background()
	cfg := e.loadConfig()
	cat, err := openCatalog(ctx, cfg, newLogger(cfg.Log, io.Discard))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { cat.Close() })
	tbl, err := cat.LoadTable(ctx, lakewriter.Ident{Namespace: cfg.Sink.Namespace, Name: name})
	if err != nil {
		e.t.Fatal(err)
	}
	return tbl
}

// waitStreaming waits until the run has taken its snapshot and streams.
func (e *pipelineEnv) waitStreaming(r *running) {
	e.t.Helper()
	e.floe().WaitLog(r, "msg=streaming", time.Minute)
}
