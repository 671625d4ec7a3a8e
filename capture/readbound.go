package capture

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/floe-cdc/floe/schema/idleconn"
)

// A source query connection whose peer stops answering without closing
// it (a hung server, a dropped NAT entry, a firewall that swallows
// packets: a half-open connection) would hold a snapshot chunk read, or
// a check before a commit, forever: TCP keepalive does not notice a peer
// whose kernel still acknowledges. Every read and write of a source's
// query connections therefore fails when no byte moves for the source's
// ReadBound (its stall timeout, the bound its stream has too), and the
// attempt ends like any lost connection.
//
// The one kind of query that may rightly stay silent longer is a pass
// over a whole table that the server sorts or materialises before it
// answers (planning a table's chunks, floe verify's scan): the
// connection that runs one gets LongReadFactor times the bound, either
// from its dial (a context from WithLongReads) or for the pass
// (ExtendConn). The other connections keep the bound, so a half-open
// connection is still noticed within it while chunks are read.

// LongReadFactor is how many times its bound a whole-table pass may
// wait for the server.
const LongReadFactor = 10

// ReadBound is the read bound of one source's query connections. A nil
// or zero one bounds nothing.
type ReadBound struct{ base time.Duration }

// NewReadBound returns a bound of d (0: none).
func NewReadBound(d time.Duration) *ReadBound { return &ReadBound{base: d} }

// Current is the bound of a connection's reads: 0 for none.
func (b *ReadBound) Current() time.Duration {
	if b == nil || b.base <= 0 {
		return 0
	}
	return b.base
}

type longReadsKey struct{}

// WithLongReads marks ctx so that a connection BoundedDial opens with it
// waits LongReadFactor times the bound for every read: a connection of
// its own for one whole-table pass.
func WithLongReads(ctx context.Context) context.Context {
	return context.WithValue(ctx, longReadsKey{}, true)
}

// ExtendConn gives c's reads LongReadFactor times its bound until the
// returned function is called (once; calls nest). c may be the
// connection BoundedDial opened or a TLS connection over it; for any
// other it does nothing.
func ExtendConn(c net.Conn) (done func()) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	bc, ok := c.(*boundedConn)
	if !ok {
		return func() {}
	}
	bc.extended.Add(1)
	var once sync.Once
	return func() { once.Do(func() { bc.extended.Add(-1) }) }
}

// DialFunc is the dialer shape pgx and go-sql-driver take.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// BoundedDial wraps dial (nil: a net.Dialer with the default keepalive)
// so that every connection it opens fails a read or write that moves no
// byte for bound.Current(). endpoint names the server in the error and in
// the warning logged to log when it happens.
func BoundedDial(dial DialFunc, endpoint string, bound *ReadBound, log *slog.Logger) DialFunc {
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil || bound.Current() <= 0 {
			return c, err
		}
		bc := newBoundedConn(c, endpoint, bound, log)
		if long, _ := ctx.Value(longReadsKey{}).(bool); long {
			bc.extended.Add(1)
		}
		return bc, nil
	}
}

// SilentConnError is a read or write of a source connection that moved
// no byte for its bound. It is a net.Error whose Timeout() is true.
type SilentConnError struct {
	Endpoint string
	Op       string // "received" or "sent"
	After    time.Duration
}

func (e *SilentConnError) Error() string {
	return fmt.Sprintf("%s: no data %s for %v (source.stall-timeout): the connection is half-open or the server hangs", e.Endpoint, e.Op, e.After)
}

// Timeout reports true: the error is a timeout.
func (e *SilentConnError) Timeout() bool { return true }

// Temporary reports true: another connection may work.
func (e *SilentConnError) Temporary() bool { return true }

// boundedConn is an idleconn.Conn whose bound is its ReadBound's,
// LongReadFactor times that while a whole-table pass runs on it, and
// whose silent call fails with a *net.OpError around a *SilentConnError.
type boundedConn struct {
	*idleconn.Conn
	extended atomic.Int32 // > 0: a whole-table pass runs on it
}

func newBoundedConn(c net.Conn, endpoint string, bound *ReadBound, log *slog.Logger) *boundedConn {
	bc := &boundedConn{}
	limit := func() time.Duration {
		d := bound.Current()
		if bc.extended.Load() > 0 {
			d *= LongReadFactor
		}
		return d
	}
	bc.Conn = idleconn.New(c, limit, func(c net.Conn, op string, after time.Duration) error {
		silent := &SilentConnError{Endpoint: endpoint, Op: op, After: after}
		if log != nil {
			log.Warn("source connection silent; closing it", "endpoint", endpoint, "silent_for", after.String(), "op", op)
		}
		opName := "read"
		if op == "sent" {
			opName = "write"
		}
		return &net.OpError{Op: opName, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: silent}
	})
	return bc
}

// SyscallConn exposes the socket for drivers that check it (a closed
// pooled connection is noticed before it is reused).
func (c *boundedConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.New("not a syscall.Conn")
	}
	return sc.SyscallConn()
}
