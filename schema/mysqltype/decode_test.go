package mysqltype

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/iceberg-go"

	"github.com/floe-cdc/floe/schema"
)

// sameCanonical compares canonical values exactly: same Go type, same
// value (bytes by content, floats by bits).
func sameCanonical(a, b any) bool {
	switch x := a.(type) {
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case float32:
		y, ok := b.(float32)
		return ok && math.Float32bits(x) == math.Float32bits(y)
	case float64:
		y, ok := b.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y)
	}
	return a == b
}

func mustDec(t *testing.T, s string, p, sc int) decimal128.Num {
	t.Helper()
	n, reason := schema.ParseDecimal([]byte(s), p, sc)
	if reason != "" {
		t.Fatalf("schema.ParseDecimal(%q): %s", s, reason)
	}
	return n
}

func TestMySQLColumnMapping(t *testing.T) {
	i, l, str, bin := iceberg.PrimitiveTypes.Int32, iceberg.PrimitiveTypes.Int64, iceberg.PrimitiveTypes.String, iceberg.PrimitiveTypes.Binary
	tests := []struct {
		colType, dataType, charset string
		want                       iceberg.Type
		source                     string
	}{
		{"tinyint(4)", "tinyint", "", i, "tinyint(4)"},
		{"tinyint(1)", "tinyint", "", i, "tinyint(1)"},
		{"tinyint(3) unsigned", "tinyint", "", i, "tinyint(3) unsigned"},
		{"smallint(5) unsigned zerofill", "smallint", "", i, "smallint(5) unsigned zerofill"},
		{"mediumint(8) unsigned", "mediumint", "", i, "mediumint(8) unsigned"},
		{"int(11)", "int", "", i, "int(11)"},
		{"int unsigned", "int", "", l, "int unsigned"},
		{"bigint(20)", "bigint", "", l, "bigint(20)"},
		{"bigint(20) unsigned", "bigint", "", iceberg.DecimalTypeOf(20, 0), "bigint(20) unsigned"},
		{"decimal(10,2)", "decimal", "", iceberg.DecimalTypeOf(10, 2), "decimal(10,2)"},
		{"decimal(38,0) unsigned", "decimal", "", iceberg.DecimalTypeOf(38, 0), "decimal(38,0) unsigned"},
		{"decimal(39,2)", "decimal", "", str, "decimal(39,2)"},
		{"decimal(65,30)", "decimal", "", str, "decimal(65,30)"},
		{"float", "float", "", iceberg.PrimitiveTypes.Float32, "float"},
		{"float(7,4) unsigned", "float", "", iceberg.PrimitiveTypes.Float32, "float(7,4) unsigned"},
		{"double", "double", "", iceberg.PrimitiveTypes.Float64, "double"},
		{"bit(1)", "bit", "", l, "bit(1)"},
		{"bit(63)", "bit", "", l, "bit(63)"},
		{"bit(64)", "bit", "", bin, "bit(64)"},
		{"char(5)", "char", "utf8mb4", str, "char(5) character set utf8mb4"},
		{"varchar(20)", "varchar", "latin1", str, "varchar(20) character set latin1"},
		{"longtext", "longtext", "utf8mb4", str, "longtext character set utf8mb4"},
		{"varchar(3)", "varchar", "binary", bin, "varchar(3) character set binary"},
		{"binary(16)", "binary", "", bin, "binary(16)"},
		{"varbinary(10)", "varbinary", "", bin, "varbinary(10)"},
		{"mediumblob", "mediumblob", "", bin, "mediumblob"},
		{"date", "date", "", iceberg.PrimitiveTypes.Date, "date"},
		{"datetime(6)", "datetime", "", iceberg.PrimitiveTypes.Timestamp, "datetime(6)"},
		{"datetime /* mariadb-5.3 */", "datetime", "", iceberg.PrimitiveTypes.Timestamp, "datetime /* mariadb-5.3 */"},
		{"timestamp(3)", "timestamp", "", iceberg.PrimitiveTypes.TimestampTz, "timestamp(3)"},
		{"time(6)", "time", "", l, "time(6)"},
		{"year(4)", "year", "", i, "year(4)"},
		{"enum('a','b')", "enum", "utf8mb4", str, "enum('a','b') character set utf8mb4"},
		{"set('x','y')", "set", "utf8mb4", str, "set('x','y') character set utf8mb4"},
		{"json", "json", "", str, "json"},
		{"point", "point", "", bin, "point"},
		{"geometry", "geometry", "", bin, "geometry"},
		{"", "int", "", i, "int"},
	}
	for _, tt := range tests {
		c, err := mysqlColumn("c", tt.colType, tt.dataType, tt.charset, true)
		if err != nil {
			t.Errorf("%q: %v", tt.colType, err)
			continue
		}
		if !c.Type.Equals(tt.want) || c.Source.String() != tt.source || c.Nullable {
			t.Errorf("%q: got %s %q nullable=%v, want %s %q", tt.colType, c.Type, c.Source.String(), c.Nullable, tt.want, tt.source)
		}
	}
	for _, bad := range []string{"uuid", "inet6", "vector(3)", "decimal(5,6)", "bit(65)", "enum('a'"} {
		if c, err := mysqlColumn("c", bad, "", "", false); err == nil {
			t.Errorf("%q mapped to %s, want an error", bad, c.Type)
		}
	}
}

