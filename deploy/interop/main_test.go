package interop

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/floe-cdc/floe/deploy/testdb"
)

// The interop tests run the real floe binary against a real PostgreSQL
// and a real S3-compatible server, then read what it wrote with Trino and
// PyIceberg. TestMain builds floe and starts PostgreSQL and versitygw;
// Trino, the REST catalog and the Python environment start on first use.
var (
	floeBin  string
	sharedPG *testdb.Postgres
	sharedS3 *S3Server
	setupErr error

	trinoOnce   sync.Once
	sharedTrino *Trino
	trinoErr    error

	pythonOnce   sync.Once
	sharedPython *Python
	pythonErr    error
)

func TestMain(m *testing.M) {
	code := func() int {
		flag.Parse()
		if testing.Short() {
			return m.Run()
		}
		ctx := context.Background()
		root, err := RepoRoot()
		if err != nil {
			setupErr = err
			return m.Run()
		}
		tmp, err := os.MkdirTemp("", "floe-interop-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(tmp)
		floeBin = filepath.Join(tmp, "floe")
		start := time.Now()
		build := exec.Command("go", "build", "-o", floeBin, "./cmd/floe")
		build.Dir = root
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			setupErr = fmt.Errorf("build floe: %v\n%s", err, out)
			return m.Run()
		}
		fmt.Fprintf(os.Stderr, "interop: built floe in %s\n", time.Since(start).Round(time.Second))
		defer func() {
			_ = sharedTrino.Stop()
			_ = sharedS3.Stop()
			_ = sharedPG.Stop()
		}()
		if err := testdb.EnsurePostgresInstalled(ctx); err != nil {
			setupErr = err
		} else if sharedPG, err = testdb.StartPostgres(ctx, testdb.PostgresOptions{}); err != nil {
			setupErr = err
		} else {
			start = time.Now()
			if sharedS3, err = StartS3(ctx); err != nil {
				setupErr = err
			} else {
				fmt.Fprintf(os.Stderr, "interop: versitygw ready in %s\n", time.Since(start).Round(time.Millisecond))
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

// needServers skips in -short mode and fails when setup failed.
func needServers(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("interop test: needs PostgreSQL, S3, Trino and Python")
	}
	if setupErr != nil {
		t.Fatalf("interop setup: %v", setupErr)
	}
}

// trino returns the shared Trino, starting it on first use; a Trino that
// cannot start fails the test (it never skips).
func trino(t *testing.T) *Trino {
	t.Helper()
	trinoOnce.Do(func() {
		start := time.Now()
		sharedTrino, trinoErr = StartTrino(context.Background())
		if trinoErr == nil {
			t.Logf("trino %s ready in %s", sharedTrino.Version, time.Since(start).Round(time.Second))
		}
	})
	if trinoErr != nil {
		t.Fatalf("trino could not start: %v", trinoErr)
	}
	return sharedTrino
}

// python returns the PyIceberg environment, creating it on first use.
func python(t *testing.T) *Python {
	t.Helper()
	pythonOnce.Do(func() {
		start := time.Now()
		sharedPython, pythonErr = SetupPython(context.Background())
		if pythonErr == nil {
			t.Logf("pyiceberg environment ready in %s", time.Since(start).Round(time.Second))
		}
	})
	if pythonErr != nil {
		t.Fatalf("pyiceberg environment: %v", pythonErr)
	}
	return sharedPython
}

const testPassword = "pw-interop-1"

// lake is one test's source database, catalog database and S3 prefix.
type lake struct {
	t          *testing.T
	name       string
	srcDSN     string // replication role on the source database
	catDB      string // catalog database, owned by catUser
	catUser    string
	bucket     string
	warehouse  string // s3://bucket/name
	dir        string
	configPath string
	logPath    string
}

// newLake creates the databases and the bucket for test name.
func newLake(t *testing.T, name string) *lake {
	t.Helper()
	ctx := context.Background()
	l := &lake{t: t, name: name, catDB: name + "_catalog", catUser: "u_" + name + "_catalog",
		bucket: "lake-" + strings.ReplaceAll(name, "_", "-"), dir: t.TempDir()}
	var err error
	if l.srcDSN, err = sharedPG.CreateDatabase(ctx, name, "u_"+name, testPassword); err != nil {
		t.Fatal(err)
	}
	if _, err = sharedPG.CreateDatabase(ctx, l.catDB, l.catUser, testPassword); err != nil {
		t.Fatal(err)
	}
	if err := sharedS3.CreateBucket(l.bucket); err != nil {
		t.Fatal(err)
	}
	l.warehouse = "s3://" + l.bucket + "/" + name
	l.logPath = filepath.Join(l.dir, "floe.log")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("floe log tail:\n%s", tailFile(l.logPath, 40))
		}
		_ = sharedPG.Exec(context.Background(), name,
			fmt.Sprintf("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'floe_%s' AND NOT active", name))
	})
	return l
}

