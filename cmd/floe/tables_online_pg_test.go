package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/schema"
)

// TestPostgresTableDroppedWhileRunning pins what PostgreSQL does today
// with a captured table dropped while floe run streams (MySQL/MariaDB
// follow a drop online; see TestMySQLTablesOnlineDrop): pgoutput sends
// nothing for the DROP, the table leaves the publication with it, and
// the identity check before the next checkpoint's commits stops floe run
// with an error naming the table. The next start no longer discovers
// it and streams the other table on (floe verify equal); the dropped
// table's Iceberg table stays, unmarked, without its changes after its
// last commit (logged).
func TestPostgresTableDroppedWhileRunning(t *testing.T) {
	e := newContinuityEnv(t, "pg_tdrop", "")
	r := e.start()
	e.waitCaughtUp(r, 2*time.Minute)
	e.changeRows("a2", 1000)
	e.changeRows("a1", 1000)
	var before int
	if err := e.conn().QueryRow(context.Background(), "SELECT count(*) FROM a2").Scan(&before); err != nil {
		t.Fatal(err)
	}
	e.exec("DROP TABLE a2")
	e.changeRows("a1", 2000)
	select {
	case <-r.Exited:
	case <-time.After(time.Minute):
		t.Fatalf("floe run goes on after a2 was dropped; log:\n%s", e.tail(40))
	}
	if r.Err == nil || !strings.Contains(e.tail(20), "public.a2") {
		t.Fatalf("floe run exited with %v, not naming public.a2; log:\n%s", r.Err, e.tail(20))
	}
	for _, l := range strings.Split(e.tail(20), "\n") {
		if strings.Contains(l, "left the publication") {
			t.Logf("stopped: %s", l)
		}
	}
	e.catchUp(func() { e.changeRows("a1", 3000) })
	t.Logf("floe verify:\n%s", e.mustVerify(1))
	n := 0
	if err := e.sinkTable("a2").Scan(context.Background(), func(schema.Row) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	// Measured, not asserted: the changes of a2 after its last commit
	// are lost today (the gap the README states).
	t.Logf("a2: %d rows at the source before the drop, %d in iceberg", before, n)
	if tbl := e.sinkTable("a2"); tbl.Property("floe.dropped-at") != "" {
		t.Fatalf("a2 is marked dropped on PostgreSQL, which this test says it is not: update the test and the README")
	}
}
