package main

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	mysqldriver "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/lakewriter"
)

// failureKind is how `floe run` treats an error that ended an attempt.
type failureKind int

const (
	// fatal errors end the run: bad values, schema changes, a missing
	// slot, permissions, Iceberg errors. Nothing is retried forever.
	fatal failureKind = iota
	// lostConnection: a server could not be reached or dropped the
	// connection; the next attempt starts from the committed positions.
	lostConnection
	// stalled: the stream brought nothing for the stall timeout
	// (capture.StallError); treated as a lost connection.
	stalled
	// noSpace: a write failed for want of space or quota, which frees up
	// without Floe's configuration changing.
	noSpace
	// layoutChanged: a table was altered while its snapshot ran
	// (capture.ErrLayoutChanged); the next attempt discovers the new
	// layout, evolves the Iceberg table and reads the chunks not yet
	// committed again.
	layoutChanged
	// slotHeld: at its start, a run that has claimed its tables found
	// the replication slot held by another process (see slotTakeover).
	slotHeld
	// restart: the attempt ended itself so that the stream starts again
	// from the committed positions (checkpoint.ErrRestart: a resumed
	// table takes its changes again); the next attempt starts at once.
	restart
)

// classify decides what an error that ended an attempt is. streamed is
// true once a stream of this run has started: a replication slot still
// held by the walsender of a stalled or cut connection is then passing
// (the server ends it), while at the first start it is a misconfiguration.
func classify(err error, streamed bool) failureKind {
	var owned *lakewriter.OwnedError
	if errors.Is(err, lakewriter.ErrFenced) || errors.As(err, &owned) {
		// A newer run of the pipeline, or another pipeline, owns the
		// table: retrying would only be refused again.
		return fatal
	}
	if fault, ok := lakewriter.ClassifyStorage(err); ok {
		if fault.Heals() {
			return noSpace
		}
		return fatal
	}
	if errors.Is(err, capture.ErrLayoutChanged) {
		return layoutChanged
	}
	if capture.IsStall(err) {
		return stalled
	}
	if transient(err) || (streamed && slotInUse(err)) {
		return lostConnection
	}
	return fatal
}

// transient reports whether err is a lost or refused connection, or a
// server that is starting, stopping or full of connections.
func transient(err error) bool {
	var (
		opErr   *net.OpError
		dnsErr  *net.DNSError
		pgErr   *pgconn.PgError
		connErr *pgconn.ConnectError
		myErr   *mysqldriver.MySQLError
		binErr  *gomysql.MyError
	)
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, net.ErrClosed):
		return true
	case errors.As(err, &pgErr):
		// Class 08: connection exception; 57P01-57P03: the server shuts
		// down or restarts; 53300: too many connections.
		return pgErr.Code[:2] == "08" || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03" || pgErr.Code == "53300"
	case errors.As(err, &myErr):
		return mysqlTransient(myErr.Number)
	case errors.As(err, &binErr):
		return mysqlTransient(binErr.Code)
	case errors.Is(err, gomysql.ErrBadConn), errors.Is(err, driver.ErrBadConn), errors.Is(err, mysqldriver.ErrInvalidConn):
		return true
	case errors.As(err, &opErr), errors.As(err, &dnsErr), errors.As(err, &connErr):
		return true
	case timedOut(err):
		// A bounded wait that expired: a read of S3 that received no
		// byte for sink.timeout (the AWS SDK's ResponseTimeoutError,
		// also after its attempts ran out), a net timeout.
		return true
	}
	return pgconn.SafeToRetry(err)
}

// timedOut reports whether some error in err's chain is a timeout: a
// network wait that hit its bound because the peer went silent (the
// source's stall timeout, sink.timeout, the S3 SDK's read timeout, which
// is no net.OpError).
func timedOut(err error) bool {
	if t, ok := err.(interface{ Timeout() bool }); ok && t.Timeout() {
		return true
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return u.Unwrap() != nil && timedOut(u.Unwrap())
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if timedOut(e) {
				return true
			}
		}
	}
	return false
}

// mysqlTransient reports the MySQL/MariaDB error numbers of a server that
// shuts down, restarts or has no free connection.
func mysqlTransient(n uint16) bool {
	switch n {
	case 1040, // ER_CON_COUNT_ERROR: too many connections
		1053, // ER_SERVER_SHUTDOWN
		1927, // ER_CONNECTION_KILLED (MariaDB: killed by shutdown)
		2006, // CR_SERVER_GONE_ERROR
		2013: // CR_SERVER_LOST
		return true
	}
	return false
}

// slotInUse reports PostgreSQL's "replication slot is active for PID n"
// (55006, object in use).
func slotInUse(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "55006"
}

// endpoint names what failed: the address of the refused or dropped
// connection when the error says, else the source's address.
func endpoint(err error, cfg *Config) string {
	var (
		opErr   *net.OpError
		dnsErr  *net.DNSError
		connErr *pgconn.ConnectError
		urlErr  *url.Error
		named   interface{ Endpoint() string }
	)
	switch {
	case errors.As(err, &opErr) && opErr.Addr != nil:
		return opErr.Addr.String()
	case errors.As(err, &urlErr):
		// An HTTP request (S3, a REST catalog) that failed.
		if u, perr := url.Parse(urlErr.URL); perr == nil && u.Host != "" {
			return u.Host
		}
	case errors.As(err, &dnsErr):
		return dnsErr.Name
	case errors.As(err, &connErr) && connErr.Config != nil:
		return net.JoinHostPort(connErr.Config.Host, fmt.Sprint(connErr.Config.Port))
	case errors.As(err, &named): // a silent catalog database connection
		return named.Endpoint()
	}
	return net.JoinHostPort(cfg.Source.Hostname, fmt.Sprint(cfg.Source.Port))
}

// storageSetting names the setting a failed path belongs to.
func storageSetting(cfg *Config, path string) string {
	path = strings.TrimPrefix(path, "file://")
	under := func(dir string) bool {
		rel, err := filepath.Rel(dir, path)
		return dir != "" && err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
	}
	switch {
	case path == "" || path == sqliteFile(cfg) || strings.HasPrefix(path, sqliteFile(cfg)+"-"):
		return "sink.catalog.uri"
	case under(cfg.Sink.Warehouse):
		return "sink.warehouse"
	case under(cfg.State.Dir):
		return "state.dir"
	}
	return "storage"
}

// sqliteFile is the SQLite catalog's file, "" for other catalogs.
func sqliteFile(cfg *Config) string {
	p, ok := strings.CutPrefix(cfg.Sink.Catalog.URI, "sqlite://")
	if !ok {
		return ""
	}
	return p
}

// storageProblem renders a storage fault as one line: the setting, what
// is wrong, the path and the fix.
func storageProblem(cfg *Config, fault *lakewriter.StorageFault) string {
	path := fault.Path
	if path == "" && fault.Err != nil {
		path = sqliteFile(cfg)
	}
	return fmt.Sprintf("%s: %s: %s (fix: %s)", storageSetting(cfg, path), fault.What(), path, fault.Fix())
}
