package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/floe-cdc/floe/lakewriter/ledger"
)

// TestFencingTwoRuns: two `floe run` processes of one pipeline, as two
// pods on two machines (two state directories, so the state lock does
// not stop the second): while the first streams under a workload, the
// second starts and the first is frozen (SIGSTOP, a partitioned node);
// the second claims the tables and waits for the slot the frozen run's
// walsender holds until the server ends that connection (as
// wal_sender_timeout would; the test does it at once), then streams. Thawed (SIGCONT), the first must stop with the one line that
// names the table and both epochs, and commit nothing after the claim:
// every table's history then holds no checkpoint twice and no commit of
// the first run after the second's claim, and `floe verify` finds every
// table equal to the source (no change lost or duplicated).
func TestFencingTwoRuns(t *testing.T) {
	needServers(t)
	ctx := context.Background()
	const db = "fencing"
	tables := []string{"accounts", "events", "notes", "scratch"}
	e := newPipelineEnv(t, db, `public\.(accounts|events|notes|scratch)`, "upsert", "")
	e.exec(testSchema)
	const seeded = 2000
	e.exec(seedSQL(seeded)...)
	for _, tbl := range tables {
		e.exec(fmt.Sprintf("ALTER TABLE %s OWNER TO u_%s", tbl, db))
	}
	w := newWorkload(ctx, t, e, seeded, 13)

	// The second pod: the same pipeline and catalog, its own state dir.
	second := e.floe()
	second.Config, second.Log = filepath.Join(e.dir, "floe-second.yaml"), filepath.Join(e.dir, "floe-second.log")
	cfg, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	stateLine := "dir: " + e.dir + "/state\n"
	if !strings.Contains(string(cfg), stateLine) {
		t.Fatalf("config has no %q:\n%s", stateLine, cfg)
	}
	if err := os.WriteFile(second.Config, []byte(strings.Replace(string(cfg), stateLine, "dir: "+e.dir+"/state-second\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}

	first := e.start()
	e.waitStreaming(first)
	stopWork := inBackground(w.step, 2*time.Millisecond)
	defer stopWork()
	// The first run streams the workload for a few checkpoints.
	for n := 0; n < 4; n = strings.Count(e.tail(1<<30), `msg="checkpoint committed"`) {
		select {
		case <-first.Exited:
			t.Fatalf("the first run exited: %v; log:\n%s", first.Err, e.tail(40))
		case <-time.After(100 * time.Millisecond):
		}
	}

	// The second pod starts while the first streams, and the first
	// freezes (before the second claims, so that the first cannot be
	// fenced before it is frozen).
	r2 := second.Start()
	if err := first.Cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	second.WaitLog(r2, `msg="tables claimed"`, time.Minute)
	// The frozen run's walsender still holds the slot: the second run
	// waits for it. The server would end that walsender after
	// wal_sender_timeout (60 s); end it now.
	const slotHeld = "the replication slot is held by another process"
	for log := second.Tail(1 << 30); !strings.Contains(log, slotHeld); log = second.Tail(1 << 30) {
		if strings.Contains(log, "msg=streaming") {
			t.Fatalf("the second run streams while the frozen first run's walsender holds the slot; log:\n%s", second.Tail(40))
		}
		select {
		case <-r2.Exited:
			t.Fatalf("the second run exited: %v; log:\n%s", r2.Err, second.Tail(40))
		case <-time.After(50 * time.Millisecond):
		}
	}
	e.exec(fmt.Sprintf(`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '%s' AND active_pid IS NOT NULL`, e.slot))
	second.WaitLog(r2, "msg=streaming", 2*time.Minute)
	commitsOf := func() int { return strings.Count(second.Tail(1<<30), `msg="checkpoint committed"`) }
	for n := commitsOf(); commitsOf() < n+3; time.Sleep(100 * time.Millisecond) {
		select {
		case <-r2.Exited:
			t.Fatalf("the second run exited: %v; log:\n%s", r2.Err, second.Tail(40))
		default:
		}
	}

	if err := first.Cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-first.Exited:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the first run did not stop after the second claimed its tables; log:\n%s", e.tail(40))
	}
	if first.Err == nil {
		t.Fatalf("the first run exited 0; log:\n%s", e.tail(40))
	}
	last := e.tail(1)
	if !strings.Contains(last, "a newer run of pipeline fencing took it over with epoch 2") || !strings.Contains(last, "this run's epoch 1 is older") ||
		!strings.Contains(last, "table lake.") {
		t.Fatalf("the first run's last line does not name the table and both epochs:\n%s\nlog:\n%s", last, e.tail(40))
	}
	t.Logf("the first run stopped with: %s", last)
	t.Logf("the first run's log after SIGCONT:\n%s", e.tail(6))

	// More changes for the second run alone, then it catches up.
	time.Sleep(time.Second)
	if err := stopWork(); err != nil {
		t.Fatalf("workload: %v", err)
	}
	t.Logf("workload: %d transactions", w.transactions())
	e.waitCaughtUp(r2, 3*time.Minute)
	second.Stop(r2)
	t.Logf("floe verify:\n%s", e.mustVerify(len(tables)))

	for _, name := range tables {
		hist, err := e.sinkTable(name).History(ctx)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		claimed, firstCommits, secondCommits := false, 0, 0
		for i := len(hist) - 1; i >= 0; i-- { // oldest first
			own, ok, err := ledger.EpochOf(hist[i].Props, db)
			if err != nil {
				t.Fatalf("table %s, snapshot %d: %v", name, hist[i].ID, err)
			}
			if !ok {
				continue
			}
			if own.Claim != nil {
				claimed = claimed || own.Epoch == 2
				continue
			}
			cp := hist[i].Props[ledger.PropCheckpoint]
			if seen[cp] {
				t.Errorf("table %s: checkpoint %s committed twice", name, cp)
			}
			seen[cp] = true
			switch {
			case own.Epoch == 1 && claimed:
				t.Errorf("table %s: the first run committed checkpoint %s after the second claimed the table", name, cp)
			case own.Epoch == 1:
				firstCommits++
			case own.Epoch == 2:
				secondCommits++
			default:
				t.Errorf("table %s: a commit of epoch %d", name, own.Epoch)
			}
		}
		if !claimed || firstCommits == 0 || secondCommits == 0 {
			t.Errorf("table %s: claimed by the second run %v, commits of the first %d and of the second %d: want a claim and commits of both",
				name, claimed, firstCommits, secondCommits)
		}
		t.Logf("table %s: %d commits of the first run, then the claim and %d of the second (%s)", name, firstCommits, secondCommits,
			strconv.Itoa(len(hist))+" snapshots")
	}
}
