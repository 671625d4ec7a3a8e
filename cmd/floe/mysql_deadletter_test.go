package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/schema"
)

// TestMySQLDeadLetters: on MariaDB, zero dates (zero-date: error, the
// default) written while floe run streams, by an insert and an update,
// are dead letters: the pipeline goes on, the table holds every other
// change (the updated row as it was before), and the dead-letter table
// holds each once with the row as the binlog has it and the error. An
// update correcting the row, and a delete, apply by the old image's key.
// A zero date the initial snapshot reads is a dead letter too (op r),
// with the row as the server's text protocol sent it.
func TestMySQLDeadLetters(t *testing.T) {
	e := newMySQLEnv(t, "my_deadletters", "upsert", "")
	db := e.db
	zero := func(sql string) string { return "SET STATEMENT sql_mode = '' FOR " + sql }
	// Row 5 is read by the snapshot.
	e.sql(`CREATE TABLE visits (id INT PRIMARY KEY, d DATE, note VARCHAR(20))`, `INSERT INTO visits VALUES (1, '2024-01-02', 'first')`,
		zero(`INSERT INTO visits VALUES (5, '0000-00-00', 'snap')`))
	rewriteConfig(t, e.pipelineEnv, `\.(accounts|events|floe_marker)`, `\.(visits|floe_marker)`)
	r := e.start()
	e.waitStreaming(r)
	e.sql(zero(`INSERT INTO visits VALUES (2, '0000-00-00', 'zero')`),
		`INSERT INTO visits VALUES (3, '2024-03-04', 'third')`,
		zero(`UPDATE visits SET d = '0000-00-00', note = 'zeroed' WHERE id = 1`),
		`UPDATE visits SET d = '2024-05-06', note = 'moved' WHERE id = 3`,
		// Correcting the rows: the old images hold the zero date, the
		// new one and the delete's key do not need it.
		`UPDATE visits SET d = '2024-07-08', note = 'corrected' WHERE id = 1`, `DELETE FROM visits WHERE id = 2`,
		zero(`INSERT INTO visits VALUES (4, '0000-00-00', 'gone')`), `DELETE FROM visits WHERE id = 3`)
	e.waitCaughtUp(r, time.Minute)
	e.stop(r)

	ctx := context.Background()
	tbl := e.sinkTable("visits")
	l := tbl.Layout()
	got := map[int32]string{}
	if err := tbl.Scan(ctx, func(row schema.Row) error {
		got[row[l.Index("id")].(int32)] = schema.FormatValue(row[l.Index("d")], l.Columns[l.Index("d")].Type) + " " + row[l.Index("note")].(string)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := map[int32]string{1: "2024-07-08 corrected"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("the table holds %v, want %v", got, want)
	}
	expectDeadLetters(t, e.pipelineEnv, true, []string{`column d (date): value "0000-00-00"`},
		db+`.visits c {"id":"2","d":"0000-00-00","note":"zero"}`, db+`.visits c {"id":"4","d":"0000-00-00","note":"gone"}`,
		db+`.visits r {"id":"5","d":"0000-00-00","note":"snap"}`, db+`.visits u {"id":"1","d":"0000-00-00","note":"zeroed"}`)
	// floe verify leaves the two source rows holding a zero date (4 and
	// 5, both dead letters) out on both sides and finds row 1 equal.
	out, code := e.verify()
	if code != 0 || !strings.Contains(out, "OK ") || !strings.Contains(out, "2 source rows with values that cannot be decoded left out") {
		t.Errorf("floe verify (exit %d) does not find visits equal with its 2 dead-lettered rows left out:\n%s", code, out)
	}
}
