package pgtype

import (
	"strings"
	"testing"

	"github.com/apache/iceberg-go"

	"github.com/floe-cdc/floe/schema"
)

func mustType(t *testing.T, s string) iceberg.Type {
	t.Helper()
	typ, err := schema.ParseOverrideType(s)
	if err != nil {
		t.Fatal(err)
	}
	return typ
}

// overridden maps src to a column named col and applies the override to.
func overridden(t *testing.T, src Type, to string) (schema.Column, *schema.OverrideError) {
	t.Helper()
	c, err := Column("col", src, false)
	if err != nil {
		t.Fatal(err)
	}
	return OverrideColumn("public.t", c, false, schema.ColumnTypes{Field: "route[0].columns",
		Columns: map[string]iceberg.Type{"col": mustType(t, to)}})
}

// TestOverrideDecodes: each override decodes the source's text exactly as
// documented; without the override unconstrained numeric refuses NaN, 30
// integer digits and 25 fractional digits.
func TestOverrideDecodes(t *testing.T) {
	ts, tstz := pgType("timestamp", oidTimestamp), pgType("timestamptz", oidTimestamptz)
	cases := []struct {
		src      Type
		to, text string
		want     any
	}{
		{pgType("numeric", oidNumeric), "string", "NaN", "NaN"},
		{pgType("numeric", oidNumeric), "string", "Infinity", "Infinity"},
		{pgType("numeric", oidNumeric), "string", "-Infinity", "-Infinity"},
		{pgType("numeric", oidNumeric), "string", "123456789012345678901234567890", "123456789012345678901234567890"},
		{pgType("numeric", oidNumeric), "string", "0.1234567890123456789012345", "0.1234567890123456789012345"},
		{pgType("numeric", oidNumeric), "string", "1.50", "1.50"}, // the scale as stored
		{pgNumeric(50, 10), "string", "-12.5000000000", "-12.5000000000"},
		{pgType("numeric", oidNumeric), "double", "NaN", "NaN"},
		{pgType("numeric", oidNumeric), "double", "-Infinity", "-Infinity"},
		{pgType("numeric", oidNumeric), "double", "0.1", 0.1},
		{pgType("numeric", oidNumeric), "double", "123456789012345678901234567890", 1.2345678901234568e29},
		{pgType("numeric", oidNumeric), "decimal(38,10)", "12.5", "12.5000000000"},
		{pgNumeric(10, 2), "decimal(20,4)", "-99999999.99", "-99999999.9900"},
		{ts, "string", "2024-01-02 03:04:05.5", "2024-01-02T03:04:05.5"},
		{ts, "string", "0044-03-15 00:00:00 BC", "-0043-03-15T00:00:00"},
		{ts, "string", "infinity", "infinity"},
		{tstz, "string", "2024-01-02 03:04:05.123456+02", "2024-01-02T01:04:05.123456Z"},
		{tstz, "string", "-infinity", "-infinity"},
		{pgType("date", oidDate), "string", "2024-02-29", "2024-02-29"},
		{pgType("date", oidDate), "string", "infinity", "infinity"},
		{pgType("time", oidTime), "string", "23:59:59.999999", "23:59:59.999999"},
		{pgType("text", oidText), "string", "as is", "as is"},
	}
	for _, c := range cases {
		col, oerr := overridden(t, c.src, c.to)
		if oerr != nil {
			t.Fatalf("%s -> %s: %v", c.src.describe(), c.to, oerr)
		}
		v, err := mustDecoder(t, col)([]byte(c.text))
		if err != nil {
			t.Errorf("%s -> %s: %q: %v", c.src.describe(), c.to, c.text, err)
			continue
		}
		if got := schema.FormatValue(v, col.Type); got != schema.FormatValue(c.want, col.Type) && got != c.want {
			t.Errorf("%s -> %s: %q decoded as %s, want %v", c.src.describe(), c.to, c.text, got, c.want)
		}
	}
	plain := mustDecoder(t, mustColumn(t, pgType("numeric", oidNumeric)))
	for _, text := range []string{"NaN", "123456789012345678901234567890", "0.1234567890123456789012345"} {
		if _, err := plain([]byte(text)); err == nil {
			t.Errorf("numeric without override accepted %q: the override test above proves nothing", text)
		}
	}
}

