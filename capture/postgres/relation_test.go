package postgres

import (
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/iceberg-go"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/capturetest"
	"github.com/floe-cdc/floe/schema"
)

// nextOrBarrier returns the next batch with changes or a Barrier;
// other empty batches (heartbeats, PostgreSQL 13/14's empty DDL
// transactions) are skipped.
func nextOrBarrier(t *testing.T, r *capturetest.Running) capture.Batch {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case b := <-r.Out:
			if len(b.Changes) > 0 || b.More || b.Barrier {
				return b
			}
		case err := <-r.Done:
			r.Returned()
			t.Fatalf("Stream ended: %v", err)
		case <-deadline:
			t.Fatal("no batch within 20s")
		}
	}
}

// TestRelationFollowsLayoutChanges: each change the stream can follow
// (add a nullable column, widen int2 -> int4 -> int8, float4 -> float8,
// varchar(10) -> varchar(20), numeric(10,2) -> numeric(12,2), DROP NOT
// NULL, drop a column) yields an empty Barrier batch at a position
// before the transaction that first writes in the new layout, and that
// transaction's changes carry the new layout (a new Schema pointer) and
// values decoded in it.
func TestRelationFollowsLayoutChanges(t *testing.T) {
	e := newEnv(t)
	e.exec(`CREATE TABLE ev (id int PRIMARY KEY, small int2, f float4, name varchar(10), amount numeric(10,2), req text NOT NULL, gone text)`)
	s := e.source(e.config(`public\.ev`))
	startNoSnapshot(t, s)
	r := startStream(t, s)
	e.exec(`INSERT INTO ev VALUES (1, 1, 1.5, 'a', 1.25, 'r', 'g')`)
	b := r.Next()
	layout := b.Changes[0].Schema
	last := b.Position

	steps := []struct {
		alter, insert string
		check         func(t *testing.T, l *schema.Table, row schema.Row)
	}{
		{`ALTER TABLE ev ADD COLUMN extra int`, `INSERT INTO ev VALUES (2, 2, 2.5, 'b', 2.5, 'r', 'g', 7)`,
			func(t *testing.T, l *schema.Table, row schema.Row) {
				if i := l.Index("extra"); i < 0 || !l.Columns[i].Nullable || row[i] != int32(7) {
					t.Fatalf("extra: layout %s, row %v", l, row)
				}
			}},
		{`ALTER TABLE ev ALTER COLUMN small TYPE int4`, `INSERT INTO ev VALUES (3, 40000, 3.5, 'c', 3.5, 'r', 'g', 1)`,
			func(t *testing.T, l *schema.Table, row schema.Row) {
				if row[l.Index("small")] != int32(40000) {
					t.Fatalf("small as int4: %v", row)
				}
			}},
		{`ALTER TABLE ev ALTER COLUMN small TYPE int8`, `INSERT INTO ev VALUES (4, 5000000000, 4.5, 'd', 4.5, 'r', 'g', 1)`,
			func(t *testing.T, l *schema.Table, row schema.Row) {
				i := l.Index("small")
				if _, ok := l.Columns[i].Type.(iceberg.Int64Type); !ok || row[i] != int64(5000000000) {
					t.Fatalf("small as int8: %s %v", l.Columns[i].Type, row)
				}
			}},
		{`ALTER TABLE ev ALTER COLUMN f TYPE float8`, `INSERT INTO ev VALUES (5, 5, 0.1, 'e', 5.5, 'r', 'g', 1)`,
			func(t *testing.T, l *schema.Table, row schema.Row) {
				if row[l.Index("f")] != float64(0.1) {
					t.Fatalf("f as float8: %#v", row[l.Index("f")])
				}
			}},
		{`ALTER TABLE ev ALTER COLUMN name TYPE varchar(20)`, `INSERT INTO ev VALUES (6, 6, 6, 'fifteen letters', 6.5, 'r', 'g', 1)`,
			func(t *testing.T, l *schema.Table, row schema.Row) {
				if row[l.Index("name")] != "fifteen letters" {
					t.Fatalf("name as varchar(20): %v", row)
				}
			}},
		{`ALTER TABLE ev ALTER COLUMN amount TYPE numeric(12,2)`, `INSERT INTO ev VALUES (7, 7, 7, 'g', 9876543210.12, 'r', 'g', 1)`,
			func(t *testing.T, l *schema.Table, row schema.Row) {
				i := l.Index("amount")
				d, ok := l.Columns[i].Type.(iceberg.DecimalType)
				if !ok || d.Precision() != 12 || d.Scale() != 2 {
					t.Fatalf("amount type %s, want decimal(12, 2)", l.Columns[i].Type)
				}
				if want := decimal128.FromI64(987654321012); row[i] != want {
					t.Fatalf("amount = %#v, want %#v", row[i], want)
				}
			}},
		{`ALTER TABLE ev ALTER COLUMN req DROP NOT NULL`, `INSERT INTO ev VALUES (8, 8, 8, 'h', 8, NULL, 'g', 1)`,
			func(t *testing.T, l *schema.Table, row schema.Row) {
				if i := l.Index("req"); !l.Columns[i].Nullable || row[i] != nil {
					t.Fatalf("req nullable: %+v %v", l.Columns[i], row)
				}
			}},
		{`ALTER TABLE ev DROP COLUMN gone`, `INSERT INTO ev VALUES (9, 9, 9, 'i', 9, 'r', 1)`,
			func(t *testing.T, l *schema.Table, row schema.Row) {
				if l.Index("gone") >= 0 || len(row) != 7 || row[6] != int32(1) {
					t.Fatalf("after DROP COLUMN: layout %s, row %v", l, row)
				}
			}},
	}
	for _, step := range steps {
		e.exec(step.alter, step.insert)
		barrier := nextOrBarrier(t, r)
		if !barrier.Barrier || len(barrier.Changes) != 0 || barrier.More || barrier.Position.Compare(last) <= 0 {
			t.Fatalf("%s: batch at %s (after %s) with %d changes, barrier=%v; want an empty Barrier after the last batch",
				step.alter, barrier.Position, last, len(barrier.Changes), barrier.Barrier)
		}
		b := nextOrBarrier(t, r)
		if len(b.Changes) != 1 || b.Changes[0].Op != capture.OpInsert || b.Changes[0].Err != nil || b.Position.Compare(barrier.Position) <= 0 {
			t.Fatalf("%s: batch at %s with %+v, want the insert after the barrier at %s", step.alter, b.Position, b.Changes, barrier.Position)
		}
		ch := b.Changes[0]
		if ch.Schema == layout {
			t.Fatalf("%s: the insert carries the old layout pointer", step.alter)
		}
		step.check(t, ch.Schema, ch.After)
		layout, last = ch.Schema, b.Position
		// Another row in the same layout keeps the pointer: no barrier.
		e.exec(`UPDATE ev SET id = id WHERE id = 1`)
		if b := nextOrBarrier(t, r); b.Barrier || b.Changes[0].Schema != layout {
			t.Fatalf("%s: a second change in the new layout: barrier=%v, same layout=%v", step.alter, b.Barrier, b.Changes[0].Schema == layout)
		}
	}
}

