package lakewriter

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/iceberg-go"
	"github.com/google/uuid"
)

// TestLiteralMaker pins the literal each key type's canonical value
// becomes, and that other Go types and unfiltered Iceberg types are not
// usable.
func TestLiteralMaker(t *testing.T) {
	P := iceberg.PrimitiveTypes
	u := [16]byte{1, 2, 3}
	cases := []struct {
		typ  iceberg.Type
		v    any
		want iceberg.Literal // nil: not usable
	}{
		{P.Bool, true, iceberg.NewLiteral(true)},
		{P.Int32, int32(-7), iceberg.NewLiteral(int32(-7))},
		{P.Int32, int64(-7), nil},
		{P.Int64, int64(1 << 40), iceberg.NewLiteral(int64(1 << 40))},
		{P.String, "k", iceberg.NewLiteral("k")},
		{P.Binary, []byte{9}, iceberg.NewLiteral([]byte{9})},
		{iceberg.DecimalTypeOf(10, 2), decimal128.FromI64(12345), iceberg.NewLiteral(iceberg.Decimal{Val: decimal128.FromI64(12345), Scale: 2})},
		{P.UUID, u, iceberg.NewLiteral(uuid.UUID(u))},
		{P.Date, int32(20000), iceberg.NewLiteral(iceberg.Date(20000))},
		{P.Time, int64(3600e6), iceberg.NewLiteral(iceberg.Time(3600e6))},
		{P.Timestamp, int64(1e15), iceberg.NewLiteral(iceberg.Timestamp(1e15))},
		{P.TimestampTz, int64(1e15), iceberg.NewLiteral(iceberg.Timestamp(1e15))},
		{P.TimestampTz, "x", nil},
		{P.Float64, 1.5, nil},
		{&iceberg.ListType{Element: P.Int64}, []any{int64(1)}, nil},
	}
	for _, c := range cases {
		var got iceberg.Literal
		if conv := literalMaker(c.typ); conv != nil {
			lit, usable := conv(c.v)
			if usable != (lit != nil) {
				t.Errorf("%s %#v: usable %v with literal %v", c.typ, c.v, usable, lit)
			}
			got = lit
		}
		switch {
		case (got == nil) != (c.want == nil):
			t.Errorf("%s %#v: literal %v, want %v", c.typ, c.v, got, c.want)
		case got != nil && !got.Equals(c.want):
			t.Errorf("%s %#v: literal %v (%T), want %v (%T)", c.typ, c.v, got, got, c.want, c.want)
		}
	}
}
