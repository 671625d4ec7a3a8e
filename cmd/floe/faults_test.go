package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/floe-cdc/floe/deploy/interop"
)

// TestFaults puts a real fault proxy (toxiproxy, in-process) between
// `floe run` and one endpoint at a time — the PostgreSQL source, the
// MariaDB source, a PostgreSQL catalog database, the S3 server — and,
// while a workload keeps changing the source, injects on both directions:
// latency during the initial snapshot, then while streaming (every
// second a checkpoint commits) a bandwidth limit, connection resets and a
// half-open connection (data dropped, no RST, no FIN).
//
// After each fault floe must either have ridden through (still running,
// catching up) or have exited non-zero with one line that names the
// endpoint; it is then started again. A half-open connection must be
// noticed (a warning, or the exit) within the endpoint's documented
// bound. After every fault `floe verify` must find every table equal.
func TestFaults(t *testing.T) {
	needServers(t)
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) *faultRun
	}{
		{"postgres-source", pgSourceFaults},
		{"mariadb-source", mariaSourceFaults},
		{"catalog-postgres", catalogFaults},
		{"s3", s3Faults},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each waits on timeouts most of the time
			tc.setup(t).run(t)
		})
	}
}

// sinkTimeout is sink.timeout in the sink fault tests: a half-open
// catalog or S3 connection fails a call after it (S3: after its three
// attempts).
const sinkTimeout = 3 * time.Second

// faultRun is one endpoint's fault sequence.
type faultRun struct {
	env   crashEnv
	work  crashWorkload
	proxy *faultProxy
	// tables is how many tables floe verify must find equal.
	tables int
	// halfOpenBound is how long floe may take to notice a half-open
	// connection to the endpoint (its documented timeout plus retries).
	halfOpenBound time.Duration
	// quietSnapshot: the workload starts once floe streams. The
	// PostgreSQL workload TRUNCATEs, and a TRUNCATE of a table whose
	// snapshot is under way waits for the chunk readers' transaction
	// while a second reader's SELECT of that table waits behind the
	// TRUNCATE: the snapshot never ends (a source bug of its own, which
	// these tests are not about).
	quietSnapshot bool
	running       *workRunner
}

// pgSourceFaults: the PostgreSQL source behind the proxy (replication,
// snapshot and check connections alike).
func pgSourceFaults(t *testing.T) *faultRun {
	e := newPipelineEnv(t, "faults_pgsrc", `public\.(accounts|events|notes|scratch)`, "upsert", "  snapshot.chunk-rows: 1000\n")
	const seeded = 8000
	e.exec(testSchema)
	e.exec(seedSQL(seeded)...)
	for _, tbl := range []string{"accounts", "events", "notes", "scratch"} {
		e.exec(fmt.Sprintf("ALTER TABLE %s OWNER TO u_%s", tbl, e.db))
	}
	p := newFaultProxy(t, "postgres source", fmt.Sprintf("127.0.0.1:%d", e.pg.Port))
	e.rewriteConfig(fmt.Sprintf("  port: %d\n", e.pg.Port), fmt.Sprintf("  port: %d\n", p.port))
	w := newWorkload(context.Background(), t, e, seeded, rand.Uint64()%1000)
	return &faultRun{env: e, work: w, proxy: p, tables: 4, halfOpenBound: 2 * time.Minute, quietSnapshot: true}
}

// mariaSourceFaults: the MariaDB source behind the proxy (binlog and
// chunk reads).
func mariaSourceFaults(t *testing.T) *faultRun {
	e := newMySQLEnv(t, "faults_mysrc", "upsert", "  snapshot.chunk-rows: 1000\n")
	const seeded = 10_000
	e.seed(seeded)
	p := newFaultProxy(t, "mariadb source", fmt.Sprintf("127.0.0.1:%d", e.m.Port))
	e.rewriteConfig(fmt.Sprintf("  port: %d\n", e.m.Port), fmt.Sprintf("  port: %d\n", p.port))
	w := &mysqlWorkload{e: e, rng: rand.New(rand.NewPCG(rand.Uint64(), 5)), next: seeded}
	return &faultRun{env: e, work: w, proxy: p, tables: 3, halfOpenBound: 2 * time.Minute}
}