func TestParseMembers(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
	}{
		{"enum('a','it''s','b,c')", []string{"a", "it's", "b,c"}},
		{`set('x\'y','')`, []string{"x'y", ""}},
		{"enum('ü',' sp ')", []string{"ü", " sp "}},
	} {
		got, err := Parse(tt.in)
		if err != nil || strings.Join(got.args, "|") != strings.Join(tt.want, "|") {
			t.Errorf("%s: got %q, %v; want %q", tt.in, got.args, err, tt.want)
		}
	}
}

// mysqlDecodeCase is one value read through both decoders: text is the
// text-protocol form, bin the go-mysql binlog form (nil: text only).
type mysqlDecodeCase struct {
	colType, charset string
	text             string
	bin              any
	want             any // canonical value; an error value means a *schema.ValueError
}

var (
	errWant    = errors.New("value error")
	errBinWant = errors.New("value error from the binlog decoder only")
)

func TestMySQLDecoders(t *testing.T) {
	d := func(s string, p, sc int) decimal128.Num { return mustDec(t, s, p, sc) }
	wall := wallMicros
	tests := []mysqlDecodeCase{
		{"tinyint(4)", "", "-128", int8(-128), int32(-128)},
		{"tinyint(3) unsigned", "", "255", int8(-1), int32(255)},
		{"tinyint(3) unsigned", "", "255", uint8(255), int32(255)},
		{"smallint(5) unsigned", "", "65535", int16(-1), int32(65535)},
		{"mediumint(8) unsigned", "", "16777215", int32(-1), int32(16777215)},
		{"mediumint(8)", "", "-8388608", int32(-8388608), int32(-8388608)},
		{"int(10) unsigned", "", "4294967295", int32(-1), int64(4294967295)},
		{"int(11)", "", "-2147483648", int32(-2147483648), int32(-2147483648)},
		{"bigint(20)", "", "-9223372036854775808", int64(math.MinInt64), int64(math.MinInt64)},
		{"bigint(20) unsigned", "", "18446744073709551615", int64(-1), d("18446744073709551615", 20, 0)},
		{"bigint(20) unsigned", "", "18446744073709551615", uint64(math.MaxUint64), d("18446744073709551615", 20, 0)},
		{"int(11)", "", "2147483648", nil, errWant},
		{"int(11)", "", "12x", "12", errWant},
		{"decimal(10,2)", "", "-12345678.90", "-12345678.90", d("-12345678.90", 10, 2)},
		{"decimal(10,2)", "", "1.234", "1.234", errWant},
		{"decimal(65,30)", "", "-0012.50", "-12.5", "-12.500000000000000000000000000000"},
		{"decimal(40,0)", "", "-0", "0", "0"},
		{"float", "", "1.5", float32(1.5), float32(1.5)},
		{"float", "", "3.4028235e38", float32(3.4028235e38), float32(3.4028235e38)},
		{"double", "", "-2.2250738585072014e-308", -2.2250738585072014e-308, -2.2250738585072014e-308},
		{"bit(10)", "", "\x02\x01", int64(513), int64(513)},
		{"bit(3)", "", "\x0f", int64(15), errWant},
		{"bit(64)", "", "\xff\xff\xff\xff\xff\xff\xff\xfe", int64(-2), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}},
		{"char(5)", "utf8mb4", "é ü", "é ü  ", "é ü"},
		{"varchar(5)", "utf8mb4", "é ü ", []byte("é ü "), "é ü "},
		{"varchar(5)", "utf8mb4", "\xff", "\xff", errWant},
		{"varchar(9)", "latin1", "é€‰\u0081", "\xe9\x80\x89\x81", "é€‰\u0081"},
		{"text", "ucs2", "Ωé", []byte{0x03, 0xa9, 0x00, 0xe9}, "Ωé"},
		{"text", "utf16", "😀", []byte{0xd8, 0x3d, 0xde, 0x00}, "😀"},
		{"text", "utf16", "x", []byte{0xd8, 0x3d}, errBinWant},
		{"text", "utf16le", "é", []byte{0xe9, 0x00}, "é"},
		{"text", "utf32", "😀", []byte{0, 1, 0xf6, 0}, "😀"},
		{"binary(4)", "", "\x01\x02\x00\x00", "\x01\x02", []byte{1, 2, 0, 0}},
		{"varbinary(4)", "", "", "", []byte{}},
		{"blob", "", "\x00\xff", []byte{0, 0xff}, []byte{0, 0xff}},
		{"enum('a','it''s')", "utf8mb4", "it's", int64(2), "it's"},
		{"enum('a','it''s')", "utf8mb4", "", int64(0), ""},
		{"enum('a')", "utf8mb4", "a", int64(2), errBinWant},
		{"enum('a')", "utf8mb4", "b", nil, errWant},
		{"set('x','y','z')", "utf8mb4", "x,z", int64(5), "x,z"},
		{"set('x','y','z')", "utf8mb4", "", int64(0), ""},
		{"set('x')", "utf8mb4", "x", int64(2), errBinWant},
		{"set('x','y')", "utf8mb4", "y,z", nil, errWant},
		{"date", "", "2024-02-29", "2024-02-29", int32(19782)},
		{"date", "", "0001-01-01", "0001-01-01", int32(-719162)},
		{"date", "", "2023-02-29", "2023-02-29", errWant},
		{"date", "", "0000-00-00", "0000-00-00", errWant},
		{"datetime(6)", "", "1969-12-31 23:59:59.999999", "1969-12-31 23:59:59.999999", int64(-1)},
		{"datetime(6)", "", "2024-02-29 12:00:00.000001", time.Date(2024, 2, 29, 12, 0, 0, 1000, time.UTC), wall("2024-02-29 12:00:00.000001")},
		{"datetime(2)", "", "2001-02-03 04:05:06.70", "2001-02-03 04:05:06.70", wall("2001-02-03 04:05:06.7")},
		{"datetime", "", "0000-00-00 00:00:00", "0000-00-00 00:00:00", errWant},
		{"datetime", "", "2024-02-29 24:00:00", "2024-02-29 24:00:00", errWant},
		{"timestamp(6)", "", "2038-01-19 03:14:07.999999", "2038-01-19 03:14:07.999999", int64(2147483647_999999)},
		{"timestamp", "", "1970-01-01 00:00:01", time.Unix(1, 0).In(time.FixedZone("x", 3600)), int64(1_000_000)},
		{"timestamp(3)", "", "0000-00-00 00:00:00.000", "0000-00-00 00:00:00.000", errWant},
		{"time(6)", "", "-838:59:59.000000", "-838:59:59.000000", -int64(838*3600+59*60+59) * 1e6},
		{"time(1)", "", "-00:00:00.5", "-00:00:00.5", int64(-500000)},
		{"time", "", "100:00:00", "100:00:00", int64(360000) * 1e6},
		{"time", "", "1:00:00", "1:00:00", errWant},
		{"year(4)", "", "2155", 2155, int32(2155)},
		{"year(4)", "", "0000", 0, int32(0)},
		{"json", "", `{"b":[1, 2.50,"x\u0001"], "a" : null}`, `{"b": [1, 2.5, "x\u0001"], "a": null}`, `{"b": [1, 2.5, "x\u0001"], "a": null}`},
		{"json", "", `[1e2, 12345678901234567890.5, true]`, []byte(`[100.0,12345678901234567890.5,true]`), `[100, 12345678901234567890.5, true]`},
		// A whole-number double past 1e17: MySQL prints 1e300, go-mysql
		// every digit of it ("1000…0.0"); a long decimal stays as written.
		{"json", "", `[1e300, -2.5e20, 1.0, 12345678901234567890.0]`,
			[]byte("[" + strconv.FormatFloat(1e300, 'f', 1, 64) + "," + strconv.FormatFloat(-2.5e20, 'f', 1, 64) + ",1.0,12345678901234567890.0]"),
			`[1e+300, -2.5e+20, 1, 12345678901234567890.0]`},
		{"json", "", `{"a":`, `{"a":`, errWant},
		{"point", "", "\xe6\x10\x00\x00\x01", []byte{0xe6, 0x10, 0, 0, 1}, []byte{0xe6, 0x10, 0, 0, 1}},
	}
	for _, tt := range tests {
		c, err := mysqlColumn("c", tt.colType, "", tt.charset, false)
		if err != nil {
			t.Fatalf("%s: %v", tt.colType, err)
		}
		td, err := TextDecoder(c, Options{})
		if err != nil {
			t.Fatalf("%s: %v", tt.colType, err)
		}
		bd, err := BinlogDecoder(c, Options{})
		if err != nil {
			t.Fatalf("%s: %v", tt.colType, err)
		}
		check := func(path string, got any, err error) {
			t.Helper()
			if tt.want == errWant || (tt.want == errBinWant && path == "binlog") {
				var ve *schema.ValueError
				if !errors.As(err, &ve) || ve.Column != "c" || ve.Reason == "" {
					t.Errorf("%s %s %q: got %#v, %v; want a schema.ValueError", tt.colType, path, tt.text, got, err)
				}
				return
			}
			if err != nil || !sameCanonical(got, tt.want) {
				t.Errorf("%s %s %q: got %#v, %v; want %#v", tt.colType, path, tt.text, got, err, tt.want)
			}
		}
		if tt.want != errBinWant {
			got, err := td([]byte(tt.text))
			check("text", got, err)
		}
		if tt.bin != nil {
			got, err := bd(tt.bin)
			check("binlog", got, err)
		}
	}
}