// TestOverrideNeverWritesAWrongValue: a value the chosen type cannot hold
// exactly is a ValueError naming the column, the value and the fix.
func TestOverrideNeverWritesAWrongValue(t *testing.T) {
	cases := []struct{ to, text, reason string }{
		{"decimal(38,10)", "0.12345678901", "more than 10 fractional digits"},
		{"decimal(12,2)", "12345678901", "more than 10 integer digits"},
		{"decimal(12,2)", "NaN", "cannot store NaN"},
		{"double", "1" + strings.Repeat("0", 400), "beyond the range of double"},
	}
	for _, c := range cases {
		col, oerr := overridden(t, pgType("numeric", oidNumeric), c.to)
		if oerr != nil {
			t.Fatal(oerr)
		}
		v, err := mustDecoder(t, col)([]byte(c.text))
		var ve *schema.ValueError
		if err == nil || !asValueError(err, &ve) || !strings.Contains(err.Error(), c.reason) || ve.Column != "col" {
			t.Errorf("%s %q: got %v, %v; want a ValueError saying %q", c.to, c.text, v, err, c.reason)
		}
		if c.to != "double" && !strings.Contains(err.Error(), "overridden to decimal(") && c.text != "NaN" {
			t.Errorf("%s %q: %v does not say the override chose the type", c.to, c.text, err)
		}
	}
}

func asValueError(err error, ve **schema.ValueError) bool {
	v, ok := err.(*schema.ValueError)
	*ve = v
	return ok
}

// TestOverrideRefused: impossible overrides name the field, the table,
// the column and what it can take.
func TestOverrideRefused(t *testing.T) {
	cases := []struct {
		src      Type
		to, want string
	}{
		{pgType("int4", oidInt4), "string", "numeric takes string, double or decimal(P,S)"},
		{pgType("timestamptz", oidTimestamptz), "double", "take string"},
		{pgType("text", oidText), "decimal(10,2)", "cannot be written as decimal(10, 2)"},
		{pgNumeric(20, 4), "decimal(20,6)", "choose decimal(P,S) with S >= 4 and P-S >= 16"},
		{pgNumeric(10, 4), "decimal(12,2)", "S >= 4"},
		{pgArray(pgType("numeric", oidNumeric)), "string", "cannot be written as string"},
	}
	for _, c := range cases {
		_, err := overridden(t, c.src, c.to)
		if err == nil {
			t.Errorf("%s -> %s accepted", c.src.describe(), c.to)
			continue
		}
		if err.Field != "route[0].columns.col" || !strings.Contains(err.Message, "column col of table public.t") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s -> %s: %v; want field route[0].columns.col and %q", c.src.describe(), c.to, err, c.want)
		}
	}
	if _, err := overridden(t, pgNumeric(10, 4), "decimal(14,6)"); err != nil {
		t.Errorf("decimal(14,6) holds numeric(10,4): %v", err)
	}
}

// TestApplyTypes: unknown columns and key columns are refused; the
// sink-wide default applies to non-key unconstrained numeric only.
func TestApplyTypes(t *testing.T) {
	num := pgType("numeric", oidNumeric)
	layout := &schema.Table{Key: []int{0}}
	for _, c := range []struct {
		name string
		src  Type
	}{{"id", num}, {"amount", num}, {"price", pgNumeric(10, 2)}, {"at", pgType("timestamptz", oidTimestamptz)}} {
		col, err := Column(c.name, c.src, c.name == "id")
		if err != nil {
			t.Fatal(err)
		}
		layout.Columns = append(layout.Columns, col)
	}
	ct := schema.ColumnTypes{Field: "route[1].columns", Unconstrained: iceberg.PrimitiveTypes.String, UnconstrainedField: "sink.numeric-unconstrained",
		Columns: map[string]iceberg.Type{"at": iceberg.PrimitiveTypes.String}}
	out, errs := ApplyTypes("public.t", layout, ct)
	if errs != nil {
		t.Fatal(errs)
	}
	want := "(id decimal(38, 18), amount string, price decimal(10, 2), at string)"
	if out.String() != want || layout.Columns[1].Type.String() != "decimal(38, 18)" {
		t.Fatalf("applied %s (source layout now %s), want %s and the source layout untouched", out, layout, want)
	}
	ct.Columns = map[string]iceberg.Type{"id": iceberg.PrimitiveTypes.String, "nope": iceberg.PrimitiveTypes.String}
	_, errs = ApplyTypes("public.t", layout, ct)
	if len(errs) != 2 || errs[0].Field != "route[1].columns.nope" || !strings.Contains(errs[0].Message, "has no column nope (columns: id, amount, price, at)") ||
		errs[1].Field != "route[1].columns.id" || !strings.Contains(errs[1].Message, "part of the key") {
		t.Fatalf("errors %v", errs)
	}
	if out, errs := ApplyTypes("public.t", layout, schema.ColumnTypes{}); out != layout || errs != nil {
		t.Fatal("no choice must return the layout itself")
	}
}
