package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/capture/postgres"
	"github.com/floe-cdc/floe/schema"
)

// The pipeline.schema-change-behavior tests: one table t streamed while
// it is altered (a column added, one dropped, one widened int -> bigint,
// one renamed), with rows changed before and after; each behavior's
// Iceberg schema and rows are compared with what it promises, row by row.
const scbSchema = `CREATE TABLE t (id bigint PRIMARY KEY, a int NOT NULL, b text, c text, d int);
INSERT INTO t SELECT g, g, 'b' || g, 'c' || g, g * 10 FROM generate_series(1, 60) g;`

// scbAlters are the schema changes; scbAfter the DML in the new layout.
// Rows touched after the drop of c: id % 3 = 0 and the inserted 61-70;
// id % 7 = 0 are deleted.
var (
	scbAlters = []string{`ALTER TABLE t ADD COLUMN x text`, `ALTER TABLE t DROP COLUMN c`,
		`ALTER TABLE t ALTER COLUMN d TYPE bigint`, `ALTER TABLE t RENAME COLUMN b TO b2`}
	scbAfter = []string{`UPDATE t SET x = 'x' || id, b2 = 'r' || id, d = d + 1 WHERE id % 3 = 0`,
		`INSERT INTO t (id, a, b2, d, x) SELECT g, g, 'n' || g, g, 'nx' || g FROM generate_series(61, 70) g`,
		`DELETE FROM t WHERE id % 7 = 0`}
)

func scbTouched(id int64) bool { return id%3 == 0 || id > 60 }

// newSCBEnv is a pipeline over t with the given behavior (and extra
// top-level YAML, a route), the DDL event trigger installed (renames),
// streaming after its snapshot and one update.
func newSCBEnv(t *testing.T, db, behavior, routes string) (*pipelineEnv, *running) {
	t.Helper()
	needServers(t)
	e := newPipelineEnv(t, db, `public\.t`, "upsert", "")
	// A value the behavior cannot place stops the run (not a dead letter).
	rewriteConfig(t, e, "pipeline:\n", "pipeline:\n  schema-change-behavior: "+behavior+"\n  dead-letter: off\n")
	if routes != "" {
		rewriteConfig(t, e, "\nlog:\n", "\nroute:\n"+routes+"log:\n")
	}
	e.exec(scbSchema, "ALTER TABLE t OWNER TO u_"+db, postgres.DDLTriggerSQL)
	r := e.startStreaming()
	e.exec(`UPDATE t SET a = a + 1 WHERE id <= 10`)
	e.waitCaughtUp(r, time.Minute)
	return e, r
}

// scbFormat renders a value for comparison: NULL or its %v.
func scbFormat(v any) string {
	if v == nil {
		return "NULL"
	}
	return fmt.Sprint(v)
}