// catalogFaults: the source is reached directly; the SQL catalog lives
// in a PostgreSQL database behind the proxy.
func catalogFaults(t *testing.T) *faultRun {
	e := newPipelineEnv(t, "faults_cat", `public\.(accounts|events|notes|scratch)`, "upsert", "  snapshot.chunk-rows: 1000\n")
	const seeded = 8000
	e.exec(testSchema)
	e.exec(seedSQL(seeded)...)
	for _, tbl := range []string{"accounts", "events", "notes", "scratch"} {
		e.exec(fmt.Sprintf("ALTER TABLE %s OWNER TO u_%s", tbl, e.db))
	}
	if _, err := e.pg.CreateDatabase(context.Background(), "faults_catalog", "u_faults_catalog", testPassword); err != nil {
		t.Fatal(err)
	}
	p := newFaultProxy(t, "catalog database", fmt.Sprintf("127.0.0.1:%d", e.pg.Port))
	e.setSink(fmt.Sprintf(`  catalog:
    type: sql
    uri: postgres://u_faults_catalog:%s@%s/faults_catalog?sslmode=disable
  warehouse: %s/warehouse
  timeout: %s
`, testPassword, p.addr(), e.dir, sinkTimeout))
	w := newWorkload(context.Background(), t, e, seeded, rand.Uint64()%1000)
	return &faultRun{env: e, work: w, proxy: p, tables: 4, halfOpenBound: time.Minute, quietSnapshot: true}
}

// s3Faults: the source is reached directly; the warehouse is on a real
// S3 server (versitygw) behind the proxy.
func s3Faults(t *testing.T) *faultRun {
	ctx := context.Background()
	s3, err := interop.StartS3(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s3.Stop() })
	if err := s3.CreateBucket("lake"); err != nil {
		t.Fatal(err)
	}
	e := newPipelineEnv(t, "faults_s3", `public\.(accounts|events|notes|scratch)`, "upsert", "  snapshot.chunk-rows: 1000\n")
	const seeded = 8000
	e.exec(testSchema)
	e.exec(seedSQL(seeded)...)
	for _, tbl := range []string{"accounts", "events", "notes", "scratch"} {
		e.exec(fmt.Sprintf("ALTER TABLE %s OWNER TO u_%s", tbl, e.db))
	}
	p := newFaultProxy(t, "s3", strings.TrimPrefix(s3.Endpoint, "http://"))
	e.setSink(fmt.Sprintf(`  catalog:
    type: sql
    uri: sqlite://%s/catalog.db
  warehouse: s3://lake/wh
  s3:
    endpoint: http://%s
    region: %s
    access-key-id: %s
    secret-access-key: %s
  timeout: %s
`, e.dir, p.addr(), s3.Region, s3.AccessKey, s3.SecretKey, sinkTimeout))
	w := newWorkload(ctx, t, e, seeded, rand.Uint64()%1000)
	return &faultRun{env: e, work: w, proxy: p, tables: 4, halfOpenBound: 2 * time.Minute, quietSnapshot: true}
}

// run applies the faults one after the other to one floe run (restarted
// when a fault ends it) and verifies after each.
func (fr *faultRun) run(t *testing.T) {
	e := fr.env.base()
	fr.running = &workRunner{w: fr.work}
	defer fr.running.halt(t)
	if !fr.quietSnapshot {
		fr.running.resume()
	}
	appendLog(t, e, "=== test: start 0 ===")
	r := e.start()
	waitForLog(t, e, r, "snapshot planned")
	r = fr.apply(t, r, faultLatency, "snapshot", 4*time.Second)
	for _, f := range []fault{faultBandwidth, faultReset, faultHalfOpen} {
		waitForLog(t, e, r, "msg=streaming")
		if r = fr.apply(t, r, f, "streaming", 4*time.Second); r == nil {
			return
		}
	}
	// A clean stop after the last fault: the final checkpoint holds every
	// change once floe has caught up with the halted workload.
	fr.running.halt(t)
	fr.env.waitCaughtUp(r, catchUpTimeout)
	e.stop(r)
	t.Logf("after all faults and a clean stop, floe verify:\n%s", e.mustVerify(fr.tables))
}

// apply injects f for hold (a half-open fault: until floe notices it),
// clears it, and checks what floe did; then it lets floe catch up with
// the workload paused and requires floe verify to find the tables equal.
// It returns the running floe (a new one when the fault ended the old).
func (fr *faultRun) apply(t *testing.T, r *running, f fault, phase string, hold time.Duration) *running {
	t.Helper()
	e := fr.env.base()
	before := len(e.tail(1 << 30))
	start := time.Now()
	clear := fr.proxy.inject(f)
	if f.halfOpen {
		line, took, ok := fr.awaitReaction(e, r, before)
		if !ok {
			clear()
			t.Fatalf("%s on %s during %s: floe did not notice within %v (it neither restarted from the committed positions nor exited); log:\n%s",
				f.name, fr.proxy, phase, fr.halfOpenBound, e.tail(30))
		}
		t.Logf("%s on %s during %s: floe noticed after %v: %s", f.name, fr.proxy, phase, took.Round(100*time.Millisecond), line)
	} else {
		time.Sleep(hold)
	}
	clear()
	outcome := "rode through"
	select {
	case <-r.Exited:
		line := fr.exitLine(t, e, r, before)
		outcome = "exited: " + line
		appendLog(t, e, fmt.Sprintf("=== test: start after %s ===", f.name))
		r = e.start()
	default:
	}
	t.Logf("%s on %s during %s (%v): %s", f.name, fr.proxy, phase, time.Since(start).Round(100*time.Millisecond), outcome)
	fr.verifyNow(t, r)
	return r
}

