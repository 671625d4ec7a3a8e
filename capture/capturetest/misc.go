package capturetest

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

// testPositions: every emitted position survives String/DecodePosition,
// Compare orders positions as they were emitted, and malformed or
// foreign-version encodings are errors.
func testPositions(t *testing.T, e Env) {
	e.Exec(ddlT)
	src, info := start(t, e, Options{}, capture.StartRequest{}, "t")
	s := startStream(t, e, src, info.From, "t")
	ps := []capture.Position{info.From}
	for i := int64(1); i <= 4; i++ {
		r := tRow{ID: i, Cents: i}
		e.Exec(insertT(r))
		ps = append(ps, s.expect(e, ins("t", r.row())).Position)
	}
	fresh := e.NewSource(Options{}, "t") // decoding needs no connection
	for i, p := range ps {
		str := p.String()
		for _, dec := range []capture.Source{src, fresh} {
			q, err := dec.DecodePosition(str)
			if err != nil {
				t.Fatalf("DecodePosition(%q): %v", str, err)
			}
			if q.String() != str || q.Compare(p) != 0 || p.Compare(q) != 0 {
				t.Errorf("DecodePosition(%q) = %s, Compare %d/%d, want the same position", str, q, q.Compare(p), p.Compare(q))
			}
		}
		for j, o := range ps {
			want := 0
			switch {
			case i < j:
				want = -1
			case i > j:
				want = 1
			}
			if got := p.Compare(o); got != want {
				t.Errorf("position %d (%s).Compare(position %d (%s)) = %d, want %d", i, p, j, o, got, want)
			}
		}
	}
	bad := []string{"", "garbage", "x" + ps[1].String()}
	if str := ps[1].String(); strings.Contains(str, ".v1:") {
		bad = append(bad, strings.Replace(str, ".v1:", ".v999:", 1))
	}
	for _, str := range bad {
		if p, err := src.DecodePosition(str); err == nil {
			t.Errorf("DecodePosition(%q) = %s, want an error", str, p)
		}
	}
}

