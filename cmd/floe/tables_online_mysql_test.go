package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/checkpoint"
	"github.com/floe-cdc/floe/deploy/e2e"
	"github.com/floe-cdc/floe/deploy/testdb"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/schema"
)

// newTablesOnlineEnv starts a MariaDB for the test with database db and a
// config capturing floe_marker and every table named t_*; it creates
// floe_marker and the tables of ddl.
func newTablesOnlineEnv(t *testing.T, db, mode string, ddl ...string) *mysqlEnv {
	t.Helper()
	return newTablesOnlineEnvOn(t, testdb.MariaDBOptions{}, db, mode, ddl...)
}

// newTablesOnlineEnvOn is newTablesOnlineEnv on a server started with opts.
func newTablesOnlineEnvOn(t *testing.T, opts testdb.MariaDBOptions, db, mode string, ddl ...string) *mysqlEnv {
	t.Helper()
	needServers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	m := testdb.StartMariaDBForTest(ctx, t, opts)
	root := m.DatabaseForTest(t, db, "u_"+db, testPassword, "")
	f := e2e.NewPipeline(t, floeBin)
	e := &mysqlEnv{pipelineEnv: &pipelineEnv{t: t, db: db, dir: f.Dir, config: f.Config, logPath: f.Log}, m: m, root: root}
	f.WriteConfig(e2e.Config{Name: db,
		Source: e2e.Source{Type: "mysql", Port: m.Port, User: "u_" + db, Tables: db + `\.(floe_marker|t_.*)`,
			Extra: "  snapshot.parallelism: 2\n  snapshot.chunk-rows: 100\n"},
		Sink: e2e.Sink{Mode: mode}})
	e.sql(append([]string{"CREATE TABLE floe_marker (id INT PRIMARY KEY, at DATETIME(6))"}, ddl...)...)
	return e
}

