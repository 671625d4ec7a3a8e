package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/deploy/testdb"
)

// The tests of this file show that Floe never streams a table on past a
// gap in its changes: a table left out of the config for a while, one
// dropped and created again, one taken out of the publication while
// streaming, and a pipeline pointed at another catalog in between, each
// end with `floe verify` equal, the table re-snapshotted online while the
// others resume.

const continuitySchema = `CREATE TABLE a1 (id int PRIMARY KEY, v text, n int);
CREATE TABLE a2 (id int PRIMARY KEY, v text, n int);
INSERT INTO a1 SELECT g, 'a1 ' || g, g FROM generate_series(1, 300) g;
INSERT INTO a2 SELECT g, 'a2 ' || g, g FROM generate_series(1, 300) g;`

// newContinuityEnv creates a pipeline over a1 and a2 (of 300 rows each).
func newContinuityEnv(t *testing.T, db, extraSource string) *pipelineEnv {
	t.Helper()
	needServers(t)
	e := newPipelineEnv(t, db, `public\.(a1|a2)`, "upsert", extraSource)
	e.exec(continuitySchema)
	e.exec(fmt.Sprintf("ALTER TABLE a1 OWNER TO u_%s", db), fmt.Sprintf("ALTER TABLE a2 OWNER TO u_%s", db))
	return e
}

// changeRows runs a few transactions on table: inserts from key base,
// updates, deletes.
func (e *pipelineEnv) changeRows(table string, base int) {
	e.t.Helper()
	e.exec(fmt.Sprintf(`INSERT INTO %[1]s SELECT g, '%[1]s new ' || g, g FROM generate_series(%[2]d, %[2]d + 49) g`, table, base),
		fmt.Sprintf(`UPDATE %s SET v = v || ' updated', n = n + 1000 WHERE id %% 7 = %d`, table, base%7),
		fmt.Sprintf(`DELETE FROM %s WHERE id %% 11 = %d`, table, base%11))
}

// catchUp runs floe until it has committed everything written so far,
// writing while it runs, and stops it.
func (e *pipelineEnv) catchUp(while func()) {
	e.t.Helper()
	r := e.startStreaming()
	if while != nil {
		while()
	}
	e.waitCaughtUp(r, 2*time.Minute)
	e.stop(r)
}

// startStreaming starts floe run and waits until this run (not an
// earlier one in the same log) streams.
func (e *pipelineEnv) startStreaming() *running {
	e.t.Helper()
	before := strings.Count(e.tail(1<<20), "msg=streaming")
	r := e.start()
	for deadline := time.Now().Add(2 * time.Minute); strings.Count(e.tail(1<<20), "msg=streaming") == before; {
		select {
		case <-r.Exited:
			e.t.Fatalf("floe run exited: %v; log:\n%s", r.Err, e.tail(40))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("floe run did not start streaming; log:\n%s", e.tail(40))
		}
	}
	return r
}

// snapshotsOf counts the snapshots floe planned of a table in the log.
func (e *pipelineEnv) snapshotsOf(table string) int {
	return strings.Count(e.tail(1<<20), `msg="snapshot planned" pipeline=`+e.db+" table="+table+" ")
}

// requireReset checks the log says table was reset for cause, once.
func (e *pipelineEnv) requireReset(table, cause string) {
	e.t.Helper()
	log := e.tail(1 << 20)
	want := "table=" + table + " cause=" + cause
	if n := strings.Count(log, `level=WARN msg="table lost continuity with its source; it is reset and snapshotted again while the other tables resume" pipeline=`+e.db+" "+want); n != 1 {
		e.t.Fatalf("the log reports %d resets with %q, want 1; log:\n%s", n, want, e.tail(80))
	}
}

// TestContinuityTableLeftOut: a table left out of source.tables for a
// run, while rows of it change, is re-snapshotted when it is listed again
// (snapshot.mode never refuses, naming it and floe resnapshot); the other
// table resumes without being read again.
func TestContinuityTableLeftOut(t *testing.T) {
	e := newContinuityEnv(t, "cont_left", "")
	e.catchUp(func() { e.changeRows("a1", 1000); e.changeRows("a2", 1000) })
	e.mustVerify(2)

	rewriteConfig(t, e, `tables: public\.(a1|a2)`, `tables: public\.a1`)
	e.catchUp(func() { e.changeRows("a1", 2000); e.changeRows("a2", 2000) })
	rewriteConfig(t, e, `tables: public\.a1`, `tables: public\.(a1|a2)`)
	e.changeRows("a2", 3000)

	rewriteConfig(t, e, "  snapshot.parallelism: 2\n", "  snapshot.parallelism: 2\n  snapshot.mode: never\n")
	out, code := runFloe(t, e, "run", "--config", e.config)
	expectOneLineError(t, out, code, "table public.a2 cannot be continued: the source does not carry its changes",
		"source.snapshot.mode is never", "floe resnapshot --config FILE --table public.a2")
	rewriteConfig(t, e, "  snapshot.mode: never\n", "")

	e.catchUp(func() { e.changeRows("a1", 4000); e.changeRows("a2", 4000) })
	e.mustVerify(2)
	e.requireReset("public.a2", "not-captured")
	if n, m := e.snapshotsOf("public.a1"), e.snapshotsOf("public.a2"); n != 1 || m != 2 {
		t.Errorf("a1 snapshotted %d times, a2 %d times; want 1 and 2", n, m)
	}
	if !strings.Contains(e.tail(1<<20), `msg="snapshot of new tables is exact"`) {
		t.Error("the re-snapshot was not taken under an exported snapshot")
	}
}