// awaitReaction waits up to halfOpenBound for floe to give up the
// attempt after offset ("... restarting from the committed positions")
// or to exit, and returns that line.
func (fr *faultRun) awaitReaction(e *pipelineEnv, r *running, offset int) (string, time.Duration, bool) {
	start := time.Now()
	re := regexp.MustCompile(`(?m)^.*restarting from the committed positions.*$|^floe: .*$`)
	for time.Since(start) < fr.halfOpenBound {
		if m := re.FindString(e.tail(1 << 30)[offset:]); m != "" {
			return m, time.Since(start), true
		}
		select {
		case <-r.Exited:
			return "exited: " + lastLine(e.tail(1 << 30)[offset:]), time.Since(start), true
		case <-time.After(200 * time.Millisecond):
		}
	}
	return "", 0, false
}

// exitLine checks that floe, having exited, failed with exit status
// non-zero and one last line naming the endpoint, and returns that line.
func (fr *faultRun) exitLine(t *testing.T, e *pipelineEnv, r *running, offset int) string {
	t.Helper()
	if r.Err == nil {
		t.Fatalf("floe run exited 0 on a network fault; log:\n%s", e.tail(20))
	}
	out := e.tail(1 << 30)[offset:]
	i := strings.LastIndex(out, "\nfloe: ")
	if i < 0 {
		t.Fatalf("floe run exited (%v) without a final `floe: ...` line; log:\n%s", r.Err, e.tail(20))
	}
	line := strings.TrimRight(out[i+1:], "\n")
	if strings.Contains(line, "\n") {
		t.Fatalf("floe run's final message spans several lines:\n%s", line)
	}
	if !strings.Contains(line, fr.proxy.addr()) && !strings.Contains(line, fr.proxy.endpoint) {
		t.Fatalf("floe run's final message names neither %s nor %q:\n%s", fr.proxy.addr(), fr.proxy.endpoint, line)
	}
	return line
}

// verifyNow pauses the workload, waits for floe to catch up with the
// source and runs floe verify, then (re)starts the workload.
func (fr *faultRun) verifyNow(t *testing.T, r *running) {
	t.Helper()
	e := fr.env.base()
	fr.running.halt(t)
	defer fr.running.resume()
	// A floe that makes no progress at all is stuck on a connection
	// nothing times out: SIGQUIT makes it write where it waits into its
	// log (kept with the failed test's files) before catching up fails.
	dump := time.AfterFunc(catchUpTimeout-10*time.Second, func() {
		t.Logf("floe has not caught up after %v; SIGQUIT for a goroutine dump in its log", catchUpTimeout-10*time.Second)
		_ = r.Cmd.Process.Signal(syscall.SIGQUIT)
	})
	defer dump.Stop()
	fr.env.waitCaughtUp(r, catchUpTimeout)
	e.mustVerify(fr.tables)
}

// catchUpTimeout bounds each wait for floe to catch up after a fault.
const catchUpTimeout = 3 * time.Minute

// workRunner runs a workload's steps until halted; it stops between
// transactions (untilStopped).
type workRunner struct {
	w    crashWorkload
	stop context.CancelFunc
	done chan error
}

func (r *workRunner) resume() {
	ctx, cancel := context.WithCancel(context.Background())
	r.stop, r.done = cancel, make(chan error, 1)
	go func() {
		r.done <- untilStopped(ctx, func(ctx context.Context) error {
			if err := r.w.step(ctx); err != nil {
				return err
			}
			time.Sleep(2 * time.Millisecond)
			return nil
		})
	}()
}

// halt stops the workload (a no-op when it is not running).
func (r *workRunner) halt(t *testing.T) {
	t.Helper()
	if r.stop == nil {
		return
	}
	r.stop()
	r.stop = nil
	if err := <-r.done; err != nil {
		t.Fatalf("workload: %v", err)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// rewriteConfig replaces old with new in the env's config file.
func (e *pipelineEnv) rewriteConfig(old, new string) {
	e.t.Helper()
	b, err := os.ReadFile(e.config)
	if err != nil {
		e.t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		e.t.Fatalf("config has no %q", old)
	}
	if err := os.WriteFile(e.config, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// setSink replaces the catalog and warehouse lines of the env's sink.
func (e *pipelineEnv) setSink(yaml string) {
	e.t.Helper()
	b, err := os.ReadFile(e.config)
	if err != nil {
		e.t.Fatal(err)
	}
	re := regexp.MustCompile(`(?s)\n  catalog:\n.*?\n  warehouse: [^\n]*\n`)
	if !re.Match(b) {
		e.t.Fatalf("config has no catalog and warehouse to replace:\n%s", b)
	}
	if err := os.WriteFile(e.config, re.ReplaceAll(b, []byte("\n"+yaml)), 0o644); err != nil {
		e.t.Fatal(err)
	}
}
