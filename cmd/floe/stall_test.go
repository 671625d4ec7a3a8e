package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/floe-cdc/floe/deploy/testdb"
)

// The stall tests run with a 1 s heartbeat and a 6 s stall timeout.
const (
	testHeartbeat    = time.Second
	testStallTimeout = 6 * time.Second
	// stallBound is the documented detection bound: the stall timeout,
	// plus up to twice 5 s when PostgreSQL is slow to answer the two
	// questions about its walsender, plus this test's polling.
	stallBound = testStallTimeout + 10*time.Second + time.Second
)

var stallSource = fmt.Sprintf("  heartbeat-interval: %s\n  stall-timeout: %s\n", testHeartbeat, testStallTimeout)

// serveHealth adds a server: section with a free metrics address to the
// env's config and returns that address.
func serveHealth(t *testing.T, e *pipelineEnv) string {
	t.Helper()
	port, err := testdb.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	e.appendConfig("server:\n  metrics-address: " + addr + "\n  ready-max-lag: 30s\n")
	return addr
}

// get fetches http://addr/path and returns the status code and body (0
// when the server does not answer).
func get(addr, path string) (int, string) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// sourceLag scrapes floe_capture_source_lag_seconds (-1 when unavailable).
func sourceLag(addr string) float64 {
	code, body := get(addr, "/metrics")
	if code != http.StatusOK {
		return -1
	}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "floe_capture_source_lag_seconds "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// waitReady waits until /readyz answers 200.
func waitReady(t *testing.T, e *pipelineEnv, addr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, body := get(addr, "/readyz")
		if code == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d %q after %s; log:\n%s", code, body, timeout, e.tail(30))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stallWatcher follows a stall from its start: the largest lag metric
// seen, when the log first reported it and whether /readyz turned red.
type stallWatcher struct {
	e        *pipelineEnv
	addr     string
	start    time.Time
	maxLag   float64
	detected time.Duration // 0 until "stream stalled" is logged
	notReady string        // a /readyz body seen with 503 after detection
}

// until polls every 200 ms until d after the stall began, failing the
// test if floe exits.
func (w *stallWatcher) until(t *testing.T, r *running, d time.Duration) {
	t.Helper()
	for time.Since(w.start) < d {
		select {
		case <-r.Exited:
			t.Fatalf("floe run exited during the stall: %v; log:\n%s", r.Err, w.e.tail(40))
		case <-time.After(200 * time.Millisecond):
		}
		w.maxLag = max(w.maxLag, sourceLag(w.addr))
		if w.detected == 0 && strings.Contains(w.e.tail(1000000), `msg="stream stalled; restarting from the committed positions"`) {
			w.detected = time.Since(w.start)
		}
		if code, body := get(w.addr, "/readyz"); w.detected > 0 && code == http.StatusServiceUnavailable {
			w.notReady = body
		}
	}
}

// check fails the test unless the stall was detected within stallBound,
// the lag grew and /readyz said not ready.
func (w *stallWatcher) check(t *testing.T) {
	t.Helper()
	switch {
	case w.detected == 0:
		t.Fatalf("the stall was not detected (watched for %v, bound %v); log:\n%s", time.Since(w.start).Round(time.Second), stallBound, w.e.tail(40))
	case w.detected > stallBound:
		t.Fatalf("stall detected after %v, want within %v; log:\n%s", w.detected, stallBound, w.e.tail(40))
	case w.maxLag < (testStallTimeout - testHeartbeat).Seconds():
		t.Fatalf("floe_capture_source_lag_seconds reached only %.1fs while the stream was stalled, want it to grow past %s", w.maxLag, testStallTimeout-testHeartbeat)
	case !strings.Contains(w.notReady, "not ready: not streaming: reconnecting after:"):
		t.Fatalf("/readyz never answered 503 'not streaming' after the stall was detected (last: %q)", w.notReady)
	}
	t.Logf("stall detected after %v; lag metric reached %.1fs; /readyz: %s", w.detected.Round(100*time.Millisecond), w.maxLag, strings.TrimSpace(w.notReady))
}

// noStallWhileIdle fails the test when an idle stream is reported
// stalled within d (heartbeats must keep it alive).
func noStallWhileIdle(t *testing.T, e *pipelineEnv, r *running, d time.Duration) {
	t.Helper()
	stayUp(t, e, r, d, "while idle")
	if strings.Contains(e.tail(1000000), "stream stalled") {
		t.Fatalf("an idle stream was reported stalled; log:\n%s", e.tail(40))
	}
}

// TestStalledStreamPostgres: the walsender is stopped (SIGSTOP) for 20 s.
// floe notices within the stall timeout (not even its heartbeat arrives,
// and the walsender does not move), lets the lag metric grow, turns
// /readyz red, reconnects from the committed positions (retrying while
// the stopped walsender still holds the slot), and once the walsender
// runs again catches up: verify equal. Floe judges the walsender by its
// wait event, or, for a role with pg_read_all_stats, by its sent_lsn.
func TestStalledStreamPostgres(t *testing.T) {
	ctx := context.Background()
	pg := ownPostgres(t)
	for _, tc := range []struct{ db, grant, judged string }{
		{"stall", "", "stayed in wait event WalSenderWaitForWAL"},
		{"stall_stats", "GRANT pg_read_all_stats TO u_stall_stats", "stayed at sent_lsn"},
	} {
		t.Run(tc.db, func(t *testing.T) {
			e := newPipelineEnvOn(t, pg, tc.db, `public\.orders`, "upsert", stallSource)
			if tc.grant != "" {
				e.exec(tc.grant)
			}
			addr := serveHealth(t, e)
			e.exec(`CREATE TABLE orders (id int PRIMARY KEY, item text)`, `INSERT INTO orders SELECT g, 'i' || g FROM generate_series(1, 1000) g`,
				"ALTER TABLE orders OWNER TO u_"+tc.db)
			r := e.start()
			e.waitStreaming(r)
			e.waitCaughtUp(r, time.Minute)
			waitReady(t, e, addr, 30*time.Second)
			noStallWhileIdle(t, e, r, 2*testStallTimeout)

			var pid int
			if err := e.conn().QueryRow(ctx, `SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1`, e.slot).Scan(&pid); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			w := &stallWatcher{e: e, addr: addr, start: time.Now()}
			t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
			e.exec(`INSERT INTO orders SELECT g, 'during' FROM generate_series(1001, 1100) g`, `DELETE FROM orders WHERE id <= 50`)
			w.until(t, r, 20*time.Second)
			if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
				t.Fatal(err)
			}
			w.check(t)
			if !strings.Contains(e.tail(1000000), tc.judged) {
				t.Fatalf("the stall was not judged by %q; log:\n%s", tc.judged, e.tail(40))
			}

			e.exec(`UPDATE orders SET item = 'after' WHERE id % 10 = 0`)
			e.waitCaughtUp(r, 2*time.Minute)
			waitReady(t, e, addr, time.Minute)
			e.stop(r)
			e.mustVerify(1)
		})
	}
}

// TestSilentBacklogIsNoStall: after a restart the walsender must first go
// through a large transaction of a table floe does not capture, which
// yields nothing, so the stream stays silent for longer than the stall
// timeout. That is no stall: floe sees the walsender working and waits
// on. (Taking it for one would reconnect to the same WAL and repeat the
// silence forever.)
func TestSilentBacklogIsNoStall(t *testing.T) {
	pg := ownPostgres(t)
	e := newPipelineEnvOn(t, pg, "backlog", `public\.orders`, "upsert", "  heartbeat-interval: 500ms\n  stall-timeout: 1s\n")
	e.exec(`CREATE TABLE orders (id int PRIMARY KEY, item text)`, `INSERT INTO orders SELECT g, 'i' || g FROM generate_series(1, 100) g`,
		`CREATE TABLE other (id bigint, pad text)`, `ALTER TABLE orders OWNER TO u_backlog`, `ALTER TABLE other OWNER TO u_backlog`)
	r := e.start()
	e.waitCaughtUp(r, time.Minute)
	e.stop(r)
	e.exec(`INSERT INTO other SELECT g, repeat('x', 200) FROM generate_series(1, 2000000) g`,
		`INSERT INTO orders VALUES (101, 'after the backlog')`)
	r = e.start()
	e.waitCaughtUp(r, 5*time.Minute)
	e.stop(r)
	log := e.tail(1000000)
	if strings.Contains(log, "stream stalled") {
		t.Fatalf("a walsender working through a silent backlog was taken for a stall; log:\n%s", e.tail(40))
	}
	if !strings.Contains(log, "stream silent, but the walsender works") {
		t.Fatalf("the stream was never silent for the stall timeout: the backlog is too small to test anything; log:\n%s", e.tail(40))
	}
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "stream silent, but the walsender works") {
			t.Log(line)
		}
	}
	e.mustVerify(1)
}