// testReadRows: ReadRows returns the current rows of existing keys and
// leaves missing keys out; CurrentPosition is at or after everything
// committed before it was called.
func testReadRows(t *testing.T, e Env) {
	r1, r3 := tRow{ID: 1, Name: "one", Cents: 100, Note: "n1"}, tRow{ID: 3, Name: "three", Cents: 300}
	e.Exec(ddlT, ddlU,
		insertT(r1, tRow{ID: 2, Name: "two"}, tRow{ID: 3, Name: "3"}, tRow{ID: 4, Name: "four"}),
		"UPDATE t SET name = 'three', amount = 3.00 WHERE id = 3", "DELETE FROM t WHERE id IN (2, 4)",
		insertU(uRow{"eu", 1, 7}, uRow{"us", 2, -1}))
	src, info := start(t, e, Options{}, capture.StartRequest{}, "t", "u")
	rr, ok := src.(capture.RowReader)
	if !ok {
		t.Fatalf("%T does not implement capture.RowReader", src)
	}
	ctx := Context(t)
	read := func(table string, keys ...schema.Row) map[string]schema.Row {
		t.Helper()
		rows, layout, err := rr.ReadRows(ctx, e.Table(table), keys)
		if err != nil {
			t.Fatalf("ReadRows(%s, %d keys): %v", table, len(keys), err)
		}
		l := tLayout
		if table == "u" {
			l = uLayout
		}
		// The rows come in the table's layout now: unchanged here, so
		// the table's columns and key.
		if layout == nil || !slices.Equal(layout.Key, l.Key) || len(layout.Columns) != len(l.Columns) {
			t.Fatalf("ReadRows(%s) returned its rows in layout %v, want %d columns keyed on %v", table, layout, len(l.Columns), l.Key)
		}
		for _, r := range rows {
			if len(r) != len(layout.Columns) {
				t.Fatalf("ReadRows(%s) returned row %v, not in its layout %v", table, r, layout)
			}
		}
		out := map[string]schema.Row{}
		for _, r := range rows {
			k := keyString(l, r)
			if _, dup := out[k]; dup {
				t.Fatalf("ReadRows(%s) returned key %s twice", table, k)
			}
			out[k] = r
		}
		return out
	}
	byKey := func(l *schema.Table, rows ...schema.Row) map[string]schema.Row {
		out := map[string]schema.Row{}
		for _, r := range rows {
			out[keyString(l, r)] = r
		}
		return out
	}
	if got, want := read("t", schema.Row{int64(1)}, schema.Row{int64(2)}, schema.Row{int64(3)}, schema.Row{int64(99)}), byKey(tLayout, r1.row(), r3.row()); !equalRows(got, want) {
		t.Errorf("ReadRows(t, 1 2 3 99) = %d rows, want rows 1 and 3%s", len(got), diffRows(got, want))
	}
	if got, want := read("u", schema.Row{"us", int64(2)}, schema.Row{"eu", int64(2)}), byKey(uLayout, uRow{"us", 2, -1}.row()); !equalRows(got, want) {
		t.Errorf("ReadRows(u, us/2 eu/2) = %d rows, want us/2%s", len(got), diffRows(got, want))
	}
	if got := read("t"); len(got) != 0 {
		t.Errorf("ReadRows(t) with no keys = %d rows, want none", len(got))
	}

	cur0, err := rr.CurrentPosition(ctx)
	if err != nil {
		t.Fatalf("CurrentPosition: %v", err)
	}
	if cur0.Compare(info.From) < 0 {
		t.Errorf("CurrentPosition %s is before StartInfo.From %s", cur0, info.From)
	}
	s := startStream(t, e, src, info.From, "t", "u")
	e.Exec("UPDATE t SET name = 'uno' WHERE id = 1")
	b1 := s.next()
	e.Exec(insertU(uRow{"ap", 9, 9}))
	b2 := s.next()
	cur, err := rr.CurrentPosition(ctx)
	if err != nil {
		t.Fatalf("CurrentPosition: %v", err)
	}
	for _, b := range []capture.Batch{b1, b2} {
		if cur.Compare(b.Position) < 0 {
			t.Errorf("CurrentPosition %s is before the emitted position %s", cur, b.Position)
		}
	}
	uno := r1
	uno.Name = "uno"
	if got := read("t", schema.Row{int64(1)}); !reflect.DeepEqual(got, byKey(tLayout, uno.row())) {
		t.Errorf("ReadRows(t, 1) after an update = %v, want %s", got, fmtRow(uno.row()))
	}
}

// testHeartbeat: with a short HeartbeatInterval, changes to tables that
// are not captured (and, where the source can, plain idleness) yield empty
// batches that move the position forward.
func testHeartbeat(t *testing.T, e Env) {
	e.Exec(ddlT, ddlOther)
	src, info := start(t, e, Options{HeartbeatInterval: 500 * time.Millisecond}, capture.StartRequest{}, "t")
	s := startStream(t, e, src, info.From, "t")
	if e.Caps().IdleHeartbeat {
		hb, ok := s.nextEmpty(15*time.Second, nil)
		if !ok {
			t.Fatal("no empty batch within 15s on an idle database with HeartbeatInterval 500ms")
		}
		src.Ack(hb.Position)
	} else {
		t.Log("the source documents no heartbeats on a fully idle database; checking heartbeats after uncaptured changes only")
	}
	rr, ok := src.(capture.RowReader)
	if !ok {
		t.Fatalf("%T does not implement capture.RowReader", src)
	}
	for i := 1; i <= 2; i++ {
		time.Sleep(time.Second)
		e.Exec(fmt.Sprintf("INSERT INTO other VALUES (%d, %d)", i, i))
		cur, err := rr.CurrentPosition(Context(t))
		if err != nil {
			t.Fatalf("CurrentPosition: %v", err)
		}
		hb, ok := s.nextEmpty(15*time.Second, cur)
		if !ok {
			t.Fatalf("no empty batch at or after %s within 15s of a change to an uncaptured table", cur)
		}
		src.Ack(hb.Position)
	}
	r := tRow{ID: 1, Name: "after heartbeats"}
	e.Exec(insertT(r))
	s.expect(e, ins("t", r.row()))
}
