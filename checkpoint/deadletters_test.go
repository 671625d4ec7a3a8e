package checkpoint

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/memsource"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/transform"
)

// poisonSource is a memsource whose values starting with "bad" cannot be
// decoded: such a change (stream or snapshot) carries a
// *schema.ValueError naming column v and the row's key, and the row as
// the source sent it (Raw), as a real source's decoder would.
type poisonSource struct {
	*memsource.Source
	onChunk func() // called before each chunk is read
	// onDead, when set, is called before a stream batch holding a
	// poisoned change is passed on (it may block).
	onDead func()
}

func poisonChange(ch capture.Change) capture.Change {
	img := ch.After
	if ch.Op == capture.OpDelete {
		img = ch.Before
	}
	if img == nil || ch.Schema == nil {
		return ch
	}
	vi := ch.Schema.Index("v")
	v, _ := img[vi].(string)
	if !strings.HasPrefix(v, "bad") {
		return ch
	}
	raw := make(capture.RawRow, len(img))
	for i, col := range ch.Schema.Columns {
		raw[i] = capture.RawValue{Column: col.Name, Text: capture.NewRawText(fmt.Append(nil, img[i]))}
	}
	err := schema.WithRowKey(schema.NewValueError("v", "text", []byte(v), "poisoned"), []string{"id"}, [][]byte{fmt.Append(nil, img[0])})
	return capture.Change{Table: ch.Table, Op: ch.Op, Schema: ch.Schema, Err: err, Raw: raw}
}

func (s *poisonSource) Stream(ctx context.Context, out chan<- capture.Batch) error {
	return rewriteStream(ctx, s.Source.Stream, out, func(b capture.Batch) capture.Batch {
		changes := make([]capture.Change, len(b.Changes))
		poisoned := false
		for i, ch := range b.Changes {
			changes[i] = poisonChange(ch)
			poisoned = poisoned || changes[i].Err != nil
		}
		b.Changes = changes
		if poisoned && s.onDead != nil {
			s.onDead()
		}
		return b
	})
}

// rewriteStream runs stream and passes each of its batches to out as
// rewrite returns it, until stream ends or ctx is done.
func rewriteStream(ctx context.Context, stream func(context.Context, chan<- capture.Batch) error, out chan<- capture.Batch,
	rewrite func(capture.Batch) capture.Batch) error {
	in := make(chan capture.Batch)
	done := make(chan error, 1)
	go func() { done <- stream(ctx, in) }()
	for {
		select {
		case err := <-done:
			return err
		case b := <-in:
			select {
			case out <- rewrite(b):
			case <-ctx.Done():
				<-done
				return ctx.Err()
			}
		}
	}
}

func (s *poisonSource) ReadChunk(ctx context.Context, id capture.TableID, c capture.Chunk) (capture.Batch, error) {
	if s.onChunk != nil {
		s.onChunk()
	}
	b, err := s.Source.ReadChunk(ctx, id, c)
	for i, ch := range b.Changes {
		b.Changes[i] = poisonChange(ch)
	}
	return b, err
}

// dlqRow is one row of the dead-letter table, as the test compares it.
type dlqRow struct {
	Table, Op, Row, Err, ID string
}

func readDLQ(t *testing.T, cat *lakewriter.Catalog) ([]dlqRow, ledger.DeadLetters) {
	t.Helper()
	return readDLQIn(t, cat, "lake")
}

// readDLQIn reads the dead-letter table of namespace ns.
func readDLQIn(t *testing.T, cat *lakewriter.Catalog, ns string) ([]dlqRow, ledger.DeadLetters) {
	t.Helper()
	ctx := context.Background()
	tbl, err := cat.LoadTable(ctx, lakewriter.Ident{Namespace: ns, Name: DeadLetterTableName})
	require.NoError(t, err)
	l := tbl.Layout()
	var rows []dlqRow
	require.NoError(t, tbl.Scan(ctx, func(r schema.Row) error {
		require.Equal(t, "p", r[l.Index("pipeline")])
		row, _ := r[l.Index("row_json")].(string)
		rows = append(rows, dlqRow{Table: r[l.Index("source_table")].(string), Op: r[l.Index("op")].(string), Row: row,
			Err: r[l.Index("error")].(string), ID: r[l.Index("id")].(string)})
		return nil
	}))
	sort.Slice(rows, func(i, j int) bool { return rows[i].Op+rows[i].Row < rows[j].Op+rows[j].Row })
	props, err := tbl.LatestProps(ctx, ledger.DeadLettersOf("p"))
	require.NoError(t, err)
	d, err := ledger.ParseDeadLetters(props[ledger.PropDeadLetters])
	require.NoError(t, err)
	return rows, d
}

