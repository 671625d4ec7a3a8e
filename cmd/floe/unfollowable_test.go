package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/lakewriter/ledger"
)

// stopOnUnfollowable sets pipeline.on-unfollowable-change: stop in e's
// config, for the tests of the stop itself (the default re-snapshots the
// table online).
func stopOnUnfollowable(t *testing.T, e *pipelineEnv) {
	t.Helper()
	rewriteConfig(t, e, "checkpoint-interval:", "on-unfollowable-change: stop\n  checkpoint-interval:")
}

// unfollowableResets counts the commits of Iceberg table name that reset
// it for a change its stream could not follow.
func unfollowableResets(t *testing.T, e *pipelineEnv, name string) int {
	t.Helper()
	hist, err := e.sinkTable(name).History(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range hist {
		if v := s.Props[ledger.PropReset]; v != "" {
			rs, err := ledger.ParseReset(v)
			if err != nil {
				t.Fatal(err)
			}
			if rs.Cause == ledger.CauseUnfollowable {
				n++
			}
		}
	}
	return n
}

// stillRunning fails the test when floe run r has exited.
func stillRunning(t *testing.T, e *pipelineEnv, r *running) {
	t.Helper()
	select {
	case <-r.Exited:
		t.Fatalf("floe run exited (%v); log:\n%s", r.Err, e.tail(40))
	default:
	}
}

// TestPostgresUnfollowableResnapshot: a column added with a default while
// floe streams (the server fills it into every existing row without a
// row event) no longer stops the pipeline: by default the table is reset
// and snapshotted again online while the other tables stream, floe run
// is SIGKILLed once at a random point after the change and restarted,
// and afterwards every table verifies equal, the new column holding its
// default in the rows written before it, and the table's history
// records the reset with cause unfollowable-change. A second column added
// with a default while floe is stopped is found at start, and the table
// is snapshotted again then.
func TestPostgresUnfollowableResnapshot(t *testing.T) {
	needServers(t)
	ctx := context.Background()
	db := "pg_unfollow"
	e := newPipelineEnv(t, db, `public\.(accounts|events|notes|scratch)`, "upsert", "  snapshot.chunk-rows: 500\n")
	e.exec(testSchema)
	e.exec(seedSQL(4000)...)
	for _, tbl := range []string{"accounts", "events", "notes", "scratch"} {
		e.exec(fmt.Sprintf("ALTER TABLE %s OWNER TO u_%s", tbl, db))
	}
	r := e.start()
	e.waitStreaming(r)
	w := newWorkload(ctx, t, e, 4000, 11)
	steps := func(n int) {
		t.Helper()
		for range n {
			if err := w.step(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	steps(60)
	e.exec(`ALTER TABLE accounts ADD COLUMN d int DEFAULT 5`)
	steps(60)
	e.floe().WaitLog(r, "a change of the table cannot be followed from the log", 2*time.Minute)
	time.Sleep(time.Duration(rand.IntN(400)) * time.Millisecond)
	stillRunning(t, e, r)
	e.kill(r)
	steps(40)
	r = e.start()
	steps(40)
	e.waitCaughtUp(r, 3*time.Minute)
	stillRunning(t, e, r)
	e.stop(r)
	t.Logf("floe verify:\n%s", e.mustVerify(4))
	if e.sinkTable("accounts").Layout().Index("d") < 0 {
		t.Fatalf("accounts has no column d after its new snapshot")
	}
	resets := unfollowableResets(t, e, "accounts")
	if resets < 1 {
		t.Fatalf("accounts history holds no reset with cause %s; log:\n%s", ledger.CauseUnfollowable, e.tail(40))
	}

	// A column added with a default while floe is stopped, with no change
	// of the table after it, is found at start: the table is snapshotted
	// again then.
	e.exec(`ALTER TABLE accounts ADD COLUMN d2 text DEFAULT 'two'`)
	r = e.start()
	e.floe().WaitLog(r, "a change of the table found at start cannot be followed from the log", 2*time.Minute)
	steps(40)
	e.waitCaughtUp(r, 3*time.Minute)
	stillRunning(t, e, r)
	e.stop(r)
	t.Logf("floe verify:\n%s", e.mustVerify(4))
	if n := unfollowableResets(t, e, "accounts"); n != resets+1 {
		t.Fatalf("accounts history holds %d resets with cause %s, want %d", n, ledger.CauseUnfollowable, resets+1)
	}
	for _, other := range []string{"events", "notes"} {
		if n := unfollowableResets(t, e, other); n != 0 {
			t.Fatalf("%s was reset %d times, want 0: only accounts had the change", other, n)
		}
	}
}

// TestMySQLUnfollowableResnapshot: on MariaDB, a column added with a
// default (NOT NULL DEFAULT 'filled') while floe streams: the ALTER's
// refusal travels as an unreadable change, the table is snapshotted
// again online by default while events streams on, floe run is
// SIGKILLed once at a random point after the change, and every table
// verifies equal afterwards.
func TestMySQLUnfollowableResnapshot(t *testing.T) {
	e := newMySQLEnv(t, "my_unfollow", "upsert", "  snapshot.chunk-rows: 100\n")
	e.seed(1500)
	r := e.start()
	e.waitStreaming(r)
	for i := range 20 {
		e.sql(fmt.Sprintf("UPDATE accounts SET name = 'before %d' WHERE id %% 20 = %d", i, i),
			fmt.Sprintf("UPDATE events SET kind = 'before %d' WHERE seq %% 20 = %d", i, i))
	}
	e.sql(`ALTER TABLE accounts ADD COLUMN note VARCHAR(10) NOT NULL DEFAULT 'filled'`)
	for i := range 20 {
		e.sql(fmt.Sprintf("UPDATE accounts SET note = 'set %d' WHERE id %% 40 = %d", i, i),
			fmt.Sprintf("UPDATE events SET kind = 'after %d' WHERE seq %% 20 = %d", i, i))
	}
	e.floe().WaitLog(r, "a change of the table cannot be followed from the log", 2*time.Minute)
	time.Sleep(time.Duration(rand.IntN(400)) * time.Millisecond)
	stillRunning(t, e.pipelineEnv, r)
	e.kill(r)
	e.sql("DELETE FROM accounts WHERE id % 97 = 0", "INSERT INTO events VALUES ('t1', 100000, 'late', 1)")
	r = e.start()
	e.waitCaughtUp(r, 3*time.Minute)
	stillRunning(t, e.pipelineEnv, r)
	e.stop(r)
	out := e.mustVerify(3)
	t.Logf("floe verify:\n%s", out)
	if !strings.Contains(out, "accounts") {
		t.Fatalf("floe verify does not report accounts:\n%s", out)
	}
	if n := unfollowableResets(t, e.pipelineEnv, "accounts"); n < 1 {
		t.Fatalf("accounts history holds no reset with cause %s; log:\n%s", ledger.CauseUnfollowable, e.tail(40))
	}
}
