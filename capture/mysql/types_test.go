package mysql

import (
	"testing"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/schema/mysqltype"
)

// TestRawBinlogRowText: a dead letter's raw row shows each binlog value
// as its text, whatever form mysqltype.DecodeRowsEvent gave it in (a
// string by pointer, a DECIMAL or temporal by its stored bytes).
func TestRawBinlogRowText(t *testing.T) {
	s := "naïve"
	vals := []any{
		nil,
		&s,
		[]byte{'b', 0},
		&mysqltype.BinlogDecimal{Precision: 4, Scale: 1, Stored: []byte{0x80, 0x0c, 0x05}}, // 12.5
		&mysqltype.BinlogTemporal{Code: gomysql.MYSQL_TYPE_DATE, Packed: 0x41d00f},         // 2024-02-01, its bytes as stored
		int32(-7),
	}
	tbl := &table{layout: &schema.Table{}}
	for _, name := range []string{"n", "s", "b", "d", "day", "i"} {
		tbl.layout.Columns = append(tbl.layout.Columns, schema.Column{Name: name})
	}
	want := []*string{nil, ptr("naïve"), ptr("b\x00"), ptr("12.5"), ptr("2024-02-01"), ptr("-7")}
	raw := rawBinlogRow(tbl, vals)
	if len(raw) != len(want) {
		t.Fatalf("%d raw values, want %d", len(raw), len(want))
	}
	for i, w := range want {
		got := raw[i].Text
		switch {
		case (got == nil) != (w == nil):
			t.Errorf("column %s: text %v, want %v", raw[i].Column, got, w)
		case got != nil && *got != *w:
			t.Errorf("column %s: text %q, want %q", raw[i].Column, *got, *w)
		}
	}
}

func ptr(s string) *string { return &s }

// TestRowSlabRowsAreSeparate: rows from one slab do not overlap, an
// append to one cannot write into the next, and a slab that runs out is
// replaced.
func TestRowSlabRowsAreSeparate(t *testing.T) {
	var slab rowSlab
	var rows []schema.Row
	for i := range 2*slabRows + 3 {
		row := slab.next(3)
		if len(row) != 3 || cap(row) != 3 {
			t.Fatalf("row %d: len %d cap %d, want 3 and 3", i, len(row), cap(row))
		}
		for k := range row {
			if row[k] != nil {
				t.Fatalf("row %d: value %d is %v, want nil", i, k, row[k])
			}
			row[k] = i*10 + k
		}
		rows = append(rows, row)
	}
	_ = append(rows[0], "appended") // must reallocate, not reach rows[1]
	for i, row := range rows {
		for k, v := range row {
			if v != i*10+k {
				t.Fatalf("row %d value %d: %v, want %d", i, k, v, i*10+k)
			}
		}
	}
}
