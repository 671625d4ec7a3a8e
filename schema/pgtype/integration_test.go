package pgtype

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/floe-cdc/floe/deploy/testdb"
	"github.com/floe-cdc/floe/schema"
)

// sessionSettings are the settings every Floe connection that produces
// text values uses (see TextDecoder).
var sessionSettings = []string{
	"SET DateStyle = ISO", "SET IntervalStyle = iso_8601", "SET TimeZone = 'UTC'",
	"SET extra_float_digits = 3", "SET bytea_output = hex", "SET lc_monetary = 'C'",
}

// pgSourceType describes the result column's type as discovery does:
// through the catalog, with Resolve.
func pgSourceType(ctx context.Context, t *testing.T, conn *pgx.Conn, oid uint32, mod int32) Type {
	t.Helper()
	st, err := Resolve(oid, mod, func(oid uint32) (CatalogType, error) {
		var c CatalogType
		err := conn.QueryRow(ctx, CatalogQuery, oid).Scan(&c.Name, &c.TypType, &c.Elem, &c.BaseType, &c.TypMod, &c.Len)
		return c, err
	})
	if err != nil {
		t.Fatalf("look up type %d: %v", oid, err)
	}
	return st
}

// selectText runs SELECT expr with text results and returns the value's
// text and its column type.
func selectText(ctx context.Context, t *testing.T, conn *pgx.Conn, expr string) ([]byte, Type) {
	t.Helper()
	v, fd := selectIn(ctx, t, conn, expr, 0)
	return v, pgSourceType(ctx, t, conn, fd.DataTypeOID, fd.TypeModifier)
}

// selectIn runs SELECT expr with its result in format (0 text, 1
// binary) and returns the value and its column's description.
func selectIn(ctx context.Context, t *testing.T, conn *pgx.Conn, expr string, format int16) ([]byte, pgconn.FieldDescription) {
	t.Helper()
	res := conn.PgConn().ExecParams(ctx, "SELECT "+expr, nil, nil, nil, []int16{format}).Read()
	if res.Err != nil {
		t.Fatalf("SELECT %s: %v", expr, res.Err)
	}
	if len(res.Rows) != 1 || len(res.FieldDescriptions) != 1 {
		t.Fatalf("SELECT %s: %d rows", expr, len(res.Rows))
	}
	return res.Rows[0][0], res.FieldDescriptions[0]
}

