package schema

import (
	"math"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/iceberg-go"
)

func TestFormatValue(t *testing.T) {
	P := iceberg.PrimitiveTypes
	tests := []struct {
		v    any
		typ  iceberg.Type
		want string
	}{
		{nil, P.String, "NULL"},
		{Unchanged, P.String, "<unchanged>"},
		{true, P.Bool, "true"},
		{int32(-5), P.Int32, "-5"},
		{int64(math.MaxInt64), P.Int64, "9223372036854775807"},
		{float32(1.1), P.Float32, "1.1"},
		{0.1, P.Float64, "0.1"},
		{math.NaN(), P.Float64, "NaN"},
		{math.Inf(-1), P.Float64, "-Infinity"},
		{float32(math.Inf(1)), P.Float32, "Infinity"},
		{decimal128.FromI64(1250), iceberg.DecimalTypeOf(10, 2), "12.50"},
		{decimal128.FromI64(-5), iceberg.DecimalTypeOf(10, 3), "-0.005"},
		{decimal128.FromI64(42), iceberg.DecimalTypeOf(10, 0), "42"},
		{dec("99999999999999999999999999999999999999"), iceberg.DecimalTypeOf(38, 18), "99999999999999999999.999999999999999999"},
		{"héllo", P.String, "héllo"},
		{[]byte{0, 0xab}, P.Binary, `\x00ab`},
		{uuidOf("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), P.UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		{int32(0), P.Date, "1970-01-01"},
		{days(2024, 2, 29), P.Date, "2024-02-29"},
		{days(-43, 3, 15), P.Date, "-0043-03-15"},
		{days(10000, 1, 1), P.Date, "+10000-01-01"},
		{int64(0), P.Time, "00:00:00"},
		{int64(DayMicros - 1), P.Time, "23:59:59.999999"},
		{int64((3*3600+4*60+5)*1e6 + 500000), P.Time, "03:04:05.5"},
		{micros(2024, 1, 2, 3, 4, 5, 123456), P.Timestamp, "2024-01-02T03:04:05.123456"},
		{micros(2024, 1, 2, 3, 4, 5, 0), P.TimestampTz, "2024-01-02T03:04:05Z"},
		{int64(-1), P.TimestampTz, "1969-12-31T23:59:59.999999Z"},
		{micros(-43, 3, 15, 12, 0, 0, 0), P.Timestamp, "-0043-03-15T12:00:00"},
		{[]any{int32(1), nil, int32(3)}, &iceberg.ListType{Element: P.Int32}, "[1, NULL, 3]"},
		{[]any{decimal128.FromI64(15)}, &iceberg.ListType{Element: iceberg.DecimalTypeOf(5, 1)}, "[1.5]"},
		{[]any{}, &iceberg.ListType{Element: P.Date}, "[]"},
		{"oops", P.Int32, "oops"},
		{42, P.Int64, "42"},
	}
	for _, tt := range tests {
		if got := FormatValue(tt.v, tt.typ); got != tt.want {
			t.Errorf("FormatValue(%#v, %s) = %q, want %q", tt.v, tt.typ, got, tt.want)
		}
	}
}
