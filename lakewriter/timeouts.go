package lakewriter

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/apache/iceberg-go"
	s3io "github.com/apache/iceberg-go/io/gocloud/s3"
	"github.com/apache/iceberg-go/utils"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// DefaultTimeout is Options.Timeout when it is zero.
const DefaultTimeout = time.Minute

// A half-open connection (the peer stopped answering without closing it:
// a hung server, a dropped NAT entry, a firewall that swallows packets)
// would otherwise hold a commit forever. Timeout bounds every network
// wait of the sink:
//
//   - catalog database (PostgreSQL): connecting, TLS and the startup
//     exchange together (pgx connect_timeout, unless the URI sets its
//     own), and every read or write on an open connection: no byte for
//     Timeout fails the statement with a timeoutError naming the
//     database's address, and the connection is discarded;
//   - S3: connecting, and every wait for data on an open connection (the
//     AWS SDK's read timeout: it restarts with every byte received, so a
//     slow transfer lives, a silent one fails). It also bounds how long
//     one request may take to upload its body (one multipart part), as
//     the server answers only after it. The SDK retries a timed-out
//     request (3 attempts in all), so one S3 call fails after at most
//     about 3 × Timeout. Idle pooled connections are dropped after
//     Timeout/2, so a reused one has at least that long;
//   - REST catalog: connecting, TLS and the wait for a response's
//     headers.
//
// SQLite catalogs and local warehouses have no network to wait for.

// timeoutError is a read or write that got no byte for the timeout. It is
// a net.Error whose Timeout() is true.
type timeoutError struct {
	endpoint string
	op       string
	after    time.Duration
}

func (e *timeoutError) Error() string {
	return fmt.Sprintf("%s: no data %s for %v (sink.timeout): the connection is half-open or the server hangs", e.endpoint, e.op, e.after)
}
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true }

// Endpoint names the server that went silent ("catalog database
// HOST:PORT").
func (e *timeoutError) Endpoint() string { return e.endpoint }

// idleConn fails a Read or Write that makes no progress for timeout.
// Deadlines its user sets (pgconn sets them to interrupt a statement when
// a context ends) keep working: the earlier of the two applies.
type idleConn struct {
	net.Conn
	endpoint string
	timeout  time.Duration

	mu                  sync.Mutex
	readUser, writeUser time.Time // deadlines set by the connection's user
}

func newIdleConn(c net.Conn, endpoint string, timeout time.Duration) *idleConn {
	return &idleConn{Conn: c, endpoint: endpoint, timeout: timeout}
}

// arm sets the deadline for one Read or Write and reports whether it is
// this wrapper's (not the user's).
func (c *idleConn) arm(user time.Time, set func(time.Time) error) (bool, error) {
	d := time.Now().Add(c.timeout)
	own := true
	if !user.IsZero() && user.Before(d) {
		d, own = user, false
	}
	return own, set(d)
}

func (c *idleConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	own, err := c.arm(c.readUser, c.Conn.SetReadDeadline)
	c.mu.Unlock()
	if err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(p)
	return n, c.classify(err, own, func() time.Time { return c.readUser }, "received")
}

func (c *idleConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	own, err := c.arm(c.writeUser, c.Conn.SetWriteDeadline)
	c.mu.Unlock()
	if err != nil {
		return 0, err
	}
	n, err := c.Conn.Write(p)
	return n, c.classify(err, own, func() time.Time { return c.writeUser }, "sent")
}

// classify turns a deadline error of this wrapper's own deadline into a
// timeoutError; one the user's deadline caused (also one set while the
// call was blocked) stays as it is.
func (c *idleConn) classify(err error, own bool, user func() time.Time, op string) error {
	if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) || !own {
		return err
	}
	c.mu.Lock()
	u := user()
	c.mu.Unlock()
	if !u.IsZero() && !u.After(time.Now()) {
		return err
	}
	return &timeoutError{endpoint: c.endpoint, op: op, after: c.timeout}
}

func (c *idleConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.readUser, c.writeUser = t, t
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

func (c *idleConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.readUser = t
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

func (c *idleConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.writeUser = t
	c.mu.Unlock()
	return c.Conn.SetWriteDeadline(t)
}

// openPostgresDB opens a PostgreSQL catalog database whose connections
// are bounded by timeout (see above); a connect_timeout in the URI takes
// precedence for connecting.
func openPostgresDB(uri string, timeout time.Duration) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(uri)
	if err != nil {
		return nil, fmt.Errorf("sink.catalog.uri: %s: %w", redactURI(uri), err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = timeout
	}
	dial := cfg.DialFunc
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return newIdleConn(c, "catalog database "+addr, timeout), nil
	}
	return stdlib.OpenDB(*cfg), nil
}

// s3Config is the AWS configuration iceberg-go's S3 file IO would build
// from props, with an HTTP client bounded by timeout (see above).
func s3Config(ctx context.Context, props iceberg.Properties, timeout time.Duration) (*aws.Config, error) {
	cfg, err := s3io.ParseAWSConfig(ctx, props)
	if err != nil {
		return nil, fmt.Errorf("sink.s3: %w", err)
	}
	cfg.HTTPClient = awshttp.NewBuildableClient().
		WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConns, t.MaxIdleConnsPerHost = 256, 256
			t.IdleConnTimeout = timeout / 2
			t.TLSHandshakeTimeout = timeout
		}).
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = timeout }).
		WithReadTimeout(timeout)
	return cfg, nil
}

// restTransport is the HTTP transport of a REST catalog client.
func restTransport(timeout time.Duration) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = timeout
	t.ResponseHeaderTimeout = timeout
	return t
}

// ioContext returns ctx carrying the catalog's S3 configuration, so that
// every file IO iceberg-go opens under it uses the bounded HTTP client.
// Every exported method that reaches iceberg-go calls it first.
func (c *Catalog) ioContext(ctx context.Context) context.Context {
	if c == nil || c.aws == nil || utils.GetAwsConfig(ctx) != nil {
		return ctx
	}
	return utils.WithAwsConfig(ctx, c.aws)
}
