package mysqltype

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/iceberg-go"
	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/floe-cdc/floe/deploy/testdb"
	"github.com/floe-cdc/floe/schema"
)

// mysqlLiveCase is one column of the live table: its declaration, the SQL
// literals inserted (row k gets values[k], NULL once they run out) and the
// canonical values both decoders must produce.
type mysqlLiveCase struct {
	decl   string
	typ    iceberg.Type
	values []string
	want   []any
}

func mysqlLiveCases() []mysqlLiveCase {
	dt, day := wallMicros, dayOf
	d20 := func(s string) decimal128.Num {
		n, reason := schema.ParseDecimal([]byte(s), 20, 0)
		if reason != "" {
			panic(reason)
		}
		return n
	}
	dps := func(s string, p, sc int) decimal128.Num {
		n, reason := schema.ParseDecimal([]byte(s), p, sc)
		if reason != "" {
			panic(reason)
		}
		return n
	}
	i := iceberg.PrimitiveTypes.Int32
	l := iceberg.PrimitiveTypes.Int64
	str := iceberg.PrimitiveTypes.String
	bin := iceberg.PrimitiveTypes.Binary
	return []mysqlLiveCase{
		{"tinyint", i, []string{"-128", "127", "0"}, []any{int32(-128), int32(127), int32(0)}},
		{"tinyint unsigned", i, []string{"255", "0"}, []any{int32(255), int32(0)}},
		{"bool", i, []string{"1", "-5"}, []any{int32(1), int32(-5)}},
		{"smallint", i, []string{"-32768", "32767"}, []any{int32(-32768), int32(32767)}},
		{"smallint unsigned", i, []string{"65535"}, []any{int32(65535)}},
		{"mediumint", i, []string{"-8388608", "8388607"}, []any{int32(-8388608), int32(8388607)}},
		{"mediumint unsigned", i, []string{"16777215", "8388608"}, []any{int32(16777215), int32(8388608)}},
		{"int", i, []string{"-2147483648", "2147483647"}, []any{int32(-2147483648), int32(2147483647)}},
		{"int unsigned", l, []string{"4294967295", "2147483648"}, []any{int64(4294967295), int64(2147483648)}},
		{"bigint", l, []string{"-9223372036854775808", "9223372036854775807"}, []any{int64(-9223372036854775808), int64(9223372036854775807)}},
		{"bigint unsigned", iceberg.DecimalTypeOf(20, 0), []string{"18446744073709551615", "9223372036854775808", "0"},
			[]any{d20("18446744073709551615"), d20("9223372036854775808"), d20("0")}},
		{"decimal(10,2)", iceberg.DecimalTypeOf(10, 2), []string{"-12345678.90", "0.01", "0"},
			[]any{dps("-12345678.90", 10, 2), dps("0.01", 10, 2), dps("0", 10, 2)}},
		{"decimal(5,5)", iceberg.DecimalTypeOf(5, 5), []string{"-0.00001", "0.99999"}, []any{dps("-0.00001", 5, 5), dps("0.99999", 5, 5)}},
		{"decimal(38,10) unsigned", iceberg.DecimalTypeOf(38, 10), []string{"9999999999999999999999999999.9999999999"},
			[]any{dps("9999999999999999999999999999.9999999999", 38, 10)}},
		{"decimal(18,9)", iceberg.DecimalTypeOf(18, 9), []string{"-123456789.123456789", "0.000000001", "-0.5"},
			[]any{dps("-123456789.123456789", 18, 9), dps("0.000000001", 18, 9), dps("-0.5", 18, 9)}},
		{"decimal(9,0)", iceberg.DecimalTypeOf(9, 0), []string{"-999999999", "1000"}, []any{dps("-999999999", 9, 0), dps("1000", 9, 0)}},
		{"decimal(65,30)", str, []string{"-12345678901234567890123456789012345.123456789012345678901234567890", "0.5"},
			[]any{"-12345678901234567890123456789012345.123456789012345678901234567890", "0.500000000000000000000000000000"}},
		{"float", iceberg.PrimitiveTypes.Float32, []string{"1.2345678", "-3.4028235e38", "0.1", "1.17549435e-38", "-0e0"},
			[]any{float32(1.2345678), float32(-3.4028235e38), float32(0.1), float32(1.17549435e-38), anyZero}},
		{"double", iceberg.PrimitiveTypes.Float64, []string{"0.1", "1.7976931348623157e308", "-2.2250738585072014e-308", "0.1e0 + 0.2e0", "1.2345678901234567", "-0e0"},
			[]any{0.1, 1.7976931348623157e308, -2.2250738585072014e-308, 0.30000000000000004, 1.2345678901234567, anyZero}},
		{"bit(1)", l, []string{"b'1'", "b'0'"}, []any{int64(1), int64(0)}},
		{"bit(10)", l, []string{"b'1000000001'"}, []any{int64(513)}},
		{"bit(63)", l, []string{"b'111111111111111111111111111111111111111111111111111111111111111'"}, []any{int64(1<<63 - 1)}},
		{"bit(64)", bin, []string{"b'1111111111111111111111111111111111111111111111111111111111111110'", "b'1'"},
			[]any{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}, []byte{0, 0, 0, 0, 0, 0, 0, 1}}},
		{"char(5)", str, []string{"'ab'", "' é ü '", "''"}, []any{"ab", " é ü", ""}},
		{"char(5) character set latin1", str, []string{"'é€‰'"}, []any{"é€‰"}},
		{"varchar(20) character set latin1", str, []string{"'Ž€™ x '"}, []any{"Ž€™ x "}},
		{"varchar(10) character set utf8mb4 collate utf8mb4_bin", str, []string{"'😀 '"}, []any{"😀 "}},
		{"varchar(10) character set utf8mb3", str, []string{"'Ω≈'"}, []any{"Ω≈"}},
		{"varchar(10) character set ucs2", str, []string{"'Ωé'"}, []any{"Ωé"}},
		{"varchar(10) character set utf16", str, []string{"'😀é'"}, []any{"😀é"}},
		{"varchar(10) character set utf32", str, []string{"'😀é'"}, []any{"😀é"}},
		{"char(100)", str, []string{"'x  '", "REPEAT('ü', 100)"}, []any{"x", strings.Repeat("ü", 100)}},
		{"varchar(300)", str, []string{"REPEAT('y', 290)", "''"}, []any{strings.Repeat("y", 290), ""}},
		{"char(3) character set ascii", str, []string{"'a\\tb'"}, []any{"a\tb"}},
		{"tinytext", str, []string{"'t\\ni'"}, []any{"t\ni"}},
		{"text character set latin1", str, []string{"'Grüße'"}, []any{"Grüße"}},
		{"mediumtext", str, []string{"REPEAT('x', 300)"}, []any{strings.Repeat("x", 300)}},
		{"longtext", str, []string{"'ő'"}, []any{"ő"}},
		{"binary(4)", bin, []string{"X'0102'", "X'00000000'"}, []any{[]byte{1, 2, 0, 0}, []byte{0, 0, 0, 0}}},
		{"varbinary(10)", bin, []string{"X'00FF20'", "''"}, []any{[]byte{0, 0xff, 0x20}, []byte{}}},
		{"blob", bin, []string{"X'DEADBEEF'"}, []any{[]byte{0xde, 0xad, 0xbe, 0xef}}},
		{"longblob", bin, []string{"X'00'"}, []any{[]byte{0}}},
		{"date", iceberg.PrimitiveTypes.Date, []string{"'2024-02-29'", "'0001-01-01'", "'9999-12-31'", "'0000-00-00'", "'2020-05-00'", "'2021-02-30'"},
			[]any{day("2024-02-29"), day("0001-01-01"), day("9999-12-31"), nil, nil, nil}},
		{"datetime", iceberg.PrimitiveTypes.Timestamp, []string{"'1969-12-31 23:59:59'", "'1000-01-01 00:00:00'", "'0000-00-00 00:00:00'", "'2021-02-30 10:00:00'"},
			[]any{dt("1969-12-31 23:59:59"), dt("1000-01-01 00:00:00"), nil, nil}},
		{"datetime(6)", iceberg.PrimitiveTypes.Timestamp, []string{"'2024-02-29 23:59:59.999999'", "'9999-12-31 23:59:59.000001'"},
			[]any{dt("2024-02-29 23:59:59.999999"), dt("9999-12-31 23:59:59.000001")}},
		{"datetime(3)", iceberg.PrimitiveTypes.Timestamp, []string{"'2001-02-03 04:05:06.7'"}, []any{dt("2001-02-03 04:05:06.700")}},
		{"datetime(1)", iceberg.PrimitiveTypes.Timestamp, []string{"'2001-02-03 04:05:06.7'", "'0000-00-00 00:00:00.0'", "'1970-01-01 00:00:00'"},
			[]any{dt("2001-02-03 04:05:06.700"), nil, dt("1970-01-01 00:00:00")}},
		{"datetime(4)", iceberg.PrimitiveTypes.Timestamp, []string{"'2001-02-03 04:05:06.1234'", "'9999-12-31 23:59:59.9999'"},
			[]any{dt("2001-02-03 04:05:06.123400"), dt("9999-12-31 23:59:59.999900")}},
		{"datetime(5)", iceberg.PrimitiveTypes.Timestamp, []string{"'1000-01-01 00:00:00.00001'"}, []any{dt("1000-01-01 00:00:00.000010")}},
		{"timestamp null", iceberg.PrimitiveTypes.TimestampTz, []string{"'2000-01-01 00:00:00'", "'0000-00-00 00:00:00'", "'1970-01-01 00:00:01'"},
			[]any{int64(946684800_000000), nil, int64(1_000_000)}},
		{"timestamp(4) null", iceberg.PrimitiveTypes.TimestampTz, []string{"'2038-01-19 03:14:07.9999'"}, []any{int64(2147483647_999900)}},
		{"timestamp(6) null", iceberg.PrimitiveTypes.TimestampTz, []string{"'1970-01-01 00:00:01'", "'2038-01-19 03:14:07.999999'", "'0000-00-00 00:00:00'"},
			[]any{int64(1_000_000), int64(2147483647_999999), nil}},
		{"timestamp(2) null", iceberg.PrimitiveTypes.TimestampTz, []string{"'2000-01-01 00:00:00.25'"}, []any{int64(946684800_250000)}},
		{"time(6)", l, []string{"'-838:59:59.000000'", "'838:59:59'", "'-00:00:00.5'", "'12:34:56.789'", "'00:00:00'"},
			[]any{-int64(838*3600+59*60+59) * 1e6, int64(838*3600+59*60+59) * 1e6, int64(-500000), int64(45296789000), int64(0)}},
		{"time", l, []string{"'-01:02:03'", "'100:00:00'"}, []any{-int64(3723) * 1e6, int64(360000) * 1e6}},
		{"time(2)", l, []string{"'-01:00:00.25'", "'00:00:00.01'"}, []any{-int64(3600_250000), int64(10000)}},
		{"year", i, []string{"1901", "2155", "0"}, []any{int32(1901), int32(2155), int32(0)}},
		{"enum('a','it''s','ü','b,c')", str, []string{"'it''s'", "'ü'", "'nope'", "'b,c'"}, []any{"it's", "ü", "", "b,c"}},
		{`enum('back\\slash','q"uote',' lead')`, str, []string{`'back\\slash'`, `'q"uote'`, `' lead'`}, []any{`back\slash`, `q"uote`, " lead"}},
		{"set('x','y','z')", str, []string{"'z,x'", "''", "'y'"}, []any{"x,z", "", "y"}},
		{"json", str, []string{`'{"a": [1, 2.50, "x"]}'`}, []any{`{"a": [1, 2.50, "x"]}`}},
		{"json", str, []string{`'{"d": 1.0, "e": 1e300, "f": -0.000001, "big": 18446744073709551615, "neg": -9223372036854775808, "bb": 1, "a": 2}'`,
			`'["\\u00e9\\n\\t\\"\\\\", "😀", null, true, false, {}, [], ""]'`,
			"JSON_OBJECT('t', CAST('2024-02-29 12:34:56.789' AS DATETIME(3)), 'd', CAST('2024-02-29' AS DATE), 'n', CAST(12.50 AS DECIMAL(5,2)), 'tm', CAST('-01:02:03' AS TIME))"},
			[]any{`{"d": 1.0, "e": 1e300, "f": -0.000001, "big": 18446744073709551615, "neg": -9223372036854775808, "bb": 1, "a": 2}`,
				`["\u00e9\n\t\"\\", "😀", null, true, false, {}, [], ""]`,
				`{"t": "2024-02-29 12:34:56.789", "d": "2024-02-29", "n": 12.50, "tm": "-01:02:03"}`}},
		{"point", bin, []string{"ST_PointFromText('POINT(1 2)', 4326)"},
			[]any{[]byte{0xe6, 0x10, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0x40}}},
	}
}

