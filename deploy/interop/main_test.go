package interop

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/floe-cdc/floe/deploy/e2e"
	"github.com/floe-cdc/floe/deploy/testdb"
)

// The interop tests run the real floe binary against a real PostgreSQL
// and a real S3-compatible server (deploy/e2e), then read what it wrote
// with Trino and PyIceberg. TestMain builds floe and starts PostgreSQL and
// versitygw; Trino, the REST catalog and the Python environment start on
// first use.
var (
	suite    e2e.Suite
	floeBin  string           // suite.Bin
	sharedPG *testdb.Postgres // suite.PG
	sharedS3 *S3Server

	trinoOnce   sync.Once
	sharedTrino *Trino
	trinoErr    error

	pythonOnce   sync.Once
	sharedPython *Python
	pythonErr    error
)

func TestMain(m *testing.M) {
	os.Exit(func() int {
		defer suite.Setup(testdb.PostgresOptions{}, func(ctx context.Context) (func() error, error) {
			start := time.Now()
			s3, err := StartS3(ctx)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(os.Stderr, "interop: versitygw ready in %s\n", time.Since(start).Round(time.Millisecond))
			sharedS3 = s3
			return s3.Stop, nil
		})()
		defer func() { _ = sharedTrino.Stop() }()
		floeBin, sharedPG = suite.Bin, suite.PG
		return m.Run()
	}())
}

// needServers skips in -short mode and fails when setup failed.
func needServers(t *testing.T) {
	t.Helper()
	suite.Need(t, "PostgreSQL, S3, Trino and Python")
}

// tailFile returns the last n lines of a file.
var tailFile = e2e.TailFile

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

// newLake creates the source database (owned by u_<name>), the catalog
// database and the bucket for test name.
func newLake(t *testing.T, name string) *lake {
	t.Helper()
	l := newSink(t, name)
	l.srcDSN = sharedPG.DatabaseForTest(t, name, "u_"+name, testPassword, "floe_"+name)
	return l
}

// newSink is the lake of test name without a source: the catalog database
// <name>_catalog, the bucket lake-<name> and the pipeline's directory.
func newSink(t *testing.T, name string) *lake {
	t.Helper()
	l := &lake{t: t, name: name, catDB: name + "_catalog", catUser: "u_" + name + "_catalog",
		bucket: "lake-" + strings.ReplaceAll(name, "_", "-"), dir: t.TempDir()}
	sharedPG.DatabaseForTest(t, l.catDB, l.catUser, testPassword, "")
	if err := sharedS3.CreateBucket(l.bucket); err != nil {
		t.Fatal(err)
	}
	l.warehouse = "s3://" + l.bucket + "/" + name
	l.logPath = filepath.Join(l.dir, "floe.log")
	l.configPath = filepath.Join(l.dir, "floe.yaml")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("floe log tail:\n%s", tailFile(l.logPath, 40))
		}
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
	l.floe().WriteConfig(e2e.Config{Name: l.name,
		Source: e2e.Source{Type: "postgres", Port: sharedPG.Port, User: "u_" + l.name, Database: l.name, Tables: tables},
		Sink:   l.sink(catalog, warehouse)})
}

// sink is the config's sink: the catalog and warehouse given, on sharedS3.
func (l *lake) sink(catalog, warehouse string) e2e.Sink {
	s3 := fmt.Sprintf("    endpoint: %s\n    region: %s\n    path-style: true\n    access-key-id: %s\n    secret-access-key: ${FLOE_S3_SECRET}\n",
		sharedS3.Endpoint, sharedS3.Region, sharedS3.AccessKey)
	return e2e.Sink{Catalog: catalog, Warehouse: warehouse, S3: s3, Mode: "upsert"}
}

// floe is the lake's pipeline as deploy/e2e runs it, the S3 secret in its
// environment.
func (l *lake) floe() *e2e.Pipeline {
	return &e2e.Pipeline{T: l.t, Bin: floeBin, Dir: l.dir, Config: l.configPath, Log: l.logPath,
		Env: []string{e2e.PasswordEnv + "=" + testPassword, "FLOE_S3_SECRET=" + sharedS3.SecretKey}}
}

func (l *lake) floeCmd(args ...string) *exec.Cmd { return l.floe().Cmd(args...) }

// floeRun is a running `floe run`.
type floeRun = testdb.Process

// start launches `floe run`, its output appended to the lake's log.
func (l *lake) start() *floeRun { l.t.Helper(); return l.floe().Start() }

// catchUpAndStop writes a marker into table marker (which floe captures),
// waits until the slot has confirmed a position after it, then stops floe
// with SIGTERM.
func (l *lake) catchUpAndStop(r *floeRun, marker string) {
	l.t.Helper()
	l.exec("INSERT INTO " + marker + " DEFAULT VALUES")
	l.sync(r)
	l.floe().Stop(r)
}

// sync waits until floe's slot exists and has confirmed a floe.sync
// message written now: floe has then committed every table up to it at
// once (quiet ones too), so everything written before is in Iceberg, and
// changes written after land in later commits (testdb.WaitSlotCaughtUp).
func (l *lake) sync(r *floeRun) {
	l.t.Helper()
	if err := testdb.WaitSlotCaughtUp(context.Background(), sharedPG.AdminDSN(l.name), "floe_"+l.name, 3*time.Minute, r); err != nil {
		l.t.Fatalf("%v\n%s", err, tailFile(l.logPath, 40))
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
