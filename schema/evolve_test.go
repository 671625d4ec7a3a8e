package schema

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/iceberg-go"
	"github.com/stretchr/testify/require"
)

func TestPromotable(t *testing.T) {
	P := iceberg.PrimitiveTypes
	list := func(e iceberg.Type) iceberg.Type { return &iceberg.ListType{Element: e} }
	cases := []struct {
		from, to iceberg.Type
		want     bool
	}{
		{P.Int32, P.Int32, true},
		{P.Int32, P.Int64, true},
		{P.Int64, P.Int32, false},
		{P.Float32, P.Float64, true},
		{P.Float64, P.Float32, false},
		{P.Int32, P.Float64, false},
		{P.Int64, P.Float64, false},
		{P.Date, P.Int32, false},
		{P.Timestamp, P.TimestampTz, false},
		{P.String, P.Binary, false},
		{iceberg.DecimalTypeOf(10, 2), iceberg.DecimalTypeOf(10, 2), true},
		{iceberg.DecimalTypeOf(10, 2), iceberg.DecimalTypeOf(12, 2), true},
		{iceberg.DecimalTypeOf(12, 2), iceberg.DecimalTypeOf(10, 2), false},
		{iceberg.DecimalTypeOf(10, 2), iceberg.DecimalTypeOf(12, 3), false},
		{P.Int32, iceberg.DecimalTypeOf(10, 0), false},
		{list(P.Int32), &iceberg.ListType{ElementID: 7, Element: P.Int32}, true}, // IDs ignored
		{list(P.Int32), list(P.Int64), false},
	}
	for _, c := range cases {
		require.Equal(t, c.want, Promotable(c.from, c.to), "Promotable(%s, %s)", c.from, c.to)
	}
}

func TestPromote(t *testing.T) {
	P := iceberg.PrimitiveTypes
	dec := decimal128.FromI64(-12345)
	cases := []struct {
		v        any
		from, to iceberg.Type
		want     any
	}{
		{int32(-7), P.Int32, P.Int64, int64(-7)},
		{int32(2147483647), P.Int32, P.Int64, int64(2147483647)},
		{float32(0.1), P.Float32, P.Float64, float64(float32(0.1))},
		{dec, iceberg.DecimalTypeOf(9, 2), iceberg.DecimalTypeOf(20, 2), dec},
		{nil, P.Int32, P.Int64, nil},
		{Unchanged, P.Int32, P.Int64, Unchanged},
		{int32(3), P.Int32, P.Int32, int32(3)},
		{int32(5), P.Date, P.Date, int32(5)}, // date is int32 too: same type stays
		{"x", P.String, P.String, "x"},
	}
	for _, c := range cases {
		got := Promote(c.v, c.from, c.to)
		require.Equal(t, c.want, got, "Promote(%v, %s, %s)", c.v, c.from, c.to)
		require.IsType(t, c.want, got)
	}
}

func TestSameType(t *testing.T) {
	P := iceberg.PrimitiveTypes
	a := &iceberg.ListType{ElementID: 0, Element: P.Int32}
	b := &iceberg.ListType{ElementID: 17, Element: P.Int32}
	if !SameType(a, b) || a.Equals(b) {
		t.Error("SameType must ignore element IDs (and Equals does not)")
	}
	if SameType(a, &iceberg.ListType{Element: P.Int64}) || SameType(a, P.Int32) || SameType(P.Int32, a) {
		t.Error("different types reported the same")
	}
	if SameType(a, &iceberg.ListType{Element: P.Int32, ElementRequired: true}) {
		t.Error("element optionality ignored")
	}
	if !SameType(iceberg.DecimalTypeOf(10, 2), iceberg.DecimalTypeOf(10, 2)) || SameType(iceberg.DecimalTypeOf(10, 2), iceberg.DecimalTypeOf(10, 3)) {
		t.Error("decimal comparison wrong")
	}
}
