package capturetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

func ins(table string, after schema.Row) want {
	return want{table: table, op: capture.OpInsert, after: after}
}
func upd(table string, before, after schema.Row) want {
	return want{table: table, op: capture.OpUpdate, before: before, after: after}
}
func del(table string, before schema.Row) want {
	return want{table: table, op: capture.OpDelete, before: before}
}

// testStreamRowChanges: single-statement transactions arrive one batch
// each, in order, with the right op and images; transactions on tables
// that are not captured produce no batch with changes.
func testStreamRowChanges(t *testing.T, e Env) {
	e.Exec(ddlT, ddlOther)
	src, info := start(t, e, Options{}, capture.StartRequest{}, "t")
	if info.Exact {
		t.Error("StartInfo.Exact without a snapshot")
	}
	s := startStream(t, e, src, info.From, "t")

	a := tRow{ID: 1, Name: "a", Cents: 150, Note: "x"}
	a2 := tRow{ID: 1, Name: "a2", Cents: 1025, Note: "x"}
	b := tRow{ID: 2, Cents: -205}
	b10 := tRow{ID: 10, Cents: -205}
	c := tRow{ID: 3, Name: "", Cents: -5, Note: "żółw 🐢 it's"}
	d := tRow{ID: 4, Name: "d", Cents: -999999999999, Note: ""}
	lo, hi := tRow{ID: math.MinInt64, Cents: 999999999999}, tRow{ID: math.MaxInt64, Name: "hi", Cents: 1}
	steps := []struct {
		sql  string
		want []want
	}{
		{insertT(a), []want{ins("t", a.row())}},
		{"INSERT INTO other VALUES (1, 1)", nil},
		{insertT(b), []want{ins("t", b.row())}},
		{"UPDATE t SET name = 'a2', amount = 10.25 WHERE id = 1", []want{upd("t", a.row(), a2.row())}},
		{"UPDATE t SET id = 10 WHERE id = 2", []want{upd("t", b.row(), b10.row())}},
		{"DELETE FROM t WHERE id = 1", []want{del("t", a2.row())}},
		{"UPDATE other SET v = 2", nil},
		{insertT(c, d), []want{ins("t", c.row()), ins("t", d.row())}},
		{"DELETE FROM t WHERE id IN (3, 4)", []want{del("t", c.row()), del("t", d.row())}},
		{"CREATE TABLE other2 (id bigint PRIMARY KEY)", nil},
		{"DROP TABLE other2", nil},
		{insertT(lo), []want{ins("t", lo.row())}},
		{insertT(hi), []want{ins("t", hi.row())}},
		{fmt.Sprintf("UPDATE t SET id = %d WHERE id = %d", int64(math.MinInt64)+1, int64(math.MinInt64)),
			[]want{upd("t", lo.row(), tRow{ID: math.MinInt64 + 1, Cents: 999999999999}.row())}},
	}
	for _, st := range steps {
		t0 := time.Now()
		e.Exec(st.sql)
		if st.want == nil {
			continue // the next step's batch must come first
		}
		batch := s.expect(e, st.want...)
		if ct := batch.CommitTime; ct.Before(t0.Add(-time.Minute)) || ct.After(time.Now().Add(time.Minute)) {
			t.Errorf("%q: commit time %v, want about %v", st.sql, ct, t0.UTC())
		}
	}
}

// testMultiTable: a transaction over several tables is one batch holding
// its captured changes in statement order.
func testMultiTable(t *testing.T, e Env) {
	e.Exec(ddlT, ddlU, ddlOther)
	src, info := start(t, e, Options{}, capture.StartRequest{}, "t", "u")
	s := startStream(t, e, src, info.From, "t", "u")

	a := tRow{ID: 1, Name: "a", Cents: 100, Note: "n"}
	a2 := tRow{ID: 1, Name: "a", Cents: 200, Note: "n"}
	eu1, eu2, us2 := uRow{"eu", 1, 5}, uRow{"eu", 2, -1}, uRow{"us", 2, -1}
	e.Tx(insertT(a), insertU(eu1, eu2), "INSERT INTO other VALUES (1, 1)",
		"UPDATE t SET amount = 2.00 WHERE id = 1", "DELETE FROM u WHERE region = 'eu' AND id = 1")
	s.expect(e, ins("t", a.row()), ins("u", eu1.row()), ins("u", eu2.row()), upd("t", a.row(), a2.row()), del("u", eu1.row()))

	// A transaction on an uncaptured table only, then a composite key change.
	e.Tx("INSERT INTO other VALUES (2, 2)", "UPDATE other SET v = 3 WHERE id = 1")
	e.Tx("UPDATE u SET region = 'us' WHERE region = 'eu' AND id = 2", "DELETE FROM t WHERE id = 1")
	s.expect(e, upd("u", eu2.row(), us2.row()), del("t", a2.row()))
}

