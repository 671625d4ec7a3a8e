package main

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/checkpoint"
)

// waitLogCount waits until the log holds text at least n times.
func (e *mysqlEnv) waitLogCount(r *running, text string, n int, timeout time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for strings.Count(e.tail(100000), text) < n {
		select {
		case <-r.Exited:
			e.t.Fatalf("floe run exited waiting for %q: %v; log:\n%s", text, r.Err, e.tail(40))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("floe run did not log %q %d times within %v; log:\n%s", text, n, timeout, e.tail(40))
		}
	}
}

// TestMySQLSnapshotBesideStream: on MariaDB, a table created while floe
// run streams is read beside the stream (its chunks at watermarks of
// their own): the other table commits a change made while the new
// table's chunks are read, before its snapshot is complete. floe run is
// SIGKILLed at random points of the snapshot twice (each next attempt
// empties the table and reads it again beside the stream), rows of both
// tables change all along, also keys the stream wrote into the chunk read
// last deleted while floe is down, and at the end both tables hold
// exactly the source's rows (floe verify, and in upsert mode no key twice
// in Iceberg). A partition of the new table dropped while floe streams
// then has it snapshotted again beside the stream, and both are equal
// again. Both sink modes.
func TestMySQLSnapshotBesideStream(t *testing.T) {
	for _, mode := range []string{"upsert", "changelog"} {
		t.Run(mode, func(t *testing.T) { snapshotBesideStream(t, mode) })
	}
}

