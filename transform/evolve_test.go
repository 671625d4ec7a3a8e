package transform

import (
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/iceberg-go"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

// evoV1 is (id long key, a int, b string, f float null, n decimal(10,2) null).
func evoV1() *schema.Table {
	P := iceberg.PrimitiveTypes
	return &schema.Table{Columns: []schema.Column{
		{Name: "id", Type: P.Int64},
		{Name: "a", Type: P.Int32},
		{Name: "b", Type: P.String},
		{Name: "f", Type: P.Float32, Nullable: true},
		{Name: "n", Type: iceberg.DecimalTypeOf(10, 2), Nullable: true},
	}, Key: []int{0}}
}

// edit returns a copy of t changed by fn.
func edit(t *schema.Table, fn func(*schema.Table)) *schema.Table {
	c := &schema.Table{Columns: slices.Clone(t.Columns), Key: slices.Clone(t.Key)}
	fn(c)
	return c
}

// colsOf renders a layout's columns as "name type [null]".
func colsOf(t *schema.Table) []string {
	out := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		out[i] = c.Name + " " + c.Type.String()
		if c.Nullable {
			out[i] += " null"
		}
	}
	return out
}

var metaCols = []string{"_floe_op string", "_floe_ts timestamptz", "_floe_pos string", "_floe_seq long"}