// expectUnreadable reads the next batch with changes and checks that
// each is an OpUnreadable change of public.<table> whose error names the
// table, the column, the cause and floe resnapshot.
func expectUnreadable(t *testing.T, r *capturetest.Running, table, column, cause string) {
	t.Helper()
	b := nextOrBarrier(t, r)
	if b.Barrier || len(b.Changes) == 0 {
		t.Fatalf("batch %+v, want the changes as OpUnreadable", b)
	}
	for _, ch := range b.Changes {
		msg := ""
		if ch.Err != nil {
			msg = ch.Err.Error()
		}
		if ch.Op != capture.OpUnreadable || ch.Schema != nil || ch.Table.Name != table {
			t.Fatalf("change %s of %s with error %v, want an OpUnreadable change of %s", ch.Op, ch.Table, ch.Err, table)
		}
		for _, want := range []string{"public." + table, "column " + column + ":", cause, "floe resnapshot --config FILE --table public." + table, "in the transaction committing at"} {
			if !strings.Contains(msg, want) {
				t.Fatalf("OpUnreadable error = %q; want it to say %q", msg, want)
			}
		}
	}
	t.Logf("refused as documented: %v", b.Changes[0].Err)
}

// TestRelationRefusesWhatItCannotFollow: each change whose effect on the
// existing rows pgoutput does not carry makes the table's changes of
// that transaction OpUnreadable, with an error naming the table, the
// column, the cause and floe resnapshot (a consumer that needs them
// stops there; one whose table was re-snapshotted after the change skips
// them). The stream goes on: the next transaction's change is decoded in
// the new layout, unless that layout has no key.
func TestRelationRefusesWhatItCannotFollow(t *testing.T) {
	for _, tc := range []struct {
		name, alter, column, cause string
		hard                       bool
	}{
		{"add with default", `ALTER TABLE rf ADD COLUMN d int DEFAULT 5`, "d", "DEFAULT", false},
		{"add not null with default", `ALTER TABLE rf ADD COLUMN d int NOT NULL DEFAULT 5`, "d", "DEFAULT", false},
		{"add with volatile default", `ALTER TABLE rf ADD COLUMN d float8 DEFAULT random()`, "d", "DEFAULT", false},
		{"rename", `ALTER TABLE rf RENAME COLUMN v TO w`, "w", "column v renamed", false},
		{"narrow int8 to int4", `ALTER TABLE rf ALTER COLUMN n TYPE int4`, "n", "not a widening", false},
		{"int8 to text", `ALTER TABLE rf ALTER COLUMN n TYPE text`, "n", "not a widening", false},
		{"numeric scale", `ALTER TABLE rf ALTER COLUMN amount TYPE numeric(12,4)`, "amount", "not a widening", false},
		{"varchar shorter", `ALTER TABLE rf ALTER COLUMN v TYPE varchar(5)`, "v", "not a widening", false},
		{"drop and add again", `ALTER TABLE rf DROP COLUMN v, ADD COLUMN v varchar(10)`, "v", "dropped and added again", false},
		{"drop the key", `ALTER TABLE rf DROP COLUMN id`, "id", "key column was dropped", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.exec(`CREATE TABLE rf (id int PRIMARY KEY, v varchar(10), n int8, amount numeric(10,2))`,
				`ALTER TABLE rf REPLICA IDENTITY FULL`)
			s := e.source(e.config(`public\.rf`))
			startNoSnapshot(t, s)
			r := startStream(t, s)
			e.exec(`INSERT INTO rf VALUES (1, 'a', 1, 1)`)
			before := r.Next().Changes[0].Schema
			e.exec(tc.alter, `UPDATE rf SET amount = 2`)
			expectUnreadable(t, r, "rf", tc.column, tc.cause)
			e.exec(`UPDATE rf SET amount = 3`)
			if tc.hard {
				expectUnreadable(t, r, "rf", tc.column, tc.cause)
				return
			}
			b := nextOrBarrier(t, r)
			if b.Barrier || len(b.Changes) != 1 || b.Changes[0].Op != capture.OpUpdate || b.Changes[0].Err != nil || b.Changes[0].Schema == before {
				t.Fatalf("the next transaction: %+v, want its update decoded in the new layout", b)
			}
		})
	}
}

