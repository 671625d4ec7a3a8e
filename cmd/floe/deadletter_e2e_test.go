package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/floe-cdc/floe/checkpoint"
	"github.com/floe-cdc/floe/schema"
)

// dlWorkload changes table t (id int PRIMARY KEY, amount numeric, note
// text) of a PostgreSQL database, some amounts beyond decimal(38,18)
// (plain numeric's default mapping), and keeps what the Iceberg table
// must then hold: every change whose amount fits, and for one that does
// not, the row as it was before (absent for an insert) plus a dead
// letter. Notes are unique per row version, so a row's note names its
// version.
type dlWorkload struct {
	mu   sync.Mutex
	rng  *rand.Rand
	ids  []int          // ids the source holds
	want map[int]string // id -> note the Iceberg table must hold
	dead []dlLetter     // dead letters the dead-letter table must hold
	next int            // next id to insert
	n    int            // counter for notes and bad values
	// pBadScale scales the probability of a bad value (1 by default).
	pBadScale float64
}

// dlLetter is one expected dead letter.
type dlLetter struct {
	Op, Row, Value string // Value: the amount text the error quotes
}

func newDLWorkload(seed uint64) *dlWorkload {
	return &dlWorkload{rng: rand.New(rand.NewPCG(seed, 7)), want: map[int]string{}, next: 1, pBadScale: 1}
}

// value returns the next amount: a bad one (1e30 + n: 31 integer
// digits) with probability pBad, else a good one.
func (w *dlWorkload) value(pBad float64) (text string, bad bool) {
	w.n++
	if w.rng.Float64() < pBad*w.pBadScale {
		return fmt.Sprintf("1%030d", w.n), true
	}
	return fmt.Sprintf("%d.5", w.n), false
}

// rowJSON is the row as the dead-letter table holds it: the column texts
// in the table's column order.
func rowJSON(id int, amount, note string) string {
	return fmt.Sprintf(`{"id":"%d","amount":%q,"note":%q}`, id, amount, note)
}

// snapshotRows returns the statement that inserts rows 1..n (amount
// NaN for the first and 1e30+id for every 37th, beyond decimal(38,18);
// note "n<id>") and records them.
func (w *dlWorkload) snapshotRows(n int) string {
	for id := 1; id <= n; id++ {
		note := fmt.Sprintf("n%d", id)
		switch {
		case id == 1:
			w.dead = append(w.dead, dlLetter{Op: "r", Row: rowJSON(id, "NaN", note), Value: "NaN"})
		case id%37 == 0:
			amount := fmt.Sprintf("1%030d", id)
			w.dead = append(w.dead, dlLetter{Op: "r", Row: rowJSON(id, amount, note), Value: amount})
		default:
			w.want[id] = note
		}
		w.ids = append(w.ids, id)
	}
	w.next, w.n = n+1, n
	return fmt.Sprintf(`INSERT INTO t SELECT id, CASE WHEN id = 1 THEN 'NaN' WHEN id %% 37 = 0 THEN 1e30 + id ELSE id + 0.25 END, 'n' || id
		FROM generate_series(1, %d) id`, n)
}

// step runs one random change on c and records what it must leave.
func (w *dlWorkload) step(ctx context.Context, c *pgx.Conn) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.rng.Float64()
	switch {
	case r < 0.1 && len(w.ids) > 0:
		i := w.rng.IntN(len(w.ids))
		id := w.ids[i]
		if _, err := c.Exec(ctx, fmt.Sprintf("DELETE FROM t WHERE id = %d", id)); err != nil {
			return err
		}
		w.ids = slices.Delete(w.ids, i, i+1)
		delete(w.want, id)
	case r < 0.5 || len(w.ids) == 0:
		id := w.next
		amount, bad := w.value(0.2)
		note := fmt.Sprintf("n%d", w.n)
		if _, err := c.Exec(ctx, fmt.Sprintf("INSERT INTO t VALUES (%d, %s, '%s')", id, amount, note)); err != nil {
			return err
		}
		w.next++
		w.ids = append(w.ids, id)
		w.apply("c", id, amount, note, bad)
	default:
		id := w.ids[w.rng.IntN(len(w.ids))]
		amount, bad := w.value(0.25)
		note := fmt.Sprintf("n%d", w.n)
		if _, err := c.Exec(ctx, fmt.Sprintf("UPDATE t SET amount = %s, note = '%s' WHERE id = %d", amount, note, id)); err != nil {
			return err
		}
		w.apply("u", id, amount, note, bad)
	}
	return nil
}