func TestEvolveSinkLayout(t *testing.T) {
	P := iceberg.PrimitiveTypes
	cases := []struct {
		name    string
		mode    Mode
		src     func(*schema.Table)
		cols    []string // source columns of the result; nil: sink returned as is
		changes []string
	}{
		{
			name: "same layout", mode: Upsert, src: func(*schema.Table) {},
		},
		{
			name: "add column", mode: Upsert,
			src: func(s *schema.Table) {
				s.Columns = slices.Insert(s.Columns, 1, schema.Column{Name: "x", Type: P.Int32}) // required at the source
				s.Columns = append(s.Columns, schema.Column{Name: "y", Type: P.String, Nullable: true})
				s.Key = []int{0}
			},
			cols:    []string{"id long", "a int", "b string", "f float null", "n decimal(10, 2) null", "x int null", "y string null"},
			changes: []string{"add column x int", "add column y string"},
		},
		{
			name: "widen", mode: Upsert,
			src: func(s *schema.Table) {
				s.Columns[1].Type = P.Int64
				s.Columns[3].Type = P.Float64
				s.Columns[4].Type = iceberg.DecimalTypeOf(14, 2)
			},
			cols:    []string{"id long", "a long", "b string", "f double null", "n decimal(14, 2) null"},
			changes: []string{"widen column a int -> long", "widen column f float -> double", "widen column n decimal(10, 2) -> decimal(14, 2)"},
		},
		{
			name: "narrower source keeps the sink type", mode: Upsert,
			src: func(s *schema.Table) {
				s.Columns[0].Type = P.Int32
				s.Columns[4].Type = iceberg.DecimalTypeOf(8, 2)
			},
		},
		{
			name: "nullable", mode: Upsert,
			src:     func(s *schema.Table) { s.Columns[2].Nullable = true },
			cols:    []string{"id long", "a int", "b string null", "f float null", "n decimal(10, 2) null"},
			changes: []string{"make column b optional"},
		},
		{
			name: "required at the source keeps a nullable sink column", mode: Upsert,
			src: func(s *schema.Table) { s.Columns[3].Nullable = false },
		},
		{
			name: "dropped column", mode: Upsert,
			src: func(s *schema.Table) {
				s.Columns = slices.Delete(s.Columns, 1, 3) // a, b
			},
			cols:    []string{"id long", "a int null", "b string null", "f float null", "n decimal(10, 2) null"},
			changes: []string{"make column a optional (the source dropped it)", "make column b optional (the source dropped it)"},
		},
		{
			name: "dropped nullable column", mode: Upsert,
			src: func(s *schema.Table) { s.Columns = s.Columns[:4] },
		},
		{
			name: "reordered source", mode: Upsert,
			src: func(s *schema.Table) {
				s.Columns[0], s.Columns[2] = s.Columns[2], s.Columns[0]
				s.Key = []int{2}
			},
		},
		{
			name: "rename", mode: Upsert,
			src: func(s *schema.Table) {
				s.Columns[2] = schema.Column{Name: "b2", Type: P.String, RenamedFrom: "b"}
				s.Columns[1] = schema.Column{Name: "a2", Type: P.Int64, RenamedFrom: "a"} // renamed and widened
			},
			cols:    []string{"id long", "a2 long", "b2 string", "f float null", "n decimal(10, 2) null"},
			changes: []string{"rename column a to a2", "rename column b to b2", "widen column a2 int -> long"},
		},
		{
			// Without RenamedFrom a new name is a new column, and the
			// old one is kept as dropped: the source must say.
			name: "new name without RenamedFrom", mode: Upsert,
			src:     func(s *schema.Table) { s.Columns[2].Name = "b2" },
			cols:    []string{"id long", "a int", "b string null", "f float null", "n decimal(10, 2) null", "b2 string null"},
			changes: []string{"add column b2 string", "make column b optional (the source dropped it)"},
		},
		{
			// The old name is still in the source: not a rename of it.
			name: "RenamedFrom still present", mode: Upsert,
			src: func(s *schema.Table) {
				s.Columns = append(s.Columns, schema.Column{Name: "b2", Type: P.String, Nullable: true, RenamedFrom: "b"})
			},
			cols:    []string{"id long", "a int", "b string", "f float null", "n decimal(10, 2) null", "b2 string null"},
			changes: []string{"add column b2 string"},
		},
		{
			// The sink already took the rename (a replay after a crash).
			name: "rename already applied", mode: Upsert,
			src: func(s *schema.Table) { s.Columns[2].RenamedFrom = "x" },
		},
		{
			name: "changelog", mode: Changelog,
			src: func(s *schema.Table) {
				s.Columns[1].Type = P.Int64
				s.Columns = append(s.Columns, schema.Column{Name: "x", Type: P.Date})
			},
			cols:    []string{"id long null", "a long null", "b string null", "f float null", "n decimal(10, 2) null", "x date null"},
			changes: []string{"add column x date", "widen column a int -> long"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sink := SinkLayout(evoV1(), tc.mode)
			before := colsOf(sink)
			src := edit(evoV1(), tc.src)
			srcBefore := colsOf(src)
			got, changes, err := EvolveSinkLayout(sink, src, tc.mode)
			require.NoError(t, err)
			require.Equal(t, before, colsOf(sink), "sink modified")
			require.Equal(t, srcBefore, colsOf(src), "src modified")
			if tc.cols == nil {
				require.Same(t, sink, got)
				require.Nil(t, changes)
				return
			}
			require.NotSame(t, sink, got)
			require.Equal(t, append(slices.Clone(tc.cols), metaCols...), colsOf(got))
			require.ElementsMatch(t, tc.changes, changes)
			require.NoError(t, isSinkLayout(got), "metadata columns stay last")
			require.Equal(t, []string{"id"}, got.KeyNames())
			// Evolving again to the same source changes nothing.
			again, more, err := EvolveSinkLayout(got, src, tc.mode)
			require.NoError(t, err)
			require.Same(t, got, again)
			require.Nil(t, more)
		})
	}
}

// TestEvolveSinkLayoutRenameKey: a key column may be renamed; the result's
// key names the new name, and its column carries RenamedFrom for
// lakewriter.
func TestEvolveSinkLayoutRenameKey(t *testing.T) {
	sink := SinkLayout(evoV1(), Upsert)
	src := edit(evoV1(), func(s *schema.Table) { s.Columns[0].Name, s.Columns[0].RenamedFrom = "key", "id" })
	got, changes, err := EvolveSinkLayout(sink, src, Upsert)
	require.NoError(t, err)
	require.Equal(t, []string{"rename column id to key"}, changes)
	require.Equal(t, []string{"key"}, got.KeyNames())
	require.Equal(t, "id", got.Columns[0].RenamedFrom)
	require.Equal(t, "id", sink.Columns[0].Name, "sink modified")
}