// TestDeadLetters: rows whose values cannot be decoded, in the snapshot
// and in the stream (insert, update, delete), go to the dead-letter
// table and the pipeline goes on; the table holds every other change
// (for a dead update, the row's version before it). When the table's
// commit fails after its dead letters were committed (the window a crash
// can hit), the next run writes none of them again and loses none.
func TestDeadLetters(t *testing.T) {
	t.Parallel()
	l := newLake(t, transform.Upsert, "a", "b")
	l.exec(inserts("a", "ok", 1, 2, 3, 4, 5)...)
	l.exec(inserts("a", "bad-snap", 6)...)
	l.exec(inserts("b", "ok", 1)...)
	f := l.faults()
	// The acknowledgement check compares whole tables; dead rows differ
	// on purpose, and are compared below.
	cfg := memsource.Config{OnAck: func(capture.Position) {}}

	// The snapshot's commit of a fails after the dead letters landed.
	var once sync.Once
	src := &poisonSource{Source: l.source(cfg), onChunk: func() { once.Do(func() { f.refuse("a") }) }}
	err := l.run(src, runOpts{})
	require.ErrorContains(t, err, "injected: commit of a refused")
	rows, _ := readDLQ(t, l.cat)
	require.Len(t, rows, 1, "the snapshot's dead letter is in before the table's commit")
	f.heal("a")
	end := l.db.Sync()
	src = &poisonSource{Source: l.source(cfg)}
	status, metrics := NewStatusBoard(), NewMetrics(nil)
	require.NoError(t, l.run(src, runOpts{wantStream: true, until: acked(src.Source, end), status: status, metrics: metrics}))

	// Streamed dead letters; a's commit fails once more after them.
	f.refuse("a")
	l.exec("INSERT INTO a VALUES (7, 'bad-insert')", "UPDATE a SET v = 'bad-update' WHERE id = 1",
		"INSERT INTO a VALUES (8, 'fine')", "DELETE FROM a WHERE id = 7", "UPDATE b SET v = 'b-fine' WHERE id = 1")
	l.db.Sync()
	src = &poisonSource{Source: l.source(cfg)}
	err = l.run(src, runOpts{interval: time.Hour, metrics: metrics})
	require.ErrorContains(t, err, "injected: commit of a refused")
	f.heal("a")
	end = l.db.Sync()
	src = &poisonSource{Source: l.source(cfg)}
	require.NoError(t, l.run(src, runOpts{wantStream: true, until: acked(src.Source, end), status: status, metrics: metrics}))

	// A transaction split into parts of two changes: its dead letters
	// carry its final position and their order in it.
	tx := l.db.Begin()
	require.NoError(t, tx.Exec("INSERT INTO a VALUES (20, 'good')", "INSERT INTO a VALUES (21, 'bad-split')",
		"INSERT INTO a VALUES (22, 'good')", "INSERT INTO a VALUES (23, 'good')", "INSERT INTO a VALUES (24, 'bad-split')"))
	txn, err := tx.Commit()
	require.NoError(t, err)
	end = l.db.Sync()
	split := cfg
	split.MaxBatchChanges = 2
	src = &poisonSource{Source: l.source(split)}
	require.NoError(t, l.run(src, runOpts{interval: time.Millisecond, wantStream: true, until: acked(src.Source, end), status: status, metrics: metrics}))

	got, err := l.sinkRows("a")
	require.NoError(t, err)
	require.Equal(t, map[int64]string{1: "ok", 2: "ok", 3: "ok", 4: "ok", 5: "ok", 8: "fine", 20: "good", 22: "good", 23: "good"}, got)
	l.check("b")
	rows, marks := readDLQ(t, l.cat)
	want := []dlqRow{
		{Table: "s.a", Op: "c", Row: `{"id":"21","v":"bad-split"}`, Err: `row with key id=21: column v (text): value "bad-split": poisoned`, ID: txn.String() + "#1"},
		{Table: "s.a", Op: "c", Row: `{"id":"24","v":"bad-split"}`, Err: `row with key id=24: column v (text): value "bad-split": poisoned`, ID: txn.String() + "#4"},
		{Table: "s.a", Op: "c", Row: `{"id":"7","v":"bad-insert"}`, Err: `row with key id=7: column v (text): value "bad-insert": poisoned`},
		{Table: "s.a", Op: "d", Row: `{"id":"7","v":"bad-insert"}`, Err: `row with key id=7: column v (text): value "bad-insert": poisoned`},
		{Table: "s.a", Op: "r", Row: `{"id":"6","v":"bad-snap"}`, Err: `row with key id=6: column v (text): value "bad-snap": poisoned`, ID: "r id=6"},
		{Table: "s.a", Op: "u", Row: `{"id":"1","v":"bad-update"}`, Err: `row with key id=1: column v (text): value "bad-update": poisoned`},
	}
	ids := map[string]bool{}
	for i := range rows {
		require.False(t, ids[rows[i].ID], "dead letter %s twice", rows[i].ID)
		ids[rows[i].ID] = true
		if rows[i].Op != "r" && !strings.Contains(rows[i].Row, "bad-split") {
			require.Regexp(t, `^mem\.v1:\d+#\d+$`, rows[i].ID)
			rows[i].ID = ""
		}
	}
	require.Equal(t, want, rows)
	require.Equal(t, int64(6), marks.Tables["s.a"].Count)
	require.Equal(t, 5.0, testutil.ToFloat64(metrics.DeadLetters.WithLabelValues("s.a")), "the dead letters the runs sharing the metrics wrote")
	require.NotContains(t, marks.Tables, "s.b")
	st, ok := status.Load()
	require.True(t, ok)
	for _, tl := range st.Tables {
		if tl.Source == "s.a" {
			require.Equal(t, int64(6), tl.DeadLetters)
		}
	}
	// The dead-letter table is claimed by the run's epoch, so an older
	// run's dead-letter commits are fenced as its table commits are.
	dlq, err := l.cat.LoadTable(context.Background(), lakewriter.Ident{Namespace: "lake", Name: DeadLetterTableName})
	require.NoError(t, err)
	own, err := dlq.Epoch(context.Background(), "p")
	require.NoError(t, err)
	require.NotNil(t, own.Claim)
	require.Equal(t, l.fencing.epoch, own.Epoch)
	b, err := json.Marshal(marks)
	require.NoError(t, err)
	t.Logf("marks: %s", b)
}

