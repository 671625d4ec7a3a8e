package interop

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"testing"
)

var updateFidelity = flag.Bool("update", false, "rewrite testdata/type-fidelity.md from the results")

// fidelityType is one row of the README's PostgreSQL type mapping table.
type fidelityType struct {
	pgType  string // column type in CREATE TABLE
	iceberg string // the Iceberg type floe maps it to (README)
	kind    kind
	values  []string // SQL literals, one per edge row (NULL row added)
}

var fidelityTypes = []fidelityType{
	{"smallint", "int", kInt, []string{"-32768", "32767", "0"}},
	{"integer", "int", kInt, []string{"-2147483648", "2147483647", "0"}},
	{"bigint", "long", kInt, []string{"-9223372036854775808", "9223372036854775807", "0"}},
	{"oid", "long", kInt, []string{"0", "4294967295", "1"}},
	{"numeric(10,3)", "decimal(10,3)", kDecimal, []string{"-9999999.999", "9999999.999", "0.001"}},
	{"numeric(38,10)", "decimal(38,10)", kDecimal, []string{"-9999999999999999999999999999.9999999999", "9999999999999999999999999999.9999999999", "0"}},
	{"numeric(50,10)", "string", kString, []string{"-1234567890123456789012345678901234567890.0123456789", "1e39", "0"}},
	{"numeric", "decimal(38,18)", kDecimal, []string{"-12345678901234567890.123456789012345678", "0.000000000000000001", "42"}},
	{"real", "float", kFloat32, []string{"'-3.4028235e38'", "'1.4e-45'", "'NaN'", "'Infinity'", "'-Infinity'"}},
	{"double precision", "double", kFloat64, []string{"'-1.7976931348623157e308'", "'5e-324'", "'NaN'", "'-Infinity'", "'0.1'"}},
	{"boolean", "boolean", kBool, []string{"false", "true"}},
	{"text", "string", kString, []string{"''", "'日本語 🎉 ü'", "E'tab\\tnewline\\n\"quote\"''apos'", "'a' || repeat('x', 5000)"}},
	{"varchar(20)", "string", kString, []string{"''", "'ﬁ ü 😀'"}},
	{"char(5)", "string", kString, []string{"'a'", "'abcde'"}},
	{"name", "string", kString, []string{"'n'", "repeat('z', 63)"}},
	{"citext", "string", kString, []string{"'MiXeD'", "''"}},
	{`"char"`, "string", kString, []string{"'x'", "'A'"}},
	{"bytea", "binary", kBinary, []string{`'\x'`, `'\x00ff7f80'`, "decode(repeat('ab', 3000), 'hex')"}},
	{"date", "date", kDate, []string{"'4713-01-01 BC'", "'1970-01-01'", "'9999-12-31'", "'10000-01-01'", "'2024-02-29'"}},
	{"time", "time", kTime, []string{"'00:00:00'", "'23:59:59.999999'", "'12:34:56.5'"}},
	{"timetz", "string", kString, []string{"'00:00:00+14'", "'23:59:59.999999-15:59'"}},
	{"timestamp", "timestamp", kTimestamp, []string{"'0001-01-01 00:00:00'", "'9999-12-31 23:59:59.999999'", "'1969-12-31 23:59:59.999999'", "'2024-02-29 12:00:00.000001'"}},
	{"timestamptz", "timestamptz", kTimestamptz, []string{"'0001-01-01 00:00:00+00'", "'9999-12-31 23:59:59.999999+00'", "'2024-06-01 00:30:00+05:30'", "'1969-12-31 23:59:59.999999-08'"}},
	{"uuid", "uuid", kUUID, []string{"'00000000-0000-0000-0000-000000000000'", "'ffffffff-ffff-ffff-ffff-ffffffffffff'", "'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'"}},
	{"json", "string", kString, []string{`'{}'`, `'{"b": [1, 2.50, "ü"],  "a": null}'`}},
	{"jsonb", "string", kString, []string{`'[]'`, `'{"b": [1, 2.50, "ü"],  "a": null}'`}},
	{"xml", "string", kString, []string{"'<a/>'", "'<r x=\"1\">ü &amp; text</r>'"}},
	{"inet", "string", kString, []string{"'0.0.0.0'", "'2001:db8::1/64'"}},
	{"cidr", "string", kString, []string{"'10.0.0.0/8'", "'2001:db8::/32'"}},
	{"macaddr", "string", kString, []string{"'00:00:00:00:00:00'", "'ff:ff:ff:ff:ff:ff'"}},
	{"macaddr8", "string", kString, []string{"'00:00:00:00:00:00:00:00'", "'ff:ff:ff:ff:ff:ff:ff:ff'"}},
	{"interval", "string", kString, []string{"'-178000000 years'", "'1 year 2 mons 3 days 04:05:06.789'", "'0'"}},
	{"money", "decimal(19,2)", kDecimal, []string{"'-92233720368547758.08'", "'92233720368547758.07'", "'0.01'"}},
	{"mood", "string", kString, []string{"'sad'", "'happy ü'"}},
	{"posint", "int", kInt, []string{"1", "2147483647"}},
	{"bit(4)", "string", kString, []string{"B'0000'", "B'1010'"}},
	{"varbit", "string", kString, []string{"B''", "B'10101010101'"}},
	{"tsvector", "string", kString, []string{"''", "'a fat cat:3A'"}},
	{"point", "string", kString, []string{"'(0,0)'", "'(-1.5,1e300)'"}},
	{"integer[]", "list<int>", kList, []string{"'{}'", "'{1,NULL,-2147483648}'"}},
	{"text[]", "list<string>", kList, []string{"'{}'", `'{"a","",NULL,"ü","with,comma"}'`}},
}