func TestDecodersAgainstPostgres(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := testdb.EnsurePostgresInstalled(ctx); err != nil {
		t.Fatal(err)
	}
	pg, err := testdb.StartPostgres(ctx, testdb.PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Stop() })
	if err := pg.Exec(ctx, "postgres",
		"CREATE TYPE mood AS ENUM ('happy', 'sad')",
		"CREATE DOMAIN posint AS int4 CHECK (VALUE > 0)",
		"CREATE EXTENSION citext"); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, pg.AdminDSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, s := range sessionSettings {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}

	nines38 := strings.Repeat("9", 38)
	cases := []struct {
		expr string
		want any
	}{
		{"(-32768)::int2", int32(-32768)},
		{"2147483647::int4", int32(math.MaxInt32)},
		{"(-2147483648)::int4", int32(math.MinInt32)},
		{"9223372036854775807::int8", int64(math.MaxInt64)},
		{"(-9223372036854775808)::int8", int64(math.MinInt64)},
		{"4294967295::oid", int64(4294967295)},
		{"5::posint", int32(5)},
		{"123.45::numeric(10,2)", dec("12345")},
		{"(-0.01)::numeric(10,2)", dec("-1")},
		{"0::numeric(10,2)", dec("0")},
		{"'" + nines38 + "'::numeric(38,0)", dec(nines38)},
		{"'-0." + nines38 + "'::numeric(38,38)", dec("-" + nines38)},
		{"1234567::numeric(5,-2)", dec("1234600")},
		{"0.00123::numeric(3,5)", dec("123")},
		{"1.5::numeric", dec("1500000000000000000")},
		{"'1.50000000000000000000000'::numeric", dec("1500000000000000000")},
		{"'-12345678901234567890.123456789012345678'::numeric", dec("-12345678901234567890123456789012345678")},
		{"'1e40'::numeric(50,0)", "1" + strings.Repeat("0", 40)},
		{"1.1::float4", float32(1.1)},
		{"'3.4028235e38'::float4", float32(math.MaxFloat32)},
		{"'1e-45'::float4", float32(math.SmallestNonzeroFloat32)},
		{"'NaN'::float4", float32(math.NaN())},
		{"'-Infinity'::float4", float32(math.Inf(-1))},
		{"0.1::float8", 0.1},
		{"0.1::float8 + 0.2::float8", math.Nextafter(0.3, 1)},
		{"'-0'::float8", math.Copysign(0, -1)},
		{"'1.7976931348623157e308'::float8", math.MaxFloat64},
		{"'5e-324'::float8", math.SmallestNonzeroFloat64},
		{"'NaN'::float8", math.NaN()},
		{"'Infinity'::float8", math.Inf(1)},
		{"true", true},
		{"false", false},
		{"'héllo ✓ 日本 🎉'::text", "héllo ✓ 日本 🎉"},
		{"'ab'::char(5)", "ab   "},
		{`'x'::"char"`, "x"},
		{"'abc'::name", "abc"},
		{"'v'::varchar(10)", "v"},
		{"'AbC'::citext", "AbC"},
		{`'\x00ff10'::bytea`, []byte{0, 0xff, 0x10}},
		{"''::bytea", []byte{}},
		{"'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'::uuid", uuidOf("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")},
		{"'1970-01-01'::date", int32(0)},
		{"'2000-02-29'::date", days(2000, 2, 29)},
		{"'0044-03-15 BC'::date", days(-43, 3, 15)},
		{"'4714-11-24 BC'::date", days(-4713, 11, 24)},
		{"'10000-01-01'::date", days(10000, 1, 1)},
		{"'5874897-12-31'::date", days(5874897, 12, 31)},
		{"'00:00:00'::time", int64(0)},
		{"'12:34:56.5'::time", int64((12*3600+34*60+56)*1e6 + 500000)},
		{"'23:59:59.999999'::time", int64(schema.DayMicros - 1)},
		{"'12:34:56+05:30'::timetz", "12:34:56+05:30"},
		{"'2024-01-02 03:04:05'::timestamp", micros(2024, 1, 2, 3, 4, 5, 0)},
		{"'2024-01-02 03:04:05.1'::timestamp", micros(2024, 1, 2, 3, 4, 5, 100000)},
		{"'2024-01-02 03:04:05.12'::timestamp", micros(2024, 1, 2, 3, 4, 5, 120000)},
		{"'2024-01-02 03:04:05.123'::timestamp", micros(2024, 1, 2, 3, 4, 5, 123000)},
		{"'2024-01-02 03:04:05.1234'::timestamp", micros(2024, 1, 2, 3, 4, 5, 123400)},
		{"'2024-01-02 03:04:05.12345'::timestamp", micros(2024, 1, 2, 3, 4, 5, 123450)},
		{"'2024-01-02 03:04:05.123456'::timestamp", micros(2024, 1, 2, 3, 4, 5, 123456)},
		{"'2016-12-31 23:59:60'::timestamp", micros(2017, 1, 1, 0, 0, 0, 0)}, // PostgreSQL folds the leap second
		{"'0044-03-15 12:00:00 BC'::timestamp", micros(-43, 3, 15, 12, 0, 0, 0)},
		{"'10000-01-01 00:00:00'::timestamp", micros(10000, 1, 1, 0, 0, 0, 0)},
		{"'2024-01-02 03:04:05.123456+05:30'::timestamptz", micros(2024, 1, 1, 21, 34, 5, 123456)},
		{"'0044-03-15 12:00:00+00 BC'::timestamptz", micros(-43, 3, 15, 12, 0, 0, 0)},
		{`'{"a": [1, 2]}'::json`, `{"a": [1, 2]}`},
		{`'{"b":1, "a":[1,2]}'::jsonb`, `{"a": [1, 2], "b": 1}`},
		{"'<a>x</a>'::xml", "<a>x</a>"},
		{"'192.168.0.1/24'::inet", "192.168.0.1/24"},
		{"'10.0.0.0/8'::cidr", "10.0.0.0/8"},
		{"'08:00:2b:01:02:03'::macaddr", "08:00:2b:01:02:03"},
		{"'08:00:2b:01:02:03:04:05'::macaddr8", "08:00:2b:01:02:03:04:05"},
		{"'1 year 2 months 3 days 4 hours 5 minutes 6.5 seconds'::interval", "P1Y2M3DT4H5M6.5S"},
		{"'1234.56'::money", dec("123456")},
		{"'-1234.56'::money", dec("-123456")},
		{"'-92233720368547758.08'::money", dec("-9223372036854775808")},
		{"'happy'::mood", "happy"},
		{"B'0101'::bit(4)", "0101"},
		{"B'101'::varbit", "101"},
		{"'a fat cat'::tsvector", "'a' 'cat' 'fat'"},
		{"'(1,2)'::point", "(1,2)"},
		{"ARRAY[1,2,NULL]::int4[]", []any{int32(1), int32(2), nil}},
		{"'{}'::int4[]", []any{}},
		{`ARRAY['a,b', 'c"d', NULL, 'NULL', '', 'back\slash', 'x y', '{}', 'é']::text[]`, []any{"a,b", `c"d`, nil, "NULL", "", `back\slash`, "x y", "{}", "é"}},
		{"ARRAY[1.5, -2.0]::numeric(5,1)[]", []any{dec("15"), dec("-20")}},
		{"ARRAY['happy', 'sad']::mood[]", []any{"happy", "sad"}},
		{"ARRAY['2024-01-02 03:04:05+00'::timestamptz, NULL]", []any{micros(2024, 1, 2, 3, 4, 5, 0), nil}},
		{`ARRAY['\x00ff'::bytea]`, []any{[]byte{0, 0xff}}},
		{"ARRAY['1234.56'::money]", []any{dec("123456")}},
		{"ARRAY[box '((1,1),(0,0))', box '((2,2),(1,1))']", []any{"(1,1),(0,0)", "(2,2),(1,1)"}},
		{"ARRAY['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid]", []any{uuidOf("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")}},
	}
	var version string
	if err := conn.QueryRow(ctx, "SHOW server_version_num").Scan(&version); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		// Numeric scales outside 0..precision exist from PostgreSQL 15 on.
		if version < "150000" && (tc.expr == "1234567::numeric(5,-2)" || tc.expr == "0.00123::numeric(3,5)") {
			continue
		}
		text, src := selectText(ctx, t, conn, tc.expr)
		c, err := Column("v", src, false)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		got, err := mustDecoder(t, c)(text)
		if err != nil {
			t.Errorf("%s: text %q: %v", tc.expr, text, err)
			continue
		}
		if !sameValue(got, tc.want) {
			t.Errorf("%s: text %q (%s -> %s) decoded to %T %v, want %T %v", tc.expr, text, src.describe(), c.Type, got, got, tc.want, tc.want)
		}
	}

	errCases := []struct{ expr, reason string }{
		{"'infinity'::date", "infinity cannot be stored"},
		{"'-infinity'::timestamp", "infinity cannot be stored"},
		{"'infinity'::timestamptz", "infinity cannot be stored"},
		{"'NaN'::numeric(10,2)", "cannot store NaN"},
		{"'Infinity'::numeric", "cannot store Infinity"},
		{"'0.0000000000000000001'::numeric", "declare it numeric(p,s)"},
		{"'24:00:00'::time", "24:00:00 cannot be stored"},
		{"'294276-12-31 23:59:59.999999'::timestamp", "out of range"},
		{"'{{1,2},{3,4}}'::int4[]", "multi-dimensional"},
		{"'[0:1]={1,2}'::int4[]", "lower bound"},
	}
	for _, tc := range errCases {
		if version < "140000" && tc.expr == "'Infinity'::numeric" {
			continue // numeric infinity exists from PostgreSQL 14 on
		}
		text, src := selectText(ctx, t, conn, tc.expr)
		c, err := Column("v", src, false)
		if err != nil {
			t.Fatal(err)
		}
		v, err := mustDecoder(t, c)(text)
		var ve *schema.ValueError
		if !errors.As(err, &ve) || !strings.Contains(ve.Reason, tc.reason) {
			t.Errorf("%s: text %q decoded to %v, %v; want a ValueError with %q", tc.expr, text, v, err, tc.reason)
		}
	}

	checkBinaryForms(ctx, t, conn)

	// Other session zones print other offsets (with seconds for LMT);
	// the decoded instant does not change.
	zoneCases := []struct{ zone, expr string }{
		{"Asia/Kolkata", "'2024-01-02 03:04:05.123456+00'::timestamptz"},
		{"America/St_Johns", "'2024-07-02 03:04:05+00'::timestamptz"},
		{"Europe/Paris", "'1850-01-01 00:00:00+00'::timestamptz"},
		{"Europe/Paris", "'0044-03-15 12:00:00+00 BC'::timestamptz"},
	}
	tz := mustColumn(t, pgType("timestamptz", oidTimestamptz))
	for _, zc := range zoneCases {
		utcText, _ := selectText(ctx, t, conn, zc.expr)
		want, err := mustDecoder(t, tz)(utcText)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "SET TimeZone = '"+zc.zone+"'"); err != nil {
			t.Fatal(err)
		}
		text, _ := selectText(ctx, t, conn, zc.expr)
		if _, err := conn.Exec(ctx, "SET TimeZone = 'UTC'"); err != nil {
			t.Fatal(err)
		}
		got, err := mustDecoder(t, tz)(text)
		if err != nil || got != want {
			t.Errorf("%s in %s: text %q decoded to %v, %v; want %v (from %q)", zc.expr, zc.zone, text, got, err, want, utcText)
		}
		if string(text) == string(utcText) {
			t.Errorf("%s in %s printed the UTC text %q; the zone case tests nothing", zc.expr, zc.zone, text)
		}
	}
}