// TestDeadLettersOff: with pipeline.dead-letter off, a value that cannot
// be decoded stops the run, in the snapshot and in the stream, naming
// the fix, and nothing is written past it.
func TestDeadLettersOff(t *testing.T) {
	t.Parallel()
	l := newLake(t, transform.Upsert, "a")
	l.exec(inserts("a", "bad", 1)...)
	src := &poisonSource{Source: l.source(memsource.Config{})}
	err := l.run(src, runOpts{deadLetter: DeadLetterOff})
	require.ErrorContains(t, err, `read chunk 0 of s.a: row with key id=1: column v (text): value "bad": poisoned`)
	require.ErrorContains(t, err, "pipeline.dead-letter: table")
	_, err = l.cat.LoadTable(context.Background(), lakewriter.Ident{Namespace: "lake", Name: DeadLetterTableName})
	require.ErrorIs(t, err, lakewriter.ErrNoSuchTable, "a run with dead letters off made a dead-letter table")

	l.exec("UPDATE a SET v = 'good' WHERE id = 1")
	l.snapshotAll()
	pos := l.exec("INSERT INTO a VALUES (2, 'bad-stream')")
	l.db.Sync()
	src = &poisonSource{Source: l.source(memsource.Config{})}
	err = l.run(src, runOpts{deadLetter: DeadLetterOff})
	require.ErrorContains(t, err, `row with key id=2: column v (text): value "bad-stream": poisoned`)
	require.Less(t, l.committed("a"), pos)
	// snapshotAll's run (dead letters on) created the dead-letter table;
	// the runs with them off wrote nothing to it.
	dlq, err := l.cat.LoadTable(context.Background(), lakewriter.Ident{Namespace: "lake", Name: DeadLetterTableName})
	require.NoError(t, err)
	n := 0
	require.NoError(t, dlq.Scan(context.Background(), func(schema.Row) error { n++; return nil }))
	require.Zero(t, n, "dead letters written with pipeline.dead-letter off")
}

