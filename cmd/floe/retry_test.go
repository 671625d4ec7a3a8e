package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	mysqldriver "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/lakewriter"
)

// errS3Timeout is the chain of an S3 GetObject whose connection went silent
// (as floe logged it behind a half-open fault proxy): gocloud's blob
// error, the SDK's attempts, smithy's send error, net/http's url.Error,
// the SDK's read timeout.
var errS3Timeout = fmt.Errorf("reload table lake.t: ReadFile s3://lake/t/metadata/1.metadata.json: %w",
	fmt.Errorf("operation error S3: GetObject, exceeded maximum number of attempts, 3: %w",
		&smithyhttp.RequestSendError{Err: &url.Error{Op: "Get", URL: "http://127.0.0.1:38891/lake/t/metadata/1.metadata.json",
			Err: &awshttp.ResponseTimeoutError{TimeoutDur: 3 * time.Second}}}))

func TestClassify(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 5432}, Err: syscall.ECONNREFUSED}
	pathErr := func(errno syscall.Errno) error {
		return fmt.Errorf("commit lake.t: write data: %w", &fs.PathError{Op: "write", Path: "/lake/t/data/f.parquet", Err: errno})
	}
	cases := []struct {
		name     string
		err      error
		streamed bool
		want     failureKind
	}{
		{"unexpected EOF", fmt.Errorf("stream: %w", io.ErrUnexpectedEOF), false, lostConnection},
		{"reset", fmt.Errorf("receive: %w", &net.OpError{Op: "read", Err: syscall.ECONNRESET}), false, lostConnection},
		{"admin shutdown", fmt.Errorf("replication stream: %w", &pgconn.PgError{Code: "57P01"}), false, lostConnection},
		{"connection exception", &pgconn.PgError{Code: "08006"}, false, lostConnection},
		{"too many connections", &pgconn.PgError{Code: "53300"}, false, lostConnection},
		{"refused while reconnecting (a Problem with its cause)", fmt.Errorf("discover tables: %w",
			capture.Problem{Field: "source.hostname", Message: "cannot reach PostgreSQL", Err: refused}), false, lostConnection},
		{"a Problem without a cause", capture.Problem{Field: "source.password", Message: "authentication failed"}, false, fatal},
		{"binlog connection was bad", fmt.Errorf("binlog stream at x: %w", fmt.Errorf("io.ReadFull(header) failed. err EOF: %w", gomysql.ErrBadConn)), false, lostConnection},
		{"driver: bad connection", fmt.Errorf("read chunk: %w", mysqldriver.ErrInvalidConn), false, lostConnection},
		{"MariaDB shutting down", &mysqldriver.MySQLError{Number: 1053, Message: "Server shutdown in progress"}, false, lostConnection},
		{"MariaDB syntax error", &mysqldriver.MySQLError{Number: 1064}, false, fatal},
		{"stall", fmt.Errorf("stream: %w", &capture.StallError{Source: "x", Silent: time.Second}), false, stalled},
		{"slot active at the first start", &pgconn.PgError{Code: "55006", Message: `replication slot "s" is active for PID 7`}, false, fatal},
		{"slot still held by the old walsender", &pgconn.PgError{Code: "55006"}, true, lostConnection},
		{"unique violation", fmt.Errorf("apply: %w", &pgconn.PgError{Code: "23505"}), true, fatal},
		// A newer run claimed the tables: never retried, whatever else
		// ended the attempt with it (a connection the other run took).
		{"fenced by a newer run", errors.Join(fmt.Errorf("commit a (checkpoint 9): %w",
			&lakewriter.FencedError{Table: lakewriter.Ident{Namespace: "lake", Name: "a"}, Pipeline: "p", Epoch: 1, TableEpoch: 2}), io.EOF), true, fatal},
		{"schema change", errors.New("schema change on public.t is not supported yet"), true, fatal},
		{"no space", pathErr(syscall.ENOSPC), true, noSpace},
		{"quota", pathErr(syscall.EDQUOT), true, noSpace},
		// An *fs.PathError satisfies net.Error: it used to be retried as a
		// lost connection forever.
		{"permission denied", pathErr(syscall.EACCES), true, fatal},
		{"read-only file system", pathErr(syscall.EROFS), true, fatal},
		{"missing file", pathErr(syscall.ENOENT), true, fatal},
		{"catalog file deleted", fmt.Errorf("commit: %w", lakewriter.ErrCatalogGone), true, fatal},
		{"S3 read that timed out (sink.timeout), after the SDK's attempts", errS3Timeout, true, lostConnection},
		{"a bounded wait that expired (ioContext, sink.timeout)", fmt.Errorf("x: %w", context.DeadlineExceeded), true, lostConnection},
		{"EACCES of a socket is no storage fault", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.EACCES)}, true, lostConnection},
		{"silent catalog database", fmt.Errorf("commit: %w", silentCatalog{}), true, lostConnection},
		{"silent source query connection", fmt.Errorf("read chunk 3 of t: %w", errSilentSource), false, lostConnection},
		{"a timeout deep in a joined error", errors.Join(errors.New("commit failed"), fmt.Errorf("reload: %w", errS3Timeout)), true, lostConnection},
	}
	for _, c := range cases {
		if got := classify(c.err, c.streamed); got != c.want {
			t.Errorf("%s: classify(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

var (
	errSilentSource = &net.OpError{Op: "read", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 5432},
		Err: &capture.SilentConnError{Endpoint: "10.0.0.5:5432", Op: "received", After: 30 * time.Second}}
)

// silentCatalog stands for lakewriter's error of a silent catalog
// database connection.
type silentCatalog struct{}

func (silentCatalog) Error() string {
	return "catalog database 10.0.0.7:5432: no data received for 1m0s (sink.timeout)"
}
func (silentCatalog) Timeout() bool    { return true }
func (silentCatalog) Endpoint() string { return "catalog database 10.0.0.7:5432" }

func TestEndpointAndStorageProblem(t *testing.T) {
	cfg := &Config{Source: SourceConfig{Hostname: "db", Port: 5432}, State: StateConfig{Dir: "/var/lib/floe/shop"},
		Sink: SinkConfig{Warehouse: "/lake", Catalog: CatalogConfig{URI: "sqlite:///var/lib/floe/catalog.db"}}}
	refused := &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 6543}, Err: syscall.ECONNREFUSED}
	if got := endpoint(fmt.Errorf("x: %w", refused), cfg); got != "10.0.0.5:6543" {
		t.Errorf("endpoint of a refused dial: %q", got)
	}
	if got := endpoint(io.ErrUnexpectedEOF, cfg); got != "db:5432" {
		t.Errorf("endpoint without an address: %q", got)
	}
	// Sink endpoints are named, not the source's.
	if got := endpoint(errS3Timeout, cfg); got != "127.0.0.1:38891" {
		t.Errorf("endpoint of an S3 read timeout: %q", got)
	}
	if got := endpoint(fmt.Errorf("commit: %w", silentCatalog{}), cfg); got != "catalog database 10.0.0.7:5432" {
		t.Errorf("endpoint of a silent catalog database: %q", got)
	}
	if got := endpoint(errSilentSource, cfg); got != "10.0.0.5:5432" {
		t.Errorf("endpoint of a silent source connection: %q", got)
	}
	for path, want := range map[string]string{
		"/lake/ns.db/t/data/f.parquet":         "sink.warehouse: no space left on device: /lake/ns.db/t/data/f.parquet (fix: free space",
		"/var/lib/floe/shop/spill/t-1.parquet": "state.dir: no space left on device: /var/lib/floe/shop/spill/t-1.parquet",
		"/var/lib/floe/catalog.db-wal":         "sink.catalog.uri: no space left on device: /var/lib/floe/catalog.db-wal",
		"/lakehouse/x":                         "storage: no space left on device: /lakehouse/x",
	} {
		fault, ok := lakewriter.ClassifyStorage(&fs.PathError{Op: "write", Path: path, Err: syscall.ENOSPC})
		if !ok {
			t.Fatalf("ENOSPC on %s not classified", path)
		}
		if got := storageProblem(cfg, fault); !strings.HasPrefix(got, want) || strings.Contains(got, "\n") {
			t.Errorf("storageProblem(%s) = %q, want a line starting %q", path, got, want)
		}
	}
}

func TestReadiness(t *testing.T) {
	live := capture.NewLiveness()
	lag := 0.0
	ready := readiness(live, func() float64 { return lag }, time.Minute)
	check := func(wantOK bool, wantWhy string) {
		t.Helper()
		ok, why := ready()
		if ok != wantOK || !strings.Contains(why, wantWhy) {
			t.Fatalf("ready() = %v %q, want %v %q", ok, why, wantOK, wantWhy)
		}
	}
	check(false, "not streaming yet")
	live.Started(0)
	check(true, "")
	lag = 61
	check(false, "source lag 61.0s exceeds server.ready-max-lag 1m0s")
	lag = 1
	live.Ended(errors.New("stream stalled"))
	check(false, "not streaming: reconnecting after: stream stalled")
}