// slowInBinlog reports whether DecodeRowsEvent leaves the binlog values
// of a column of type decl to go-mysql (see rowimage.go).
func slowInBinlog(decl string) bool {
	for _, prefix := range []string{"json", "point", "time"} {
		if strings.HasPrefix(decl, prefix) && !strings.HasPrefix(decl, "timestamp") {
			return true
		}
	}
	return false
}

// anyZero as a want accepts 0 or -0, as long as both decoders agree.
const anyZero = "±0"

func isZero(v any) bool {
	switch x := v.(type) {
	case float32:
		return x == 0
	case float64:
		return x == 0
	}
	return false
}

// mysqlStoresOtherwise sets the wants of the cases whose values a MySQL
// server stores differently from MariaDB (both decoders must still agree):
// it stores JSON as binary JSON whose numbers
// are doubles (MariaDB keeps the text), and reads WKT in SRID 4326 as
// latitude-longitude, storing x = longitude (the axes come out swapped).
func mysqlStoresOtherwise(cases []mysqlLiveCase) {
	for i, c := range cases {
		switch c.decl {
		case "json": // keys sorted by length, then bytes; temporal values with 6 digits
			if len(c.values) == 1 {
				cases[i].want[0] = `{"a": [1, 2.5, "x"]}`
				continue
			}
			cases[i].want[0] = `{"a": 2, "d": 1, "e": 1e+300, "f": -1e-06, "bb": 1, "big": 18446744073709551615, "neg": -9223372036854775808}`
			cases[i].want[1] = `["é\n\t\"\\", "😀", null, true, false, {}, [], ""]`
			cases[i].want[2] = `{"d": "2024-02-29", "n": 12.5, "t": "2024-02-29 12:34:56.789000", "tm": "-01:02:03.000000"}`
		case "point":
			cases[i].want[0] = []byte{0xe6, 0x10, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f}
		}
	}
}