// TestUnflushedHeartbeatIsNoStall: a walsender decodes only WAL the
// server has flushed, and a heartbeat (like any commit under
// synchronous_commit = off, which the test servers run with) is flushed
// by the WAL writer, later. On a loaded machine that can take seconds, so
// the walsender waits for WAL while Floe's heartbeat is written but not
// yet readable. That is no stall: reconnecting cannot make the WAL
// readable sooner. The WAL writer is stopped (SIGSTOP) for four stall
// timeouts while rows are written; floe waits, says why, and once the WAL
// writer runs again delivers every row without having reconnected.
func TestUnflushedHeartbeatIsNoStall(t *testing.T) {
	ctx := context.Background()
	pg := ownPostgres(t)
	e := newPipelineEnvOn(t, pg, "unflushed", `public\.orders`, "upsert", "  heartbeat-interval: 500ms\n  stall-timeout: 1s\n")
	e.exec(`CREATE TABLE orders (id int PRIMARY KEY, item text)`, `INSERT INTO orders SELECT g, 'i' || g FROM generate_series(1, 100) g`,
		`ALTER TABLE orders OWNER TO u_unflushed`)
	r := e.start()
	e.waitStreaming(r)
	e.waitCaughtUp(r, time.Minute)

	admin := e.conn()
	defer admin.Close(ctx)
	var syncCommit string
	var walwriter int
	if err := admin.QueryRow(ctx, `SELECT current_setting('synchronous_commit'), (SELECT pid FROM pg_stat_activity WHERE backend_type = 'walwriter')`).Scan(&syncCommit, &walwriter); err != nil {
		t.Fatal(err)
	}
	if syncCommit != "off" {
		t.Fatalf("synchronous_commit is %q: commits would flush the WAL themselves and this test would show nothing", syncCommit)
	}
	if err := syscall.Kill(walwriter, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(walwriter, syscall.SIGCONT) })
	e.exec(`INSERT INTO orders SELECT g, 'unflushed' FROM generate_series(101, 150) g`, `DELETE FROM orders WHERE id <= 10`)
	stayUp(t, e, r, 4*time.Second, "while the WAL writer was stopped")
	if err := syscall.Kill(walwriter, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	e.waitCaughtUp(r, time.Minute)
	e.stop(r)
	log := e.tail(1000000)
	if strings.Contains(log, "stream stalled") {
		t.Fatalf("a walsender waiting for the server to flush the heartbeat's WAL was taken for a stall; log:\n%s", e.tail(40))
	}
	if !strings.Contains(log, "not flushed the WAL of the heartbeat") {
		t.Fatalf("the stream was never silent for the stall timeout while the WAL writer was stopped; log:\n%s", e.tail(40))
	}
	e.mustVerify(1)
}

