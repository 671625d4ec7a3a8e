package idleconn

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

var errSilent = errors.New("silent")

// pair returns a Conn over one end of a pipe bounded by bound, the other
// end, and the ops silent was called with.
func pair(t *testing.T, bound time.Duration) (*Conn, net.Conn, *[]string) {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	var ops []string
	c := New(a, func() time.Duration { return bound }, func(_ net.Conn, op string, after time.Duration) error {
		if after != bound {
			t.Errorf("silent after %v, want %v", after, bound)
		}
		ops = append(ops, op)
		return errSilent
	})
	return c, b, &ops
}

// TestSilentPeer: a Read or Write that moves nothing for the bound fails
// with silent's error, naming the direction.
func TestSilentPeer(t *testing.T) {
	c, _, ops := pair(t, 50*time.Millisecond)
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, errSilent) {
		t.Fatalf("read: %v, want the silent error", err)
	}
	if _, err := c.Write([]byte{1}); !errors.Is(err, errSilent) {
		t.Fatalf("write: %v, want the silent error", err)
	}
	if got := *ops; len(got) != 2 || got[0] != "received" || got[1] != "sent" {
		t.Fatalf("silent called for %v, want [received sent]", got)
	}
}

// TestUserDeadline: the user's earlier deadline applies and its expiry is
// the plain deadline error, also with no bound at all.
func TestUserDeadline(t *testing.T) {
	for _, bound := range []time.Duration{time.Hour, 0} {
		c, _, ops := pair(t, bound)
		if err := c.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		_, err := c.Read(make([]byte, 1))
		if !errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, errSilent) || len(*ops) > 0 {
			t.Fatalf("bound %v: read: %v (silent calls %v), want the user's deadline", bound, err, *ops)
		}
	}
}

// TestSlowPeer: a connection that keeps receiving lives longer than the
// bound, which applies to each Read, not to the connection. The peer is
// parked in its next Write while the reader spends longer than the bound
// between Reads (outside them), so each Read finds a byte at once: a
// writer that had to be scheduled within the bound made this fail under
// CPU load.
func TestSlowPeer(t *testing.T) {
	const bound = 100 * time.Millisecond
	c, peer, _ := pair(t, bound)
	go func() {
		for range 5 {
			if _, err := peer.Write([]byte{1}); err != nil {
				return
			}
		}
	}()
	start := time.Now()
	for got := 0; got < 5; {
		time.Sleep(bound * 3 / 2)
		n, err := c.Read(make([]byte, 1))
		if err != nil {
			t.Fatalf("after %d bytes: %v", got, err)
		}
		got += n
	}
	if took := time.Since(start); took < 5*bound {
		t.Fatalf("the connection lived %v only, not past its bound: this test checks nothing", took)
	}
}