// catalogDSN is the catalog database's URL for floe.
func (l *lake) catalogDSN() string {
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", l.catUser, testPassword, sharedPG.Port, l.catDB)
}

// writeConfig writes floe.yaml; catalog is the YAML of sink.catalog (indented
// four spaces) and warehouse the sink.warehouse value.
func (l *lake) writeConfig(tables, catalog, warehouse string) {
	l.t.Helper()
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
sink:
  type: iceberg
  catalog:
%s  warehouse: %s
  s3:
    endpoint: %s
    region: %s
    path-style: true
    access-key-id: %s
    secret-access-key: ${FLOE_S3_SECRET}
  namespace: lake
  mode: upsert
log:
  level: debug
`, l.name, l.dir, sharedPG.Port, l.name, l.name, tables, catalog, warehouse,
		sharedS3.Endpoint, sharedS3.Region, sharedS3.AccessKey)
	l.configPath = filepath.Join(l.dir, "floe.yaml")
	if err := os.WriteFile(l.configPath, []byte(cfg), 0o644); err != nil {
		l.t.Fatal(err)
	}
}

func (l *lake) floeCmd(args ...string) *exec.Cmd {
	cmd := exec.Command(floeBin, args...)
	cmd.Env = append(os.Environ(), "FLOE_TEST_PASSWORD="+testPassword, "FLOE_S3_SECRET="+sharedS3.SecretKey)
	cmd.Dir = l.dir
	return cmd
}

// floeRun is a running `floe run`.
type floeRun = testdb.Process

// start launches `floe run`, its output appended to the lake's log.
func (l *lake) start() *floeRun {
	l.t.Helper()
	r, err := testdb.StartLogged(l.floeCmd("run", "--config", l.configPath), l.logPath)
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(r.Kill)
	return r
}

// catchUpAndStop writes a marker into table marker (which floe captures),
// waits until the slot has confirmed it, then stops floe with SIGTERM.
func (l *lake) catchUpAndStop(r *floeRun, marker string) {
	l.t.Helper()
	l.awaitSlot(r)
	if _, err := l.admin().Exec(context.Background(), "INSERT INTO "+marker+" DEFAULT VALUES"); err != nil {
		l.t.Fatal(err)
	}
	l.sync(r)
	_ = r.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.Exited:
		if r.Err != nil {
			l.t.Fatalf("floe run exited with %v after SIGTERM\n%s", r.Err, tailFile(l.logPath, 40))
		}
	case <-time.After(2 * time.Minute):
		l.t.Fatalf("floe run did not stop within 2 minutes of SIGTERM")
	}
}

// awaitSlot waits until floe's replication slot has a confirmed position.
// Changes written after it follow the slot's start point: a slot that
// finds its consistent point after a change starts past it and would look
// caught up before its snapshot is done (confirmed_flush_lsn is NULL until
// then).
func (l *lake) awaitSlot(r *floeRun) {
	l.t.Helper()
	ctx := context.Background()
	conn := l.admin()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var exists bool
		if err := conn.QueryRow(ctx, `SELECT count(*) > 0 FROM pg_replication_slots WHERE slot_name = $1 AND confirmed_flush_lsn IS NOT NULL`, "floe_"+l.name).Scan(&exists); err != nil {
			l.t.Fatal(err)
		}
		if exists {
			return
		}
		select {
		case <-r.Exited:
			l.t.Fatalf("floe run exited early: %v\n%s", r.Err, tailFile(l.logPath, 40))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("floe did not create its replication slot within 3 minutes\n%s", tailFile(l.logPath, 40))
		}
	}
}

// sync writes a floe.sync message and waits until the slot has confirmed
// it: floe has then committed every table up to it at once (quiet ones
// too), so everything written before is in Iceberg, and changes written
// after land in later commits.
func (l *lake) sync(r *floeRun) {
	l.t.Helper()
	ctx := context.Background()
	conn := l.admin()
	var lsn string
	if err := conn.QueryRow(ctx, "SELECT pg_logical_emit_message(false, 'floe.sync', '')::text").Scan(&lsn); err != nil {
		l.t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var ok bool
		err := conn.QueryRow(ctx, `SELECT coalesce(bool_or(confirmed_flush_lsn >= $1::pg_lsn), false)
			FROM pg_replication_slots WHERE slot_name = $2`, lsn, "floe_"+l.name).Scan(&ok)
		if err != nil {
			l.t.Fatal(err)
		}
		if ok {
			return
		}
		select {
		case <-r.Exited:
			l.t.Fatalf("floe run exited early: %v\n%s", r.Err, tailFile(l.logPath, 40))
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("floe did not catch up with %s within 3 minutes\n%s", lsn, tailFile(l.logPath, 40))
		}
	}
}

// admin connects to the source database as the superuser with the
// session settings floe uses, so that ::text renders values as floe read them.
func (l *lake) admin() *pgx.Conn {
	l.t.Helper()
	cfg, err := pgx.ParseConfig(sharedPG.AdminDSN(l.name))
	if err != nil {
		l.t.Fatal(err)
	}
	for k, v := range map[string]string{"DateStyle": "ISO", "IntervalStyle": "iso_8601", "TimeZone": "UTC",
		"extra_float_digits": "3", "bytea_output": "hex", "lc_monetary": "C"} {
		cfg.RuntimeParams[k] = v
	}
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// exec runs statements as the superuser on the source database.
func (l *lake) exec(sql ...string) {
	l.t.Helper()
	if err := sharedPG.Exec(context.Background(), l.name, sql...); err != nil {
		l.t.Fatal(err)
	}
}

// trinoJDBCCatalog is the Trino catalog definition (deploy/trino/catalog/
// jdbc.properties) for the lake's PostgreSQL-backed SQL catalog.
func (l *lake) trinoJDBCCatalog() map[string]string {
	p := trinoS3Props()
	p["iceberg.catalog.type"] = "jdbc"
	p["iceberg.jdbc-catalog.driver-class"] = "org.postgresql.Driver"
	p["iceberg.jdbc-catalog.connection-url"] = fmt.Sprintf("jdbc:postgresql://127.0.0.1:%d/%s", sharedPG.Port, l.catDB)
	p["iceberg.jdbc-catalog.connection-user"] = l.catUser
	p["iceberg.jdbc-catalog.connection-password"] = testPassword
	p["iceberg.jdbc-catalog.catalog-name"] = "floe"
	p["iceberg.jdbc-catalog.default-warehouse-dir"] = l.warehouse
	return p
}

// trinoS3Props are Trino's native S3 file-system settings for sharedS3.
func trinoS3Props() map[string]string {
	return map[string]string{
		"fs.native-s3.enabled": "true",
		"s3.endpoint":          sharedS3.Endpoint,
		"s3.region":            sharedS3.Region,
		"s3.path-style-access": "true",
		"s3.aws-access-key":    sharedS3.AccessKey,
		"s3.aws-secret-key":    sharedS3.SecretKey,
	}
}

// pyS3Props are PyIceberg's S3 settings for sharedS3.
func pyS3Props() map[string]string {
	return map[string]string{
		"s3.endpoint":          sharedS3.Endpoint,
		"s3.region":            sharedS3.Region,
		"s3.access-key-id":     sharedS3.AccessKey,
		"s3.secret-access-key": sharedS3.SecretKey,
	}
}

// pySQLCatalog is the PyIceberg SqlCatalog configuration for the lake.
func (l *lake) pySQLCatalog() map[string]string {
	p := pyS3Props()
	p["type"] = "sql"
	p["uri"] = fmt.Sprintf("postgresql+psycopg2://%s:%s@127.0.0.1:%d/%s", l.catUser, testPassword, sharedPG.Port, l.catDB)
	p["warehouse"] = l.warehouse
	return p
}
