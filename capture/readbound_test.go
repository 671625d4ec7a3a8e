package capture

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// boundedPair dials a loopback listener through BoundedDial and returns
// the bounded client side and the server side.
func boundedPair(t *testing.T, bound *ReadBound) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	dial := BoundedDial(nil, "source 127.0.0.1", bound, nil)
	client, err = dial(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// TestBoundedConnSilentPeer: a read that gets no byte fails after the
// bound with a net.OpError around a SilentConnError naming the endpoint.
func TestBoundedConnSilentPeer(t *testing.T) {
	client, _ := boundedPair(t, NewReadBound(200*time.Millisecond))
	start := time.Now()
	_, err := client.Read(make([]byte, 1))
	took := time.Since(start)
	var silent *SilentConnError
	var opErr *net.OpError
	if !errors.As(err, &silent) || !errors.As(err, &opErr) {
		t.Fatalf("read from a silent peer: %v, want a *net.OpError around a *SilentConnError", err)
	}
	if silent.Endpoint != "source 127.0.0.1" || silent.Op != "received" {
		t.Fatalf("error %q does not name the endpoint and the direction", err)
	}
	if took < 200*time.Millisecond || took > 2*time.Second {
		t.Fatalf("the read failed after %v, want about 200ms", took)
	}
	var netErr net.Error
	if !errors.As(err, &netErr) || !netErr.Timeout() {
		t.Fatalf("%v is not a net.Error timeout", err)
	}
}

// TestBoundedConnSlowPeer: bytes that keep arriving keep a connection
// alive however long it lives in all: the bound is on silence, not
// duration. The peer writes every byte at once (TCP buffers them) and
// the reader spends longer than the bound between its one-byte Reads
// (outside them), so no Read depends on the peer being scheduled in
// time, which a CPU-loaded machine does not promise.
func TestBoundedConnSlowPeer(t *testing.T) {
	const bound = 300 * time.Millisecond
	client, server := boundedPair(t, NewReadBound(bound))
	if _, err := server.Write([]byte("xxxx")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	start := time.Now()
	for i := range 4 {
		time.Sleep(bound * 3 / 2)
		if _, err := client.Read(buf); err != nil {
			t.Fatalf("read %d after %v: %v", i, time.Since(start), err)
		}
	}
	if time.Since(start) < 4*bound {
		t.Fatalf("the connection lived %v only: this test checks nothing", time.Since(start))
	}
}

// TestBoundedConnExtend: a connection running a whole-table pass waits
// LongReadFactor times the bound, for the pass (ExtendConn) or from its
// dial (WithLongReads); the others keep the bound.
func TestBoundedConnExtend(t *testing.T) {
	bound := NewReadBound(50 * time.Millisecond)
	client, server := boundedPair(t, bound)
	other, _ := boundedPair(t, bound)
	done := ExtendConn(client)
	go func() {
		time.Sleep(250 * time.Millisecond) // 5 bounds: silent, but within 10
		_, _ = server.Write([]byte{'x'})
	}()
	otherErr := make(chan error, 1)
	go func() {
		_, err := other.Read(make([]byte, 1))
		otherErr <- err
	}()
	if _, err := client.Read(make([]byte, 1)); err != nil {
		t.Fatalf("an extended read failed: %v", err)
	}
	select {
	case err := <-otherErr:
		var silent *SilentConnError
		if !errors.As(err, &silent) {
			t.Fatalf("a read of another connection: %v, want a SilentConnError", err)
		}
	case <-time.After(time.Second):
		t.Fatal("another connection of the source was extended too")
	}
	done()
	done() // idempotent
	start := time.Now()
	if _, err := client.Read(make([]byte, 1)); err == nil || time.Since(start) > time.Second {
		t.Fatalf("a read after the pass: %v after %v, want a failure after about 50ms", err, time.Since(start))
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			time.Sleep(250 * time.Millisecond)
			_, _ = c.Write([]byte{'x'})
			defer c.Close()
			time.Sleep(time.Second)
		}
	}()
	long, err := BoundedDial(nil, "source", bound, nil)(WithLongReads(context.Background()), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer long.Close()
	if _, err := long.Read(make([]byte, 1)); err != nil {
		t.Fatalf("a read of a connection dialled for long reads: %v", err)
	}
}

// TestBoundedConnUserDeadline: a deadline the driver set (to interrupt a
// call when its context ends) still applies and is not reported as a
// silent connection.
func TestBoundedConnUserDeadline(t *testing.T) {
	client, _ := boundedPair(t, NewReadBound(time.Minute))
	if err := client.SetReadDeadline(time.Now().Add(100 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := client.Read(make([]byte, 1))
	var silent *SilentConnError
	if !errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &silent) {
		t.Fatalf("read past the user's deadline: %v, want the plain deadline error", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("the user's deadline was ignored: the read took %v", time.Since(start))
	}
}

// TestBoundedDialNoBound: a zero bound wraps nothing.
func TestBoundedDialNoBound(t *testing.T) {
	client, _ := boundedPair(t, NewReadBound(0))
	if _, ok := client.(*boundedConn); ok {
		t.Fatal("a zero bound wrapped the connection")
	}
}