// TestEvolveSinkLayoutChangelogFromUpsert: a source column that is
// required in the sink becomes optional when the table is written in
// changelog mode, as BuildSinkLayout makes it.
func TestEvolveSinkLayoutChangelogFromUpsert(t *testing.T) {
	sink := SinkLayout(evoV1(), Upsert)
	got, changes, err := EvolveSinkLayout(sink, evoV1(), Changelog)
	require.NoError(t, err)
	require.Equal(t, append([]string{"id long null", "a int null", "b string null", "f float null", "n decimal(10, 2) null"}, metaCols...), colsOf(got))
	require.Equal(t, []string{"make column id optional", "make column a optional", "make column b optional"}, changes)
}

func TestEvolveSinkLayoutErrors(t *testing.T) {
	P := iceberg.PrimitiveTypes
	cases := []struct {
		name string
		mode Mode
		sink *schema.Table
		src  func(*schema.Table)
		want []string
	}{
		{"incompatible type", Upsert, nil, func(s *schema.Table) { s.Columns[2].Type = P.Binary },
			[]string{"column b is binary in the source but string in the sink table", "floe resnapshot"}},
		{"int to double", Upsert, nil, func(s *schema.Table) { s.Columns[1].Type = P.Float64 },
			[]string{"column a is double in the source but int", "re-snapshotted"}},
		{"decimal scale", Upsert, nil, func(s *schema.Table) { s.Columns[4].Type = iceberg.DecimalTypeOf(12, 3) },
			[]string{"column n is decimal(12, 3) in the source but decimal(10, 2)", "floe resnapshot"}},
		{"widened key", Upsert, &schema.Table{Columns: append([]schema.Column{{Name: "id", Type: P.Int32}}, SinkLayout(evoV1(), Upsert).Columns[1:]...), Key: []int{0}},
			func(*schema.Table) {}, []string{"key column id widened from int in the sink table to long in the source", "floe resnapshot"}},
		{"widened key changelog", Changelog, &schema.Table{Columns: append([]schema.Column{{Name: "id", Type: P.Int32, Nullable: true}}, SinkLayout(evoV1(), Changelog).Columns[1:]...), Key: []int{0}},
			func(*schema.Table) {}, []string{"key column id widened", "floe resnapshot"}},
		{"key changed", Upsert, nil, func(s *schema.Table) { s.Key = []int{0, 1} },
			[]string{"primary key changed from (id) in the sink table to (id, a) in the source", "floe resnapshot"}},
		{"key dropped", Changelog, nil, func(s *schema.Table) { s.Key = nil },
			[]string{"primary key changed from (id) in the sink table to () in the source"}},
		{"nullable upsert key", Upsert, nil, func(s *schema.Table) { s.Columns[0].Nullable = true },
			[]string{"key column id became nullable in the source"}},
		{"metadata column name", Upsert, nil, func(s *schema.Table) {
			s.Columns = append(s.Columns, schema.Column{Name: ColSeq, Type: P.Int64, Nullable: true})
		}, []string{"source column _floe_seq collides with a floe metadata column"}},
		{"not a sink layout", Upsert, evoV1(), func(*schema.Table) {}, []string{"want metadata column _floe_op"}},
		{"bad mode", Mode(9), nil, func(*schema.Table) {}, []string{"unknown mode"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sink := tc.sink
			if sink == nil {
				mode := tc.mode
				if mode != Changelog {
					mode = Upsert
				}
				sink = SinkLayout(evoV1(), mode)
			}
			got, changes, err := EvolveSinkLayout(sink, edit(evoV1(), tc.src), tc.mode)
			require.Error(t, err)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
			require.Nil(t, got)
			require.Nil(t, changes)
		})
	}
}

