package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/floe-cdc/floe/capture/jitter"
	"github.com/floe-cdc/floe/deploy/testdb"
	"github.com/floe-cdc/floe/lakewriter"
)

// The integration tests of this package run the real floe binary against a
// real PostgreSQL, as a user would. TestMain builds the binary and starts
// one cluster; each test uses its own database.
var (
	floeBin   string
	sharedPG  *testdb.Postgres
	setupErr  error
	testsRoot string
)

func TestMain(m *testing.M) {
	code := func() int {
		flag.Parse()
		if testing.Short() {
			return m.Run()
		}
		var err error
		testsRoot, err = os.MkdirTemp("", "floe-cmd-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(testsRoot)
		ctx := context.Background()
		if floeBin, err = buildFloe(testsRoot); err != nil {
			setupErr = err
		} else if err := testdb.EnsurePostgresInstalled(ctx); err != nil {
			setupErr = err
		} else if sharedPG, err = testdb.StartPostgres(ctx, testdb.PostgresOptions{
			ExtraConf: []string{"max_replication_slots = 20", "max_wal_senders = 20"},
		}); err != nil {
			setupErr = err
		}
		defer func() {
			if sharedPG != nil {
				_ = sharedPG.Stop()
			}
		}()
		return m.Run()
	}()
	os.Exit(code)
}

// buildFloe builds the floe binary under test into dir, with the
// floestress tag when this test binary has it (make stress: the jitter
// hook then lives in floe too), or returns FLOE_TEST_BIN when that names
// one already built (make stress builds it once for all its runs).
func buildFloe(dir string) (string, error) {
	if bin := os.Getenv("FLOE_TEST_BIN"); bin != "" {
		return bin, nil
	}
	bin := filepath.Join(dir, "floe")
	args := []string{"build", "-o", bin}
	if jitter.Built {
		args = append(args, "-tags", "floestress")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build floe: %v\n%s", err, out)
	}
	return bin, nil
}

// needServers skips in -short mode and fails when the servers could not start.
func needServers(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs PostgreSQL")
	}
	if setupErr != nil {
		t.Fatalf("test setup: %v", setupErr)
	}
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

// newPipelineEnvOn is newPipelineEnv on the cluster pg.
func newPipelineEnvOn(t *testing.T, pg *testdb.Postgres, db, tables, sinkMode string, extraSource string) *pipelineEnv {
	t.Helper()
	ctx := context.Background()
	dsn, err := pg.CreateDatabase(ctx, db, "u_"+db, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	e := &pipelineEnv{t: t, pg: pg, db: db, dsn: dsn, dir: testDir(t), slot: "floe_" + db}
	e.logPath = filepath.Join(e.dir, "floe.log")
	e.config = filepath.Join(e.dir, "floe.yaml")
	cfg := fmt.Sprintf(`pipeline:
  name: %s
  checkpoint-interval: 1s
state:
  dir: %s/state
source:
  type: postgres
  hostname: 127.0.0.1
  port: %d
  username: u_%s
  password: ${FLOE_TEST_PASSWORD}
  database: %s
  tables: %s
  snapshot.parallelism: 2
%ssink:
  type: iceberg
  catalog:
    type: sql
    uri: sqlite://%s/catalog.db
  warehouse: %s/warehouse
  namespace: lake
  mode: %s
log:
  level: debug
`, db, e.dir, pg.Port, db, db, tables, extraSource, e.dir, e.dir, sinkMode)
	if err := os.WriteFile(e.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Keep the evidence of a failure: the log and the lake.
		if t.Failed() {
			keep := filepath.Join(os.TempDir(), "floe-failed-tests", strings.ReplaceAll(t.Name(), "/", "_"))
			_ = os.RemoveAll(keep)
			if err := os.CopyFS(keep, os.DirFS(e.dir)); err == nil {
				t.Logf("kept the log, config and lake of this failed test in %s", keep)
			}
		}
		// Drop the slot so the shared cluster does not retain WAL for it.
		_ = pg.Exec(context.Background(), db, fmt.Sprintf(
			"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '%s' AND NOT active", e.slot))
	})
	return e
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
func (e *pipelineEnv) floeCmd(args ...string) *exec.Cmd {
	cmd := exec.Command(floeBin, args...)
	cmd.Env = append(os.Environ(), "FLOE_TEST_PASSWORD="+testPassword)
	cmd.Dir = e.dir
	return cmd
}

// running is a floe run process.
type running = testdb.Process

// start launches `floe run`, appending its output to the env's log.
func (e *pipelineEnv) start() *running {
	e.t.Helper()
	r, err := testdb.StartLogged(e.floeCmd("run", "--config", e.config), e.logPath)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(r.Kill)
	return r
}

// stop sends SIGTERM and expects a clean exit (the final checkpoint commits).
func (e *pipelineEnv) stop(r *running) {
	e.t.Helper()
	if err := r.Stop(2 * time.Minute); err != nil {
		e.t.Fatalf("floe run %v; log:\n%s", err, e.tail(40))
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (e *pipelineEnv) kill(r *running) { r.Kill() }

// waitCaughtUp waits until floe has acknowledged a marker written now.
func (e *pipelineEnv) waitCaughtUp(r *running, timeout time.Duration) {
	e.t.Helper()
	runDone := make(chan error, 1)
	go func() {
		<-r.Exited
		runDone <- r.Err
	}()
	if err := waitCaughtUp(context.Background(), e.dsn, e.slot, timeout, runDone); err != nil {
		e.t.Fatalf("%v; log:\n%s", err, e.tail(60))
	}
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
	out, err := e.floeCmd(args...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	default:
		e.t.Fatalf("floe %s: %v", args[0], err)
		return "", -1
	}
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
func (e *pipelineEnv) tail(n int) string {
	b, _ := os.ReadFile(e.logPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

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
		if k == "FLOE_TEST_PASSWORD" {
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
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(e.tail(100000), "msg=streaming") {
		select {
		case <-r.Exited:
			e.t.Fatalf("floe run exited: %v; log:\n%s", r.Err, e.tail(40))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("floe run did not start streaming; log:\n%s", e.tail(40))
		}
	}
}

// testDir is t.TempDir, kept for a look afterwards when the test fails and
// FLOE_KEEP_FAILED names a directory (make stress sets it): the floe log,
// config, state and warehouse of a failed run are copied there.
func testDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() { // runs before TempDir's own cleanup
		keep := os.Getenv("FLOE_KEEP_FAILED")
		if !t.Failed() || keep == "" {
			return
		}
		dst := filepath.Join(keep, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+"-"+time.Now().Format("150405.000"))
		if err := os.CopyFS(dst, os.DirFS(dir)); err != nil {
			t.Logf("keep the failed run's files: %v", err)
			return
		}
		t.Logf("the failed run's files are kept in %s", dst)
	})
	return dir
}