// TestDeadLettersNamespaces: tables routed to two namespaces write their
// dead letters to the dead-letter table of their own namespace, each
// with its own marks; a crash window on one table (its dead letters
// landed, its commit did not) is found from its namespace's table while
// the other namespace has no commit of the pipeline past it.
func TestDeadLettersNamespaces(t *testing.T) {
	t.Parallel()
	l := newLake(t, transform.Upsert, "a", "b")
	routes := []transform.Route{{Source: regexp.MustCompile(`s\.b`), Namespace: "other"}}
	cfg := memsource.Config{OnAck: func(capture.Position) {}}
	l.exec(inserts("a", "ok", 1)...)
	l.exec(inserts("b", "ok", 1)...)
	end := l.db.Sync()
	src := &poisonSource{Source: l.source(cfg)}
	require.NoError(t, l.run(src, runOpts{wantStream: true, until: acked(src.Source, end), routes: routes}))

	f := l.faults()
	f.refuse("b")
	l.exec("INSERT INTO a VALUES (2, 'bad-a')", "INSERT INTO b VALUES (2, 'bad-b')", "INSERT INTO b VALUES (3, 'fine')")
	l.db.Sync()
	src = &poisonSource{Source: l.source(cfg)}
	require.ErrorContains(t, l.run(src, runOpts{interval: time.Hour, routes: routes}), "injected: commit of b refused")
	f.heal("b")
	l.exec("INSERT INTO b VALUES (4, 'bad-b2')")
	end = l.db.Sync()
	src = &poisonSource{Source: l.source(cfg)}
	require.NoError(t, l.run(src, runOpts{wantStream: true, until: acked(src.Source, end), routes: routes}))

	rowsA, marksA := readDLQIn(t, l.cat, "lake")
	rowsB, marksB := readDLQIn(t, l.cat, "other")
	require.Len(t, rowsA, 1)
	require.Equal(t, `{"id":"2","v":"bad-a"}`, rowsA[0].Row)
	require.Len(t, rowsB, 2, "b's dead letters once each: %v", rowsB)
	require.Equal(t, `{"id":"2","v":"bad-b"}`, rowsB[0].Row)
	require.Equal(t, `{"id":"4","v":"bad-b2"}`, rowsB[1].Row)
	require.Equal(t, map[string]int64{"s.a": 1}, map[string]int64{"s.a": marksA.Tables["s.a"].Count})
	require.NotContains(t, marksA.Tables, "s.b")
	require.Equal(t, int64(2), marksB.Tables["s.b"].Count)
	tbl, err := l.cat.LoadTable(context.Background(), lakewriter.Ident{Namespace: "other", Name: "b"})
	require.NoError(t, err)
	ids := map[int64]bool{}
	require.NoError(t, tbl.Scan(context.Background(), func(r schema.Row) error { ids[r[0].(int64)] = true; return nil }))
	require.Equal(t, map[int64]bool{1: true, 3: true}, ids)
}

// TestDeadLettersChangelog: in changelog mode a dead change is not
// logged; every other change is, once, and the dead-letter table holds
// the dead ones once each across a failed commit (a delete whose old
// image cannot be decoded is one of them).
func TestDeadLettersChangelog(t *testing.T) {
	t.Parallel()
	l := newLake(t, transform.Changelog, "a")
	cfg := memsource.Config{OnAck: func(capture.Position) {}}
	l.exec(inserts("a", "ok", 1, 2)...)
	l.exec(inserts("a", "bad-snap", 3)...)
	end := l.db.Sync()
	src := &poisonSource{Source: l.source(cfg)}
	require.NoError(t, l.run(src, runOpts{wantStream: true, until: acked(src.Source, end)}))

	f := l.faults()
	f.refuse("a")
	l.exec("UPDATE a SET v = 'bad-u' WHERE id = 1", "UPDATE a SET v = 'good' WHERE id = 2", "DELETE FROM a WHERE id = 3")
	l.db.Sync()
	src = &poisonSource{Source: l.source(cfg)}
	require.ErrorContains(t, l.run(src, runOpts{interval: time.Hour}), "injected: commit of a refused")
	f.heal("a")
	end = l.db.Sync()
	src = &poisonSource{Source: l.source(cfg)}
	require.NoError(t, l.run(src, runOpts{wantStream: true, until: acked(src.Source, end)}))

	got, err := l.sinkRows("a") // folded; a change logged twice fails
	require.NoError(t, err)
	require.Equal(t, map[int64]string{1: "ok", 2: "good"}, got)
	log, err := l.scanLog("a")
	require.NoError(t, err)
	require.Len(t, log, 3, "r 1, r 2, u 2 (the delete of 3 carries its bad old image: a dead letter too): %v", log)
	rows, _ := readDLQ(t, l.cat)
	var ops []string
	for _, r := range rows {
		ops = append(ops, r.Op+" "+r.Row)
	}
	require.Equal(t, []string{`d {"id":"3","v":"bad-snap"}`, `r {"id":"3","v":"bad-snap"}`, `u {"id":"1","v":"bad-u"}`}, ops)
}