// testLargeValues: a transaction whose changes carry large values arrives
// in parts of about MaxBatchBytes, whatever their number of changes, each
// emitted once it reaches that size, so that a transaction's values are
// never all in memory at once.
func testLargeValues(t *testing.T, e Env) {
	e.Exec(ddlT)
	const maxBytes = 100 << 10
	src, info := start(t, e, Options{MaxBatchBytes: maxBytes}, capture.StartRequest{}, "t")
	s := startStream(t, e, src, info.From, "t")

	var rows []tRow
	var ws []want
	for i := int64(1); i <= 12; i++ {
		r := tRow{ID: i, Name: fmt.Sprintf("r%d", i), Cents: i, Note: strings.Repeat(string(rune('a'+i)), 40<<10)}
		rows = append(rows, r)
		ws = append(ws, ins("t", r.row()))
	}
	e.Tx(insertT(rows...))
	var all capture.Batch
	parts := 0
	for {
		b := s.next()
		parts++
		if n := b.Size(); b.More && n > maxBytes+50<<10 {
			t.Fatalf("part %d holds %d changes of %d bytes, more than MaxBatchBytes %d and one change", parts, len(b.Changes), n, maxBytes)
		}
		all.Changes = append(all.Changes, b.Changes...)
		if !b.More {
			all.Position, all.CommitTime = b.Position, b.CommitTime
			// A part goes as soon as its changes reach MaxBatchBytes (the
			// source does not hold their values while it reads on): the
			// twelfth change completes the fourth part, so the
			// transaction's end carries none.
			if len(b.Changes) != 0 {
				t.Fatalf("the transaction ended with a batch of %d changes, want none: the last part reached MaxBatchBytes and should have gone at once", len(b.Changes))
			}
			break
		}
	}
	// 12 changes of 40 KiB: parts of three (the fourth would pass 100 KiB).
	if parts < 4 {
		t.Fatalf("12 changes of 40 KiB arrived in %d parts, want at least 4 with MaxBatchBytes %d", parts, maxBytes)
	}
	matchBatch(t, e, all, ws)
}

// testLargeTransaction: a transaction of more than MaxBatchChanges
// changes arrives in parts, More set on all but the last, nothing lost.
func testLargeTransaction(t *testing.T, e Env) {
	e.Exec(ddlT)
	const maxBatch = 100
	src, info := start(t, e, Options{MaxBatchChanges: maxBatch}, capture.StartRequest{}, "t")
	s := startStream(t, e, src, info.From, "t")

	first := tRow{ID: 0, Name: "first", Cents: 1}
	e.Exec(insertT(first))
	before := s.expect(e, ins("t", first.row()))

	var rows []tRow
	var ws []want
	for i := int64(1); i <= 350; i++ {
		r := tRow{ID: i, Name: fmt.Sprintf("r%d", i), Cents: i, Note: "big"}
		rows = append(rows, r)
		ws = append(ws, ins("t", r.row()))
	}
	ws = append(ws, del("t", first.row()))
	e.Tx(insertT(rows...), "DELETE FROM t WHERE id = 0")

	// The stream checks every part: after the previous transaction, not
	// before an earlier part, not after the final one.
	all, parts := s.nextTxn(maxBatch)
	if parts < 4 {
		t.Fatalf("transaction of %d changes arrived in %d parts, want at least 4 with MaxBatchChanges %d", len(ws), parts, maxBatch)
	}
	if all.Position.Compare(before.Position) <= 0 {
		t.Fatalf("split transaction at %s is not after the previous one at %s", all.Position, before.Position)
	}
	matchBatch(t, e, all, ws)

	after := tRow{ID: 1000, Name: "after", Cents: 2}
	e.Exec(insertT(after))
	s.expect(e, ins("t", after.row()))
}