// scbSource returns the rows of query (first column the id) by id.
func scbSource(t *testing.T, e *pipelineEnv, query string) map[int64][]string {
	t.Helper()
	rows, err := e.conn().Query(context.Background(), query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64][]string{}
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		r := make([]string, len(vals))
		for i, v := range vals {
			r[i] = scbFormat(v)
		}
		out[vals[0].(int64)] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// scbSink returns the Iceberg table t's source columns ("name type
// [null]") and its rows (those columns) by id.
func scbSink(t *testing.T, e *pipelineEnv) ([]string, map[int64][]string) {
	t.Helper()
	tbl := e.sinkTable("t")
	var cols []string
	n := 0
	for _, c := range tbl.Layout().Columns {
		if strings.HasPrefix(c.Name, "_floe_") {
			continue
		}
		n++
		s := c.Name + " " + c.Type.String()
		if c.Nullable {
			s += " null"
		}
		cols = append(cols, s)
	}
	out := map[int64][]string{}
	err := tbl.Scan(context.Background(), func(r schema.Row) error {
		row := make([]string, n)
		for i := range n {
			row[i] = scbFormat(r[i])
		}
		out[r[0].(int64)] = row
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return cols, out
}

// scbCompare fails with the first differing row.
func scbCompare(t *testing.T, got, want map[int64][]string) {
	t.Helper()
	for _, id := range slices.Sorted(maps.Keys(want)) {
		if !slices.Equal(got[id], want[id]) {
			t.Fatalf("row id=%d: iceberg %v, want %v", id, got[id], want[id])
		}
	}
	if len(got) != len(want) {
		t.Fatalf("iceberg has %d rows, want %d", len(got), len(want))
	}
	t.Logf("%d rows equal to what the behavior promises", len(want))
}

// scbCheckColumns fails unless the Iceberg columns are want.
func scbCheckColumns(t *testing.T, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("iceberg columns %v, want %v", got, want)
	}
}

// TestSchemaChangeBehaviorEvolve: evolve applies every change as the
// source made it, the dropped column deleted: the Iceberg table ends
// with exactly the source's columns and rows.
func TestSchemaChangeBehaviorEvolve(t *testing.T) {
	e, r := newSCBEnv(t, "scb_evolve", "evolve", "")
	e.exec(scbAlters...)
	e.exec(scbAfter...)
	e.waitCaughtUp(r, time.Minute)
	e.stop(r)
	cols, got := scbSink(t, e)
	scbCheckColumns(t, cols, []string{"id long", "a int", "b2 string null", "d long null", "x string null"})
	scbCompare(t, got, scbSource(t, e, `SELECT id, a, b2, d, x FROM t`))
	if !strings.Contains(e.tail(1<<20), "drop column c") {
		t.Fatalf("the log records no dropped column:\n%s", e.tail(30))
	}
}

// TestSchemaChangeBehaviorTryEvolve: try_evolve applies what the table
// can take; column c, which the table's sort order uses, cannot be
// deleted, so it is kept: rows written after its drop hold NULL in it,
// the others their value from before. Under evolve the same drop stops
// the pipeline, naming the column.
func TestSchemaChangeBehaviorTryEvolve(t *testing.T) {
	route := "  - source-table: public.t\n    sink-table: t\n    sort-by: c\n"
	e, r := newSCBEnv(t, "scb_try", "try_evolve", route)
	before := scbSource(t, e, `SELECT id, c FROM t`)
	e.exec(scbAlters...)
	e.exec(scbAfter...)
	e.waitCaughtUp(r, time.Minute)
	e.stop(r)
	cols, got := scbSink(t, e)
	scbCheckColumns(t, cols, []string{"id long", "a int", "b2 string null", "c string null", "d long null", "x string null"})
	want := scbSource(t, e, `SELECT id, a, b2, NULL, d, x FROM t`)
	for id, row := range want {
		if !scbTouched(id) {
			row[3] = before[id][1]
		}
	}
	scbCompare(t, got, want)

	e2, r2 := newSCBEnv(t, "scb_try_evolve", "evolve", route)
	e2.exec(`ALTER TABLE t DROP COLUMN c`, `UPDATE t SET a = 0 WHERE id = 1`)
	log := waitExit(t, e2, r2, time.Minute)
	expectOneLineError(t, log, 1, "schema change of public.t at ", "the source dropped column c, which the Iceberg table cannot delete",
		"set pipeline.schema-change-behavior to try_evolve or lenient")
}

// TestSchemaChangeBehaviorIgnore: ignore never changes the Iceberg
// schema: the added column is not written, the dropped one is NULL in
// rows written after the drop, the renamed one keeps landing in its
// column, the widened one is written in its old type. A value that no
// longer fits that type stops the pipeline, naming the column and value,
// and is never written.
func TestSchemaChangeBehaviorIgnore(t *testing.T) {
	e, r := newSCBEnv(t, "scb_ignore", "ignore", "")
	before := scbSource(t, e, `SELECT id, c FROM t`)
	e.exec(scbAlters...)
	e.exec(scbAfter...)
	// A later layout change: b2 still lands in b.
	e.exec(`ALTER TABLE t ADD COLUMN y int`, `UPDATE t SET b2 = 'z' || id, y = 1 WHERE id % 3 = 0 AND id % 2 = 0`)
	e.waitCaughtUp(r, time.Minute)
	want := scbSource(t, e, `SELECT id, a, b2, NULL, d FROM t`)
	for id, row := range want {
		if !scbTouched(id) {
			row[3] = before[id][1]
		}
	}
	e.exec(`UPDATE t SET d = 3000000000 WHERE id = 1`)
	log := waitExit(t, e, r, time.Minute)
	expectOneLineError(t, log, 1, "table public.t", "column d: value 3000000000 does not fit in int",
		"set it to lenient or evolve, or re-snapshot the table (floe resnapshot)")
	cols, got := scbSink(t, e)
	scbCheckColumns(t, cols, []string{"id long", "a int", "b string null", "c string null", "d int null"})
	scbCompare(t, got, want)
}

// TestSchemaChangeBehaviorException: exception stops at the first change
// that would change the Iceberg table, before it changes: one line names
// the table, the position, the change and the fix, and the table holds
// every row written before the ALTER (checkpoints are an hour apart: the
// schema change's barrier commits them, as under every behavior) and none
// after it, nor the new column.
func TestSchemaChangeBehaviorException(t *testing.T) {
	needServers(t)
	db := "scb_exception"
	e := newPipelineEnv(t, db, `public\.t`, "upsert", "")
	rewriteConfig(t, e, "pipeline:\n", "pipeline:\n  schema-change-behavior: exception\n")
	rewriteConfig(t, e, "checkpoint-interval: 1s", "checkpoint-interval: 1h")
	e.exec(scbSchema, "ALTER TABLE t OWNER TO u_"+db)
	r := e.startStreaming()
	e.exec(`UPDATE t SET a = a + 1 WHERE id <= 10`, `DELETE FROM t WHERE id = 60`)
	want := scbSource(t, e, `SELECT id, a, b, c, d FROM t`)
	e.exec(`ALTER TABLE t ADD COLUMN x text`, `UPDATE t SET x = 'x', a = a + 100 WHERE id <= 5`)
	log := waitExit(t, e, r, time.Minute)
	expectOneLineError(t, log, 1, "schema change of public.t at ", "pipeline.schema-change-behavior is exception",
		"(add column x string)", "set pipeline.schema-change-behavior to lenient, evolve, try_evolve or ignore, or re-snapshot the table (floe resnapshot)")
	cols, got := scbSink(t, e)
	scbCheckColumns(t, cols, []string{"id long", "a int", "b string null", "c string null", "d int null"})
	scbCompare(t, got, want)

	// A restart stops again, at start or at the change.
	out, code := runFloe(t, e, "run", "--config", e.config)
	expectOneLineError(t, out, code, "pipeline.schema-change-behavior is exception", "add column x string")
}

// TestSchemaChangeBehaviorTryEvolveKey: a key column widened at the
// source (int -> bigint), which lenient and evolve refuse, is left
// int under try_evolve: rows keep being inserted, updated and deleted by
// it, and a key that no longer fits stops the pipeline unwritten.
func TestSchemaChangeBehaviorTryEvolveKey(t *testing.T) {
	needServers(t)
	db := "scb_try_key"
	e := newPipelineEnv(t, db, `public\.k`, "upsert", "")
	rewriteConfig(t, e, "pipeline:\n", "pipeline:\n  schema-change-behavior: try_evolve\n  dead-letter: off\n")
	e.exec(`CREATE TABLE k (id int PRIMARY KEY, v text)`, `INSERT INTO k SELECT g, 'v' || g FROM generate_series(1, 40) g`,
		"ALTER TABLE k OWNER TO u_"+db)
	r := e.startStreaming()
	e.exec(`ALTER TABLE k ALTER COLUMN id TYPE bigint`,
		`UPDATE k SET v = 'u' || id WHERE id % 3 = 0`, `DELETE FROM k WHERE id % 5 = 0`,
		`INSERT INTO k SELECT g, 'n' || g FROM generate_series(41, 50) g`, `UPDATE k SET id = id + 100 WHERE id = 1`)
	e.waitCaughtUp(r, time.Minute)
	want := scbSource(t, e, `SELECT id, v FROM k`)
	e.exec(`INSERT INTO k VALUES (5000000000, 'too wide')`)
	log := waitExit(t, e, r, time.Minute)
	expectOneLineError(t, log, 1, "table public.k", "column id: value 5000000000 does not fit in int",
		"re-snapshot the table (floe resnapshot) to take the wider key")
	tbl := e.sinkTable("k")
	if l := tbl.Layout(); l.Columns[0].Type.String() != "int" || len(l.KeyNames()) != 1 || l.KeyNames()[0] != "id" {
		t.Fatalf("iceberg layout %s, want the key id still int", l)
	}
	got := map[int64][]string{}
	err := tbl.Scan(context.Background(), func(row schema.Row) error {
		id := int64(row[0].(int32))
		got[id] = []string{scbFormat(id), scbFormat(row[1])}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	scbCompare(t, got, want)
}
