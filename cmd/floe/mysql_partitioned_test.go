package main

import (
	"strings"
	"testing"
	"time"
)

// TestMySQLPartitionedTable: a MariaDB partitioned table is one table in
// the binlog. Its snapshot and its stream cover every partition, rows
// moved between partitions by an UPDATE of the partitioning column land
// once, and adding and reorganising partitions while floe streams changes
// nothing a reader sees: `floe verify` finds every table equal. A
// TRUNCATE PARTITION, which deletes rows without row events, stops floe
// run with the fix (floe resnapshot) instead of leaving the rows in Iceberg.
func TestMySQLPartitionedTable(t *testing.T) {
	e := newMySQLEnv(t, "my_parts", "upsert", "  snapshot.chunk-rows: 400\n")
	stopOnUnfollowable(t, e.pipelineEnv)
	e.sql(`ALTER TABLE events PARTITION BY RANGE COLUMNS (seq) (
		PARTITION p0 VALUES LESS THAN (1000), PARTITION p1 VALUES LESS THAN (2000), PARTITION p2 VALUES LESS THAN (5000))`)
	e.seed(3000)
	r := e.start()
	e.waitStreaming(r)
	e.sql(`UPDATE events SET seq = seq + 3000, kind = 'moved' WHERE seq % 4 = 0 AND seq < 1000`,
		`UPDATE events SET kind = 'stayed' WHERE seq % 7 = 0`,
		`DELETE FROM events WHERE seq % 11 = 0`,
		`ALTER TABLE events ADD PARTITION (PARTITION p3 VALUES LESS THAN (9000))`,
		`INSERT INTO events SELECT 'late', seq, 'late', seq FROM `+e.m.Seq(5000, 5600),
		`ALTER TABLE events REORGANIZE PARTITION p2, p3 INTO (PARTITION p23 VALUES LESS THAN (9000))`,
		`UPDATE events SET seq = seq + 3000, kind = 'moved again' WHERE tenant = 'late' AND seq % 3 = 0`)
	e.waitCaughtUp(r, 2*time.Minute)
	e.stop(r)
	e.mustVerify(3)

	// TRUNCATE PARTITION deletes rows without row events: floe run stops
	// before committing past it, naming the fix. A column added with a
	// default, later in the binlog, fills rows without row events too.
	// After floe resnapshot the new snapshot of events passes both, and
	// every table is equal again.
	r = e.start()
	e.waitStreaming(r)
	e.sql(`ALTER TABLE events TRUNCATE PARTITION p1`, `UPDATE accounts SET name = 'after truncate' WHERE id % 9 = 0`,
		`ALTER TABLE events ADD COLUMN note VARCHAR(10) NOT NULL DEFAULT 'filled'`, `UPDATE events SET note = 'set' WHERE seq % 5 = 0`)
	select {
	case <-r.Exited:
	case <-time.After(2 * time.Minute):
		t.Fatalf("floe run goes on after TRUNCATE PARTITION; log:\n%s", e.tail(40))
	}
	if log := e.tail(10); r.Err == nil || !strings.Contains(log, "rows removed by TRUNCATE PARTITION") || !strings.Contains(log, "floe resnapshot") {
		t.Fatalf("floe run exited with %v, want a stop naming TRUNCATE PARTITION and floe resnapshot; log:\n%s", r.Err, log)
	}
	if out, code := resnapshotCLI(t, e.pipelineEnv, "my_parts.events"); code != 0 {
		t.Fatalf("floe resnapshot: exit %d\n%s", code, out)
	}
	r = e.start()
	e.waitCaughtUp(r, 2*time.Minute)
	e.stop(r)
	e.mustVerify(3)
}