// snapshotBesideStream is TestMySQLSnapshotBesideStream in one sink mode;
// in changelog mode floe verify folds the log by key.
func snapshotBesideStream(t *testing.T, mode string) {
	const ddl = "(id BIGINT PRIMARY KEY, v VARCHAR(100) NOT NULL)"
	e := newTablesOnlineEnv(t, "my_beside", mode, "CREATE TABLE t_old "+ddl)
	// Some 4,800 chunks: a snapshot long enough to commit beside and to
	// be killed in.
	rewriteConfig(t, e.pipelineEnv, "snapshot.chunk-rows: 100", "snapshot.chunk-rows: 25")
	e.sql(fmt.Sprintf("INSERT INTO t_old SELECT seq, CONCAT('seed ', seq) FROM %s", e.m.Seq(1, 600)))
	r := e.start()
	e.waitStreaming(r)
	e.churn("t_old", 1000, 5)
	e.sql("CREATE TABLE stage_new "+ddl+` PARTITION BY RANGE (id) (PARTITION p0 VALUES LESS THAN (40000),
			PARTITION p1 VALUES LESS THAN (80000), PARTITION p2 VALUES LESS THAN MAXVALUE)`,
		fmt.Sprintf("INSERT INTO stage_new SELECT seq, CONCAT('new ', seq) FROM %s", e.m.Seq(1, 120_000)),
		"RENAME TABLE stage_new TO t_new")
	const planned = `table=my_beside.t_new chunks=`
	e.waitLogCount(r, planned, 1, time.Minute)
	for _, l := range strings.Split(e.tail(100000), "\n") {
		if strings.Contains(l, planned) && !strings.Contains(l, "beside_stream=true") {
			t.Fatalf("t_new is not read beside the stream: %s", l)
		}
	}
	// t_old commits a change made while t_new is read.
	e.sql("UPDATE t_old SET v = 'during the snapshot' WHERE id = 7")
	e.waitTablesCommitted(r, "t_old")
	if strings.Contains(e.tail(100000), `msg="snapshot complete" pipeline=my_beside table=my_beside.t_new`) {
		t.Fatalf("t_new's snapshot was complete before t_old committed: nothing was shown; log:\n%s", e.tail(40))
	}
	if mode == "upsert" {
		if got := icebergRows(t, e.pipelineEnv, "t_old")[7]; got != "during the snapshot" {
			t.Fatalf("t_old row 7 is %q in iceberg while t_new is read", got)
		}
	}

	// Killed at a random point of the snapshot, twice; the rows change
	// before, between and after.
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	for kill := range 2 {
		// Keys past every bound, in the chunk read last: the stream's
		// images of them are committed before the kill, and some are
		// deleted while floe is down.
		e.churn("t_new", 500_000+kill*1000, 10)
		e.churn("t_old", 2000+kill*1000, 5)
		e.waitTablesCommitted(r, "t_new")
		time.Sleep(time.Duration(rng.IntN(1000)) * time.Millisecond)
		stillRunning(t, e.pipelineEnv, r)
		if strings.Count(e.tail(100000), `msg="snapshot complete" pipeline=my_beside table=my_beside.t_new`) > 0 {
			t.Fatalf("t_new's snapshot was complete before kill %d; log:\n%s", kill+1, e.tail(40))
		}
		e.kill(r)
		e.sql(fmt.Sprintf("UPDATE t_new SET v = 'while down %d' WHERE id %% 97 = %d", kill, kill), fmt.Sprintf("DELETE FROM t_new WHERE id %% 89 = %d", kill),
			fmt.Sprintf("DELETE FROM t_new WHERE id BETWEEN %d AND %d", 500_000+kill*1000, 500_004+kill*1000))
		r = e.start()
		e.waitLogCount(r, planned, kill+2, time.Minute)
		e.churn("t_new", 600_000+kill*1000, 5)
	}
	e.churn("t_old", 4000, 10)
	e.waitLogCount(r, `msg="snapshot complete" pipeline=my_beside table=my_beside.t_new`, 1, 3*time.Minute)
	e.churn("t_old", 5000, 5)
	e.churn("t_new", 700_000, 5)
	e.waitCaughtUp(r, 3*time.Minute)
	e.waitTablesCommitted(r, "t_old", "t_new")
	e.stop(r)
	log := e.tail(100000)
	// A kill before t_new's first commit leaves nothing to reset.
	resets := 0
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "table reset for its new snapshot") && strings.Contains(l, "cause="+checkpoint.CauseBesideInterrupted) {
			resets++
		}
	}
	if resets < 1 {
		t.Fatalf("no reset of an interrupted snapshot beside the stream logged; log:\n%s", e.tail(60))
	}
	t.Logf("%d of 2 kills reset t_new (the others came before its first commit)", resets)
	if mode == "upsert" {
		if got, want := icebergRows(t, e.pipelineEnv, "t_new"), sourceRows(t, e.root, "t_new"); !maps.Equal(got, want) {
			t.Fatalf("t_new in iceberg (%d rows) differs from the source (%d rows)", len(got), len(want))
		}
		if got, want := icebergRows(t, e.pipelineEnv, "t_old"), sourceRows(t, e.root, "t_old"); !maps.Equal(got, want) {
			t.Fatalf("t_old in iceberg (%d rows) differs from the source (%d rows)", len(got), len(want))
		}
	}
	t.Logf("floe verify:\n%s", e.mustVerify(3))

	// A partition dropped while floe streams: its rows go without row
	// events, so t_new is snapshotted again, beside the stream.
	r = e.start()
	e.waitStreaming(r)
	e.sql("ALTER TABLE t_new DROP PARTITION p1")
	e.churn("t_new", 800_000, 5)
	e.waitLogCount(r, `msg="snapshot complete" pipeline=my_beside table=my_beside.t_new`, 2, 3*time.Minute)
	e.churn("t_old", 6000, 5)
	e.churn("t_new", 900_000, 5)
	e.waitCaughtUp(r, 3*time.Minute)
	e.waitTablesCommitted(r, "t_old", "t_new")
	e.stop(r)
	if mode == "upsert" {
		if got, want := icebergRows(t, e.pipelineEnv, "t_new"), sourceRows(t, e.root, "t_new"); !maps.Equal(got, want) {
			t.Fatalf("after DROP PARTITION, t_new in iceberg (%d rows) differs from the source (%d rows)", len(got), len(want))
		}
	}
	t.Logf("floe verify after DROP PARTITION:\n%s", e.mustVerify(3))
}