// checkBinaryForms: for every type BinaryDecoder reads, the value of each
// expression read in binary form decodes to what its text decodes to (or
// fails with the same reason and text), BinaryText prints exactly the
// server's own text, and a column read as text stays so.
func checkBinaryForms(ctx context.Context, t *testing.T, conn *pgx.Conn) {
	exprs := []string{
		"0::int2", "(-32768)::int2", "32767::int2",
		"0::int4", "(-2147483648)::int4", "2147483647::int4",
		"0::int8", "(-9223372036854775808)::int8", "9223372036854775807::int8",
		"true", "false",
		"'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid", "'00000000-0000-0000-0000-000000000000'::uuid", "'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid",
		"'1970-01-01'::date", "'2000-01-01'::date", "'1999-12-31'::date", "'2000-02-29'::date", "'0001-01-01'::date",
		"'0001-12-31 BC'::date", "'0044-03-15 BC'::date", "'4714-11-24 BC'::date", "'10000-01-01'::date",
		"'5874897-12-31'::date", "'infinity'::date", "'-infinity'::date",
		"'2000-01-01 00:00:00'::timestamp", "'1999-12-31 23:59:59.999999'::timestamp", "'1970-01-01 00:00:00'::timestamp",
		"'2024-01-02 03:04:05.1'::timestamp", "'2024-01-02 03:04:05.123456'::timestamp", "'2024-01-02 03:04:05.000001'::timestamp",
		"'0044-03-15 12:00:00.5 BC'::timestamp", "'4714-11-24 00:00:00 BC'::timestamp", "'10000-01-01 00:00:00'::timestamp",
		"'294246-12-31 23:59:59.999999'::timestamp", "'294276-12-31 23:59:59.999999'::timestamp",
		"'infinity'::timestamp", "'-infinity'::timestamp",
		"'2024-01-02 03:04:05.123456+05:30'::timestamptz", "'1999-12-31 23:59:59.999999+00'::timestamptz",
		"'0044-03-15 12:00:00+00 BC'::timestamptz", "'294276-12-31 23:59:59.999999+00'::timestamptz",
		"'infinity'::timestamptz", "'-infinity'::timestamptz",
	}
	for _, expr := range exprs {
		text, src := selectText(ctx, t, conn, expr)
		bin, fd := selectIn(ctx, t, conn, expr, 1)
		oid := fd.DataTypeOID
		c, err := Column("v", src, false)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		if got, ok := BinaryText(oid, bin); !ok || got != string(text) {
			t.Errorf("%s: BinaryText %q, %v; the server prints %q", expr, got, ok, text)
		}
		cols := []schema.Column{c}
		if oid == oidInt2 || oid == oidInt4 {
			wide := c
			wide.Type = iceberg.PrimitiveTypes.Int64 // widened to long
			cols = append(cols, wide)
		}
		for _, c := range cols {
			bd, ok := BinaryDecoder(c, oid)
			if !ok {
				t.Errorf("%s: no binary decoder for %s as %s", expr, src.describe(), c.Type)
				continue
			}
			want, werr := mustDecoder(t, c)(text)
			got, gerr := bd(bin)
			var wve, gve *schema.ValueError
			switch {
			case werr != nil || gerr != nil:
				if !errors.As(werr, &wve) || !errors.As(gerr, &gve) || wve.Error() != gve.Error() {
					t.Errorf("%s as %s: text gives %v, %v; binary %v, %v", expr, c.Type, want, werr, got, gerr)
				}
			case !sameValue(got, want):
				t.Errorf("%s as %s: binary decoded to %T %v, text to %T %v", expr, c.Type, got, got, want, want)
			}
		}
	}
	for _, expr := range []string{"1.5::float4", "1.5::float8", "1.5::numeric(5,2)", "'x'::text", "ARRAY[1]::int4[]", "'12:00'::time"} {
		text, src := selectText(ctx, t, conn, expr)
		_, fd := selectIn(ctx, t, conn, expr, 1)
		oid := fd.DataTypeOID
		c, err := Column("v", src, false)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		if _, ok := BinaryDecoder(c, oid); ok {
			t.Errorf("%s (%q): read in binary form, want text", expr, text)
		}
	}
	ts, src := selectText(ctx, t, conn, "'2024-01-02 03:04:05'::timestamp")
	c, err := Column("v", src, false)
	if err != nil {
		t.Fatal(err)
	}
	c.Type = iceberg.PrimitiveTypes.String // an override to text
	if _, ok := BinaryDecoder(c, oidTimestamp); ok {
		t.Errorf("timestamp %q overridden to string: read in binary form, want text", ts)
	}
}
