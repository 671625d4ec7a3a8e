package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/deploy/interop"
	"github.com/floe-cdc/floe/lakewriter/ledger"
)

// TestFaults puts a real fault proxy (toxiproxy, in-process) between
// `floe run` and one endpoint at a time — the PostgreSQL source, the
// MariaDB source, a PostgreSQL catalog database, the S3 server — and,
// while a workload keeps changing the source, injects faults on both
// directions in three phases:
//
//   - snapshot: latency from the start of the initial snapshot, and while
//     that latency holds the snapshot back, a half-open connection and
//     connection resets (sources), or a reset and a half-open at a
//     checkpoint commit (catalog, S3);
//   - streaming (a checkpoint commits every second): a bandwidth limit,
//     connection resets and a half-open connection (data dropped, no RST,
//     no FIN);
//   - commit: the connection breaks right after a commit request reached
//     the server, so that the commit is carried out and its reply lost,
//     by a reset and by a half-open connection (catalog: the UPDATE of the
//     table's metadata location and its COMMIT; S3: the upload of the new
//     table metadata; PostgreSQL source: the check of the captured tables
//     every commit makes first). MariaDB is not asked anything at a commit.
//
// After each fault floe must either have ridden through (still running,
// catching up) or have exited non-zero with one line that names the
// endpoint; it is then started again. A half-open connection must be
// noticed (a warning, or the exit) within the endpoint's documented
// bound. After every fault `floe verify` must find every table equal, and
// after a commit fault no table's history may hold one checkpoint twice.
func TestFaults(t *testing.T) {
	needServers(t)
	var wg sync.WaitGroup
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) *faultRun
	}{
		{"postgres-source", pgSourceFaults},
		{"mariadb-source", mariaSourceFaults},
		{"catalog-postgres", catalogFaults},
		{"s3", s3Faults},
	} {
		// All four at once, whatever -parallel says: each waits on
		// timeouts most of the time, and together they load the machine.
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(tc.name, func(t *testing.T) { tc.setup(t).run(t) })
		}()
	}
	wg.Wait()
}

// sinkTimeout is sink.timeout in the sink fault tests: a half-open
// catalog or S3 connection fails a call after it (S3: after its three
// attempts).
const sinkTimeout = 3 * time.Second

// sourceStall is the source fault tests' stall timeout, and
// sourceTimeouts their heartbeat and stall settings: a half-open source
// connection, stream or query, fails after 6s, except the one connection
// planning a table's chunks, which may wait capture.LongReadFactor times
// that for the server's sort (capture/readbound.go).
const (
	sourceStall    = 6 * time.Second
	sourceTimeouts = "  heartbeat-interval: 2s\n  stall-timeout: 6s\n"
)

// sourceHalfOpenBound is how long floe may take to notice a half-open
// source connection: the longest documented silence (a chunk planning
// pass, LongReadFactor x sourceStall = 60s; a half-open injected while a
// table's chunks are planned is noticed only then) and 30s for the
// attempt to end and the log line to land. A bound of exactly one
// minute raced that case: noticed at 60.0s, the test gave up at 60.0s.
const sourceHalfOpenBound = capture.LongReadFactor*sourceStall + 30*time.Second

// faultRun is one endpoint's fault sequence.
type faultRun struct {
	env   crashEnv
	work  crashWorkload
	proxy *faultProxy
	// sinkTables are the Iceberg tables floe verify must find equal.
	sinkTables []string
	// halfOpenBound is how long floe may take to notice a half-open
	// connection to the endpoint (its documented timeout plus retries).
	halfOpenBound time.Duration
	// snapshotFaults are injected one after the other while latency holds
	// the initial snapshot back.
	snapshotFaults []injection
	// commitRequest is the request a commit fault waits for (patterns
	// that pass in this order on one connection); nil when floe sends the
	// endpoint nothing at a commit.
	commitRequest []string
	running       *workRunner
}

// injection is one fault as the test applies it: a toxic on both
// directions, or a commit fault.
type injection struct {
	toxic  fault
	commit *commitFaultKind
}

func (in injection) name() string {
	if in.commit != nil {
		return in.commit.name + " at a commit"
	}
	return in.toxic.name
}

// halfOpen faults are judged by how soon floe notices them.
func (in injection) halfOpen() bool {
	return in.toxic.halfOpen || (in.commit != nil && in.commit.mode == "drop")
}

var (
	resetAtCommit    = injection{commit: &commitReset}
	halfOpenAtCommit = injection{commit: &commitHalfOpen}
	sourceSnapshot   = []injection{{toxic: faultHalfOpen}, {toxic: faultReset}}
	sinkSnapshot     = []injection{resetAtCommit, halfOpenAtCommit}
)