// TestRelationRenameOfAColumnTheCatalogNoLongerHas: the stream lags
// behind the catalog (the changes are made before Stream starts), so
// when the Relation with the added column tmp arrives, tmp is already
// renamed to tmp2 and its attnum cannot be learnt. The next Relation,
// with tmp gone and tmp2 added, is refused (OpUnreadable): a rename cannot be told
// from a drop and an add there, and passing it as one would leave the
// existing rows' values behind under the old name.
func TestRelationRenameOfAColumnTheCatalogNoLongerHas(t *testing.T) {
	e := newEnv(t)
	e.exec(`CREATE TABLE rn (id int PRIMARY KEY, v text)`)
	s := e.source(e.config(`public\.rn`))
	startNoSnapshot(t, s)
	e.exec(`INSERT INTO rn VALUES (1, 'a')`,
		`ALTER TABLE rn ADD COLUMN tmp int`, `INSERT INTO rn VALUES (2, 'b', 2)`,
		`ALTER TABLE rn RENAME COLUMN tmp TO tmp2`, `INSERT INTO rn VALUES (3, 'c', 3)`)
	r := startStream(t, s)
	r.Next()
	if b := nextOrBarrier(t, r); !b.Barrier {
		t.Fatalf("after ADD COLUMN tmp: batch %+v, want a Barrier", b)
	}
	if b := nextOrBarrier(t, r); len(b.Changes) != 1 || b.Changes[0].Schema.Index("tmp") < 0 {
		t.Fatalf("after ADD COLUMN tmp: batch %+v, want the insert with tmp", b)
	}
	expectUnreadable(t, r, "rn", "tmp2", "column tmp is gone")
}