// TestTypeFidelity puts one column per PostgreSQL type of the README's
// mapping table through floe (rows of edge values plus an all-NULL row,
// half taken by the snapshot and half streamed), reads them back through
// Trino and PyIceberg, compares every value with the source and writes
// the results to the "postgres" section of testdata/type-fidelity.md
// (compared with the file unless -update is given).
func TestTypeFidelity(t *testing.T) {
	needServers(t)
	ctx := context.Background()
	tr := trino(t)
	l := newLake(t, "types")
	rows := 0
	for _, ft := range fidelityTypes {
		rows = max(rows, len(ft.values))
	}
	cols := []col{{"id", kInt}}
	var defs []string
	for i, ft := range fidelityTypes {
		name := fmt.Sprintf("c%02d", i)
		cols = append(cols, col{name, ft.kind})
		defs = append(defs, name+" "+ft.pgType)
	}
	l.exec("CREATE EXTENSION citext", "CREATE TYPE mood AS ENUM ('sad', 'happy ü')",
		"CREATE DOMAIN posint AS integer CHECK (VALUE > 0)",
		"CREATE TABLE edge (id bigint PRIMARY KEY, "+strings.Join(defs, ", ")+")",
		"CREATE TABLE markers (id bigserial PRIMARY KEY)",
		"ALTER TABLE edge OWNER TO u_types", "ALTER TABLE markers OWNER TO u_types")
	insert := func(id, row int) string {
		vals := []string{fmt.Sprint(id)}
		for _, ft := range fidelityTypes {
			v := "NULL"
			if row >= 0 && row < len(ft.values) {
				v = "(" + ft.values[row] + ")::" + ft.pgType
			}
			vals = append(vals, v)
		}
		return "INSERT INTO edge VALUES (" + strings.Join(vals, ", ") + ")"
	}
	// Rows 1..n and the NULL row 0 by the snapshot; the same rows streamed as 101..
	for r := -1; r < rows; r++ {
		l.exec(insert(r+1, r))
	}
	l.writeConfig(`public\..*`, "    type: sql\n    uri: "+l.catalogDSN()+"\n", l.warehouse)
	run := l.start()
	for r := -1; r < rows; r++ {
		l.exec(insert(101+r, r))
	}
	l.catchUpAndStop(run, "markers")

	if err := tr.CreateCatalog(ctx, "types", l.trinoJDBCCatalog()); err != nil {
		t.Fatal(err)
	}
	want := l.readPG("edge", cols)
	viaTrino := readTrino(t, tr, "types.lake.edge", cols)
	py := readPython(t, l.pySQLCatalog(), "lake.edge")["lake.edge"]
	viaPy := pyTable(t, py, cols)
	if len(want) != 2*(rows+1) {
		t.Fatalf("source has %d rows, want %d", len(want), 2*(rows+1))
	}

	var md strings.Builder
	md.WriteString("# Type fidelity: PostgreSQL → Floe → Iceberg → Trino / PyIceberg\n\n")
	md.WriteString("Generated by `go test ./deploy/interop -run TestTypeFidelity -update`: every value below went\n")
	md.WriteString("through a snapshot and through streaming, plus a NULL, and was read back through Trino\n")
	md.WriteString("(" + tr.Version + ", JDBC catalog on PostgreSQL, S3 on versitygw) and PyIceberg, and compared with\n")
	md.WriteString("PostgreSQL's own value (integers, decimals, floats bit for bit, dates as days, times and\n")
	md.WriteString("timestamps as microseconds, binary as hex, text byte for byte).\n\n")
	md.WriteString("| PostgreSQL type | Iceberg type | edge values | Trino | PyIceberg |\n|---|---|---|---|---|\n")
	for i, ft := range fidelityTypes {
		c := cols[i+1]
		verdict := func(got table) string {
			for k, w := range want {
				g, ok := got[k]
				if !ok {
					return "row missing"
				}
				if g[i+1] != w[i+1] {
					t.Errorf("%s (%s) row %s: want %q, got %q", ft.pgType, c.name, k, w[i+1], g[i+1])
					return fmt.Sprintf("DIFFERS (row %s)", k)
				}
			}
			return "equal"
		}
		vals := strings.ReplaceAll(strings.Join(ft.values, ", "), "|", `\|`)
		if len(vals) > 90 {
			vals = vals[:87] + "..."
		}
		fmt.Fprintf(&md, "| %s | %s | %s, NULL | %s | %s |\n", ft.pgType, ft.iceberg, vals, verdict(viaTrino), verdict(viaPy))
	}
	checkFidelitySection(t, "postgres", md.String())
}
