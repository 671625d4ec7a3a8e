package mysqltype

import (
	"strings"
	"testing"
	"time"

	"github.com/apache/iceberg-go"

	"github.com/floe-cdc/floe/schema"
)

// overrideLayout maps one column of colType (plus a key column id) under o
// and applies the override to for it.
func overrideLayout(t *testing.T, colType, to string, o Options) (*schema.Table, []*schema.OverrideError) {
	t.Helper()
	id, err := mysqlColumn("id", "int", "", "", true)
	if err != nil {
		t.Fatal(err)
	}
	c, err := columnOf("col", colType, "", "", false, o)
	if err != nil {
		t.Fatal(err)
	}
	typ, err := schema.ParseOverrideType(to)
	if err != nil {
		t.Fatal(err)
	}
	return ApplyTypes("shop.t", &schema.Table{Columns: []schema.Column{id, c}, Key: []int{0}},
		schema.ColumnTypes{Field: "route[0].columns", Columns: map[string]iceberg.Type{"col": typ}})
}

// TestOverrideDecodes: text and binlog values decode through an override
// into the same documented value.
func TestOverrideDecodes(t *testing.T) {
	berlin := Options{DatetimeZone: mustZone(t, "Europe/Berlin")}
	cases := []struct {
		colType, to string
		o           Options
		text        string
		binlog      any
		want        string
	}{
		{"decimal(65,30)", "string", Options{}, "-12345678901234567890123456789012345.123456789012345678901234567890",
			"-12345678901234567890123456789012345.123456789012345678901234567890", "-12345678901234567890123456789012345.123456789012345678901234567890"},
		{"decimal(10,2)", "string", Options{}, "1.50", "1.5", "1.50"},
		{"decimal(10,2)", "double", Options{}, "0.10", "0.1", "0.1"},
		{"decimal(10,2)", "decimal(20,4)", Options{}, "-99999999.99", "-99999999.99", "-99999999.9900"},
		{"datetime(6)", "string", Options{}, "2024-01-02 03:04:05.500000", time.Date(2024, 1, 2, 3, 4, 5, 5e8, time.UTC), "2024-01-02T03:04:05.5"},
		{"datetime", "string", berlin, "2024-07-01 12:00:00", "2024-07-01 12:00:00", "2024-07-01T10:00:00Z"},
		{"timestamp(3)", "string", Options{}, "2024-01-02 03:04:05.123", "2024-01-02 03:04:05.123", "2024-01-02T03:04:05.123Z"},
		{"date", "string", Options{}, "2024-02-29", "2024-02-29", "2024-02-29"},
		{"date", "string", Options{ZeroDate: ZeroDateEpoch}, "0000-00-00", "0000-00-00", "1970-01-01"},
		{"varchar(10)", "string", Options{}, "as is", "as is", "as is"},
	}
	for _, c := range cases {
		l, errs := overrideLayout(t, c.colType, c.to, c.o)
		if errs != nil {
			t.Fatalf("%s -> %s: %v", c.colType, c.to, errs)
		}
		col := l.Columns[1]
		td, err := TextDecoder(col, c.o)
		if err != nil {
			t.Fatal(err)
		}
		bd, err := BinlogDecoder(col, c.o)
		if err != nil {
			t.Fatal(err)
		}
		tv, terr := td([]byte(c.text))
		bv, berr := bd(c.binlog)
		if terr != nil || berr != nil || schema.FormatValue(tv, col.Type) != c.want || schema.FormatValue(bv, col.Type) != c.want {
			t.Errorf("%s -> %s: text %q gives %v (%v), binlog %v gives %v (%v); want %s", c.colType, c.to, c.text, tv, terr, c.binlog, bv, berr, c.want)
		}
	}
	l, _ := overrideLayout(t, "decimal(65,30)", "decimal(38,3)", Options{})
	if l != nil {
		t.Fatal("decimal(38,3) cannot hold DECIMAL(65,30) and must be refused")
	}
}

// TestOverrideRefused: impossible overrides name the field and what the
// column takes; a key column keeps its type.
func TestOverrideRefused(t *testing.T) {
	for _, c := range []struct{ colType, to, want string }{
		{"int", "string", "DECIMAL takes string, double or decimal(P,S)"},
		{"time", "string", "DATE, DATETIME and TIMESTAMP take string"},
		{"datetime", "double", "cannot be written as double"},
		{"decimal(20,4)", "decimal(20,6)", "S >= 4 and P-S >= 16"},
	} {
		_, errs := overrideLayout(t, c.colType, c.to, Options{})
		if len(errs) != 1 || errs[0].Field != "route[0].columns.col" || !strings.Contains(errs[0].Error(), c.want) ||
			!strings.Contains(errs[0].Message, "column col of table shop.t") {
			t.Errorf("%s -> %s: %v; want %q", c.colType, c.to, errs, c.want)
		}
	}
	id, _ := mysqlColumn("id", "decimal(10,2)", "", "", true)
	_, errs := ApplyTypes("shop.t", &schema.Table{Columns: []schema.Column{id}, Key: []int{0}},
		schema.ColumnTypes{Field: "route[0].columns", Columns: map[string]iceberg.Type{"id": iceberg.PrimitiveTypes.String}})
	if len(errs) != 1 || !strings.Contains(errs[0].Message, "part of the key of table shop.t") {
		t.Errorf("key override: %v", errs)
	}
}
