package mysql

import (
	"context"
	"database/sql"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"
)

// silencer forwards TCP connections to a server until silence is called;
// from then on it passes no byte in either direction and closes nothing:
// a half-open connection.
type silencer struct {
	ln     net.Listener
	mu     sync.Mutex
	quiet  bool
	conns  []net.Conn
	target string
}

func newSilencer(t *testing.T, target string) *silencer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &silencer{ln: ln, target: target}
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			s.mu.Lock()
			s.conns = append(s.conns, c, up)
			s.mu.Unlock()
			go s.pipe(c, up)
			go s.pipe(up, c)
		}
	}()
	return s
}

func (s *silencer) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		s.mu.Lock()
		quiet := s.quiet
		s.mu.Unlock()
		if n > 0 && !quiet {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (s *silencer) silence() {
	s.mu.Lock()
	s.quiet = true
	s.mu.Unlock()
}

func (s *silencer) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// TestSnapshotEndHonoursContext: a snapshot transaction whose connection
// goes silent after its last row ends as soon as its context is
// cancelled, not after the connection's read bound. TestFaults once saw
// floe run hold a whole-table pass's COMMIT for its 10 x stall-timeout
// bound after the snapshot had failed and been cancelled, because
// database/sql sends COMMIT without a context.
func TestSnapshotEndHonoursContext(t *testing.T) {
	e := newEnv(t)
	e.exec("CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1)")
	proxy := newSilencer(t, "127.0.0.1:"+strconv.Itoa(e.m.Port))
	cfg := e.config(e.db + `\.t`)
	cfg.Port = proxy.port()
	cfg.HeartbeatInterval, cfg.StallTimeout = time.Second, 2*time.Second // a whole-table pass waits 20 s
	s := e.source(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	err := s.inLongSnapshot(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+e.db+".t").Scan(&n); err != nil {
			return err
		}
		proxy.silence()
		time.AfterFunc(500*time.Millisecond, cancel) // the snapshot is cancelled
		return nil
	})
	took := time.Since(start)
	t.Logf("ended after %v: %v", took.Round(time.Millisecond), err)
	if err == nil {
		t.Fatal("the snapshot transaction ended without error on a silent connection")
	}
	if took > 5*time.Second {
		t.Fatalf("the cancelled snapshot transaction ended after %v (%v), want about 0.5s: its end ignored the context", took.Round(time.Millisecond), err)
	}
}
