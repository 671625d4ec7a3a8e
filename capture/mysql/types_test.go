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