// testTruncate: TRUNCATE of a captured table is one OpTruncate change;
// TRUNCATE of another table yields nothing.
func testTruncate(t *testing.T, e Env) {
	e.Exec(ddlT, ddlOther, "INSERT INTO other VALUES (1, 1)")
	src, info := start(t, e, Options{}, capture.StartRequest{}, "t")
	s := startStream(t, e, src, info.From, "t")
	a, b := tRow{ID: 1, Name: "a", Cents: 1}, tRow{ID: 2, Name: "b", Cents: 2}
	e.Exec(insertT(a, b))
	s.expect(e, ins("t", a.row()), ins("t", b.row()))
	e.Exec("TRUNCATE TABLE t")
	s.expect(e, want{table: "t", op: capture.OpTruncate})
	e.Exec("TRUNCATE TABLE other", insertT(a))
	s.expect(e, ins("t", a.row()))
}

// testResume: a new source started with Resume = the position of an
// emitted batch emits exactly the batches after it, then live changes.
func testResume(t *testing.T, e Env) {
	e.Exec(ddlT, ddlOther)
	srcA, info := start(t, e, Options{}, capture.StartRequest{}, "t")
	s := startStream(t, e, srcA, info.From, "t")
	var rows []tRow
	var batches []capture.Batch
	for i := int64(1); i <= 6; i++ {
		r := tRow{ID: i, Name: fmt.Sprintf("r%d", i), Cents: i * 100}
		rows = append(rows, r)
		e.Exec(insertT(r))
		if i == 3 {
			e.Exec("INSERT INTO other VALUES (1, 1)")
		}
		batches = append(batches, s.expect(e, ins("t", r.row())))
	}
	const k = 2
	// The coordinator acknowledges what is durable; the source must keep
	// everything after it.
	srcA.Ack(batches[k].Position)
	time.Sleep(500 * time.Millisecond) // let the acknowledgement reach the server
	s.Stop()
	if err := srcA.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	srcB := e.NewSource(Options{}, "t")
	resume, err := srcB.DecodePosition(batches[k].Position.String())
	if err != nil {
		t.Fatalf("DecodePosition(%q): %v", batches[k].Position.String(), err)
	}
	ctx := Context(t)
	if _, err := srcB.Discover(ctx); err != nil {
		t.Fatalf("Discover: %v", err)
	}
	infoB, err := srcB.Start(ctx, capture.StartRequest{Resume: resume})
	if err != nil {
		t.Fatalf("Start with Resume %s: %v", resume, err)
	}
	if infoB.From.Compare(batches[k].Position) < 0 || infoB.From.Compare(batches[k+1].Position) >= 0 {
		t.Fatalf("resumed From = %s, want at or after %s and before the next batch at %s", infoB.From, batches[k].Position, batches[k+1].Position)
	}
	s2 := startStream(t, e, srcB, infoB.From, "t")
	for i := k + 1; i < len(batches); i++ {
		b := s2.expect(e, ins("t", rows[i].row()))
		if b.Position.Compare(batches[i].Position) != 0 {
			t.Errorf("resumed batch %d at %s, first emitted at %s", i, b.Position, batches[i].Position)
		}
	}
	live := tRow{ID: 7, Name: "live", Cents: 7}
	e.Exec(insertT(live))
	s2.expect(e, ins("t", live.row()))
}