// TestStalledStreamMariaDB: the connection between floe and MariaDB stops
// carrying anything (a TCP proxy stops forwarding, as a network partition
// would; stopping mariadbd would stall the whole server) for 20 s. The
// binlog read brings nothing for the stall timeout (an idle server sends
// a heartbeat every heartbeat-interval, so an idle stream never hits it),
// floe reports the stall, lets the lag grow, turns /readyz red, and once
// the network carries again catches up: verify equal.
func TestStalledStreamMariaDB(t *testing.T) {
	e := newMySQLEnv(t, "my_stall", "upsert", stallSource)
	proxy := startPauseProxy(t, e.m.Addr())
	rewriteConfig(t, e.pipelineEnv, fmt.Sprintf("port: %d\n", e.m.Port), fmt.Sprintf("port: %d\n", proxy.port()))
	addr := serveHealth(t, e.pipelineEnv)
	e.seed(300)
	r := e.start()
	e.waitStreaming(r)
	ctx := context.Background()
	wl := &mysqlWorkload{e: e, rng: rand.New(rand.NewPCG(5, 6)), next: 300}
	for range 30 {
		if err := wl.step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	e.waitCaughtUp(r, time.Minute)
	waitReady(t, e.pipelineEnv, addr, 30*time.Second)
	noStallWhileIdle(t, e.pipelineEnv, r, 2*testStallTimeout)

	proxy.pause()
	w := &stallWatcher{e: e.pipelineEnv, addr: addr, start: time.Now()}
	for range 30 {
		if err := wl.step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	w.until(t, r, 20*time.Second)
	proxy.resume()
	w.check(t)

	e.waitCaughtUp(r, 2*time.Minute)
	waitReady(t, e.pipelineEnv, addr, time.Minute)
	e.stop(r)
	e.mustVerify(3)
}

// pauseProxy forwards TCP connections to upstream. While paused it
// forwards nothing in either direction and opens no upstream connection;
// what was sent waits (in its buffer and the kernel's) and flows on
// resume, as after a network partition heals.
type pauseProxy struct {
	ln       net.Listener
	upstream string
	mu       sync.Mutex
	cond     *sync.Cond
	paused   bool
	closed   bool
	conns    []net.Conn
	wg       sync.WaitGroup
}

func startPauseProxy(t *testing.T, upstream string) *pauseProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pauseProxy{ln: ln, upstream: upstream}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *pauseProxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *pauseProxy) pause() {
	p.mu.Lock()
	p.paused = true
	p.mu.Unlock()
}

func (p *pauseProxy) resume() {
	p.mu.Lock()
	p.paused = false
	p.mu.Unlock()
	p.cond.Broadcast()
}

// gate blocks while the proxy is paused; false once it is closed.
func (p *pauseProxy) gate() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.paused && !p.closed {
		p.cond.Wait()
	}
	return !p.closed
}

func (p *pauseProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns = append(p.conns, c)
	return true
}

func (p *pauseProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			if !p.gate() {
				return
			}
			up, err := net.Dial("tcp", p.upstream)
			if err != nil || !p.track(up) {
				c.Close()
				return
			}
			p.wg.Add(2)
			go p.pipe(c, up)
			go p.pipe(up, c)
		}()
	}
}

// pipe copies from src to dst, passing each read through the gate.
func (p *pauseProxy) pipe(src, dst net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.gate() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				_ = dst.Close()
				_ = src.Close()
			}
			return
		}
	}
}

func (p *pauseProxy) close() {
	p.mu.Lock()
	p.closed = true
	conns := p.conns
	p.mu.Unlock()
	p.cond.Broadcast()
	p.ln.Close()
	for _, c := range conns {
		c.Close()
	}
	p.wg.Wait()
}