// TestDeadLettersEpochAcrossTableSets: a run of the pipeline over other
// tables of the namespace (its source.tables changed) takes an epoch above
// the dead-letter table's claim too, and claims it; it used to take the
// same epoch as the earlier run (from its own tables only) and stop at the
// dead-letter table as if two runs had started at once.
func TestDeadLettersEpochAcrossTableSets(t *testing.T) {
	t.Parallel()
	l := newLake(t, transform.Upsert, "a", "b")
	cfg := memsource.Config{OnAck: func(capture.Position) {}}
	l.exec(inserts("a", "ok", 1)...)
	l.exec("INSERT INTO a VALUES (2, 'bad-a')")
	l.exec(inserts("b", "ok", 1)...)
	end := l.db.Sync()
	onlyA := memsource.Config{OnAck: cfg.OnAck, Tables: []string{"a"}}
	srcA := &poisonSource{Source: memsource.New(l.db, onlyA)}
	require.NoError(t, l.run(srcA, runOpts{wantStream: true, until: acked(srcA.Source, end), fencing: NewFencing()}))
	rows, _ := readDLQ(t, l.cat)
	require.Len(t, rows, 1, "the first run over a wrote its dead letter")

	l.exec("INSERT INTO b VALUES (2, 'bad-b')")
	end = l.db.Sync()
	onlyB := memsource.Config{OnAck: cfg.OnAck, Tables: []string{"b"}}
	srcB := &poisonSource{Source: memsource.New(l.db, onlyB)}
	require.NoError(t, l.run(srcB, runOpts{wantStream: true, until: acked(srcB.Source, end), fencing: NewFencing()}),
		"a run over b after a run over a stopped at the dead-letter table")
	rows, marks := readDLQ(t, l.cat)
	require.Len(t, rows, 2)
	require.Contains(t, marks.Tables, "s.b")
	dlq, err := l.cat.LoadTable(context.Background(), lakewriter.Ident{Namespace: "lake", Name: DeadLetterTableName})
	require.NoError(t, err)
	own, err := dlq.Epoch(context.Background(), "p")
	require.NoError(t, err)
	require.Equal(t, int64(2), own.Epoch, "the second run claimed the dead-letter table above the first")
}

// TestDeadLettersDirectChunkUnplaceable: under schema-change-behavior
// ignore, an Iceberg table that kept column v required while the source
// holds NULLs in it: the snapshot chunks holding such a row, which would
// be written straight to data files (direct.go), go through the buffer,
// where the row becomes a dead letter (op r) and the chunk's other rows
// land.
func TestDeadLettersDirectChunkUnplaceable(t *testing.T) {
	t.Parallel()
	l := newLake(t, transform.Upsert, "a")
	var rows []string
	for id := 1; id <= 100; id++ {
		v := fmt.Sprintf("'v%d'", id)
		if id == 7 || id == 63 {
			v = "NULL"
		}
		rows = append(rows, fmt.Sprintf("INSERT INTO a VALUES (%d, %s)", id, v))
	}
	l.exec(rows...)
	required := &schema.Table{Columns: []schema.Column{
		{Name: "id", Type: iceberg.PrimitiveTypes.Int64}, {Name: "v", Type: iceberg.PrimitiveTypes.String},
	}, Key: []int{0}}
	layout := transform.SinkLayout(required, transform.Upsert)
	_, err := l.cat.EnsureTable(context.Background(), lakewriter.Ident{Namespace: "lake", Name: "a"}, layout, layout.Key)
	require.NoError(t, err)

	// The table lacks the dead rows on purpose: no acknowledgement check.
	src := l.source(memsource.Config{OnAck: func(capture.Position) {}})
	require.NoError(t, l.run(src, runOpts{snapshot: SnapshotInitialOnly, behavior: transform.Ignore}))

	dead, marks := readDLQ(t, l.cat)
	require.Len(t, dead, 2, "dead letters: %v", dead)
	for i, id := range []string{"63", "7"} {
		require.Equal(t, "r", dead[i].Op)
		require.Equal(t, `{"id":"`+id+`","v":null}`, dead[i].Row)
		require.Contains(t, dead[i].Err, "column v is NULL in the source but required in the Iceberg table")
	}
	require.Equal(t, int64(2), marks.Tables["s.a"].Count)
	tbl, err := l.cat.LoadTable(context.Background(), lakewriter.Ident{Namespace: "lake", Name: "a"})
	require.NoError(t, err)
	got := map[int64]string{}
	require.NoError(t, tbl.Scan(context.Background(), func(r schema.Row) error { got[r[0].(int64)] = r[1].(string); return nil }))
	require.Len(t, got, 98)
	for id := int64(1); id <= 100; id++ {
		if id == 7 || id == 63 {
			require.NotContains(t, got, id)
			continue
		}
		require.Equal(t, fmt.Sprintf("v%d", id), got[id])
	}
}

