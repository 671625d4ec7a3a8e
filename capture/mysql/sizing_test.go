package mysql

import (
	"slices"
	"testing"

	"github.com/floe-cdc/floe/schema/mysqltype"
)

// TestRowSizing: chunk planning reads the LENGTH of the TEXT, JSON and long
// VARCHAR values only and counts every other column at its type's bound.
func TestRowSizing(t *testing.T) {
	var types []mysqltype.Type
	for _, d := range []mysqltype.InfoSchema{
		{ColumnType: "bigint(20)"},
		{ColumnType: "varchar(16)", Charset: "utf8mb4", Chars: 16},
		{ColumnType: "decimal(12,2)"},
		{ColumnType: "text", Charset: "utf8mb4"},
		{ColumnType: "timestamp(6)"},
		{ColumnType: "varchar(1000)", Charset: "utf8mb4", Chars: 1000},
		{ColumnType: "json"},
		{ColumnType: "binary(16)"},
	} {
		typ, err := mysqltype.FromInfoSchema(d)
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, typ)
	}
	sized, bound := rowSizing(types)
	if want := []int{3, 5, 6}; !slices.Equal(sized, want) {
		t.Errorf("sized columns %v, want %v", sized, want)
	}
	if want := int64(20 + 64 + 14 + 26 + 16); bound != want {
		t.Errorf("bound %d bytes, want %d", bound, want)
	}
}
