package transform

import (
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/iceberg-go"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

// TestPlanSinkChange runs every behavior over the same source changes
// (add, drop, widen, optional, rename) and checks the sink layout, the
// changes applied, the changes skipped or the error of each.
func TestPlanSinkChange(t *testing.T) {
	P := iceberg.PrimitiveTypes
	sink := SinkLayout(evoV1(), Upsert)
	type want struct {
		cols    []string // source columns of the layout; nil: sink as is
		changes []string
		skipped []string
		err     string
	}
	changes := []struct {
		name   string
		src    func(*schema.Table)
		pinned []string
		by     map[Behavior]want
	}{
		{
			name: "add column",
			src: func(s *schema.Table) {
				s.Columns = append(s.Columns, schema.Column{Name: "x", Type: P.Int32})
			},
			by: map[Behavior]want{
				Lenient:   {cols: []string{"id long", "a int", "b string", "f float null", "n decimal(10, 2) null", "x int null"}, changes: []string{"add column x int"}},
				Exception: {err: "pipeline.schema-change-behavior is exception and the source layout changes the Iceberg table (add column x int); set pipeline.schema-change-behavior to lenient, evolve, try_evolve or ignore, or re-snapshot the table (floe resnapshot)"},
				Evolve:    {cols: []string{"id long", "a int", "b string", "f float null", "n decimal(10, 2) null", "x int null"}, changes: []string{"add column x int"}},
				TryEvolve: {cols: []string{"id long", "a int", "b string", "f float null", "n decimal(10, 2) null", "x int null"}, changes: []string{"add column x int"}},
				Ignore:    {skipped: []string{"leave out column x (the source added it)"}},
			},
		},
		{
			name: "drop required column",
			src:  func(s *schema.Table) { s.Columns = slices.Delete(s.Columns, 2, 3) }, // b
			by: map[Behavior]want{
				Lenient:   {cols: []string{"id long", "a int", "b string null", "f float null", "n decimal(10, 2) null"}, changes: []string{"make column b optional (the source dropped it)"}},
				Exception: {err: "(drop column b)"},
				Evolve:    {cols: []string{"id long", "a int", "f float null", "n decimal(10, 2) null"}, changes: []string{"drop column b"}},
				TryEvolve: {cols: []string{"id long", "a int", "f float null", "n decimal(10, 2) null"}, changes: []string{"drop column b"}},
				Ignore:    {err: "the source dropped column b, which is required in the Iceberg table"},
			},
		},
		{
			name: "drop optional column",
			src:  func(s *schema.Table) { s.Columns = slices.Delete(s.Columns, 3, 4) }, // f
			by: map[Behavior]want{
				Lenient:   {},
				Exception: {err: "(drop column f)"},
				Evolve:    {cols: []string{"id long", "a int", "b string", "n decimal(10, 2) null"}, changes: []string{"drop column f"}},
				TryEvolve: {cols: []string{"id long", "a int", "b string", "n decimal(10, 2) null"}, changes: []string{"drop column f"}},
				Ignore:    {skipped: []string{"write NULL in column f (the source dropped it)"}},
			},
		},
		{
			name:   "drop pinned column",
			src:    func(s *schema.Table) { s.Columns = slices.Delete(s.Columns, 2, 3) }, // b, a partition source
			pinned: []string{"id", "b"},
			by: map[Behavior]want{
				Lenient:   {cols: []string{"id long", "a int", "b string null", "f float null", "n decimal(10, 2) null"}, changes: []string{"make column b optional (the source dropped it)"}},
				Exception: {err: "(make column b optional (the source dropped it))"},
				Evolve:    {err: "the source dropped column b, which the Iceberg table cannot delete"},
				TryEvolve: {cols: []string{"id long", "a int", "b string null", "f float null", "n decimal(10, 2) null"}, changes: []string{"make column b optional (the source dropped it)"}, skipped: []string{"keep column b the source dropped (the table cannot delete it; later rows hold NULL)"}},
				Ignore:    {err: "the source dropped column b, which is required"},
			},
		},
		{
			name: "widen",
			src:  func(s *schema.Table) { s.Columns[1].Type = P.Int64 },
			by: map[Behavior]want{
				Lenient:   {cols: []string{"id long", "a long", "b string", "f float null", "n decimal(10, 2) null"}, changes: []string{"widen column a int -> long"}},
				Exception: {err: "(widen column a int -> long)"},
				Evolve:    {cols: []string{"id long", "a long", "b string", "f float null", "n decimal(10, 2) null"}, changes: []string{"widen column a int -> long"}},
				TryEvolve: {cols: []string{"id long", "a long", "b string", "f float null", "n decimal(10, 2) null"}, changes: []string{"widen column a int -> long"}},
				Ignore:    {skipped: []string{"keep column a int (the source widened it to long; values that do not fit stop)"}},
			},
		},
		{
			name: "widen key",
			src: func(s *schema.Table) {
				s.Columns[0].Type = iceberg.DecimalTypeOf(20, 0)
			},
			by: map[Behavior]want{
				Lenient:   {err: "incompatible"},
				Exception: {err: "incompatible"},
				Evolve:    {err: "incompatible"},
				TryEvolve: {err: "incompatible"},
				Ignore:    {err: "incompatible"},
			},
		},
		{
			name: "optional",
			src:  func(s *schema.Table) { s.Columns[1].Nullable = true },
			by: map[Behavior]want{
				Lenient:   {cols: []string{"id long", "a int null", "b string", "f float null", "n decimal(10, 2) null"}, changes: []string{"make column a optional"}},
				Exception: {err: "(make column a optional)"},
				Evolve:    {cols: []string{"id long", "a int null", "b string", "f float null", "n decimal(10, 2) null"}, changes: []string{"make column a optional"}},
				TryEvolve: {cols: []string{"id long", "a int null", "b string", "f float null", "n decimal(10, 2) null"}, changes: []string{"make column a optional"}},
				Ignore:    {skipped: []string{"keep column a required (a NULL value stops)"}},
			},
		},
		{
			name: "rename",
			src:  func(s *schema.Table) { s.Columns[2].Name, s.Columns[2].RenamedFrom = "b2", "b" },
			by: map[Behavior]want{
				Lenient:   {cols: []string{"id long", "a int", "b2 string", "f float null", "n decimal(10, 2) null"}, changes: []string{"rename column b to b2"}},
				Exception: {err: "(rename column b to b2)"},
				Evolve:    {cols: []string{"id long", "a int", "b2 string", "f float null", "n decimal(10, 2) null"}, changes: []string{"rename column b to b2"}},
				TryEvolve: {cols: []string{"id long", "a int", "b2 string", "f float null", "n decimal(10, 2) null"}, changes: []string{"rename column b to b2"}},
				// The coordinator maps a rename to the sink's name first;
				// unmapped, it is a drop and an add.
				Ignore: {err: "the source dropped column b, which is required"},
			},
		},
		{
			name: "narrower source type",
			src:  func(s *schema.Table) { s.Columns[0].Type = P.Int32 },
			by: map[Behavior]want{
				Lenient: {}, Exception: {}, Evolve: {}, TryEvolve: {}, Ignore: {},
			},
		},
	}
	for _, ch := range changes {
		src := edit(evoV1(), ch.src)
		if ch.name == "widen key" {
			// A type Iceberg cannot promote to is refused everywhere; a
			// promotable widening of the key is the next case.
			src.Columns[0].Type = P.String
		}
		for _, b := range []Behavior{Lenient, Exception, Evolve, TryEvolve, Ignore} {
			t.Run(ch.name+"/"+string(b), func(t *testing.T) {
				w, ok := ch.by[b]
				require.True(t, ok, "case lacks behavior %s", b)
				got, err := PlanSinkChange(sink, src, Upsert, b, ch.pinned)
				if w.err != "" {
					require.Error(t, err)
					if w.err != "incompatible" {
						require.ErrorContains(t, err, w.err)
					}
					if b == Exception && strings.HasPrefix(w.err, "(") {
						require.ErrorIs(t, err, ErrStopped)
						require.ErrorContains(t, err, "set pipeline.schema-change-behavior to lenient, evolve, try_evolve or ignore, or re-snapshot the table (floe resnapshot)")
					}
					return
				}
				require.NoError(t, err)
				if w.cols == nil {
					require.Same(t, sink, got.Layout)
				} else {
					require.Equal(t, append(slices.Clone(w.cols), metaCols...), colsOf(got.Layout))
					require.Equal(t, []string{"id"}, got.Layout.KeyNames())
				}
				require.Equal(t, w.changes, got.Changes)
				require.Equal(t, w.skipped, got.Skipped)
			})
		}
	}
}

// TestPlanSinkChangeWidenKey: a key widened at the source is refused by
// lenient and evolve; try_evolve keeps the key's type (values narrowed
// when written), ignore too.
func TestPlanSinkChangeWidenKey(t *testing.T) {
	P := iceberg.PrimitiveTypes
	v := edit(evoV1(), func(s *schema.Table) { s.Columns[0].Type = P.Int32 })
	sink := SinkLayout(v, Upsert)
	src := evoV1() // id int -> long
	for _, b := range []Behavior{Lenient, Exception, Evolve} {
		_, err := PlanSinkChange(sink, src, Upsert, b, nil)
		require.ErrorContains(t, err, "key column id widened", b)
	}
	for _, b := range []Behavior{TryEvolve, Ignore} {
		got, err := PlanSinkChange(sink, src, Upsert, b, nil)
		require.NoError(t, err, b)
		require.Same(t, sink, got.Layout)
		require.Len(t, got.Skipped, 1)
		require.Contains(t, got.Skipped[0], "id int (the source widened it to long; values that do not fit stop)")
	}
}

func TestParseBehavior(t *testing.T) {
	b, err := ParseBehavior("")
	require.NoError(t, err)
	require.Equal(t, Lenient, b)
	for _, s := range Behaviors() {
		b, err := ParseBehavior(s)
		require.NoError(t, err)
		require.Equal(t, Behavior(s), b)
	}
	_, err = ParseBehavior("drop")
	require.ErrorContains(t, err, `unknown schema change behavior "drop"; use one of lenient, exception, evolve, try_evolve, ignore`)
}

// TestBufferProjects: with SkipColumns and Narrow a Buffer writes a change
// of a wider layout onto the sink layout: added columns left out, wider
// values narrowed when they fit exactly, and refused (naming the column
// and value) when they do not, as is a NULL in a required column.
func TestBufferProjects(t *testing.T) {
	P := iceberg.PrimitiveTypes
	sink := SinkLayout(evoV1(), Upsert)
	src := edit(evoV1(), func(s *schema.Table) {
		s.Columns[1].Type, s.Columns[1].Nullable = P.Int64, true
		s.Columns[3].Type = P.Float64
		s.Columns[4].Type = iceberg.DecimalTypeOf(14, 2)
		s.Columns = append(s.Columns, schema.Column{Name: "x", Type: P.String, Nullable: true})
	})
	newBuf := func(skip, narrow bool) *Buffer {
		b, err := NewBuffer(BufferOptions{Layout: sink, Mode: Upsert, Table: "s.t", SpillDir: t.TempDir(), SkipColumns: skip, Narrow: narrow})
		require.NoError(t, err)
		t.Cleanup(func() { _ = b.Close() })
		return b
	}
	ins := func(b *Buffer, row schema.Row) error {
		return b.Apply(capture.Change{Op: capture.OpInsert, Schema: src, After: row}, Meta{Pos: "p"})
	}
	row := func(id int64, a any, f float64, n int64) schema.Row {
		return schema.Row{id, a, "b", f, decimal128.FromI64(n), "added"}
	}

	added := edit(evoV1(), func(s *schema.Table) { s.Columns = append(s.Columns, src.Columns[5]) })
	err := newBuf(false, false).Apply(capture.Change{Op: capture.OpInsert, Schema: added, After: schema.Row{int64(1), int32(1), "b", nil, nil, "x"}}, Meta{Pos: "p"})
	require.ErrorContains(t, err, "column x of the change is not in the sink layout")
	require.ErrorContains(t, ins(newBuf(true, false), row(1, int64(1), 0.5, 1)), "column a is long in the change but int in the sink layout")

	b := newBuf(true, true)
	require.NoError(t, ins(b, row(1, int64(-7), 0.5, 12345)))
	var got []schema.Row
	for r, err := range b.Rows() {
		require.NoError(t, err)
		got = append(got, slices.Clone(r[:5]))
	}
	require.Equal(t, []schema.Row{{int64(1), int32(-7), "b", float32(0.5), decimal128.FromI64(12345)}}, got)

	for _, tc := range []struct {
		row  schema.Row
		want string
	}{
		{row(2, int64(1)<<40, 0.5, 1), "column a: value 1099511627776 does not fit in int"},
		{row(2, int64(1), 0.1, 1), "column f: value 0.1 is not exactly a float"},
		{row(2, int64(1), 0.5, 1e12), "column n: value 10000000000.00 does not fit in decimal(10, 2)"},
		{row(2, nil, 0.5, 1), "column a is NULL in the source but required in the Iceberg table"},
	} {
		err := ins(newBuf(true, true), tc.row)
		require.ErrorContains(t, err, tc.want)
		require.ErrorContains(t, err, "table s.t")
	}
}

// TestPlanSinkChangeChangelog: in changelog mode every source column is
// nullable in the sink already; ignore leaves an added column out, a
// dropped one is written NULL, and exception stops at both.
func TestPlanSinkChangeChangelog(t *testing.T) {
	P := iceberg.PrimitiveTypes
	sink := SinkLayout(evoV1(), Changelog)
	src := edit(evoV1(), func(s *schema.Table) {
		s.Columns = slices.Delete(s.Columns, 2, 3)
		s.Columns = append(s.Columns, schema.Column{Name: "x", Type: P.Int32})
	})
	got, err := PlanSinkChange(sink, src, Changelog, Ignore, nil)
	require.NoError(t, err)
	require.Same(t, sink, got.Layout)
	require.Equal(t, []string{"write NULL in column b (the source dropped it)", "leave out column x (the source added it)"}, got.Skipped)

	_, err = PlanSinkChange(sink, src, Changelog, Exception, nil)
	require.ErrorIs(t, err, ErrStopped)
	require.ErrorContains(t, err, "(add column x int; drop column b)")

	got, err = PlanSinkChange(sink, src, Changelog, Evolve, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"add column x int", "drop column b"}, got.Changes)
	require.Equal(t, -1, got.Layout.Index("b"))
}