func TestMySQLZeroDate(t *testing.T) {
	for _, tt := range []struct {
		colType, zero, text string
		nullable            bool
		want                any
	}{
		{"date", ZeroDateNull, "0000-00-00", true, nil},
		{"date", ZeroDateNull, "2020-05-00", true, nil},
		{"date", ZeroDateNull, "0000-00-00", false, errWant},
		{"date", ZeroDateEpoch, "0000-00-00", false, int32(0)},
		{"datetime(3)", ZeroDateEpoch, "0000-00-00 00:00:00.000", false, int64(0)},
		{"timestamp", ZeroDateNull, "0000-00-00 00:00:00", true, nil},
		{"timestamp", "", "0000-00-00 00:00:00", true, errWant},
		{"timestamp", ZeroDateError, "0000-00-00 00:00:00", true, errWant},
	} {
		c, err := mysqlColumn("c", tt.colType, "", "", !tt.nullable)
		if err != nil {
			t.Fatal(err)
		}
		o := Options{ZeroDate: tt.zero}
		td, err1 := TextDecoder(c, o)
		bd, err2 := BinlogDecoder(c, o)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		for path, dec := range map[string]func() (any, error){
			"text":   func() (any, error) { return td([]byte(tt.text)) },
			"binlog": func() (any, error) { return bd(tt.text) },
		} {
			got, err := dec()
			var ve *schema.ValueError
			switch {
			case tt.want == errWant:
				if !errors.As(err, &ve) || !strings.Contains(ve.Reason, "zero") {
					t.Errorf("%s %s %q (%s): got %v, %v; want a zero-date schema.ValueError", tt.colType, path, tt.text, tt.zero, got, err)
				}
			case err != nil || !sameCanonical(got, tt.want):
				t.Errorf("%s %s %q (%s): got %#v, %v; want %#v", tt.colType, path, tt.text, tt.zero, got, err, tt.want)
			}
		}
	}
	c, _ := mysqlColumn("c", "date", "", "", false)
	if _, err := TextDecoder(c, Options{ZeroDate: "zero"}); err == nil {
		t.Error("unknown zero-date treatment accepted")
	}
}

