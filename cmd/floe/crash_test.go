package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCrashExactlyOnce SIGKILLs `floe run` at random moments spread over
// the initial snapshot and streaming while a workload keeps changing the
// source, restarts it each time (once with the state dir deleted), and then
// shows with `floe verify` that no row is lost and none is duplicated.
func TestCrashExactlyOnce(t *testing.T) {
	needServers(t)
	for _, mode := range []string{"upsert", "changelog"} {
		t.Run(mode, func(t *testing.T) { crashTest(t, mode) })
	}
}

func crashTest(t *testing.T, mode string) {
	ctx := context.Background()
	db := "crash_" + mode
	// Small chunks (~360 of them) keep the snapshot longer than the
	// crash loop's kill window (20-420 ms after it is planned) on a fast,
	// idle machine: with 2000-row chunks it finished in ~320 ms, and the
	// kills meant for it landed in streaming.
	e := newPipelineEnv(t, db, `public\.(accounts|events|notes|scratch)`, mode, "  snapshot.chunk-rows: 250\n")
	e.exec(testSchema)
	const seeded = 40_000
	e.exec(seedSQL(seeded)...)
	for _, tbl := range []string{"accounts", "events", "notes", "scratch"} {
		e.exec(fmt.Sprintf("ALTER TABLE %s OWNER TO u_%s", tbl, db))
	}

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	seed := rng.Uint64() % 1000
	t.Logf("random seed %d", seed)
	w := newWorkload(ctx, t, e, seeded, seed)
	crashLoop(t, e, w, rng, 4)
}

// crashEnv is what the crash loop needs of a test's pipeline: the
// PostgreSQL and MariaDB envs differ in how they wait for catch-up.
type crashEnv interface {
	base() *pipelineEnv
	waitCaughtUp(r *running, timeout time.Duration)
}

func (e *pipelineEnv) base() *pipelineEnv { return e }

// crashWorkload is a source workload: small random transactions and the
// occasional large one.
type crashWorkload interface {
	step(ctx context.Context) error
	bulk(ctx context.Context, tenant string, rows int) error
	transactions() int
}

func (w *workload) transactions() int { return w.txns }