// TestBufferOnEvolvedLayout: a Buffer built on an evolved layout takes
// changes of the old source layout (the added column NULL, int and float
// values promoted) and of the new one, in both modes.
func TestBufferOnEvolvedLayout(t *testing.T) {
	P := iceberg.PrimitiveTypes
	v1 := evoV1()
	v2 := edit(v1, func(s *schema.Table) {
		s.Columns[1].Type = P.Int64   // a int -> long
		s.Columns[3].Type = P.Float64 // f float -> double
		s.Columns = append(s.Columns, schema.Column{Name: "c", Type: P.String, Nullable: true})
	})
	dec := decimal128.FromI64(1234)
	for _, mode := range []Mode{Upsert, Changelog} {
		t.Run(mode.String(), func(t *testing.T) {
			layout, _, err := EvolveSinkLayout(SinkLayout(v1, mode), v2, mode)
			require.NoError(t, err)
			b, err := NewBuffer(BufferOptions{Layout: layout, Mode: mode, SpillDir: t.TempDir(), Table: "lake.evo"})
			require.NoError(t, err)
			defer b.Close()
			changes := []capture.Change{
				{Table: tid, Op: capture.OpInsert, Schema: v1, After: schema.Row{int64(1), int32(10), "x", float32(1.5), dec}},
				{Table: tid, Op: capture.OpInsert, Schema: v2, After: schema.Row{int64(2), int64(1) << 40, "y", 2.25, nil, "new"}},
				// An old-layout update with an unchanged value filled from
				// the buffered (already promoted) image.
				{Table: tid, Op: capture.OpUpdate, Schema: v1, After: schema.Row{int64(2), int32(-3), "z", U, nil}},
				// An old-layout delete with a full old image.
				{Table: tid, Op: capture.OpDelete, Schema: v1, Before: schema.Row{int64(1), int32(10), "x", float32(1.5), dec}},
			}
			for i, ch := range changes {
				require.NoError(t, b.Apply(ch, Meta{Pos: "p", Seq: int64(i)}))
			}
			var rows []schema.Row
			for r, err := range b.Rows() {
				require.NoError(t, err)
				rows = append(rows, r[:len(r)-numMeta])
			}
			want := []schema.Row{
				{int64(2), int64(-3), "z", 2.25, nil, nil},
			}
			if mode == Changelog {
				want = []schema.Row{
					{int64(1), int64(10), "x", float64(float32(1.5)), dec, nil},
					{int64(2), int64(1) << 40, "y", 2.25, nil, "new"},
					{int64(2), int64(-3), "z", 2.25, nil, nil},
					{int64(1), int64(10), "x", float64(float32(1.5)), dec, nil},
				}
			}
			require.Equal(t, want, rows)
			if mode == Upsert {
				var keys []schema.Row
				for k, err := range b.DeleteKeys() {
					require.NoError(t, err)
					keys = append(keys, k)
				}
				require.ElementsMatch(t, []schema.Row{{int64(1)}, {int64(2)}}, keys)
			}
		})
	}
}

// TestBufferKeyPromotion: a key column narrower in the change than in the
// sink is promoted before the key is encoded, so both layouts address the
// same key.
func TestBufferKeyPromotion(t *testing.T) {
	P := iceberg.PrimitiveTypes
	v1 := edit(evoV1(), func(s *schema.Table) { s.Columns[0].Type = P.Int32 })
	v2 := evoV1()
	b, err := NewBuffer(BufferOptions{Layout: SinkLayout(v2, Upsert), Mode: Upsert, Table: "lake.evo"})
	require.NoError(t, err)
	defer b.Close()
	require.NoError(t, b.Apply(capture.Change{Op: capture.OpInsert, Schema: v1, After: schema.Row{int32(7), int32(1), "old", nil, nil}}, Meta{}))
	require.NoError(t, b.Apply(capture.Change{Op: capture.OpUpdate, Schema: v2, After: schema.Row{int64(7), int32(2), "new", nil, nil}}, Meta{}))
	require.Equal(t, 1, b.Len())
	for r, err := range b.Rows() {
		require.NoError(t, err)
		require.Equal(t, schema.Row{int64(7), int32(2), "new", nil, nil}, r[:5])
	}
}

