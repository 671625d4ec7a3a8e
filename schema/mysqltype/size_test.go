package mysqltype

import "testing"

// TestMaxBytes checks the bound of each family against the longest value
// of the type as the server prints it, and that the unbounded types say so.
func TestMaxBytes(t *testing.T) {
	for _, tc := range []struct {
		info    InfoSchema
		want    int64
		bounded bool
	}{
		{InfoSchema{ColumnType: "bigint(20)"}, int64(len("-9223372036854775808")), true},
		{InfoSchema{ColumnType: "bigint(20) unsigned"}, int64(len("18446744073709551615")), true},
		{InfoSchema{ColumnType: "decimal(12,2)"}, int64(len("-9999999999.99")), true},
		{InfoSchema{ColumnType: "double"}, int64(len("-1.7976931348623157e+308")), true},
		{InfoSchema{ColumnType: "datetime(6)"}, int64(len("2024-01-02 03:04:05.123456")), true},
		{InfoSchema{ColumnType: "time(6)"}, int64(len("-838:59:59.000000")), true},
		{InfoSchema{ColumnType: "bit(9)"}, 2, true},
		{InfoSchema{ColumnType: "varchar(16)", Charset: "utf8mb4", Chars: 16}, 64, true},
		{InfoSchema{ColumnType: "char(2)", Charset: "latin1", Chars: 2}, 8, true}, // é is 2 bytes in utf8mb4
		{InfoSchema{ColumnType: "binary(16)"}, 16, true},
		{InfoSchema{ColumnType: "enum('view','click','buy')", Charset: "utf8mb4"}, 20, true},
		{InfoSchema{ColumnType: "set('a','bc')", Charset: "utf8mb4"}, 20, true},
		{InfoSchema{ColumnType: "text", Charset: "utf8mb4"}, 65535, true},
		{InfoSchema{ColumnType: "longblob"}, 1<<32 - 1, true},
		{InfoSchema{ColumnType: "json"}, 0, false},
		{InfoSchema{ColumnType: "geometry"}, 0, false},
		{InfoSchema{ColumnType: "varbinary"}, 0, false},
	} {
		typ, err := FromInfoSchema(tc.info)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := typ.MaxBytes()
		if got != tc.want || ok != tc.bounded {
			t.Errorf("%s: MaxBytes() = %d, %v; want %d, %v", tc.info.ColumnType, got, ok, tc.want, tc.bounded)
		}
	}
}
