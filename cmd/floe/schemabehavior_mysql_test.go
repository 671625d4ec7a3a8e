package main

import (
	"database/sql"
	"fmt"
	"testing"
	"time"
)

// mysqlSource returns the rows of query (first column the id) on the
// MariaDB of e by id, each value as scbFormat renders it.
func mysqlSource(t *testing.T, e *mysqlEnv, query string) map[int64][]string {
	t.Helper()
	rows, err := e.root.Query(query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64][]string{}
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		r := make([]string, len(cols))
		for i, v := range vals {
			r[i] = "NULL"
			if v.Valid {
				r[i] = v.String
			}
		}
		var id int64
		if _, err := fmt.Sscan(r[0], &id); err != nil {
			t.Fatal(err)
		}
		out[id] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSchemaChangeBehaviorIgnoreMariaDB: ignore on MariaDB, where the
// binlog's TABLE_MAP carries each row's layout and renames come from the
// ALTER statement: a column added, one dropped, one widened INT -> BIGINT
// and one renamed leave the Iceberg schema as it was; rows land projected
// onto it (added values left out, the dropped column NULL in rows written
// after the drop, the renamed column in its old column, the widened one
// narrowed), and a value that no longer fits stops the pipeline unwritten.
// Row 2 is updated after each ALTER.
func TestSchemaChangeBehaviorIgnoreMariaDB(t *testing.T) {
	db := "scb_my_ignore"
	e := newMySQLEnv(t, db, "upsert", "")
	rewriteConfig(t, e.pipelineEnv, "pipeline:\n", "pipeline:\n  schema-change-behavior: ignore\n  dead-letter: off\n")
	rewriteConfig(t, e.pipelineEnv, "(accounts|events|floe_marker)", "(t|floe_marker)")
	e.sql(`CREATE TABLE t (id BIGINT PRIMARY KEY, a INT NOT NULL, b VARCHAR(40), c VARCHAR(40), d INT)`,
		`INSERT INTO t SELECT seq, seq, CONCAT('b', seq), CONCAT('c', seq), seq * 10 FROM `+e.m.Seq(1, 60))
	r := e.start()
	e.waitStreaming(r)
	e.sql(`UPDATE t SET a = a + 1 WHERE id <= 10`)
	e.waitCaughtUp(r, time.Minute)
	before := mysqlSource(t, e, `SELECT id, c FROM t`)
	// A row event after each ALTER: the binlog shows a layout only with
	// the next row, and an added and a dropped column seen at once are
	// refused by the source as a possible rename.
	touch := `UPDATE t SET a = a + 1 WHERE id = 2`
	e.sql(`ALTER TABLE t ADD COLUMN x VARCHAR(40)`, touch, `ALTER TABLE t DROP COLUMN c`, touch,
		`ALTER TABLE t MODIFY d BIGINT`, touch, `ALTER TABLE t RENAME COLUMN b TO b2`,
		`UPDATE t SET x = CONCAT('x', id), b2 = CONCAT('r', id), d = d + 1 WHERE id % 3 = 0`,
		`INSERT INTO t (id, a, b2, d, x) SELECT seq, seq, CONCAT('n', seq), seq, CONCAT('nx', seq) FROM `+e.m.Seq(61, 70),
		`DELETE FROM t WHERE id % 7 = 0`)
	e.waitCaughtUp(r, time.Minute)
	want := mysqlSource(t, e, `SELECT id, a, b2, NULL, d FROM t`)
	for id, row := range want {
		if !scbTouched(id) && id != 2 {
			row[3] = before[id][1]
		}
	}
	e.sql(`UPDATE t SET d = 3000000000 WHERE id = 1`)
	log := waitExit(t, e.pipelineEnv, r, time.Minute)
	expectOneLineError(t, log, 1, "table "+db+".t", "column d: value 3000000000 does not fit in int",
		"set it to lenient or evolve, or re-snapshot the table (floe resnapshot)")
	cols, got := scbSink(t, e.pipelineEnv)
	scbCheckColumns(t, cols, []string{"id long", "a int", "b string null", "c string null", "d int null"})
	scbCompare(t, got, want)
}