// pgSourceFaults: the PostgreSQL source behind the proxy (replication,
// snapshot, check and re-read connections alike).
func pgSourceFaults(t *testing.T) *faultRun {
	e := newPipelineEnv(t, "faults_pgsrc", `public\.(accounts|events|notes|scratch)`, "upsert", "  snapshot.chunk-rows: 500\n"+sourceTimeouts)
	const seeded = 8000
	e.exec(testSchema)
	e.exec(seedSQL(seeded)...)
	for _, tbl := range []string{"accounts", "events", "notes", "scratch"} {
		e.exec(fmt.Sprintf("ALTER TABLE %s OWNER TO u_%s", tbl, e.db))
	}
	p := newFaultProxy(t, "postgres source", fmt.Sprintf("127.0.0.1:%d", e.pg.Port))
	e.rewriteConfig(fmt.Sprintf("  port: %d\n", e.pg.Port), fmt.Sprintf("  port: %d\n", p.port))
	w := newWorkload(context.Background(), t, e, seeded, rand.Uint64()%1000)
	return &faultRun{env: e, work: w, proxy: p, sinkTables: []string{"accounts", "events", "notes", "scratch"},
		halfOpenBound: sourceHalfOpenBound, snapshotFaults: sourceSnapshot, commitRequest: []string{"AS w(nsp, rel)"}}
}

// mariaSourceFaults: the MariaDB source behind the proxy (binlog and
// chunk reads).
func mariaSourceFaults(t *testing.T) *faultRun {
	e := newMySQLEnv(t, "faults_mysrc", "upsert", "  snapshot.chunk-rows: 500\n"+sourceTimeouts)
	const seeded = 10_000
	e.seed(seeded)
	p := newFaultProxy(t, "mariadb source", fmt.Sprintf("127.0.0.1:%d", e.m.Port))
	e.rewriteConfig(fmt.Sprintf("  port: %d\n", e.m.Port), fmt.Sprintf("  port: %d\n", p.port))
	w := &mysqlWorkload{e: e, rng: rand.New(rand.NewPCG(rand.Uint64(), 5)), next: seeded}
	return &faultRun{env: e, work: w, proxy: p, sinkTables: []string{"accounts", "events", "floe_marker"},
		halfOpenBound: sourceHalfOpenBound, snapshotFaults: sourceSnapshot}
}

// catalogFaults: the source is reached directly; the SQL catalog lives
// in a PostgreSQL database behind the proxy.
func catalogFaults(t *testing.T) *faultRun {
	e := newPipelineEnv(t, "faults_cat", `public\.(accounts|events|notes|scratch)`, "upsert", "  snapshot.chunk-rows: 500\n")
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
	return &faultRun{env: e, work: w, proxy: p, sinkTables: []string{"accounts", "events", "notes", "scratch"},
		halfOpenBound: time.Minute, snapshotFaults: sinkSnapshot,
		// The swap of the table's metadata location, then its COMMIT.
		commitRequest: []string{`UPDATE "iceberg_tables"`, "commit"}}
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
	e := newPipelineEnv(t, "faults_s3", `public\.(accounts|events|notes|scratch)`, "upsert", "  snapshot.chunk-rows: 500\n")
	// A failed run keeps the S3 server's files and log with floe's (this
	// cleanup runs before the one of TestDir that copies them away).
	t.Cleanup(func() {
		if t.Failed() {
			if err := os.CopyFS(filepath.Join(e.dir, "s3-server"), os.DirFS(filepath.Dir(s3.Dir))); err != nil {
				t.Logf("keep the S3 server's files: %v", err)
			}
		}
	})
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
	return &faultRun{env: e, work: w, proxy: p, sinkTables: []string{"accounts", "events", "notes", "scratch"},
		halfOpenBound: 2 * time.Minute, snapshotFaults: sinkSnapshot,
		// The upload of the new table metadata, the last write before
		// the catalog swaps to it.
		commitRequest: []string{".metadata.json?x-id=PutObject"}}
}