func TestMySQLDecodersLive(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	m := testdb.StartMariaDBForTest(ctx, t, testdb.MariaDBOptions{})
	if err := m.CreateDatabase(ctx, "typ", "floe", "pw"); err != nil {
		t.Fatal(err)
	}
	cases := mysqlLiveCases()
	cols := []string{"id INT PRIMARY KEY"}
	nrows := 0
	for k, c := range cases {
		cols = append(cols, fmt.Sprintf("c%d %s", k, c.decl))
		nrows = max(nrows, len(c.values))
	}
	var rows [][]string
	for r := range nrows {
		vals := []string{strconv.Itoa(r)}
		for _, c := range cases {
			if r < len(c.values) {
				vals = append(vals, c.values[r])
			} else {
				vals = append(vals, "NULL")
			}
		}
		rows = append(rows, vals)
	}
	if err := m.Exec(ctx, "typ", "CREATE TABLE t ("+strings.Join(cols, ", ")+") CHARACTER SET utf8mb4"); err != nil {
		t.Fatal(err)
	}
	// tf has the columns whose binlog values DecodeRowsEvent decodes
	// itself (rowimage.go); t has a JSON column, so go-mysql decodes it.
	// The same rows go into both.
	fast := []int{0} // indexes into t's columns, id first
	for k, c := range cases {
		if !slowInBinlog(c.decl) {
			fast = append(fast, k+1)
		}
	}
	fastCols, fastRows := make([]string, len(fast)), make([]string, nrows)
	for j, i := range fast {
		fastCols[j] = cols[i]
	}
	if err := m.Exec(ctx, "typ", "CREATE TABLE tf ("+strings.Join(fastCols, ", ")+") CHARACTER SET utf8mb4"); err != nil {
		t.Fatal(err)
	}

	conn, file, pos, flavor := connectAtBinlogEnd(t, m, "typ")
	if _, err := conn.Execute("SET time_zone = '+00:00', sql_mode = 'ALLOW_INVALID_DATES'"); err != nil {
		t.Fatal(err)
	}
	if m.Flavor == testdb.FlavorMySQL {
		mysqlStoresOtherwise(cases)
	}
	allRows := make([]string, nrows)
	for r, vals := range rows {
		allRows[r] = "(" + strings.Join(vals, ", ") + ")"
		var picked []string
		for _, i := range fast {
			picked = append(picked, vals[i])
		}
		fastRows[r] = "(" + strings.Join(picked, ", ") + ")"
	}
	if _, err := conn.Execute("INSERT INTO t VALUES " + strings.Join(allRows, ", ")); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Execute("INSERT INTO tf VALUES " + strings.Join(fastRows, ", ")); err != nil {
		t.Fatal(err)
	}

	// The layout, from information_schema as the capture source reads it.
	meta, err := conn.Execute(`SELECT COLUMN_NAME, COLUMN_TYPE, DATA_TYPE, COALESCE(CHARACTER_SET_NAME, ''), IS_NULLABLE
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'typ' AND TABLE_NAME = 't' ORDER BY ORDINAL_POSITION`)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{ZeroDate: ZeroDateNull}
	var columns []schema.Column
	var textDec []schema.Decoder
	var binDec []func(any) (any, error)
	for r := range meta.RowNumber() {
		s := func(i int) string { v, _ := meta.GetString(r, i); return v }
		c, err := mysqlColumn(s(0), s(1), s(2), s(3), s(4) == "NO")
		if err != nil {
			t.Fatal(err)
		}
		td, err := TextDecoder(c, opts)
		if err != nil {
			t.Fatal(err)
		}
		bd, err := BinlogDecoder(c, opts)
		if err != nil {
			t.Fatal(err)
		}
		columns, textDec, binDec = append(columns, c), append(textDec, td), append(binDec, bd)
	}
	for k, c := range cases {
		if got := columns[k+1].Type; !got.Equals(c.typ) {
			t.Errorf("%s (%s): Iceberg type %s, want %s", c.decl, columns[k+1].Source.String(), got, c.typ)
		}
	}

	// Text protocol: the raw bytes of each value, as the snapshot reads them.
	var exprs []string
	for _, c := range columns {
		exprs = append(exprs, SelectExpr(c, "`"+c.Name+"`"))
	}
	res, err := conn.Execute("SELECT " + strings.Join(exprs, ", ") + " FROM t ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	text := make([][]any, len(res.RowDatas))
	for r, rd := range res.RowDatas {
		raw := []byte(rd)
		for i := range columns {
			v, isNull, n, err := mysql.LengthEncodedString(raw)
			if err != nil {
				t.Fatal(err)
			}
			raw = raw[n:]
			if isNull {
				text[r] = append(text[r], nil)
				continue
			}
			val, err := textDec[i](v)
			if err != nil {
				t.Errorf("text row %d %s: %v", r, columns[i].Source.String(), err)
			}
			text[r] = append(text[r], val)
		}
	}

	// Binlog: the WRITE_ROWS event of the insert, read twice: as go-mysql
	// decodes it by default (ParseTime false: go-mysql's time.Time would
	// turn the invalid '2021-02-30' into March 2nd), and with
	// DecodeRowsEvent, as capture/mysql reads it. Both decode to the same
	// values, and a BinlogTemporal prints as go-mysql's text (what errors
	// and dead letters show).
	readBinlog := func(table string, decode func(*replication.RowsEvent, []byte) error) (rows [][]any, raw [][]any) {
		syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
			ServerID: 4242, Flavor: flavor, Host: "127.0.0.1", Port: uint16(m.Port), User: "floe", Password: "pw",
			TimestampStringLocation: time.UTC, RenderJSONAsMySQLText: true, RowsEventDecodeFunc: decode,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		defer syncer.Close()
		streamer, err := syncer.StartSync(mysql.Position{Name: file, Pos: uint32(pos)})
		if err != nil {
			t.Fatal(err)
		}
		for len(rows) < nrows {
			ev, err := streamer.GetEvent(ctx)
			if err != nil {
				t.Fatal(err)
			}
			re, ok := ev.Event.(*replication.RowsEvent)
			if !ok || string(re.Table.Table) != table {
				continue
			}
			colOf := func(i int) int { return i }
			if table == "tf" {
				colOf = func(i int) int { return fast[i] }
			}
			for _, row := range re.Rows {
				var out []any
				for i, v := range row {
					if v == nil {
						out = append(out, nil)
						continue
					}
					val, err := binDec[colOf(i)](v)
					if err != nil {
						t.Errorf("binlog %s row %d %s: %v (%T %#v)", table, len(rows), columns[colOf(i)].Source.String(), err, v, v)
					}
					out = append(out, val)
				}
				rows, raw = append(rows, out), append(raw, row)
			}
		}
		return rows, raw
	}
	binRows, plainRaw := readBinlog("t", nil)
	packedRows, packedRaw := readBinlog("t", DecodeRowsEvent)
	packed := 0
	for r := range nrows {
		for i := range columns {
			if pv, ok := packedRaw[r][i].(*BinlogTemporal); ok {
				packed++
				if got, want := pv.String(), fmt.Sprint(plainRaw[r][i]); got != want {
					t.Errorf("row %d %s: BinlogTemporal prints %q, go-mysql %q", r, columns[i].Source.String(), got, want)
				}
			}
			if !sameCanonical(packedRows[r][i], binRows[r][i]) {
				t.Errorf("row %d %s: decoded from DecodeRowsEvent's %#v: %#v, from go-mysql's %#v: %#v", r, columns[i].Source.String(),
					packedRaw[r][i], packedRows[r][i], plainRaw[r][i], binRows[r][i])
			}
		}
	}
	if packed == 0 {
		t.Fatal("DecodeRowsEvent gave no BinlogTemporal: the packed path was not tested")
	}

	// tf, decoded by DecodeRowsEvent itself: the same values as when it
	// leaves the event to go-mysql, and, through the decoders, the same
	// canonical values as t's.
	fastPlainRows, fastPlainRaw := readBinlog("tf", func(e *replication.RowsEvent, data []byte) error { return decodeRowsEvent(e, data, false) })
	fastRowsGot, fastRaw := readBinlog("tf", DecodeRowsEvent)
	ownTypes := map[string]int{}
	for r := range nrows {
		for j, i := range fast {
			got, plain := fastRaw[r][j], fastPlainRaw[r][j]
			switch x := got.(type) {
			case *string:
				ownTypes["string"]++
				p := fmt.Sprint(plain)
				if b, ok := plain.([]byte); ok { // go-mysql's BLOB values
					p = string(b)
				}
				if p != *x {
					t.Errorf("tf row %d %s: DecodeRowsEvent's string %q, go-mysql's %q", r, columns[i].Source.String(), *x, p)
				}
			case *BinlogDecimal:
				ownTypes["decimal"]++
				if x.String() != plain {
					t.Errorf("tf row %d %s: DecodeRowsEvent's decimal prints %q, go-mysql's %q", r, columns[i].Source.String(), x.String(), plain)
				}
			case *BinlogTemporal:
				if x.String() != fmt.Sprint(plain) {
					t.Errorf("tf row %d %s: BinlogTemporal prints %q, go-mysql %q", r, columns[i].Source.String(), x.String(), plain)
				}
			default:
				if !reflect.DeepEqual(got, plain) {
					t.Errorf("tf row %d %s: DecodeRowsEvent's %T %v, go-mysql's %T %v", r, columns[i].Source.String(), got, got, plain, plain)
				}
			}
			for _, want := range []any{fastPlainRows[r][j], binRows[r][i]} {
				if !sameCanonical(fastRowsGot[r][j], want) {
					t.Errorf("tf row %d %s: decoded from DecodeRowsEvent's %#v: %#v, want %#v", r, columns[i].Source.String(), got, fastRowsGot[r][j], want)
				}
			}
		}
	}
	if ownTypes["string"] == 0 || ownTypes["decimal"] == 0 {
		t.Fatalf("DecodeRowsEvent did not decode tf itself (values of its own types: %v)", ownTypes)
	}

	for r := range nrows {
		for k, c := range cases {
			var want any
			if r < len(c.want) {
				want = c.want[r]
			}
			tv, bv := text[r][k+1], binRows[r][k+1]
			if want == anyZero {
				// -0 is kept by MySQL and MariaDB 11.4, stored as 0 by
				// MariaDB 10.11 and 11.8: either, the same on both paths.
				if !isZero(tv) || !sameCanonical(tv, bv) {
					t.Errorf("%s row %d: text decoder %#v, binlog decoder %#v, want one zero", c.decl, r, tv, bv)
				}
				continue
			}
			if !sameCanonical(tv, want) {
				t.Errorf("%s row %d: text decoder %#v, want %#v", c.decl, r, tv, want)
			}
			if !sameCanonical(bv, want) {
				t.Errorf("%s row %d: binlog decoder %#v, want %#v", c.decl, r, bv, want)
			}
		}
	}

	// The default zero-date treatment is an error on both paths.
	for k, c := range cases {
		col := columns[k+1]
		if _, ok := col.Type.(iceberg.DateType); !ok && !strings.HasPrefix(c.decl, "datetime") && !strings.HasPrefix(c.decl, "timestamp") {
			continue
		}
		td, _ := TextDecoder(col, Options{})
		bd, _ := BinlogDecoder(col, Options{})
		zero := "0000-00-00 00:00:00"
		if c.decl == "date" {
			zero = "0000-00-00"
		}
		var ve *schema.ValueError
		if _, err := td([]byte(zero)); !errors.As(err, &ve) {
			t.Errorf("%s: text zero date: %v, want a schema.ValueError", c.decl, err)
		}
		if _, err := bd(zero); !errors.As(err, &ve) {
			t.Errorf("%s: binlog zero date: %v, want a schema.ValueError", c.decl, err)
		}
	}
}