// apply records an insert or update of id: a good one is the row's new
// version; a bad one leaves the row as it was, and is a dead letter.
func (w *dlWorkload) apply(op string, id int, amount, note string, bad bool) {
	if bad {
		w.dead = append(w.dead, dlLetter{Op: op, Row: rowJSON(id, amount, note), Value: amount})
		return
	}
	w.want[id] = note
}

// dlEnv creates the table and the workload's snapshot rows.
func dlEnv(t *testing.T, db string, rows int, extraPipeline string) (*pipelineEnv, *dlWorkload) {
	e := newPipelineEnv(t, db, `public\.t`, "upsert", "  snapshot.chunk-rows: 200\n")
	if extraPipeline != "" {
		rewriteConfig(t, e, "  checkpoint-interval: 1s\n", "  checkpoint-interval: 1s\n"+extraPipeline)
	}
	w := newDLWorkload(uint64(time.Now().UnixNano()))
	e.exec(`CREATE TABLE t (id int PRIMARY KEY, amount numeric, note text)`, `ALTER TABLE t OWNER TO u_`+db, w.snapshotRows(rows))
	return e, w
}

// checkDeadLetters compares the Iceberg table with what w says it must
// hold, row by row, and the dead-letter table with w's dead letters: each
// once, with its op, row and an error quoting the value.
func checkDeadLetters(t *testing.T, e *pipelineEnv, w *dlWorkload) {
	t.Helper()
	ctx := context.Background()
	got := map[int]string{}
	tbl := e.sinkTable("t")
	l := tbl.Layout()
	if err := tbl.Scan(ctx, func(r schema.Row) error {
		got[int(r[l.Index("id")].(int32))] = r[l.Index("note")].(string)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var diff []string
	for id, note := range w.want {
		if got[id] != note {
			diff = append(diff, fmt.Sprintf("id %d: table %q, want %q", id, got[id], note))
		}
	}
	for id, note := range got {
		if _, ok := w.want[id]; !ok {
			diff = append(diff, fmt.Sprintf("id %d: table %q, want none", id, note))
		}
	}
	if len(diff) > 0 {
		slices.Sort(diff)
		t.Fatalf("the table differs in %d of %d rows:\n%s", len(diff), len(w.want), strings.Join(diff[:min(len(diff), 40)], "\n"))
	}
	dlq := e.sinkTable(checkpoint.DeadLetterTableName)
	dl := dlq.Layout()
	want := map[string]dlLetter{}
	for _, d := range w.dead {
		want[d.Op+" "+d.Row] = d
	}
	seen := map[string]bool{}
	if err := dlq.Scan(ctx, func(r schema.Row) error {
		k := r[dl.Index("op")].(string) + " " + r[dl.Index("row_json")].(string)
		d, ok := want[k]
		switch {
		case r[dl.Index("source_table")] != "public.t" || r[dl.Index("pipeline")] != e.db:
			t.Errorf("dead letter of another table or pipeline: %v", r)
		case !ok:
			t.Errorf("unexpected dead letter %s", k)
		case seen[k]:
			t.Errorf("dead letter %s twice", k)
		case !strings.Contains(r[dl.Index("error")].(string), `column amount (numeric): value "`+d.Value+`"`):
			t.Errorf("dead letter %s: error %q does not quote the value", k, r[dl.Index("error")])
		}
		seen[k] = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for k := range want {
		if !seen[k] {
			t.Errorf("dead letter %s missing", k)
		}
	}
	t.Logf("%d rows, %d dead letters", len(got), len(seen))
	out, code := e.runVerb("status", "--config", e.config, "--json")
	var st Status
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || len(st.Tables) != 1 || st.Tables[0].DeadLetters != int64(len(w.dead)) {
		t.Errorf("floe status --json (exit %d) does not count %d dead letters:\n%s", code, len(w.dead), out)
	}
	// floe verify leaves the source rows that cannot be decoded out (on
	// both sides) and finds the rest equal.
	out, code = e.verify()
	if code != 0 || !strings.Contains(out, "OK ") || !strings.Contains(out, "source rows with values that cannot be decoded left out") {
		t.Errorf("floe verify (exit %d) does not find the table equal with the dead-lettered rows left out:\n%s", code, out)
	}
	t.Logf("floe verify exit %d: %s", code, strings.SplitN(out, "\n", 2)[0])

}

// TestDeadLettersPostgres: a plain numeric column holding values
// decimal(38,18) cannot (NaN, 31 integer digits), in the snapshot and in
// streamed inserts and updates: the pipeline goes on, the table holds
// every other change (a dead update leaves the row's version before it),
// and the dead-letter table holds each dead change once with its row and
// error; floe status counts them. With pipeline.dead-letter: off, such a
// value stops floe run naming the value and the fix.
func TestDeadLettersPostgres(t *testing.T) {
	e, w := dlEnv(t, "deadletters", 300, "")
	r := e.start()
	e.waitStreaming(r)
	c := e.conn()
	for range 200 {
		if err := w.step(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	e.waitCaughtUp(r, time.Minute)
	e.stop(r)
	checkDeadLetters(t, e, w)
	off, _ := dlEnv(t, "deadletters_off", 3, "  dead-letter: off\n")
	out, code := runFloe(t, off, "run", "--config", off.config)
	expectOneLineError(t, out, code, "public.t", `column amount (numeric): value "NaN"`, "pipeline.dead-letter: table")
}

// TestDeadLettersPostgresCrash: as TestDeadLettersPostgres, with floe run
// SIGKILLed at random moments of the snapshot and of the stream while the
// workload runs and background compaction passes run every second (over
// the dead-letter table too, which they must rewrite at least once): no
// dead letter is lost or written twice, and the table holds exactly the
// changes that fit.
func TestDeadLettersPostgresCrash(t *testing.T) {
	e, w := dlEnv(t, "deadletters_crash", 40000, "")
	// Background compaction every second, the dead-letter table included:
	// kills land inside its passes too.
	e.appendConfig("compaction:\n  interval: 1s\n  min-input-files: 2\n  expire-snapshots-older-than: 5s\n  retain-last: 3\n")
	c := e.conn()
	// The workload starts once the snapshot is complete: a row changed
	// while the snapshot reads it is read in its new version, which the
	// workload's expectations do not follow.
	stopWork := func() error { return nil }
	defer func() { _ = stopWork() }()
	work := func() {
		stopWork = inBackground(func(ctx context.Context) error { return w.step(ctx, c) }, 3*time.Millisecond)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	const kills = 8
	for i := range kills {
		appendLog(t, e, fmt.Sprintf("=== test: start %d ===", i))
		r := e.start()
		var wait time.Duration
		switch {
		case i < 2:
			waitForLog(t, e, r, "snapshot planned", " snapshot=false")
			wait = time.Duration(10+rng.IntN(300)) * time.Millisecond
		case i == 2:
			e.waitStreaming(r)
			work()
			fallthrough
		default:
			waitForLog(t, e, r, "msg=streaming")
			wait = time.Duration(100+rng.IntN(2500)) * time.Millisecond
		}
		time.Sleep(wait)
		select {
		case <-r.Exited:
			t.Fatalf("floe run exited before kill %d: %v; log:\n%s", i, r.Err, e.tail(40))
		default:
		}
		e.kill(r)
		t.Logf("kill %d after %s, in the %s", i, wait, phaseOf(e.tail(100000)))
	}
	if err := stopWork(); err != nil {
		t.Fatal(err)
	}
	appendLog(t, e, "=== test: start final ===")
	r := e.start()
	e.waitStreaming(r)
	e.waitCaughtUp(r, 2*time.Minute)
	// The kills may all have come before a pass found two files in the
	// dead-letter table (a fast run is over in seconds); the final run
	// holds every dead letter, in more than one file, and its background
	// passes must rewrite them before the rows are compared.
	compacted := func() int {
		n := 0
		for _, line := range strings.Split(e.tail(1<<30), "\n") {
			if strings.Contains(line, `msg="compaction pass"`) && strings.Contains(line, "table=lake."+checkpoint.DeadLetterTableName+" ") &&
				!strings.Contains(line, "rewritten_data_files=0 ") {
				n++
			}
		}
		return n
	}
	for deadline := time.Now().Add(time.Minute); compacted() == 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no background compaction pass rewrote files of the dead-letter table; log:\n%s", e.tail(40))
		}
	}
	e.stop(r)
	checkDeadLetters(t, e, w)
	t.Logf("background compaction rewrote the dead-letter table's files in %d passes", compacted())
}

// TestDeadLettersSchemaChangeIgnore: under schema-change-behavior ignore
// a column widened at the source (int -> bigint) keeps its Iceberg type,
// and a change whose value no longer fits it is a dead letter (its row
// as decoded, and the error naming the column and value); the pipeline
// goes on and the table holds every other change, the updated row as it
// was before.
func TestDeadLettersSchemaChangeIgnore(t *testing.T) {
	e := newPipelineEnv(t, "dl_ignore", `public\.t`, "upsert", "")
	rewriteConfig(t, e, "pipeline:\n", "pipeline:\n  schema-change-behavior: ignore\n")
	e.exec(`CREATE TABLE t (id int PRIMARY KEY, d int, note text)`, `INSERT INTO t VALUES (1, 10, 'one'), (2, 20, 'two')`,
		"ALTER TABLE t OWNER TO u_dl_ignore")
	r := e.start()
	e.waitStreaming(r)
	e.exec(`ALTER TABLE t ALTER COLUMN d TYPE bigint`,
		`UPDATE t SET d = 3000000000, note = 'wide' WHERE id = 1`,
		`INSERT INTO t VALUES (3, 3000000001, 'wide too')`,
		`INSERT INTO t VALUES (4, 40, 'four')`, `UPDATE t SET d = 21 WHERE id = 2`)
	e.waitCaughtUp(r, time.Minute)
	e.stop(r)

	ctx := context.Background()
	tbl := e.sinkTable("t")
	l := tbl.Layout()
	if typ := l.Columns[l.Index("d")].Type.String(); typ != "int" {
		t.Fatalf("column d is %s in Iceberg, want int (ignore)", typ)
	}
	got := map[int32]string{}
	if err := tbl.Scan(ctx, func(row schema.Row) error {
		got[row[l.Index("id")].(int32)] = fmt.Sprintf("%v %v", row[l.Index("d")], row[l.Index("note")])
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := map[int32]string{1: "10 one", 2: "21 two", 4: "40 four"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("the table holds %v, want %v", got, want)
	}
	expectDeadLetters(t, e, false, []string{"column d: value 300000000", "does not fit in int"},
		`c {"id":"3","d":"3000000001","note":"wide too"}`, `u {"id":"1","d":"3000000000","note":"wide"}`)
}

// TestDeadLettersPostgresCorrected: on a table with REPLICA IDENTITY FULL
// (old images carry every column), an update that corrects a row whose
// old value cannot be decoded applies by the old image's key, and so does
// a delete of such a row; only the changes whose new values cannot be
// decoded are dead letters.
func TestDeadLettersPostgresCorrected(t *testing.T) {
	e := newPipelineEnv(t, "dl_corrected", `public\.t`, "upsert", "")
	e.exec(`CREATE TABLE t (id int PRIMARY KEY, amount numeric, note text)`, `ALTER TABLE t REPLICA IDENTITY FULL`,
		`INSERT INTO t VALUES (1, 1.5, 'one'), (2, 2.5, 'two'), (3, 3.5, 'three')`, "ALTER TABLE t OWNER TO u_dl_corrected")
	r := e.start()
	e.waitStreaming(r)
	e.exec(`UPDATE t SET amount = 'NaN', note = 'nan' WHERE id IN (1, 2)`,
		`UPDATE t SET amount = 1.25, note = 'corrected' WHERE id = 1`, `DELETE FROM t WHERE id = 2`)
	e.waitCaughtUp(r, time.Minute)
	e.stop(r)

	ctx := context.Background()
	tbl := e.sinkTable("t")
	l := tbl.Layout()
	got := map[int32]string{}
	if err := tbl.Scan(ctx, func(row schema.Row) error {
		got[row[l.Index("id")].(int32)] = row[l.Index("note")].(string)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := map[int32]string{1: "corrected", 3: "three"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("the table holds %v, want %v", got, want)
	}
	expectDeadLetters(t, e, false, nil, `u {"id":"1","amount":"NaN","note":"nan"}`, `u {"id":"2","amount":"NaN","note":"nan"}`)
}

// expectDeadLetters fails t unless the dead-letter table of e's sink
// namespace holds exactly want, each rendered "op row_json" (with
// withTable, "source_table op row_json"), in any order, and each row's
// error contains every one of errorHas.
func expectDeadLetters(t *testing.T, e *pipelineEnv, withTable bool, errorHas []string, want ...string) {
	t.Helper()
	dlq := e.sinkTable(checkpoint.DeadLetterTableName)
	dl := dlq.Layout()
	var letters []string
	if err := dlq.Scan(context.Background(), func(row schema.Row) error {
		errText := row[dl.Index("error")].(string)
		for _, part := range errorHas {
			if !strings.Contains(errText, part) {
				t.Errorf("dead letter error %q lacks %q", errText, part)
			}
		}
		letter := fmt.Sprintf("%s %s", row[dl.Index("op")], row[dl.Index("row_json")])
		if withTable {
			letter = fmt.Sprintf("%s %s", row[dl.Index("source_table")], letter)
		}
		letters = append(letters, letter)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(letters)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(letters, want) {
		t.Fatalf("the dead-letter table holds\n%s\nwant\n%s", strings.Join(letters, "\n"), strings.Join(want, "\n"))
	}
}