// TestProjectorPromotion: direct chunk rows are promoted like a Buffer's;
// a chunk whose key values need promoting goes through the Buffer.
func TestProjectorPromotion(t *testing.T) {
	P := iceberg.PrimitiveTypes
	v1 := evoV1()
	v2 := edit(v1, func(s *schema.Table) {
		s.Columns[0].Type = P.Int64
		s.Columns[1].Type = P.Int64
	})
	layout, _, err := EvolveSinkLayout(SinkLayout(v1, Upsert), v2, Upsert)
	require.NoError(t, err)
	p, err := NewProjector(BufferOptions{Layout: layout, Mode: Upsert, Table: "lake.evo"})
	require.NoError(t, err)
	chunk := []capture.Change{
		{Table: tid, Op: capture.OpRead, Schema: v1, After: schema.Row{int64(1), int32(5), "x", nil, nil}},
		{Table: tid, Op: capture.OpRead, Schema: v2, After: schema.Row{int64(2), int64(6), "y", nil, nil}},
	}
	ok, err := p.Direct(chunk)
	require.NoError(t, err)
	require.True(t, ok)
	var got []schema.Row
	require.NoError(t, p.Rows(chunk, Meta{Pos: "p"}, func(r schema.Row) error {
		got = append(got, slices.Clone(r[:5]))
		return nil
	}))
	require.Equal(t, []schema.Row{{int64(1), int64(5), "x", nil, nil}, {int64(2), int64(6), "y", nil, nil}}, got)

	// The key id is int in this layout, long in the sink.
	narrowKey := edit(v1, func(s *schema.Table) { s.Columns[0].Type = P.Int32 })
	keyed := []capture.Change{
		{Table: tid, Op: capture.OpRead, Schema: narrowKey, After: schema.Row{int32(3), int32(5), "x", nil, nil}},
		{Table: tid, Op: capture.OpRead, Schema: v2, After: schema.Row{int64(3), int64(6), "y", nil, nil}},
	}
	ok, err = p.Direct(keyed)
	require.NoError(t, err)
	require.False(t, ok, "a chunk with promoted key values must go through the buffer")
	// In changelog mode no key is hashed: the chunk stays direct.
	cl, err := NewProjector(BufferOptions{Layout: SinkLayout(v2, Changelog), Mode: Changelog, Table: "lake.evo"})
	require.NoError(t, err)
	ok, err = cl.Direct(keyed)
	require.NoError(t, err)
	require.True(t, ok)
}

func TestReplacedColumns(t *testing.T) {
	P := iceberg.PrimitiveTypes
	sink := SinkLayout(evoV1(), Upsert)
	gone, added := ReplacedColumns(sink, edit(evoV1(), func(s *schema.Table) { s.Columns[2].Name = "b2" }))
	require.Equal(t, []string{"b"}, gone)
	require.Equal(t, []string{"b2"}, added)
	// A stated rename, a drop alone, an add alone: nothing replaced.
	for _, src := range []*schema.Table{
		edit(evoV1(), func(s *schema.Table) { s.Columns[2].Name, s.Columns[2].RenamedFrom = "b2", "b" }),
		edit(evoV1(), func(s *schema.Table) { s.Columns = s.Columns[:4] }),
		edit(evoV1(), func(s *schema.Table) { s.Columns = append(s.Columns, schema.Column{Name: "x", Type: P.Int32}) }),
	} {
		gone, added := ReplacedColumns(sink, src)
		require.Nil(t, gone)
		require.Nil(t, added)
	}
}