// testResumeAfterSplit: resuming before a split transaction replays all
// of it; resuming at its final position continues with the next one.
func testResumeAfterSplit(t *testing.T, e Env) {
	e.Exec(ddlT)
	opts := Options{MaxBatchChanges: 100}
	src, info := start(t, e, opts, capture.StartRequest{}, "t")
	s := startStream(t, e, src, info.From, "t")
	first, last := tRow{ID: 0, Name: "first"}, tRow{ID: 1000, Name: "last"}
	var big []tRow
	var bigWant []want
	for i := int64(1); i <= 250; i++ {
		r := tRow{ID: i, Cents: i}
		big = append(big, r)
		bigWant = append(bigWant, ins("t", r.row()))
	}
	e.Exec(insertT(first))
	p1 := s.expect(e, ins("t", first.row())).Position
	e.Tx(insertT(big...))
	txn, _ := s.nextTxn(100)
	matchBatch(t, e, txn, bigWant)
	e.Exec(insertT(last))
	p3 := s.expect(e, ins("t", last.row())).Position
	s.Stop()
	if err := src.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	resume := func(at capture.Position) (capture.Source, *stream) {
		t.Helper()
		src := e.NewSource(opts, "t")
		ctx := Context(t)
		pos, err := src.DecodePosition(at.String())
		if err != nil {
			t.Fatalf("DecodePosition(%q): %v", at, err)
		}
		if _, err := src.Discover(ctx); err != nil {
			t.Fatalf("Discover: %v", err)
		}
		info, err := src.Start(ctx, capture.StartRequest{Resume: pos})
		if err != nil {
			t.Fatalf("Start with Resume %s: %v", pos, err)
		}
		return src, startStream(t, e, src, info.From, "t")
	}
	srcB, sb := resume(p1)
	again, _ := sb.nextTxn(100)
	if again.Position.Compare(txn.Position) != 0 {
		t.Errorf("replayed split transaction at %s, first emitted at %s", again.Position, txn.Position)
	}
	matchBatch(t, e, again, bigWant)
	if b := sb.expect(e, ins("t", last.row())); b.Position.Compare(p3) != 0 {
		t.Errorf("replayed batch at %s, first emitted at %s", b.Position, p3)
	}
	sb.Stop()
	if err := srcB.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	_, sc := resume(txn.Position)
	sc.expect(e, ins("t", last.row()))
}

// testCancel: Stream returns context.Canceled promptly when cancelled
// while blocked on a consumer that does not read; Close is idempotent.
func testCancel(t *testing.T, e Env) {
	e.Exec(ddlT)
	src, _ := start(t, e, Options{}, capture.StartRequest{}, "t")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- src.Stream(ctx, make(chan capture.Batch)) }()
	for i := int64(1); i <= 3; i++ {
		e.Exec(insertT(tRow{ID: i}))
	}
	time.Sleep(time.Second) // the stream is now blocked sending the first batch
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Stream returned %v after cancel, want context.Canceled", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Stream blocked on its consumer did not return within 15s of cancel")
	}
	for i := 0; i < 2; i++ {
		if err := src.Close(); err != nil {
			t.Errorf("Close call %d: %v", i+1, err)
		}
	}
}

// testInterleaved: concurrent transactions arrive whole, in commit order,
// also when the one committed last started first and is split; rolled
// back transactions never arrive.
func testInterleaved(t *testing.T, e Env) {
	e.Exec(ddlT)
	src, info := start(t, e, Options{MaxBatchChanges: 100}, capture.StartRequest{}, "t")
	s := startStream(t, e, src, info.From, "t")

	long, short, gone := e.Begin(), e.Begin(), e.Begin()
	var big []tRow
	var bigWant []want
	for i := int64(1); i <= 150; i++ {
		r := tRow{ID: i, Name: "long", Cents: i}
		big = append(big, r)
		bigWant = append(bigWant, ins("t", r.row()))
	}
	long.Exec(insertT(big[:75]...))
	gone.Exec(insertT(tRow{ID: 999, Name: "rolled back"}))
	x := tRow{ID: 500, Name: "short"}
	short.Exec(insertT(x))
	long.Exec(insertT(big[75:]...))
	short.Commit()
	gone.Rollback()
	long.Exec("UPDATE t SET note = 'done' WHERE id = 1")
	long.Commit()
	done := big[0]
	done.Note = "done"
	bigWant = append(bigWant, upd("t", big[0].row(), done.row()))

	first := s.expect(e, ins("t", x.row()))
	all, parts := s.nextTxn(100)
	if parts < 2 {
		t.Errorf("transaction of %d changes arrived in %d parts, want at least 2", len(bigWant), parts)
	}
	if all.Position.Compare(first.Position) <= 0 {
		t.Errorf("transaction committed last at %s, not after the one committed first at %s", all.Position, first.Position)
	}
	matchBatch(t, e, all, bigWant)
	y := tRow{ID: 501, Name: "next"}
	e.Exec(insertT(y))
	s.expect(e, ins("t", y.row()))
}