// TestContinuityTableRecreated: a captured table dropped and created
// again while floe is stopped is re-snapshotted: the old table's rows go,
// the new table's come.
func TestContinuityTableRecreated(t *testing.T) {
	e := newContinuityEnv(t, "cont_recreate", "")
	e.catchUp(func() { e.changeRows("a2", 1000) })
	e.exec(`DROP TABLE a2`, `CREATE TABLE a2 (id int PRIMARY KEY, v text, n int)`,
		`INSERT INTO a2 SELECT g, 'again ' || g, g FROM generate_series(500, 650) g`, "ALTER TABLE a2 OWNER TO u_cont_recreate")
	e.catchUp(func() { e.changeRows("a1", 2000); e.changeRows("a2", 2000) })
	e.mustVerify(2)
	e.requireReset("public.a2", "not-captured")
}

// TestContinuityOtherCatalog: the same pipeline run against a second,
// fresh catalog and warehouse moves the slot past the first catalog's
// tables; run against the first again, every table there is found behind
// the slot and re-snapshotted instead of streamed on.
func TestContinuityOtherCatalog(t *testing.T) {
	e := newContinuityEnv(t, "cont_catalog", "")
	e.catchUp(func() { e.changeRows("a1", 1000) })

	other := *e
	other.dir = filepath.Join(e.dir, "other")
	other.config = filepath.Join(other.dir, "floe.yaml")
	other.logPath = filepath.Join(other.dir, "floe.log")
	cfg, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(other.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other.config, []byte(strings.ReplaceAll(string(cfg), e.dir+"/", other.dir+"/")), 0o644); err != nil {
		t.Fatal(err)
	}
	other.catchUp(func() { e.changeRows("a1", 2000); e.changeRows("a2", 2000) })
	other.mustVerify(2)

	e.catchUp(func() { e.changeRows("a2", 3000) })
	e.mustVerify(2)
	e.requireReset("public.a1", "position")
	e.requireReset("public.a2", "position")
}

// TestContinuityPublicationEdited: a table taken out of the publication
// while floe streams stops the run, naming the table, before any commit
// past that point; the next run re-snapshots it.
func TestContinuityPublicationEdited(t *testing.T) {
	e := newContinuityEnv(t, "cont_pub", "")
	r := e.start()
	e.waitCaughtUp(r, 2*time.Minute)
	e.exec("ALTER PUBLICATION floe_cont_pub DROP TABLE a2")
	e.changeRows("a2", 1000)
	e.changeRows("a1", 1000)
	select {
	case <-r.Exited:
	case <-time.After(time.Minute):
		t.Fatalf("floe run goes on after a2 left the publication; log:\n%s", e.tail(40))
	}
	if r.Err == nil || !strings.Contains(e.tail(20), "table public.a2 left the publication while floe ran") {
		t.Fatalf("floe run exited with %v; log:\n%s", r.Err, e.tail(20))
	}
	e.catchUp(func() { e.changeRows("a2", 2000) })
	e.mustVerify(2)
	e.requireReset("public.a2", "not-captured")
}

