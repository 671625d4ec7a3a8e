package mysql

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/capturetest"
	"github.com/floe-cdc/floe/deploy/testdb"
	"github.com/floe-cdc/floe/schema"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// testMaria is the ROW/GTID MariaDB shared by the integration tests of
// this package; each test gets its own database, user and server id.
var testMaria *testdb.MariaDB

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(capturetest.Main(m, "MariaDB", func(ctx context.Context) (func() error, error) {
		var err error
		if testMaria, err = testdb.StartMariaDB(ctx, testdb.MariaDBOptions{}); err != nil {
			return nil, err
		}
		fmt.Fprintf(os.Stderr, "capture/mysql: testing against %s %s\n", testMaria.Flavor, testMaria.Version)
		return testMaria.Stop, nil
	}))
}

// mariaDBOnly skips t when the test server is MySQL: t tests a mechanism
// only MariaDB has (why says which).
func mariaDBOnly(t *testing.T, why string) {
	t.Helper()
	if testMaria != nil && testMaria.Flavor != testdb.FlavorMariaDB {
		t.Skipf("MariaDB only (the server is %s %s): %s", testMaria.Flavor, testMaria.Version, why)
	}
}

var envSeq atomic.Int64

const testPassword = "s3cret"

// testEnv is one database with its own user on testMaria.
type testEnv struct {
	t        *testing.T
	m        *testdb.MariaDB
	db, user string
	serverID uint32
	root     *sql.DB
}

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	if testMaria == nil {
		t.Skip("integration test (needs MariaDB; not run with -short)")
	}
	return newEnvOn(t, testMaria)
}

// newEnvOn is newEnv on the server m.
func newEnvOn(t *testing.T, m *testdb.MariaDB) *testEnv {
	t.Helper()
	n := envSeq.Add(1)
	name := capturetest.UniqueName(t, n, 24)
	e := &testEnv{t: t, m: m, db: name, user: "u" + fmt.Sprint(n), serverID: uint32(1000 + n)}
	e.root = m.DatabaseForTest(t, e.db, e.user, testPassword, "")
	return e
}

// exec runs statements as root in the test's database.
func (e *testEnv) exec(stmts ...string) {
	e.t.Helper()
	for _, s := range stmts {
		if _, err := e.root.Exec(s); err != nil {
			e.t.Fatalf("exec %q: %v", s, err)
		}
	}
}

// tx runs statements as root in one transaction.
func (e *testEnv) tx(stmts ...string) {
	e.t.Helper()
	tx, err := e.root.Begin()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, s := range stmts {
		if _, err := tx.Exec(s); err != nil {
			tx.Rollback()
			e.t.Fatalf("exec %q: %v", s, err)
		}
	}
	if err := tx.Commit(); err != nil {
		e.t.Fatal(err)
	}
}

func (e *testEnv) config(tables ...string) Config {
	cfg := Config{SourceConfig: capture.SourceConfig{Host: "127.0.0.1", Port: e.m.Port, User: e.user, Password: testPassword,
		HeartbeatInterval: time.Hour}, ServerID: e.serverID}
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

func id(db, name string) capture.TableID { return capture.TableID{Schema: db, Name: name} }

type (
	schemaRow = schema.Row
	regexpT   = regexp.Regexp
)

func mustRE(s string) *regexp.Regexp { return regexp.MustCompile(s) }

// startedSource opens a source on e for the tables matching patterns,
// discovers them and starts it with req.
func startedSource(t *testing.T, e *testEnv, req capture.StartRequest, patterns ...string) *Source {
	t.Helper()
	s := e.source(e.config(patterns...))
	if _, err := s.Discover(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(testCtx(t), req); err != nil {
		t.Fatal(err)
	}
	return s
}