func TestMySQLTimestampServerZone(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	c, _ := mysqlColumn("c", "timestamp(6)", "", "", true)
	td, _ := TextDecoder(c, Options{ServerTimeZone: berlin})
	bd, _ := BinlogDecoder(c, Options{ServerTimeZone: berlin})
	// 12:00 in Berlin in summer is 10:00 UTC; the binlog string is UTC.
	want := time.Date(2024, 7, 1, 10, 0, 0, 500000000, time.UTC).UnixMicro()
	if got, err := td([]byte("2024-07-01 12:00:00.500000")); err != nil || got != want {
		t.Errorf("text: %v, %v; want %d", got, err, want)
	}
	if got, err := bd("2024-07-01 10:00:00.500000"); err != nil || got != want {
		t.Errorf("binlog: %v, %v; want %d", got, err, want)
	}
	dc, _ := mysqlColumn("c", "datetime", "", "", true)
	dd, _ := TextDecoder(dc, Options{ServerTimeZone: berlin})
	if got, err := dd([]byte("2024-07-01 12:00:00")); err != nil || got != time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC).UnixMicro() {
		t.Errorf("datetime shifted by the server zone: %v, %v", got, err)
	}
}

func TestMySQLBinlogDecoderUnsupportedCharset(t *testing.T) {
	c, err := mysqlColumn("c", "varchar(10)", "varchar", "gbk", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := TextDecoder(c, Options{}); err != nil {
		t.Errorf("text decoder: %v", err)
	}
	if _, err := BinlogDecoder(c, Options{}); err == nil || !strings.Contains(err.Error(), "utf8mb4") {
		t.Errorf("binlog decoder for gbk: %v, want an error naming the fix", err)
	}
}

// TestTextDecodersRetainNothing: schema.Decoder promises that a decoder
// never retains the bytes it is given, and the snapshot decodes the
// driver's reused buffers in place on that promise. A value of every
// family is decoded, its input overwritten, and it must read the same.
func TestTextDecodersRetainNothing(t *testing.T) {
	for _, c := range []struct{ colType, dataType, charset, text string }{
		{"int(11)", "int", "", "-42"},
		{"bigint(20) unsigned", "bigint", "", "18446744073709551615"},
		{"decimal(10,2)", "decimal", "", "12.50"},
		{"double", "double", "", "1.5"},
		{"bit(8)", "bit", "", "\x05"},
		{"varchar(20)", "varchar", "utf8mb4", "héllo"},
		{"char(5)", "char", "utf8mb4", "ab   "},
		{"enum('a','b')", "enum", "utf8mb4", "b"},
		{"set('a','b')", "set", "utf8mb4", "a,b"},
		{"varbinary(8)", "varbinary", "", "\x00\x01\x02"},
		{"binary(4)", "binary", "", "\x01\x02"},
		{"json", "json", "", `{"k": [1, 2]}`},
		{"date", "date", "", "2026-12-05"},
		{"time(3)", "time", "", "-12:34:56.789"},
		{"datetime(6)", "datetime", "", "2026-12-05 01:02:03.456789"},
		{"timestamp", "timestamp", "", "2026-12-05 01:02:03"},
		{"year(4)", "year", "", "2026"},
	} {
		col, err := mysqlColumn("c", c.colType, c.dataType, c.charset, false)
		if err != nil {
			t.Fatalf("%s: %v", c.colType, err)
		}
		dec, err := TextDecoder(col, Options{})
		if err != nil {
			t.Fatalf("%s: %v", c.colType, err)
		}
		want, err := dec([]byte(c.text))
		if err != nil {
			t.Fatalf("%s %q: %v", c.colType, c.text, err)
		}
		buf := []byte(c.text)
		got, err := dec(buf)
		if err != nil {
			t.Fatalf("%s %q: %v", c.colType, c.text, err)
		}
		for i := range buf {
			buf[i] = 'x'
		}
		if !sameCanonical(got, want) {
			t.Errorf("%s %q: decoded %#v, after its input was overwritten %#v", c.colType, c.text, want, got)
		}
	}
}

// TestBinlogStringsRetainNothing: go-mysql hands text values as strings
// that view its packet buffer, which it reuses. The binlog decoder must
// copy them: a value decoded from such a view, whose bytes are then
// overwritten, must read the same. Invalid UTF-8 in a utf8mb4 column
// stays an error.
func TestBinlogStringsRetainNothing(t *testing.T) {
	for _, c := range []struct{ colType, dataType, charset, text, want string }{
		{"varchar(20)", "varchar", "utf8mb4", "héllo", "héllo"},
		{"char(5)", "char", "utf8mb4", "ab   ", "ab"},
		{"varchar(20)", "varchar", "ascii", "plain", "plain"},
		{"varchar(20)", "varchar", "latin1", "caf\xe9", "café"},
	} {
		col, err := mysqlColumn("c", c.colType, c.dataType, c.charset, false)
		if err != nil {
			t.Fatalf("%s: %v", c.colType, err)
		}
		dec, err := BinlogDecoder(col, Options{})
		if err != nil {
			t.Fatalf("%s %s: %v", c.colType, c.charset, err)
		}
		buf := []byte(c.text)
		got, err := dec(unsafe.String(&buf[0], len(buf)))
		if err != nil {
			t.Fatalf("%s %s %q: %v", c.colType, c.charset, c.text, err)
		}
		for i := range buf {
			buf[i] = 'x'
		}
		if got != c.want {
			t.Errorf("%s %s %q: decoded %q after its input was overwritten, want %q", c.colType, c.charset, c.text, got, c.want)
		}
	}
	col, err := mysqlColumn("c", "varchar(20)", "varchar", "utf8mb4", false)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := BinlogDecoder(col, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := dec("a\xffb"); err == nil {
		t.Errorf("invalid UTF-8 decoded as %q, want an error", v)
	}
}

// TestBinlogIntegersPassedOn: a signed INT's or BIGINT's binlog value is
// already its Iceberg int's or long's: the decoder passes the boxed value
// on with no allocation, and still decodes every other integer column.
func TestBinlogIntegersPassedOn(t *testing.T) {
	for _, c := range []struct {
		colType string
		in, out any
		kept    bool // passed on as it is
	}{
		{"int(11)", int32(-2147483648), int32(-2147483648), true},
		{"mediumint(8)", int32(8388607), int32(8388607), true},
		{"bigint(20)", int64(math.MaxInt64), int64(math.MaxInt64), true},
		{"int(10) unsigned", int32(-1), int64(4294967295), false},
		{"bigint(20) unsigned", int64(1 << 40), mustDec(t, "1099511627776", 20, 0), false},
	} {
		col, err := mysqlColumn("c", c.colType, strings.Fields(strings.ReplaceAll(c.colType, "(", " "))[0], "", false)
		if err != nil {
			t.Fatalf("%s: %v", c.colType, err)
		}
		dec, err := BinlogDecoder(col, Options{})
		if err != nil {
			t.Fatalf("%s: %v", c.colType, err)
		}
		got, err := dec(c.in)
		if err != nil || got != c.out {
			t.Errorf("%s: %#v decoded to %#v (%v), want %#v", c.colType, c.in, got, err, c.out)
		}
		if !c.kept {
			continue
		}
		if n := testing.AllocsPerRun(100, func() { _, _ = dec(c.in) }); n != 0 {
			t.Errorf("%s: %v allocations decoding %#v, want none", c.colType, n, c.in)
		}
	}
}

// TestUTF8Charsets: utf8Charsets names exactly the character sets that
// charsetDecoders reads with utf8Text, whose binlog strings the decoder
// only validates and copies.
func TestUTF8Charsets(t *testing.T) {
	utf8Fn := reflect.ValueOf(utf8Text).Pointer()
	for cs, fn := range charsetDecoders {
		if isUTF8 := reflect.ValueOf(fn).Pointer() == utf8Fn; isUTF8 != utf8Charsets[cs] {
			t.Errorf("charset %q: decoded by utf8Text %v, in utf8Charsets %v", cs, isUTF8, utf8Charsets[cs])
		}
	}
	for cs := range utf8Charsets {
		if _, ok := charsetDecoders[cs]; !ok {
			t.Errorf("utf8Charsets names %q, which charsetDecoders lacks", cs)
		}
	}
}

// TestTextCharsetIsUTF8: the text decoders read character values with
// utf8Text directly, which must stay the decoder of the connection's
// character set (utf8mb4) in charsetDecoders.
func TestTextCharsetIsUTF8(t *testing.T) {
	if reflect.ValueOf(charsetDecoders["utf8mb4"]).Pointer() != reflect.ValueOf(utf8Text).Pointer() {
		t.Fatal(`charsetDecoders["utf8mb4"] is not utf8Text: the text decoders must use it too`)
	}
}