// TestUndecodableValueResnapshot: with pipeline.dead-letter: off, a value
// the decoder rejects (a 2-D array in an int[] column) stops the
// pipeline, naming the fix; once the
// row is deleted and the table re-snapshotted, the next run skips the old
// change (its table's new snapshot is past it) and every table verifies.
func TestUndecodableValueResnapshot(t *testing.T) {
	needServers(t)
	e := newPipelineEnv(t, "undecodable", `public\.(arr|other)`, "upsert", "")
	e.exec(`CREATE TABLE arr (id int PRIMARY KEY, xs int[])`, `CREATE TABLE other (id int PRIMARY KEY, v text)`,
		`INSERT INTO arr SELECT g, ARRAY[g, g + 1] FROM generate_series(1, 100) g`,
		`INSERT INTO other SELECT g, 'o' || g FROM generate_series(1, 100) g`,
		"ALTER TABLE arr OWNER TO u_undecodable", "ALTER TABLE other OWNER TO u_undecodable")
	rewriteConfig(t, e, "  checkpoint-interval: 1s\n", "  checkpoint-interval: 1s\n  dead-letter: off\n")
	r := e.start()
	e.waitCaughtUp(r, 2*time.Minute)
	e.exec(`INSERT INTO arr VALUES (1000, '{{1,2},{3,4}}')`, `UPDATE other SET v = 'later' WHERE id < 10`)
	select {
	case <-r.Exited:
	case <-time.After(time.Minute):
		t.Fatalf("floe run goes on after an undecodable value; log:\n%s", e.tail(40))
	}
	if log := e.tail(5); r.Err == nil || !strings.Contains(log, `column xs (int4[]): value "{{1,2},{3,4}}"`) ||
		!strings.Contains(log, "floe resnapshot --config FILE --table public.arr") {
		t.Fatalf("floe run exited with %v; log:\n%s", r.Err, log)
	}

	e.exec(`DELETE FROM arr WHERE id = 1000`, `UPDATE arr SET xs = '{7}' WHERE id = 5`)
	if out, code := resnapshotCLI(t, e, "public.arr"); code != 0 {
		t.Fatalf("floe resnapshot: exit %d\n%s", code, out)
	}
	e.catchUp(func() { e.exec(`UPDATE arr SET xs = '{8,9}' WHERE id = 6`, `UPDATE other SET v = 'last' WHERE id = 1`) })
	e.mustVerify(2)
}

// TestFastShutdownWhileIdle: PostgreSQL's fast shutdown waits for every
// walsender to have its WAL confirmed. With floe running and its tables
// idle, the walsender's request for a reply is answered by committing the
// quiet tables at its WAL end and acknowledging that, so the server stops
// within a few seconds instead of waiting for floe to go away.
func TestFastShutdownWhileIdle(t *testing.T) {
	needServers(t)
	ctx := context.Background()
	pg, err := testdb.StartPostgres(ctx, testdb.PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	e := newPipelineEnv(t, "fastshut", `public\.(a1|a2)`, "upsert", "")
	dsn, err := pg.CreateDatabase(ctx, e.db, "u_"+e.db, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	e.pg, e.dsn = pg, dsn
	rewriteConfig(t, e, "port: "+strconv.Itoa(sharedPG.Port), "port: "+strconv.Itoa(pg.Port))
	e.exec(continuitySchema)
	e.exec("ALTER TABLE a1 OWNER TO u_fastshut", "ALTER TABLE a2 OWNER TO u_fastshut")

	r := e.start()
	e.waitCaughtUp(r, 2*time.Minute)
	e.changeRows("a1", 1000) // committed at the next checkpoint; a2 stays quiet
	time.Sleep(3 * time.Second)
	start := time.Now()
	if err := pg.Stop(); err != nil { // SIGINT: fast shutdown; SIGKILL after 10 s
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("fast shutdown took %v", took)
	if took > 5*time.Second {
		t.Fatalf("fast shutdown took %v while floe ran; log:\n%s", took, e.tail(40))
	}
	select {
	case <-r.Exited:
		t.Fatalf("floe run exited when the server stopped: %v; log:\n%s", r.Err, e.tail(40))
	default:
	}
}

// TestMySQLContinuityTableLeftOut: on MariaDB a table left out of
// source.tables for a run is correct when it is listed again without a
// re-snapshot: the binlog is read again from the lowest committed
// position, and each table skips what it holds.
func TestMySQLContinuityTableLeftOut(t *testing.T) {
	e := newMySQLEnv(t, "my_cont", "upsert", "")
	e.seed(500)
	w := &mysqlWorkload{e: e, rng: rand.New(rand.NewPCG(7, 8)), next: 500}
	work := func() {
		for range 40 {
			if err := w.step(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	run := func() {
		r := e.start()
		work()
		e.waitCaughtUp(r, 2*time.Minute)
		e.stop(r)
	}
	run()
	rewriteConfig(t, e.pipelineEnv, `my_cont\.(accounts|events|floe_marker)`, `my_cont\.(accounts|floe_marker)`)
	run() // events changes, uncaptured
	rewriteConfig(t, e.pipelineEnv, `my_cont\.(accounts|floe_marker)`, `my_cont\.(accounts|events|floe_marker)`)
	run()
	e.mustVerify(3)
	if n := strings.Count(e.tail(1<<20), `msg="snapshot planned"`); n != 3 {
		t.Errorf("%d snapshots planned, want 3 (each table once, none again)", n)
	}
}
