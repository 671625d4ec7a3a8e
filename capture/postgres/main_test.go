package postgres

import (
	"context"
	"flag"
	"fmt"
	"os"
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/capturetest"
	"github.com/floe-cdc/floe/deploy/testdb"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// testPG is the wal_level=logical cluster shared by the integration tests
// of this package; each test gets its own database, role, slot and
// publication.
var testPG *testdb.Postgres

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(capturetest.Main(m, "PostgreSQL", func(ctx context.Context) (func() error, error) {
		var err error
		if testPG, err = testdb.StartPostgres(ctx, testdb.PostgresOptions{}); err != nil {
			return nil, err
		}
		fmt.Fprintf(os.Stderr, "capture/postgres: testing against PostgreSQL %s\n", testPG.Version)
		return testPG.Stop, nil
	}))
}

var envSeq atomic.Int64

// testEnv is one database owned by one REPLICATION role.
type testEnv struct {
	t        *testing.T
	pg       *testdb.Postgres
	db, user string
	dsn      string
	slot     string
}

const testPassword = "s3cret"

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	if testPG == nil {
		t.Skip("integration test (needs PostgreSQL; not run with -short)")
	}
	n := envSeq.Add(1)
	// Under PostgreSQL's 63-byte limit with the suffixes added below.
	name := capturetest.UniqueName(t, n, 32)
	e := &testEnv{t: t, pg: testPG, db: name, user: name + "_u", slot: name + "_slot"}
	e.dsn = testPG.DatabaseForTest(t, e.db, e.user, testPassword, e.slot)
	return e
}

// connect opens a connection as the database owner, closed at cleanup.
func (e *testEnv) connect() *pgx.Conn {
	e.t.Helper()
	conn, err := pgx.Connect(context.Background(), e.dsn)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// exec runs statements as the database owner.
func (e *testEnv) exec(sql ...string) {
	e.t.Helper()
	conn, err := pgx.Connect(context.Background(), e.dsn)
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, s := range sql {
		if _, err := conn.Exec(context.Background(), s); err != nil {
			e.t.Fatalf("exec %q: %v", s, err)
		}
	}
}

func (e *testEnv) config(tables ...string) Config {
	cfg := Config{
		SourceConfig: capture.SourceConfig{Host: "127.0.0.1", Port: e.pg.Port, User: e.user, Password: testPassword, HeartbeatInterval: time.Hour},
		Database:     e.db,
		SlotName:     e.slot, PublicationName: e.db + "_pub",
		StatusInterval: 200 * time.Millisecond,
	}
	for _, p := range tables {
		cfg.Tables = append(cfg.Tables, regexp.MustCompile(p))
	}
	return cfg
}

func (e *testEnv) source(cfg Config) *Source {
	e.t.Helper()
	return capturetest.Open(e.t, New, cfg)
}

// startStream runs s.Stream in the background until cleanup.
func startStream(t *testing.T, s *Source) *capturetest.Running {
	return capturetest.StartStream(t, s)
}

// testCtx is a context bounded by the test's life.
var testCtx = capturetest.Context

func mustRE(s string) *regexp.Regexp { return regexp.MustCompile(s) }

func freePort(t *testing.T) int {
	p, err := testdb.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
