package capturetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

// testSnapshotConverges: rows read by the snapshot while the table is
// being written, then the stream from StartInfo.From applied as upserts
// and deletes by key, equal the table at the end — whether the snapshot
// is exact or converges by replay.
func testSnapshotConverges(t *testing.T, e Env) {
	model := map[int64]tRow{}
	var rows []tRow
	for i := int64(1); i <= 300; i++ {
		r := tRow{ID: i * 10, Name: fmt.Sprintf("n%d", i), Cents: i, Note: "v0"}
		rows = append(rows, r)
		model[r.ID] = r
	}
	e.Exec(ddlT, insertT(rows...))
	src, info := start(t, e, Options{MaxBatchChanges: 50}, capture.StartRequest{Snapshot: true}, "t")
	sn, ok := src.(capture.Snapshotter)
	if !ok {
		t.Fatalf("%T does not implement capture.Snapshotter", src)
	}
	ctx := Context(t)
	chunks, err := sn.PlanChunks(ctx, e.Table("t"), 30)
	if err != nil {
		t.Fatalf("PlanChunks: %v", err)
	}
	state := map[string]schema.Row{}
	for i, c := range chunks {
		b, err := sn.ReadChunk(ctx, e.Table("t"), c)
		if err != nil {
			t.Fatalf("ReadChunk %d: %v", c.Index, err)
		}
		for _, ch := range b.Changes {
			state[keyString(ch.Schema, ch.After)] = ch.After
		}
		convergeWrites(e, model, i)
	}
	if err := sn.EndSnapshot(ctx); err != nil {
		t.Fatalf("EndSnapshot: %v", err)
	}
	marker := tRow{ID: -1, Name: "marker"}
	e.Exec(insertT(marker))
	model[marker.ID] = marker

	s := startStream(t, e, src, info.From, "t")
	deadline := time.Now().Add(waitTimeout)
	for seen := false; !seen; {
		if time.Now().After(deadline) {
			t.Fatalf("marker insert not streamed within %s", waitTimeout)
		}
		b := s.next()
		for _, ch := range b.Changes {
			switch ch.Op {
			case capture.OpInsert, capture.OpUpdate:
				if ch.After.HasUnchanged() {
					t.Fatalf("change %s has unchanged values; the workload has none", fmtChange(ch))
				}
				if ch.Before != nil {
					delete(state, keyString(ch.Schema, ch.Before))
				}
				state[keyString(ch.Schema, ch.After)] = ch.After
				seen = seen || ch.After[0] == marker.ID
			case capture.OpDelete:
				delete(state, keyString(ch.Schema, ch.Before))
			case capture.OpTruncate:
				clear(state)
			}
		}
	}
	want := map[string]schema.Row{}
	for _, r := range model {
		want[keyString(tLayout, r.row())] = r.row()
	}
	if !equalRows(state, want) {
		t.Errorf("snapshot (exact=%v) plus stream hold %d rows, the table %d%s", info.Exact, len(state), len(want), diffRows(state, want))
	}
}

// convergeWrites is the i-th write of testSnapshotConverges between chunk
// reads, all over t's key space: an update, a delete, an insert, a key
// change, and (i == 2) one transaction larger than a batch. model follows
// the table.
func convergeWrites(e Env, model map[int64]tRow, i int) {
	a, b := int64(i*97%300+1)*10, int64(i*31%300+1)*10
	stmts := []string{fmt.Sprintf("UPDATE t SET note = 'v%d', amount = amount + 1 WHERE id = %d", i+1, a)}
	if r, ok := model[a]; ok {
		r.Note, r.Cents = fmt.Sprintf("v%d", i+1), r.Cents+100
		model[a] = r
	}
	if _, ok := model[b]; ok && b != a {
		stmts = append(stmts, fmt.Sprintf("DELETE FROM t WHERE id = %d", b))
		delete(model, b)
	}
	n := tRow{ID: int64(10000 + i), Name: "new", Cents: int64(i)}
	stmts = append(stmts, insertT(n))
	model[n.ID] = n
	if r, ok := model[a]; ok {
		stmts = append(stmts, fmt.Sprintf("UPDATE t SET id = %d WHERE id = %d", a+5, a))
		delete(model, a)
		r.ID = a + 5
		model[r.ID] = r
	}
	e.Exec(stmts...)
	if i == 2 {
		var bulk []string
		for id := range model {
			if id%3 == 0 {
				bulk = append(bulk, fmt.Sprintf("UPDATE t SET name = 'bulk' WHERE id = %d", id))
				r := model[id]
				r.Name = "bulk"
				model[id] = r
			}
		}
		e.Tx(bulk...)
	}
}