// TestDeadLetterTableClaimedAtStart: an older run of the pipeline still
// running after a newer one started cannot add dead letters, also when
// neither had written one yet: the newer run created and claimed the
// dead-letter table at its start, so the older run's first dead-letter
// commit is refused, and the change is a dead letter once, written by the
// newer run. (The table used to be created with the first dead letter:
// the older run created it, claimed it at its own epoch and appended, and
// the newer run, which had read no marks at its start, appended the same
// change again.)
func TestDeadLetterTableClaimedAtStart(t *testing.T) {
	t.Parallel()
	l := newLake(t, transform.Upsert, "a")
	noAckCheck := memsource.Config{OnAck: func(capture.Position) {}}
	l.exec(inserts("a", "ok", 1, 2)...)
	end := l.db.Sync()

	var stopA, stopB atomic.Bool
	srcA := &poisonSource{Source: l.source(noAckCheck)}
	errA := make(chan error, 1)
	go func() {
		errA <- l.run(srcA, runOpts{fencing: NewFencing(), until: stopA.Load, deadline: time.Minute})
	}()
	require.Eventually(t, acked(srcA.Source, end), 20*time.Second, 5*time.Millisecond, "the older run streams")

	release := make(chan struct{})
	srcB := &poisonSource{Source: l.source(noAckCheck), onDead: func() { <-release }}
	errB := make(chan error, 1)
	go func() {
		errB <- l.run(srcB, runOpts{fencing: NewFencing(), until: stopB.Load, deadline: time.Minute})
	}()
	// The newer run claims a, then the dead-letter table, in one pass
	// before it reads either; the older run's next commit (the dead
	// letter's, first) is refused once both are claimed. (Between the two
	// claims the older run may still commit its dead letter: the newer
	// one then finds it when it reads the table, and the older one stops
	// at a's commit.)
	var claimed []*lakewriter.Table
	for _, name := range []string{"a", DeadLetterTableName} {
		tbl, err := l.cat.LoadTable(context.Background(), lakewriter.Ident{Namespace: "lake", Name: name})
		require.NoError(t, err)
		claimed = append(claimed, tbl)
	}
	require.Eventually(t, func() bool {
		for _, tbl := range claimed {
			if own, err := tbl.Epoch(context.Background(), "p"); err != nil || own.Epoch != 2 {
				return false
			}
		}
		return true
	}, 20*time.Second, 5*time.Millisecond, "the newer run claims a and the dead-letter table")

	bad := l.exec("INSERT INTO a VALUES (3, 'bad-a')")
	l.db.Sync()
	select {
	case err := <-errA:
		require.ErrorContains(t, err, "dead letters", "the older run stops at its dead-letter commit")
	case <-time.After(20 * time.Second):
		stopA.Store(true)
		t.Fatal("the older run went on after the newer one claimed the tables")
	}
	close(release)
	require.Eventually(t, acked(srcB.Source, bad), 20*time.Second, 5*time.Millisecond, "the newer run streams past the dead letter")
	stopB.Store(true)
	require.NoError(t, <-errB)

	rows, marks := readDLQ(t, l.cat)
	require.Len(t, rows, 1, "the dead letter once: %v", rows)
	require.Equal(t, `{"id":"3","v":"bad-a"}`, rows[0].Row)
	require.Equal(t, int64(1), marks.Tables["s.a"].Count)
}