// sourceRows reads id -> v of a source table.
func sourceRows(t *testing.T, db *sql.DB, table string) map[int64]string {
	t.Helper()
	rows, err := db.Query("SELECT id, v FROM " + table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var v string
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		out[id] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// icebergRows reads id -> v of an upsert sink table.
func icebergRows(t *testing.T, e *pipelineEnv, name string) map[int64]string {
	t.Helper()
	tbl := e.sinkTable(name)
	idCol, vCol := tbl.Layout().Index("id"), tbl.Layout().Index("v")
	out := map[int64]string{}
	err := tbl.Scan(context.Background(), func(r schema.Row) error {
		id, ok := r[idCol].(int64)
		if !ok {
			return fmt.Errorf("id %v is %T", r[idCol], r[idCol])
		}
		if _, dup := out[id]; dup {
			return fmt.Errorf("%s holds key %d twice", name, id)
		}
		out[id] = fmt.Sprint(r[vCol])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// churn runs n transactions of inserts, updates and deletes on table,
// keys from base.
func (e *mysqlEnv) churn(table string, base, n int) {
	e.t.Helper()
	for i := range n {
		k := base + i
		e.sql(fmt.Sprintf("INSERT INTO %s VALUES (%d, 'ins %d')", table, k, k),
			fmt.Sprintf("UPDATE %s SET v = CONCAT(v, ' upd') WHERE id = %d", table, 1+(k*7)%100),
			fmt.Sprintf("DELETE FROM %s WHERE id = %d", table, 100+(k*13)%400))
	}
}

// waitTablesCommitted waits until each named Iceberg table, one with
// changes, has committed the server's current position, so that a stop
// cannot catch one of them with its commit in flight (a quiet table
// moves up only after the idle commit interval).
func (e *mysqlEnv) waitTablesCommitted(r *running, names ...string) {
	e.t.Helper()
	target, err := e2e.MySQLPosition(e.root, e.m.Flavor)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx := context.Background()
	cfg := e.loadConfig()
	cat, err := openCatalog(ctx, cfg, newLogger(cfg.Log, io.Discard))
	if err != nil {
		e.t.Fatal(err)
	}
	defer cat.Close()
	for _, name := range names {
		id := lakewriter.Ident{Namespace: cfg.Sink.Namespace, Name: name}
		if err := e2e.WaitCommitted(ctx, cat, id, cfg.Pipeline.Name, target, 2*time.Minute, r, nil); err != nil {
			e.t.Fatalf("%s: %v; log:\n%s", name, err, e.tail(60))
		}
	}
}

// TestMySQLTablesOnlineDrop: a captured table dropped while floe run
// streams is kept in Iceberg, holding exactly the source's rows before
// the drop, marked with floe.dropped-at; the other table goes on
// streaming (floe verify equal), the run does not stop, and floe status
// shows the table as dropped. A SIGKILL and restart after the drop do not
// bring the table back.
func TestMySQLTablesOnlineDrop(t *testing.T) {
	const ddl = "(id BIGINT PRIMARY KEY, v VARCHAR(100) NOT NULL)"
	e := newTablesOnlineEnv(t, "my_tdrop", "upsert", "CREATE TABLE t_keep "+ddl, "CREATE TABLE t_gone "+ddl)
	for _, tbl := range []string{"t_keep", "t_gone"} {
		e.sql(fmt.Sprintf("INSERT INTO %s SELECT seq, CONCAT('seed ', seq) FROM %s", tbl, e.m.Seq(1, 600)))
	}
	r := e.start()
	e.waitStreaming(r)
	e.churn("t_keep", 1000, 20)
	e.churn("t_gone", 1000, 20)
	// One transaction over both right before the drop.
	e.sql("BEGIN", "UPDATE t_keep SET v = 'last before' WHERE id = 5", "UPDATE t_gone SET v = 'last before' WHERE id = 5", "COMMIT")
	want := sourceRows(t, e.root, "t_gone")
	e.sql("DROP TABLE t_gone")
	e.churn("t_keep", 2000, 20)
	e.waitCaughtUp(r, 2*time.Minute)
	select {
	case <-r.Exited:
		t.Fatalf("floe run exited after the drop: %v; log:\n%s", r.Err, e.tail(40))
	default:
	}
	if !strings.Contains(e.tail(100000), "captured table dropped at the source") {
		t.Fatalf("no drop logged; log:\n%s", e.tail(40))
	}
	e.kill(r)
	r = e.start()
	e.waitStreaming(r)
	e.churn("t_keep", 3000, 5)
	e.waitCaughtUp(r, 2*time.Minute)
	e.waitTablesCommitted(r, "t_keep")
	e.stop(r)
	t.Logf("floe verify:\n%s", e.mustVerify(2))

	got := icebergRows(t, e.pipelineEnv, "t_gone")
	if !maps.Equal(got, want) {
		missing, extra := 0, 0
		for k, v := range want {
			if got[k] != v {
				missing++
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				extra++
			}
		}
		t.Fatalf("t_gone in iceberg (%d rows) is not the source before the drop (%d rows): %d missing or different, %d extra", len(got), len(want), missing, extra)
	}
	tbl := e.sinkTable("t_gone")
	if at := tbl.Property(checkpoint.PropDroppedAt); at == "" || tbl.Property(checkpoint.PropDroppedTime) == "" {
		t.Fatalf("t_gone is not marked dropped: %s=%q", checkpoint.PropDroppedAt, at)
	}
	out, code := e.runVerb("status", "--config", e.config)
	if code != 0 || !strings.Contains(out, "dropped at") {
		t.Fatalf("floe status (exit %d) does not show t_gone dropped:\n%s", code, out)
	}
}

// TestMySQLTablesOnlineAdd: a table created while floe run streams that
// source.tables matches is captured without a restart of the process:
// its rows inserted before and after floe notices it are snapshotted and
// streamed, while the other table keeps streaming; a SIGKILL right when
// the new table is being added and a restart lose and duplicate nothing
// (floe verify equal, and no key twice in Iceberg); the table dropped
// afterwards and created again under its name is reset and captured anew.
func TestMySQLTablesOnlineAdd(t *testing.T) {
	const ddl = "(id BIGINT PRIMARY KEY, v VARCHAR(100) NOT NULL)"
	e := newTablesOnlineEnv(t, "my_tadd", "upsert", "CREATE TABLE t_old "+ddl)
	e.sql(fmt.Sprintf("INSERT INTO t_old SELECT seq, CONCAT('seed ', seq) FROM %s", e.m.Seq(1, 600)))
	r := e.start()
	e.waitStreaming(r)
	e.churn("t_old", 1000, 10)
	// A table created under a name source.tables does not match, filled,
	// then renamed to one it matches: its snapshot (some 500 chunks)
	// is long enough to be killed in.
	e.sql("CREATE TABLE stage_new "+ddl, fmt.Sprintf("INSERT INTO stage_new SELECT seq, CONCAT('new ', seq) FROM %s", e.m.Seq(1, 50_000)),
		"RENAME TABLE stage_new TO t_new")
	e.churn("t_new", 100_000, 10)
	// Killed twice: once its snapshot is planned (before its first
	// commit), and at its first commit after the restart (inside the
	// chunks' watermark window). The restarts log what they recovered.
	e.floe().WaitLog(r, "table=my_tadd.t_new chunks=", time.Minute)
	e.kill(r)
	e.churn("t_new", 150_000, 5)
	r = e.start()
	e.floe().WaitLog(r, "table=my_tadd.t_new checkpoint=", time.Minute)
	e.kill(r)
	e.churn("t_old", 2000, 5)
	e.churn("t_new", 200_000, 5)
	r = e.start()
	e.churn("t_new", 300_000, 10)
	e.waitStreaming(r)
	// The kill inside t_new's snapshot beside the stream makes this run
	// read it again beside the stream (checkpoint.CauseBesideInterrupted):
	// caught up is not enough, its snapshot must be complete.
	e.waitLogCount(r, `msg="snapshot complete" pipeline=my_tadd table=my_tadd.t_new`, 1, 3*time.Minute)
	e.churn("t_new", 400_000, 10)
	e.churn("t_old", 4000, 10)
	e.waitCaughtUp(r, 2*time.Minute)
	e.waitTablesCommitted(r, "t_old", "t_new")
	e.stop(r)
	for _, l := range strings.Split(e.tail(100000), "\n") {
		if strings.Contains(l, `msg="table recovered"`) && strings.Contains(l, "t_new") {
			t.Log(l) // after the kill: the snapshot's progress it resumed from
		}
	}
	if got, want := icebergRows(t, e.pipelineEnv, "t_new"), sourceRows(t, e.root, "t_new"); !maps.Equal(got, want) {
		t.Fatalf("t_new in iceberg (%d rows) differs from the source (%d rows)", len(got), len(want))
	}
	t.Logf("floe verify:\n%s", e.mustVerify(3))

	// Dropped and created again under its name, while floe runs.
	r = e.start()
	e.waitStreaming(r)
	e.sql("DROP TABLE t_new", "CREATE TABLE t_new "+ddl, "INSERT INTO t_new VALUES (1, 'again'), (2, 'again')")
	e.churn("t_new", 5000, 5)
	e.waitCaughtUp(r, 2*time.Minute)
	e.waitTablesCommitted(r, "t_new") // t_old is quiet: nothing of it in flight
	e.stop(r)
	t.Logf("floe verify:\n%s", e.mustVerify(3))
	// A kill inside t_new's snapshot beside the stream resets it too
	// (checkpoint.CauseBesideInterrupted); one reset is for the table
	// created again.
	recreated := 0
	for _, l := range strings.Split(e.tail(100000), "\n") {
		if strings.Contains(l, "table reset for its new snapshot") && strings.Contains(l, "cause="+checkpoint.CauseRecreated) {
			recreated++
		}
	}
	if recreated != 1 {
		t.Fatalf("%d table resets for a table created again logged, want 1 (t_new); log:\n%s", recreated, e.tail(60))
	}
	if at := e.sinkTable("t_new").Property(checkpoint.PropDroppedAt); at != "" {
		t.Fatalf("t_new created again still carries %s=%s", checkpoint.PropDroppedAt, at)
	}
}

// TestMySQLTableDroppedWhileStopped: on MariaDB, a table dropped while
// floe was stopped is no longer found at the next start; its Iceberg
// table keeps the rows of its last commit and is marked floe.dropped-at,
// and the run goes on with the other tables.
func TestMySQLTableDroppedWhileStopped(t *testing.T) {
	const ddl = "(id BIGINT PRIMARY KEY, v VARCHAR(100) NOT NULL)"
	e := newTablesOnlineEnv(t, "my_tdrop_away", "upsert", "CREATE TABLE t_keep "+ddl, "CREATE TABLE t_gone "+ddl)
	for _, tbl := range []string{"t_keep", "t_gone"} {
		e.sql(fmt.Sprintf("INSERT INTO %s SELECT seq, CONCAT('seed ', seq) FROM %s", tbl, e.m.Seq(1, 300)))
	}
	r := e.start()
	e.waitStreaming(r)
	e.churn("t_gone", 1000, 10)
	e.waitCaughtUp(r, 2*time.Minute)
	e.waitTablesCommitted(r, "t_gone")
	e.stop(r)
	want := icebergRows(t, e.pipelineEnv, "t_gone")
	e.sql("DROP TABLE t_gone")
	r = e.start()
	e.waitStreaming(r)
	e.churn("t_keep", 2000, 10)
	e.waitCaughtUp(r, 2*time.Minute)
	e.stop(r)
	t.Logf("floe verify:\n%s", e.mustVerify(2))
	if !strings.Contains(e.tail(1<<20), "captured table dropped while floe was away") {
		t.Fatalf("the drop of t_gone while floe was stopped was not found; log:\n%s", e.tail(40))
	}
	if e.sinkTable("t_gone").Property(checkpoint.PropDroppedAt) == "" {
		t.Fatalf("t_gone is not marked %s", checkpoint.PropDroppedAt)
	}
	if got := icebergRows(t, e.pipelineEnv, "t_gone"); !maps.Equal(got, want) {
		t.Fatalf("t_gone in iceberg changed after its mark: %d rows, had %d", len(got), len(want))
	}
}