// run applies the faults one after the other to one floe run (restarted
// when a fault ends it) and verifies after each.
func (fr *faultRun) run(t *testing.T) {
	e := fr.env.base()
	fr.running = &workRunner{w: fr.work}
	defer fr.running.halt(t)
	fr.running.resume()
	appendLog(t, e, "=== test: start 0 ===")
	r := fr.snapshotPhase(t, e.start())
	for _, f := range []fault{faultBandwidth, faultReset, faultHalfOpen} {
		waitForLog(t, e, r, "msg=streaming")
		r = fr.apply(t, r, injection{toxic: f}, "streaming")
		fr.verifyNow(t, r)
	}
	if fr.commitRequest != nil {
		for _, in := range []injection{resetAtCommit, halfOpenAtCommit} {
			waitForLog(t, e, r, "msg=streaming")
			r = fr.apply(t, r, in, "commit")
			fr.verifyNow(t, r)
			fr.checkHistory(t)
		}
	}
	// A clean stop after the last fault: the final checkpoint holds every
	// change once floe has caught up with the halted workload.
	fr.running.halt(t)
	fr.env.waitCaughtUp(r, catchUpTimeout)
	e.stop(r)
	t.Logf("after all faults and a clean stop, floe verify:\n%s", e.mustVerify(len(fr.sinkTables)))
}

// snapshotLatency is how long latency holds the initial snapshot back.
const snapshotLatency = 4 * time.Second

// snapshotPhase injects latency as the initial snapshot starts and, while
// it holds the snapshot back, each of fr.snapshotFaults, which must find
// the snapshot still running and be noticed (source) or fire (sink).
func (fr *faultRun) snapshotPhase(t *testing.T, r *running) *running {
	t.Helper()
	e := fr.env.base()
	waitForLog(t, e, r, "snapshot planned")
	start := time.Now()
	clearLatency := fr.proxy.inject(faultLatency)
	for _, in := range fr.snapshotFaults {
		fr.awaitSnapshotRunning(t, e, r, in)
		r = fr.apply(t, r, in, "snapshot")
	}
	if left := snapshotLatency - time.Since(start); left > 0 {
		time.Sleep(left)
	}
	clearLatency()
	t.Logf("latency on %s during snapshot (%v): %s", fr.proxy, time.Since(start).Round(100*time.Millisecond), runState(r))
	select {
	case <-r.Exited:
		t.Fatalf("floe run exited after latency alone; log:\n%s", e.tail(30))
	default:
	}
	fr.verifyNow(t, r)
	return r
}

// awaitSnapshotRunning waits until the current run (or its current
// attempt) reads snapshot chunks: a snapshot planned since the last
// (re)start and not complete.
func (fr *faultRun) awaitSnapshotRunning(t *testing.T, e *pipelineEnv, r *running, in injection) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		log := e.tail(1 << 30)
		attempt := log[max(strings.LastIndex(log, "=== test: start"), strings.LastIndex(log, "restarting from the committed positions")):]
		if strings.Contains(attempt, "snapshot complete") {
			t.Fatalf("the initial snapshot completed before %s on %s could be injected: it was not held back (raise the seeded rows or the latency); log:\n%s", in.name(), fr.proxy, e.tail(40))
		}
		if strings.Contains(attempt, "snapshot planned") {
			return
		}
		select {
		case <-r.Exited:
			t.Fatalf("floe run exited before %s; log:\n%s", in.name(), e.tail(30))
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("no snapshot running within a minute before %s; log:\n%s", in.name(), e.tail(30))
}

func runState(r *running) string {
	select {
	case <-r.Exited:
		return "exited"
	default:
		return "rode through"
	}
}

// faultHold is how long a reset, a bandwidth limit or a reset at a commit
// lasts.
const faultHold = 4 * time.Second