// TestRelationFirstInSessionReadsCatalog: a table's first Relation of a
// stream session announces the discovered column names and types even
// after an ALTER that changed only what the message does not carry, made
// after discovery and before the table's first change of the session:
// NOT NULL dropped (the column must become nullable, or the first NULL
// cannot be written), and a column dropped and added again under the
// same name and type (its existing rows lost their values without row
// events: refused). The first Relation is therefore checked against the
// catalog too. (It used to be taken as the discovered layout unread, and
// both changes went unseen.)
func TestRelationFirstInSessionReadsCatalog(t *testing.T) {
	t.Run("drop not null", func(t *testing.T) {
		e := newEnv(t)
		e.exec(`CREATE TABLE fr (id int PRIMARY KEY, req text NOT NULL)`, `INSERT INTO fr VALUES (1, 'a')`)
		s := e.source(e.config(`public\.fr`))
		startNoSnapshot(t, s)
		r := startStream(t, s)
		e.exec(`ALTER TABLE fr ALTER COLUMN req DROP NOT NULL`, `UPDATE fr SET req = NULL WHERE id = 1`)
		if b := nextOrBarrier(t, r); !b.Barrier {
			t.Fatalf("after DROP NOT NULL: batch %+v, want a Barrier", b)
		}
		b := nextOrBarrier(t, r)
		if len(b.Changes) != 1 || b.Changes[0].Err != nil {
			t.Fatalf("the update: %+v", b)
		}
		l := b.Changes[0].Schema
		if i := l.Index("req"); !l.Columns[i].Nullable || b.Changes[0].After[i] != nil {
			t.Fatalf("req in the update's layout: %+v, value %v; want nullable and NULL", l.Columns[i], b.Changes[0].After[i])
		}
	})
	t.Run("drop and add again", func(t *testing.T) {
		e := newEnv(t)
		// v is the last column, so the message lists the same names in
		// the same order.
		e.exec(`CREATE TABLE fr (id int PRIMARY KEY, n int, v text)`, `INSERT INTO fr VALUES (1, 1, 'a')`)
		s := e.source(e.config(`public\.fr`))
		startNoSnapshot(t, s)
		r := startStream(t, s)
		e.exec(`ALTER TABLE fr DROP COLUMN v`, `ALTER TABLE fr ADD COLUMN v text`, `UPDATE fr SET n = 2`)
		expectUnreadable(t, r, "fr", "v", "dropped and added again")
	})
}
