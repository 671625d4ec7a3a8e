// Package idleconn fails a network connection's reads and writes that
// move no byte for a bound: the one home of how Floe notices a half-open
// connection (the peer stopped answering without closing it: a hung
// server, a dropped NAT entry, a firewall that swallows packets), which
// TCP keepalive does not notice while the peer's kernel still
// acknowledges. capture bounds the source's query connections with it,
// lakewriter the sink's catalog database; each names its own setting in
// the error.
//
// A Conn arms a deadline of its own before every Read and Write. A
// deadline the connection's user sets (drivers set them to interrupt a
// call when a context ends) keeps working: the earlier of the two
// applies, and an expiry of the user's deadline, also one set while the
// call was blocked, stays the plain deadline error.
//
// It imports only the standard library. It sits under schema, the leaf
// both capture and lakewriter import, only because the repository's
// top-level layout is fixed; it knows nothing of schema.
package idleconn

import (
	"errors"
	"net"
	"os"
	"sync"
	"time"
)

// Conn is a net.Conn whose Read and Write fail after the bound passes
// without a byte. It does not expose the socket (syscall.Conn): a caller
// whose driver checks for it adds it.
type Conn struct {
	net.Conn
	bound  func() time.Duration
	silent func(c net.Conn, op string, after time.Duration) error

	mu                  sync.Mutex
	readUser, writeUser time.Time // deadlines set by the connection's user
}

// New wraps c. bound is asked before every Read and Write how long it may
// stay silent (<= 0: only the user's deadline applies). silent returns
// the error of a call that hit the bound: c is the wrapped connection, op
// "received" (a Read) or "sent" (a Write), after the bound that passed.
func New(c net.Conn, bound func() time.Duration, silent func(c net.Conn, op string, after time.Duration) error) *Conn {
	return &Conn{Conn: c, bound: bound, silent: silent}
}

// Read reads from the connection, failing with silent's error when no
// byte arrives within the bound.
func (c *Conn) Read(p []byte) (int, error) {
	return c.call(p, &c.readUser, c.Conn.SetReadDeadline, c.Conn.Read, "received")
}

// Write writes to the connection, failing with silent's error when no
// byte leaves within the bound.
func (c *Conn) Write(p []byte) (int, error) {
	return c.call(p, &c.writeUser, c.Conn.SetWriteDeadline, c.Conn.Write, "sent")
}

// call runs one Read or Write (io) under the deadline arm sets.
func (c *Conn) call(p []byte, user *time.Time, set func(time.Time) error, io func([]byte) (int, error), op string) (int, error) {
	own, d, err := c.arm(user, set)
	if err != nil {
		return 0, err
	}
	n, err := io(p)
	return n, c.classify(err, own, d, user, op)
}

// arm sets the deadline of one call and reports whether it is this
// wrapper's own (not the user's) and the bound it used.
func (c *Conn) arm(user *time.Time, set func(time.Time) error) (bool, time.Duration, error) {
	bound := c.bound()
	c.mu.Lock()
	defer c.mu.Unlock()
	u := *user
	if bound <= 0 {
		return false, 0, set(u)
	}
	d := time.Now().Add(bound)
	if !u.IsZero() && u.Before(d) {
		return false, bound, set(u)
	}
	return true, bound, set(d)
}

// classify turns an expiry of this wrapper's own deadline into silent's
// error; one the user's deadline caused stays as it is.
func (c *Conn) classify(err error, own bool, bound time.Duration, user *time.Time, op string) error {
	if err == nil || !own || !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	c.mu.Lock()
	u := *user
	c.mu.Unlock()
	if !u.IsZero() && !u.After(time.Now()) {
		return err // the user's deadline, set while the call waited
	}
	return c.silent(c.Conn, op, bound)
}

// SetDeadline sets the user's read and write deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.readUser, c.writeUser = t, t
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

// SetReadDeadline sets the user's read deadline.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.readUser = t
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

// SetWriteDeadline sets the user's write deadline.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.writeUser = t
	c.mu.Unlock()
	return c.Conn.SetWriteDeadline(t)
}
