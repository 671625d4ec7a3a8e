package pgtype

import (
	"errors"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/iceberg-go"

	"github.com/floe-cdc/floe/schema"
)

// sameValue reports whether a and b are the same canonical value, bit for
// bit (NaN equals NaN, -0 differs from +0) and of the same Go type.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case float32:
		y, ok := b.(float32)
		return ok && math.Float32bits(x) == math.Float32bits(y)
	case float64:
		y, ok := b.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) || (x == nil) != (y == nil) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

func mustColumn(t testing.TB, src Type) schema.Column {
	t.Helper()
	c, err := Column("col", src, false)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustDecoder(t testing.TB, c schema.Column) schema.Decoder {
	t.Helper()
	d, err := TextDecoder(c)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func dec(s string) decimal128.Num {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	return decimal128.FromBigInt(v)
}

func days(y, m, d int) int32 {
	return int32(time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

func micros(y, m, d, hh, mm, ss, us int) int64 {
	return time.Date(y, time.Month(m), d, hh, mm, ss, us*1000, time.UTC).UnixMicro()
}

func uuidOf(s string) [16]byte {
	u, ok := parseUUID([]byte(s))
	if !ok {
		panic(s)
	}
	return u
}

func TestPostgresDecoders(t *testing.T) {
	nines38 := strings.Repeat("9", 38)
	mood := Type{Name: "mood", OID: 16500, Modifier: -1, Kind: KindEnum}
	box := pgType("box", 603)
	tests := []struct {
		src  Type
		text string
		want any
	}{
		{pgType("int2", 21), "-32768", int32(-32768)},
		{pgType("int2", 21), "32767", int32(32767)},
		{pgType("int4", 23), "0", int32(0)},
		{pgType("int4", 23), "-2147483648", int32(math.MinInt32)},
		{pgType("int4", 23), "2147483647", int32(math.MaxInt32)},
		{pgType("int8", 20), "-9223372036854775808", int64(math.MinInt64)},
		{pgType("int8", 20), "9223372036854775807", int64(math.MaxInt64)},
		{pgType("oid", 26), "4294967295", int64(4294967295)},
		{pgNumeric(10, 2), "123.45", decimal128.FromI64(12345)},
		{pgNumeric(10, 2), "-0.01", decimal128.FromI64(-1)},
		{pgNumeric(10, 2), "0.00", decimal128.FromI64(0)},
		{pgNumeric(10, 2), "-0.00", decimal128.FromI64(0)},
		{pgNumeric(10, 2), "99999999.99", decimal128.FromI64(9999999999)},
		{pgNumeric(10, 0), "-1234567890", decimal128.FromI64(-1234567890)},
		{pgNumeric(38, 0), nines38, dec(nines38)},
		{pgNumeric(38, 0), "-" + nines38, dec("-" + nines38)},
		{pgNumeric(38, 38), "0." + nines38, dec(nines38)},
		{pgNumeric(38, 38), "-0.00000000000000000000000000000000000001", dec("-1")},
		{pgNumeric(38, 10), "1234567890123456789012345678.0123456789", dec("12345678901234567890123456780123456789")},
		{pgNumeric(5, -2), "1234500", dec("1234500")},
		{pgNumeric(3, 5), "0.00123", dec("123")},
		{pgNumeric(50, 10), "12345678901234567890123456789012345678901.5000000000", "12345678901234567890123456789012345678901.5000000000"},
		{pgNumeric(50, 10), "NaN", "NaN"},
		{pgType("numeric", 1700), "1.5", dec("1500000000000000000")},
		{pgType("numeric", 1700), "1.50000000000000000000000", dec("1500000000000000000")},
		{pgType("numeric", 1700), "-12345678901234567890.123456789012345678", dec("-12345678901234567890123456789012345678")},
		{pgType("numeric", 1700), "0.000000000000000001", dec("1")},
		{pgType("float4", 700), "1.1", float32(1.1)},
		{pgType("float4", 700), "3.4028235e+38", float32(math.MaxFloat32)},
		{pgType("float4", 700), "1e-45", float32(math.SmallestNonzeroFloat32)},
		{pgType("float4", 700), "NaN", float32(math.NaN())},
		{pgType("float4", 700), "-Infinity", float32(math.Inf(-1))},
		{pgType("float8", 701), "0.1", 0.1},
		{pgType("float8", 701), "-0", math.Copysign(0, -1)},
		{pgType("float8", 701), "1.7976931348623157e+308", math.MaxFloat64},
		{pgType("float8", 701), "5e-324", math.SmallestNonzeroFloat64},
		{pgType("float8", 701), "0.30000000000000004", math.Nextafter(0.3, 1)},
		{pgType("float8", 701), "NaN", math.NaN()},
		{pgType("float8", 701), "Infinity", math.Inf(1)},
		{pgType("bool", 16), "t", true},
		{pgType("bool", 16), "f", false},
		{pgType("text", 25), "héllo ✓ 日本 🎉", "héllo ✓ 日本 🎉"},
		{pgType("text", 25), "", ""},
		{pgType("bpchar", 1042), "ab   ", "ab   "},
		{pgType("char", 18), "x", "x"},
		{pgType("bytea", 17), `\x`, []byte{}},
		{pgType("bytea", 17), `\x00ff10`, []byte{0, 0xff, 0x10}},
		{pgType("bytea", 17), `\xDEADbeef`, []byte{0xde, 0xad, 0xbe, 0xef}},
		{pgType("uuid", 2950), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", [16]byte{0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11}},
		{pgType("uuid", 2950), "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", uuidOf("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")},
		{pgType("date", 1082), "1970-01-01", int32(0)},
		{pgType("date", 1082), "1969-12-31", int32(-1)},
		{pgType("date", 1082), "2000-02-29", days(2000, 2, 29)},
		{pgType("date", 1082), "1900-03-01", days(1900, 3, 1)},
		{pgType("date", 1082), "0001-01-01", days(1, 1, 1)},
		{pgType("date", 1082), "0001-12-31 BC", days(0, 12, 31)},
		{pgType("date", 1082), "0044-03-15 BC", days(-43, 3, 15)},
		{pgType("date", 1082), "4714-11-24 BC", days(-4713, 11, 24)},
		{pgType("date", 1082), "0005-02-29 BC", days(-4, 2, 29)},
		{pgType("date", 1082), "9999-12-31", days(9999, 12, 31)},
		{pgType("date", 1082), "10000-01-01", days(10000, 1, 1)},
		{pgType("date", 1082), "5874897-12-31", days(5874897, 12, 31)},
		{pgType("time", 1083), "00:00:00", int64(0)},
		{pgType("time", 1083), "23:59:59.999999", int64(schema.DayMicros - 1)},
		{pgType("time", 1083), "12:34:56.5", int64((12*3600+34*60+56)*1e6 + 500000)},
		{pgType("time", 1083), "12:34:56.000123", int64((12*3600+34*60+56)*1e6 + 123)},
		{pgType("timetz", 1266), "12:34:56+05:30", "12:34:56+05:30"},
		{pgType("timestamp", 1114), "2024-01-02 03:04:05", micros(2024, 1, 2, 3, 4, 5, 0)},
		{pgType("timestamp", 1114), "2024-01-02 03:04:05.1", micros(2024, 1, 2, 3, 4, 5, 100000)},
		{pgType("timestamp", 1114), "2024-01-02 03:04:05.12", micros(2024, 1, 2, 3, 4, 5, 120000)},
		{pgType("timestamp", 1114), "2024-01-02 03:04:05.123", micros(2024, 1, 2, 3, 4, 5, 123000)},
		{pgType("timestamp", 1114), "2024-01-02 03:04:05.1234", micros(2024, 1, 2, 3, 4, 5, 123400)},
		{pgType("timestamp", 1114), "2024-01-02 03:04:05.12345", micros(2024, 1, 2, 3, 4, 5, 123450)},
		{pgType("timestamp", 1114), "2024-01-02 03:04:05.123456", micros(2024, 1, 2, 3, 4, 5, 123456)},
		{pgType("timestamp", 1114), "1969-12-31 23:59:59.999999", int64(-1)},
		{pgType("timestamp", 1114), "0044-03-15 12:00:00 BC", micros(-43, 3, 15, 12, 0, 0, 0)},
		{pgType("timestamp", 1114), "4713-01-01 00:00:00 BC", micros(-4712, 1, 1, 0, 0, 0, 0)},
		{pgType("timestamp", 1114), "10000-01-01 00:00:00", micros(10000, 1, 1, 0, 0, 0, 0)},
		{pgType("timestamp", 1114), "292277-01-01 00:00:00", micros(292277, 1, 1, 0, 0, 0, 0)},
		{pgType("timestamptz", 1184), "2024-01-02 03:04:05.123456+00", micros(2024, 1, 2, 3, 4, 5, 123456)},
		{pgType("timestamptz", 1184), "2024-01-02 08:34:05.123456+05:30", micros(2024, 1, 2, 3, 4, 5, 123456)},
		{pgType("timestamptz", 1184), "2024-01-01 22:04:05-05", micros(2024, 1, 2, 3, 4, 5, 0)},
		{pgType("timestamptz", 1184), "1850-01-01 00:09:21+00:09:21", micros(1850, 1, 1, 0, 0, 0, 0)},
		{pgType("timestamptz", 1184), "0044-03-15 12:00:00+00 BC", micros(-43, 3, 15, 12, 0, 0, 0)},
		{pgType("json", 114), `{"a": [1, 2]}`, `{"a": [1, 2]}`},
		{pgType("interval", 1186), "P1Y2M3DT4H5M6.5S", "P1Y2M3DT4H5M6.5S"},
		{pgType("inet", 869), "192.168.0.1/24", "192.168.0.1/24"},
		{pgType("bit", 1560), "0101", "0101"},
		{pgType("money", 790), "$1,234.56", dec("123456")},
		{pgType("money", 790), "-$1,234.56", dec("-123456")},
		{pgType("money", 790), "$0.00", dec("0")},
		{pgType("money", 790), "($5.00)", dec("-500")},
		{pgType("money", 790), "-$92,233,720,368,547,758.08", dec("-9223372036854775808")},
		{pgType("money", 790), "$92,233,720,368,547,758.07", dec("9223372036854775807")},
		{mood, "happy", "happy"},
		{pgArray(pgType("int4", 23)), "{1,2,NULL}", []any{int32(1), int32(2), nil}},
		{pgArray(pgType("int4", 23)), "{}", []any{}},
		{pgArray(pgType("int4", 23)), "{ 1 , -2 }", []any{int32(1), int32(-2)}},
		{pgArray(pgType("text", 25)), `{"a,b","c\"d",NULL,"NULL",null,"",x\ y,"back\\slash"}`, []any{"a,b", `c"d`, nil, "NULL", nil, "", "x y", `back\slash`}},
		{pgArray(pgType("text", 25)), `{"{}","é ✓"}`, []any{"{}", "é ✓"}},
		{pgArray(pgNumeric(5, 1)), "{1.5,-2.0,NULL}", []any{dec("15"), dec("-20"), nil}},
		{pgArray(pgType("money", 790)), `{"$1.00","-$2.50"}`, []any{dec("100"), dec("-250")}},
		{pgArray(pgType("timestamptz", 1184)), `{"2024-01-02 03:04:05+00"}`, []any{micros(2024, 1, 2, 3, 4, 5, 0)}},
		{pgArray(pgType("bytea", 17)), `{"\\x00ff"}`, []any{[]byte{0, 0xff}}},
		{pgArray(mood), "{happy,sad}", []any{"happy", "sad"}},
		{pgArray(box), "{(1,1),(0,0);(2,2),(1,1)}", []any{"(1,1),(0,0)", "(2,2),(1,1)"}},
		{Type{Name: "_int8", OID: 1016, Modifier: -1}, "{9223372036854775807}", []any{int64(math.MaxInt64)}},
	}
	for _, tt := range tests {
		t.Run(tt.src.describe()+"/"+tt.text, func(t *testing.T) {
			d := mustDecoder(t, mustColumn(t, tt.src))
			got, err := d([]byte(tt.text))
			if err != nil {
				t.Fatal(err)
			}
			if !sameValue(got, tt.want) {
				t.Errorf("got %T %v, want %T %v", got, got, tt.want, tt.want)
			}
		})
	}
}

func TestPostgresDecoderErrors(t *testing.T) {
	tests := []struct {
		src    Type
		text   string
		reason string
	}{
		{pgType("int4", 23), "2147483648", "int32 range"},
		{pgType("int4", 23), "-2147483649", "int32 range"},
		{pgType("int4", 23), "", "int32"},
		{pgType("int4", 23), "-", "int32"},
		{pgType("int4", 23), "1.0", "int32"},
		{pgType("int4", 23), " 1", "int32"},
		{pgType("int8", 20), "9223372036854775808", "int64 range"},
		{pgType("int8", 20), "-9223372036854775809", "int64 range"},
		{pgNumeric(10, 2), "123456789.00", "more than 8 integer digits"},
		{pgNumeric(10, 2), "1.234", "more than 2 fractional digits"},
		{pgNumeric(10, 2), "NaN", "cannot store NaN"},
		{pgNumeric(10, 2), "1e5", "not a decimal"},
		{pgNumeric(10, 2), ".", "not a decimal"},
		{pgNumeric(38, 0), "1" + strings.Repeat("0", 38), "more than 38 integer digits"},
		{pgType("numeric", 1700), "0.0000000000000000001", "declare it numeric(p,s)"},
		{pgType("numeric", 1700), "123456789012345678901", "declare it numeric(p,s)"},
		{pgType("numeric", 1700), "Infinity", "cannot store Infinity"},
		{pgType("numeric", 1700), "-Infinity", "cannot store -Infinity"},
		{pgType("float4", 700), "1e39", "float4"},
		{pgType("float8", 701), "abc", "float8"},
		{pgType("float8", 701), "1e309", "float8"},
		{pgType("bool", 16), "yes", "boolean"},
		{pgType("text", 25), "\xff\xfe", "UTF-8"},
		{pgType("bytea", 17), `\x0`, "bytea_output=hex"},
		{pgType("bytea", 17), `\xzz`, "bytea_output=hex"},
		{pgType("bytea", 17), `\000`, "bytea_output=hex"},
		{pgType("uuid", 2950), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1", "UUID"},
		{pgType("uuid", 2950), "a0eebc99x9c0b-4ef8-bb6d-6bb9bd380a11", "UUID"},
		{pgType("uuid", 2950), "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "UUID"},
		{pgType("date", 1082), "infinity", "infinity cannot be stored"},
		{pgType("date", 1082), "-infinity", "infinity cannot be stored"},
		{pgType("date", 1082), "2023-02-29", "invalid date"},
		{pgType("date", 1082), "1900-02-29", "invalid date"},
		{pgType("date", 1082), "2024-13-01", "invalid date"},
		{pgType("date", 1082), "2024-00-10", "invalid date"},
		{pgType("date", 1082), "0000-01-01 BC", "DateStyle"},
		{pgType("date", 1082), "24-01-01", "DateStyle"},
		{pgType("date", 1082), "01/02/2024", "DateStyle"},
		{pgType("date", 1082), "2024-01-01 AD", "DateStyle"},
		{pgType("date", 1082), "1234567890-01-01", "year out of range"},
		{pgType("time", 1083), "24:00:00", "24:00:00 cannot be stored"},
		{pgType("time", 1083), "23:59:60", "HH:MM:SS"},
		{pgType("time", 1083), "12:34", "HH:MM:SS"},
		{pgType("time", 1083), "12:34:56.1234567", "HH:MM:SS"},
		{pgType("time", 1083), "12:34:56.", "HH:MM:SS"},
		{pgType("time", 1083), "12:60:00", "HH:MM:SS"},
		{pgType("timestamp", 1114), "infinity", "infinity cannot be stored"},
		{pgType("timestamp", 1114), "-infinity", "infinity cannot be stored"},
		{pgType("timestamp", 1114), "2024-01-02T03:04:05", "DateStyle"},
		{pgType("timestamp", 1114), "2024-01-02 03:04:05+00", "DateStyle"},
		{pgType("timestamp", 1114), "2024-01-02 24:00:00", "DateStyle"},
		{pgType("timestamp", 1114), "2016-12-31 23:59:60", "DateStyle"},
		{pgType("timestamp", 1114), "294276-12-31 23:59:59.999999", "out of range"},
		{pgType("timestamptz", 1184), "infinity", "infinity cannot be stored"},
		{pgType("timestamptz", 1184), "2024-01-02 03:04:05", "UTC offset"},
		{pgType("timestamptz", 1184), "2024-01-02 03:04:05+5", "UTC offset"},
		{pgType("timestamptz", 1184), "2024-01-02 03:04:05+05:3", "DateStyle"},
		{pgType("timestamptz", 1184), "2024-01-02 03:04:05 UTC", "UTC offset"},
		{pgType("money", 790), "€1.00", "lc_monetary=C"},
		{pgType("money", 790), "$1.001", "fractional digits"},
		{pgArray(pgType("int4", 23)), "{{1,2},{3,4}}", "multi-dimensional"},
		{pgArray(pgType("int4", 23)), "{1,{2}}", "multi-dimensional"},
		{pgArray(pgType("int4", 23)), "[0:1]={1,2}", "lower bound"},
		{pgArray(pgType("int4", 23)), "{1,2", "not array output"},
		{pgArray(pgType("int4", 23)), "1,2", "not array output"},
		{pgArray(pgType("int4", 23)), "{1,,2}", "missing element"},
		{pgArray(pgType("int4", 23)), "{1,}", "missing element"},
		{pgArray(pgType("int4", 23)), "{1 2}", "int32"},
		{pgArray(pgType("int4", 23)), "{1,x}", "int32"},
		{pgArray(pgType("text", 25)), `{"a}`, "malformed array"},
		{pgArray(pgType("text", 25)), `{"a"b}`, "expected a delimiter"},
		{pgArray(pgType("text", 25)), `{a"b}`, "malformed array"},
		{pgArray(pgType("text", 25)), `{a\}`, "malformed array"},
		{pgArray(pgType("date", 1082)), "{2024-01-01,infinity}", "infinity cannot be stored"},
	}
	for _, tt := range tests {
		t.Run(tt.src.describe()+"/"+tt.text, func(t *testing.T) {
			c := mustColumn(t, tt.src)
			c.Name = "the_col"
			v, err := mustDecoder(t, c)([]byte(tt.text))
			var ve *schema.ValueError
			if !errors.As(err, &ve) {
				t.Fatalf("got %v, %v; want a *schema.ValueError", v, err)
			}
			if !strings.Contains(ve.Reason, tt.reason) {
				t.Errorf("reason %q does not contain %q", ve.Reason, tt.reason)
			}
			if ve.Column != "the_col" || !strings.Contains(err.Error(), "the_col") || !strings.Contains(err.Error(), ve.SourceType) {
				t.Errorf("error %q does not name the column and type", err)
			}
		})
	}
}

func TestValueErrorMessage(t *testing.T) {
	c := mustColumn(t, pgType("numeric", 1700))
	c.Name = "amount"
	_, err := mustDecoder(t, c)([]byte("0.0000000000000000000001"))
	want := `column amount (numeric): value "0.0000000000000000000001": has more than 18 fractional digits, does not fit decimal(38,18); ` +
		"the column is numeric without precision, mapped to decimal(38,18): keep its exact text with `columns: {amount: {type: string}}` on the table's route " +
		"(or sink.numeric-unconstrained: string for every such column), or declare it numeric(p,s) with p <= 38 to bound its values"
	if err == nil || err.Error() != want {
		t.Fatalf("error\n got %v\nwant %s", err, want)
	}
	c = mustColumn(t, pgNumeric(4, 2))
	c.Name = "p"
	_, err = mustDecoder(t, c)([]byte("123.4"))
	if err == nil || !strings.HasPrefix(err.Error(), `column p (numeric(4,2)): value "123.4"`) {
		t.Fatalf("error %v", err)
	}
}

// TestDecoderFollowsIcebergType: a widened column decodes into the wider
// type, and a type with no PostgreSQL form is refused.
func TestDecoderFollowsIcebergType(t *testing.T) {
	c := mustColumn(t, pgType("int4", 23))
	c.Type = iceberg.PrimitiveTypes.Int64
	if v, err := mustDecoder(t, c)([]byte("42")); err != nil || v != int64(42) {
		t.Errorf("int4 as long: %v %v", v, err)
	}
	c = mustColumn(t, pgNumeric(10, 2))
	c.Type = iceberg.DecimalTypeOf(12, 4)
	if v, err := mustDecoder(t, c)([]byte("1.25")); err != nil || !sameValue(v, dec("12500")) {
		t.Errorf("numeric(10,2) as decimal(12,4): %v %v", v, err)
	}
	for _, typ := range []iceberg.Type{nil, iceberg.PrimitiveTypes.TimestampNs, &iceberg.StructType{}, &iceberg.ListType{Element: &iceberg.ListType{Element: iceberg.PrimitiveTypes.Int32}}} {
		c.Type = typ
		if _, err := TextDecoder(c); err == nil {
			t.Errorf("decoder for %v: no error", typ)
		}
	}
}
