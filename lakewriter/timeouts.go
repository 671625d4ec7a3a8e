package lakewriter

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/apache/iceberg-go"
	s3io "github.com/apache/iceberg-go/io/gocloud/s3"
	"github.com/apache/iceberg-go/utils"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/floe-cdc/floe/schema/idleconn"
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

// newIdleConn wraps c so that a Read or Write that makes no progress for
// timeout fails with a timeoutError naming endpoint (see
// internal/idleconn: deadlines the user sets keep working).
func newIdleConn(c net.Conn, endpoint string, timeout time.Duration) *idleconn.Conn {
	return idleconn.New(c, func() time.Duration { return timeout }, func(_ net.Conn, op string, after time.Duration) error {
		return &timeoutError{endpoint: endpoint, op: op, after: after}
	})
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