// apply injects in (a half-open fault: until floe notices it), clears it,
// and checks what floe did: a fault during the snapshot must have ended
// the attempt or the run (it broke reads in flight), a commit fault must
// have fired. It returns the running floe (a new one when the fault ended
// the old).
func (fr *faultRun) apply(t *testing.T, r *running, in injection, phase string) *running {
	t.Helper()
	e := fr.env.base()
	before := len(e.tail(1 << 30))
	start := time.Now()
	var clear func()
	if in.commit != nil {
		var fired <-chan struct{}
		fired, clear = fr.proxy.injectAtCommit(*in.commit, fr.commitRequest...)
		select {
		case <-fired:
		case <-r.Exited:
			clear()
			t.Fatalf("floe run exited before a commit reached %s; log:\n%s", fr.proxy, e.tail(30))
		case <-time.After(time.Minute):
			clear()
			t.Fatalf("no commit request %q reached %s within a minute; log:\n%s", fr.commitRequest, fr.proxy, e.tail(30))
		}
	} else {
		clear = fr.proxy.inject(in.toxic)
	}
	held := time.Now() // a commit fault from when it fired
	if phase == "snapshot" && strings.Contains(e.tail(1 << 30)[before:], "snapshot complete") {
		clear()
		t.Fatalf("the initial snapshot completed before %s hit %s: it was not held back (raise the seeded rows or the latency); log:\n%s", in.name(), fr.proxy, e.tail(40))
	}
	switch {
	case in.halfOpen():
		line, took, ok := fr.awaitReaction(e, r, before, fr.halfOpenBound)
		if !ok {
			clear()
			dumpStacks(r)
			t.Fatalf("%s on %s during %s: floe did not notice within %v (it neither restarted from the committed positions nor exited; "+
				"its goroutines are at the end of the kept floe log); log:\n%s",
				in.name(), fr.proxy, phase, fr.halfOpenBound, e.tail(30))
		}
		t.Logf("%s on %s during %s: floe noticed after %v: %s", in.name(), fr.proxy, phase, took.Round(100*time.Millisecond), line)
	case phase == "snapshot" && in.commit == nil:
		// Reads are in flight all the time: the reset must break one.
		line, took, ok := fr.awaitReaction(e, r, before, 30*time.Second)
		if !ok {
			clear()
			t.Fatalf("%s on %s during %s: floe went on as if nothing had happened, though it was reading snapshot chunks; log:\n%s",
				in.name(), fr.proxy, phase, e.tail(30))
		}
		t.Logf("%s on %s during %s: floe noticed after %v: %s", in.name(), fr.proxy, phase, took.Round(100*time.Millisecond), line)
	default:
		time.Sleep(faultHold - time.Since(held))
	}
	clear()
	outcome := "rode through"
	select {
	case <-r.Exited:
		line := fr.exitLine(t, e, r, before)
		outcome = "exited: " + line
		appendLog(t, e, fmt.Sprintf("=== test: start after %s ===", in.name()))
		r = e.start()
	default:
		if strings.Contains(e.tail(1 << 30)[before:], "restarting from the committed positions") {
			outcome = "restarted from the committed positions"
		}
	}
	t.Logf("%s on %s during %s (%v): %s", in.name(), fr.proxy, phase, time.Since(start).Round(100*time.Millisecond), outcome)
	return r
}

// awaitReaction waits up to bound for floe to give up the
// attempt after offset ("... restarting from the committed positions")
// or to exit, and returns that line.
func (fr *faultRun) awaitReaction(e *pipelineEnv, r *running, offset int, bound time.Duration) (string, time.Duration, bool) {
	start := time.Now()
	re := regexp.MustCompile(`(?m)^.*restarting from the committed positions.*$|^floe: .*$`)
	for time.Since(start) < bound {
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
	if !strings.Contains(line, fr.proxy.addr()) {
		t.Fatalf("floe run's final message does not name %s (%s):\n%s", fr.proxy.addr(), fr.proxy.endpoint, line)
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
		t.Logf("floe has not caught up after %v; replication: %s; SIGQUIT for a goroutine dump in its log",
			catchUpTimeout-10*time.Second, e.replicationState())
		_ = r.Cmd.Process.Signal(syscall.SIGQUIT)
	})
	defer dump.Stop()
	start := time.Now()
	fr.env.waitCaughtUp(r, catchUpTimeout)
	t.Logf("floe caught up in %v", time.Since(start).Round(100*time.Millisecond))
	e.mustVerify(len(fr.sinkTables))
}

// checkHistory requires that no table's history holds one checkpoint of
// this pipeline twice: a commit that landed although floe heard no reply
// must have been recognised as landed, not made again.
func (fr *faultRun) checkHistory(t *testing.T) {
	t.Helper()
	e := fr.env.base()
	pipeline := e.loadConfig().Pipeline.Name
	for _, name := range fr.sinkTables {
		seen := map[string]int64{}
		for _, s := range sinkHistory(t, e, name) {
			if s.Props[ledger.PropPipeline] != pipeline {
				continue
			}
			cp := s.Props[ledger.PropCheckpoint]
			if other, ok := seen[cp]; ok {
				t.Fatalf("%s holds checkpoint %s twice (snapshots %d and %d): a commit was made again", name, cp, other, s.ID)
			}
			seen[cp] = s.ID
		}
	}
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

// dumpStacks makes a floe run that missed a fault print its goroutines
// into its log (Go's SIGQUIT dump) and waits for it to exit, so that the
// failed test's kept log shows where it waited.
func dumpStacks(r *running) {
	if r.Cmd.Process == nil || r.Cmd.Process.Signal(syscall.SIGQUIT) != nil {
		return
	}
	select {
	case <-r.Exited:
	case <-time.After(10 * time.Second):
	}
}
