package main

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/checkpoint"
	"github.com/floe-cdc/floe/schema"
)

// TestPostgresTableDroppedWhileRunning: a captured table dropped while
// floe run streams on PostgreSQL (pgoutput sends nothing for the DROP,
// and the table leaves the publication with it) is found dropped by the
// identity check before a checkpoint's commits, committed until the
// stream passes the point the drop is bounded by, then marked
// (floe.dropped-at) and retired: its Iceberg rows are the source's rows
// before the drop, the other table goes on (floe verify equal), and
// floe run does not stop.
func TestPostgresTableDroppedWhileRunning(t *testing.T) {
	e := newContinuityEnv(t, "pg_tdrop", "")
	r := e.start()
	e.waitCaughtUp(r, 2*time.Minute)
	e.changeRows("a2", 1000)
	e.changeRows("a1", 1000)
	want := map[string]string{}
	rows, err := e.conn().Query(context.Background(), "SELECT id::text, coalesce(v, 'NULL') || '|' || coalesce(n::text, 'NULL') FROM a2")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		want[k] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	e.exec("DROP TABLE a2")
	for i := range 5 {
		e.changeRows("a1", 2000+100*i)
		time.Sleep(300 * time.Millisecond)
	}
	e.floe().WaitLog(r, "captured table dropped at the source; its iceberg table is kept", time.Minute)
	e.changeRows("a1", 3000)
	e.waitCaughtUp(r, 2*time.Minute)
	select {
	case <-r.Exited:
		t.Fatalf("floe run exited after a2 was dropped: %v; log:\n%s", r.Err, e.tail(40))
	default:
	}
	e.stop(r)
	t.Logf("floe verify:\n%s", e.mustVerify(1))

	tbl := e.sinkTable("a2")
	if tbl.Property(checkpoint.PropDroppedAt) == "" {
		t.Fatalf("a2 is not marked dropped; log:\n%s", e.tail(40))
	}
	layout := tbl.Layout()
	id, v, n := layout.Index("id"), layout.Index("v"), layout.Index("n")
	got := map[string]string{}
	str := func(x any) string {
		if x == nil {
			return "NULL"
		}
		return fmt.Sprint(x)
	}
	if err := tbl.Scan(context.Background(), func(r schema.Row) error {
		got[str(r[id])] = str(r[v]) + "|" + str(r[n])
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, want) {
		t.Fatalf("a2 in iceberg (%d rows) is not the source before the drop (%d rows)", len(got), len(want))
	}
	if !strings.Contains(e.tail(1<<20), "retired once the stream passes the drop") {
		t.Fatal("the drop was not found by the identity check")
	}
}

// TestPostgresTableAddedWhileRunning: a table created while floe run
// streams on PostgreSQL that source.tables matches is found by the
// periodic look for new tables, added to the publication by the next
// attempt inside the same process, snapshotted and streamed, while the
// other tables go on; a SIGKILL during the add and a restart lose and
// duplicate nothing (floe verify equal for every table).
func TestPostgresTableAddedWhileRunning(t *testing.T) {
	needServers(t)
	e := newPipelineEnv(t, "pg_tadd", `public\.(a1|a2|a3)`, "upsert", "")
	e.exec(continuitySchema, "ALTER TABLE a1 OWNER TO u_pg_tadd", "ALTER TABLE a2 OWNER TO u_pg_tadd")
	r := e.start()
	e.waitCaughtUp(r, 2*time.Minute)
	e.changeRows("a1", 1000)
	e.exec("CREATE TABLE a3 (id int PRIMARY KEY, v text, n int)", "ALTER TABLE a3 OWNER TO u_pg_tadd",
		"INSERT INTO a3 SELECT g, 'a3 ' || g, g FROM generate_series(1, 20000) g")
	e.changeRows("a3", 30000)
	e.floe().WaitLog(r, "restarting the stream to capture a new table", time.Minute)
	e.floe().WaitLog(r, "table=public.a3 chunks=", time.Minute)
	e.kill(r) // during the new table's snapshot
	e.changeRows("a3", 40000)
	e.changeRows("a1", 2000)
	e.catchUp(func() { e.changeRows("a3", 50000); e.changeRows("a2", 50000) })
	t.Logf("floe verify:\n%s", e.mustVerify(3))
	log := e.tail(1 << 20)
	if !strings.Contains(log, `msg="table recovered" pipeline=pg_tadd table=public.a3`) {
		t.Fatalf("a3 was never recovered; log:\n%s", e.tail(40))
	}
	// The new table was read beside the stream (the others committing
	// meanwhile), not before it.
	if !regexp.MustCompile(`msg="snapshot planned" pipeline=pg_tadd table=public.a3 .*beside_stream=true`).MatchString(log) {
		t.Fatalf("a3 was not snapshotted beside the stream; log:\n%s", e.tail(40))
	}
}

// TestPostgresTableDroppedWhileStopped: a table dropped while floe was
// stopped is no longer found at the next start; its Iceberg table, which
// holds the rows of its last commit, is marked floe.dropped-at (the
// source's position at that start) and the run goes on. A table that
// still exists but is no longer matched by source.tables is left
// unmarked.
func TestPostgresTableDroppedWhileStopped(t *testing.T) {
	e := newContinuityEnv(t, "pg_tdrop_away", "")
	e.exec("CREATE TABLE a3 (id int PRIMARY KEY, v text, n int)", "ALTER TABLE a3 OWNER TO u_pg_tdrop_away",
		"INSERT INTO a3 SELECT g, 'a3 ' || g, g FROM generate_series(1, 300) g")
	rewriteConfig(t, e, `public\.(a1|a2)`, `public\.(a1|a2|a3)`)
	e.catchUp(func() { e.changeRows("a2", 1000); e.changeRows("a3", 1000) })
	want := sinkRowsByID(t, e, "a2")
	e.exec("DROP TABLE a2")
	rewriteConfig(t, e, `public\.(a1|a2|a3)`, `public\.(a1|a2)`) // a3 still exists, no longer captured
	e.catchUp(func() { e.changeRows("a1", 2000) })
	t.Logf("floe verify:\n%s", e.mustVerify(1))
	log := e.tail(1 << 20)
	if !strings.Contains(log, "captured table dropped while floe was away") || !strings.Contains(log, "table=public.a2") {
		t.Fatalf("the drop of a2 while floe was stopped was not found; log:\n%s", e.tail(40))
	}
	if e.sinkTable("a2").Property(checkpoint.PropDroppedAt) == "" {
		t.Fatalf("a2 is not marked %s", checkpoint.PropDroppedAt)
	}
	if got := sinkRowsByID(t, e, "a2"); !maps.Equal(got, want) {
		t.Fatalf("a2 in iceberg changed after its mark: %d rows, had %d", len(got), len(want))
	}
	if p := e.sinkTable("a3").Property(checkpoint.PropDroppedAt); p != "" {
		t.Fatalf("a3, which exists but is no longer captured, is marked dropped (%s)", p)
	}
}

// sinkRowsByID reads Iceberg table name as id -> v, both printed.
func sinkRowsByID(t *testing.T, e *pipelineEnv, name string) map[string]string {
	t.Helper()
	tbl := e.sinkTable(name)
	id, v := tbl.Layout().Index("id"), tbl.Layout().Index("v")
	out := map[string]string{}
	if err := tbl.Scan(context.Background(), func(r schema.Row) error {
		out[fmt.Sprint(r[id])] = fmt.Sprint(r[v])
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}