// crashLoop runs w for the whole test, SIGKILLs `floe run` 12 times —
// four at random moments of the snapshot, the rest while streaming — and
// restarts it each time, deleting the state dir before the seventh start.
// It then lets a last run catch up and requires `floe verify` to find
// wantTables tables equal: nothing lost, nothing duplicated.
//
// Background compaction runs every few seconds throughout (rewrites,
// snapshot expiry), so kills also land inside compaction passes; at least
// one pass must have rewritten files. At the end `floe compact` runs once
// more and verify must still find every table equal.
func crashLoop(t *testing.T, env crashEnv, w crashWorkload, rng *rand.Rand, wantTables int) {
	e := env.base()
	// 1 MiB files: data files of 128 KiB and more are settled, so passes
	// also convert their deletes to position deletes in place
	// (compaction/convert.go) while the kills land.
	e.appendConfig(`compaction:
  interval: 1s
  min-input-files: 2
  target-file-size-mb: 1
  expire-snapshots-older-than: 5s
  retain-last: 3
`)
	i := 0
	stopWork := inBackground(func(ctx context.Context) error {
		i++
		if i%400 == 200 {
			if err := w.bulk(ctx, fmt.Sprintf("bulk%d", i), 30_000); err != nil {
				return err
			}
		}
		return w.step(ctx)
	}, 2*time.Millisecond)
	defer stopWork()

	const kills = 12
	phases := map[string]int{}
	stateDir := filepath.Join(e.dir, "state")
	for i := range kills {
		if i == kills/2 {
			if err := os.RemoveAll(stateDir); err != nil {
				t.Fatal(err)
			}
			t.Logf("kill %d: state dir deleted before restart", i)
		}
		appendLog(t, e, fmt.Sprintf("=== test: start %d ===", i))
		r := e.start()
		// Early kills land in the snapshot (a random moment after this
		// run planned it), later ones in streaming.
		var wait time.Duration
		if i < 4 {
			waitForLog(t, e, r, "snapshot planned", " snapshot=false")
			wait = time.Duration(20+rng.IntN(400)) * time.Millisecond
		} else {
			waitForLog(t, e, r, "msg=streaming")
			wait = time.Duration(100+rng.IntN(3000)) * time.Millisecond
		}
		time.Sleep(wait)
		select {
		case <-r.Exited:
			t.Fatalf("floe run exited before kill %d: %v; log:\n%s", i, r.Err, e.tail(40))
		default:
		}
		e.kill(r)
		phase := phaseOf(e.tail(100000))
		phases[phase]++
		t.Logf("kill %d after %v during %s", i, wait, phase)
	}
	if phases["snapshot"] < 2 || phases["streaming"] < 4 {
		t.Fatalf("kills by phase %v: want >= 2 during the snapshot and >= 4 while streaming", phases)
	}
	if err := stopWork(); err != nil {
		t.Fatalf("workload: %v", err)
	}
	t.Logf("workload: %d transactions", w.transactions())

	appendLog(t, e, "=== test: final run ===")
	r := e.start()
	start := time.Now()
	env.waitCaughtUp(r, 3*time.Minute)
	t.Logf("final run caught up in %v", time.Since(start).Round(time.Millisecond))
	e.stop(r)
	t.Logf("floe verify:\n%s", e.mustVerify(wantTables))

	log := e.tail(1 << 30)
	passes := strings.Count(log, "msg=\"compaction pass\"")
	rewrote := passes - strings.Count(log, "rewritten_data_files=0 ")
	converted := passes - strings.Count(log, "converted_data_files=0 ")
	t.Logf("background compaction: %d passes, %d rewrote files, %d converted deletes in place", passes, rewrote, converted)
	if rewrote == 0 {
		t.Fatalf("no background compaction pass rewrote files during the test")
	}
	out, err := e.floeCmd("compact", "--config", e.config).Output()
	if err != nil {
		t.Fatalf("floe compact: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "\n"); n != wantTables {
		t.Fatalf("floe compact printed %d lines, want one per table (%d):\n%s", n, wantTables, out)
	}
	t.Logf("floe compact:\n%s", out)
	t.Logf("floe verify after compact:\n%s", e.mustVerify(wantTables))
}

// phaseOf says what the last floe run in the log was doing.
func phaseOf(log string) string {
	i := strings.LastIndex(log, "=== test: start")
	run := log[i:]
	switch {
	case strings.Contains(run, "snapshot complete"), strings.Contains(run, " snapshot=false"):
		return "streaming"
	case strings.Contains(run, "snapshot planned"):
		return "snapshot"
	default:
		return "startup"
	}
}

func appendLog(t *testing.T, e *pipelineEnv, line string) {
	t.Helper()
	f, err := os.OpenFile(e.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := fmt.Fprintln(f, line); err != nil {
		t.Fatal(err)
	}
}

// waitForLog waits until the current run's part of the log holds one of
// the markers (or the run exits, which the caller then reports).
func waitForLog(t *testing.T, e *pipelineEnv, r *running, markers ...string) {
	t.Helper()
	// The wait is bounded by progress, not by the clock: a run that
	// commits checkpoints (a snapshot of many chunks on a loaded machine,
	// restarted by schema changes) is given time; one that logs no
	// commit and no marker for stallLimit is stuck, and fails the test.
	const stallLimit = time.Minute
	lastProgress, commits := time.Now(), -1
	for time.Since(lastProgress) < stallLimit {
		log := e.tail(100000)
		run := log[strings.LastIndex(log, "=== test: start"):]
		for _, m := range markers {
			if strings.Contains(run, m) {
				return
			}
		}
		if n := strings.Count(run, `msg="checkpoint committed"`); n != commits {
			lastProgress, commits = time.Now(), n
		}
		select {
		case <-r.Exited:
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("the run logged none of %q, and committed no checkpoint, for %v", markers, stallLimit)
}