// testSchemaChange: a source that follows layout changes sends a Barrier
// batch for the ALTER, then changes in the new layout (a new Schema
// pointer that has the added column), and stops with an error at a
// column added with a default (the server filled existing rows, which
// the stream cannot see). Any other source stops at the first layout
// change with an error, and emits no change in the new layout.
func testSchemaChange(t *testing.T, e Env) {
	e.Exec(ddlT)
	src, info := start(t, e, Options{}, capture.StartRequest{}, "t")
	s := startStream(t, e, src, info.From, "t")
	r := tRow{ID: 1, Name: "before"}
	e.Exec(insertT(r))
	before := s.expect(e, ins("t", r.row())).Changes[0].Schema
	e.Exec("ALTER TABLE t ADD COLUMN extra int", "INSERT INTO t (id, name, extra) VALUES (2, 'after', 7)")
	if e.Caps().FollowsLayoutChanges {
		followLayoutChange(t, e, s, before)
		return
	}
	expectStreamError(t, s, "a layout change", func(error) bool { return true })
}

// expectStreamError waits for the stream to fail after what happened,
// emitting no change meanwhile, with an error ok accepts; or to carry the
// changes after it as OpUnreadable changes whose Err ok accepts, which
// every consumer that needs them stops at (see capture.OpUnreadable).
func expectStreamError(t *testing.T, s *stream, what string, ok func(error) bool) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case b := <-s.Out:
			s.check(b)
			if len(b.Changes) > 0 && b.Changes[0].Op == capture.OpUnreadable && ok(b.Changes[0].Err) {
				t.Logf("Stream carries the change as unreadable, as documented: %v", b.Changes[0].Err)
				return
			}
			if len(b.Changes) > 0 {
				t.Fatalf("stream emitted %s after %s, want an error", fmtChange(b.Changes[0]), what)
			}
		case err := <-s.Done:
			s.Returned()
			if err == nil || !ok(err) {
				t.Fatalf("Stream returned %v after %s, want an error saying why", err, what)
			}
			t.Logf("Stream stopped as documented: %v", err)
			return
		case <-deadline:
			t.Fatalf("Stream still running %s after %s, want an error", waitTimeout, what)
		}
	}
}

// followLayoutChange is testSchemaChange for a source that follows layout
// changes, after "ALTER TABLE t ADD COLUMN extra int" and an insert.
func followLayoutChange(t *testing.T, e Env, s *stream, before *schema.Table) {
	barrier := s.next() // next returns Barrier batches too
	if !barrier.Barrier || len(barrier.Changes) != 0 || barrier.More {
		t.Fatalf("after the ALTER: batch at %s with %d changes, barrier=%v; want an empty Barrier batch", barrier.Position, len(barrier.Changes), barrier.Barrier)
	}
	b := s.next()
	if len(b.Changes) != 1 || b.Changes[0].Op != capture.OpInsert {
		t.Fatalf("after the ALTER: batch at %s with %d changes, want the insert", b.Position, len(b.Changes))
	}
	ch := b.Changes[0]
	i := ch.Schema.Index("extra")
	if ch.Schema == before || i < 0 || len(ch.Schema.Columns) != len(before.Columns)+1 {
		t.Fatalf("insert after ADD COLUMN has layout %s, want %s plus extra", ch.Schema, before)
	}
	if v, ok := ch.After[i].(int32); !ok || v != 7 || ch.After[0] != int64(2) {
		t.Fatalf("insert after ADD COLUMN = %s, want id 2 with extra 7", fmtChange(ch))
	}
	// A column the server fills in for the existing rows cannot be followed.
	e.Exec("ALTER TABLE t ADD COLUMN filled int NOT NULL DEFAULT 5", "INSERT INTO t (id, name, extra, filled) VALUES (3, 'x', 1, 5)")
	expectStreamError(t, s, "a column was added with a default", func(err error) bool {
		return strings.Contains(err.Error(), "filled") || strings.Contains(err.Error(), "default")
	})
}
