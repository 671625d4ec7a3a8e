package transform

import (
	"cmp"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/iceberg-go"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

// wideTable has a column of every canonical value kind; k is the key.
func wideTable() *schema.Table {
	dec := iceberg.DecimalTypeOf(10, 2)
	return &schema.Table{Columns: []schema.Column{
		{Name: "k", Type: iceberg.PrimitiveTypes.Int64},
		{Name: "b", Type: iceberg.PrimitiveTypes.Bool, Nullable: true},
		{Name: "i", Type: iceberg.PrimitiveTypes.Int32, Nullable: true},
		{Name: "f", Type: iceberg.PrimitiveTypes.Float32, Nullable: true},
		{Name: "d", Type: iceberg.PrimitiveTypes.Float64, Nullable: true},
		{Name: "n", Type: dec, Nullable: true},
		{Name: "s", Type: iceberg.PrimitiveTypes.String, Nullable: true},
		{Name: "y", Type: iceberg.PrimitiveTypes.Binary, Nullable: true},
		{Name: "u", Type: iceberg.PrimitiveTypes.UUID, Nullable: true},
		{Name: "dt", Type: iceberg.PrimitiveTypes.Date, Nullable: true},
		{Name: "ts", Type: iceberg.PrimitiveTypes.TimestampTz, Nullable: true},
		{Name: "l", Type: &iceberg.ListType{ElementID: 100, Element: iceberg.PrimitiveTypes.String, ElementRequired: false}, Nullable: true},
	}, Key: []int{0}}
}

func wideRow(k int64) schema.Row {
	if k%5 == 0 { // every optional column NULL
		r := make(schema.Row, 12)
		r[0] = k
		return r
	}
	return schema.Row{k, k%2 == 0, int32(k), float32(k) / 3, math.Copysign(0, -1) + float64(k)/7,
		decimal128.FromI64(k * 101), "s" + string(rune('a'+k%26)), []byte{byte(k), 0, 1},
		[16]byte{byte(k), 1, 2, 3}, int32(19000 + k), time.Unix(k, 0).UnixMicro(), []any{"x", nil, "z"}}
}

// TestProjectorEqualsBuffer: the rows of a chunk projected directly are
// the rows a Buffer yields after applying the chunk, in both modes, also
// when the Buffer spilled and when the change layout orders its columns
// differently from the sink.
func TestProjectorEqualsBuffer(t *testing.T) {
	wide := wideTable()
	// The change layout lists the columns in another order.
	shuffled := &schema.Table{Key: []int{3}}
	order := []int{5, 2, 1, 0, 4, 11, 6, 7, 8, 9, 10, 3}
	for _, j := range order {
		shuffled.Columns = append(shuffled.Columns, wide.Columns[j])
	}
	shuffled.Key = []int{3} // k is at 3
	for _, mode := range []Mode{Upsert, Changelog} {
		for _, budget := range []int64{64 << 20, 200} {
			var changes []capture.Change
			for k := int64(1); k <= 300; k++ {
				r := wideRow(k)
				ch := capture.Change{Table: tid, Op: capture.OpRead, Schema: wide, After: r}
				if k%3 == 0 {
					sr := make(schema.Row, len(order))
					for i, j := range order {
						sr[i] = r[j]
					}
					ch.Schema, ch.After = shuffled, sr
				}
				changes = append(changes, ch)
			}
			layout := SinkLayout(wide, mode)
			opts := BufferOptions{Layout: layout, Mode: mode, SpillDir: t.TempDir(), MemoryBudget: budget, Table: "lake.wide"}
			buf, err := NewBuffer(opts)
			if err != nil {
				t.Fatal(err)
			}
			meta := Meta{Pos: "pg.v1:0/10", CommitMicros: 1234}
			for i, ch := range changes {
				meta.Seq = int64(i)
				if err := buf.Apply(ch, meta); err != nil {
					t.Fatal(err)
				}
			}
			var want []schema.Row
			for r, err := range buf.Rows() {
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, r)
			}
			if n := buf.NumDeleteKeys(); n != 0 {
				t.Fatalf("buffer has %d delete keys for snapshot reads", n)
			}
			if err := buf.Close(); err != nil {
				t.Fatal(err)
			}

			p, err := NewProjector(opts)
			if err != nil {
				t.Fatal(err)
			}
			ok, err := p.Direct(changes)
			if err != nil || !ok {
				t.Fatalf("%s: Direct = %v, %v; want true", mode, ok, err)
			}
			var got []schema.Row
			err = p.Rows(changes, Meta{Pos: "pg.v1:0/10", CommitMicros: 1234, Seq: 99}, func(r schema.Row) error {
				got = append(got, append(schema.Row(nil), r...))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if mode == Upsert && budget < 1<<20 {
				// A spilled upsert buffer yields its rows in key order.
				byKey := func(rows []schema.Row) {
					slices.SortFunc(rows, func(a, b schema.Row) int { return cmp.Compare(a[0].(int64), b[0].(int64)) })
				}
				byKey(got)
				byKey(want)
			}
			if !reflect.DeepEqual(got, want) {
				for i := range want {
					if i < len(got) && !reflect.DeepEqual(got[i], want[i]) {
						t.Fatalf("%s budget %d: row %d\n got %#v\nwant %#v", mode, budget, i, got[i], want[i])
					}
				}
				t.Fatalf("%s budget %d: %d rows, want %d", mode, budget, len(got), len(want))
			}
		}
	}
}

func TestProjectorDirect(t *testing.T) {
	tests := []struct {
		name    string
		mode    Mode
		changes []capture.Change
		want    bool
	}{
		{"reads", Upsert, []capture.Change{read(1, "a", "x"), read(2, "b", nil)}, true},
		{"empty", Upsert, nil, true},
		{"duplicate key", Upsert, []capture.Change{read(1, "a", "x"), read(2, "b", nil), read(1, "c", "y")}, false},
		{"duplicate key changelog", Changelog, []capture.Change{read(1, "a", "x"), read(1, "c", "y")}, true},
		{"unchanged value", Upsert, []capture.Change{read(1, "a", U)}, false},
		{"unchanged value changelog", Changelog, []capture.Change{read(1, "a", U)}, false},
		{"insert", Upsert, []capture.Change{read(1, "a", "x"), ins(2, "b", "y")}, false},
		{"delete", Changelog, []capture.Change{read(1, "a", "x"), del(1)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewProjector(BufferOptions{Layout: SinkLayout(src, tc.mode), Mode: tc.mode, Table: "lake.t"})
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Direct(tc.changes)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("Direct = %v, want %v", got, tc.want)
			}
			// A Projector is reused chunk after chunk: keys of the last
			// chunk do not count as duplicates in the next.
			if tc.want && len(tc.changes) > 0 {
				if again, err := p.Direct(tc.changes); err != nil || !again {
					t.Fatalf("second Direct = %v, %v", again, err)
				}
			}
		})
	}
}

func TestProjectorErrors(t *testing.T) {
	p, err := NewProjector(BufferOptions{Layout: SinkLayout(src, Upsert), Mode: Upsert, Table: "lake.t"})
	if err != nil {
		t.Fatal(err)
	}
	other := &schema.Table{Columns: []schema.Column{{Name: "id", Type: iceberg.PrimitiveTypes.Int64}, {Name: "extra", Type: iceberg.PrimitiveTypes.String}}, Key: []int{0}}
	bad := []capture.Change{{Table: tid, Op: capture.OpRead, Schema: other, After: schema.Row{int64(1), "x"}}}
	if _, err := p.Direct(bad); err == nil {
		t.Fatal("Direct accepted a change whose column is not in the sink layout")
	}
	if err := p.Rows(bad, Meta{}, func(schema.Row) error { return nil }); err == nil {
		t.Fatal("Rows accepted a change whose column is not in the sink layout")
	}
	if err := p.Rows([]capture.Change{ins(1, "a", "b")}, Meta{}, func(schema.Row) error { return nil }); err == nil {
		t.Fatal("Rows accepted an insert")
	}
}
