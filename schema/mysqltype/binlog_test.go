package mysqltype

import (
	"slices"
	"strings"
	"testing"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
)

var testCollations = map[uint64]Collation{
	8:  {Name: "latin1_swedish_ci", Charset: "latin1", MaxLen: 1},
	45: {Name: "utf8mb4_general_ci", Charset: "utf8mb4", MaxLen: 4},
	63: {Name: "binary", Charset: "binary", MaxLen: 1},
}

func TestFromBinlog(t *testing.T) {
	utf8mb4 := func(c BinlogColumn) BinlogColumn { c.Collation, c.HasCollation = 45, true; return c }
	bin := func(c BinlogColumn) BinlogColumn { c.Collation, c.HasCollation = 63, true; return c }
	labels := func(ls ...string) [][]byte {
		out := make([][]byte, len(ls))
		for i, l := range ls {
			out[i] = []byte(l)
		}
		return out
	}
	tests := []struct {
		col        BinlogColumn
		columnType string // as information_schema writes it, less display widths
		source     string // String()
		chars      int64
	}{
		{BinlogColumn{Code: gomysql.MYSQL_TYPE_TINY}, "tinyint", "tinyint", 0},
		{BinlogColumn{Code: gomysql.MYSQL_TYPE_TINY, Unsigned: true}, "tinyint unsigned", "tinyint unsigned", 0},
		{BinlogColumn{Code: gomysql.MYSQL_TYPE_LONGLONG, Unsigned: true}, "bigint unsigned", "bigint unsigned", 0},
		{BinlogColumn{Code: gomysql.MYSQL_TYPE_YEAR, Unsigned: true}, "year", "year", 0},
		{BinlogColumn{Code: gomysql.MYSQL_TYPE_NEWDECIMAL, Meta: 10<<8 | 2}, "decimal(10,2)", "decimal(10,2)", 0},
		{BinlogColumn{Code: gomysql.MYSQL_TYPE_NEWDECIMAL, Meta: 38<<8 | 10, Unsigned: true}, "decimal(38,10) unsigned", "decimal(38,10) unsigned", 0},
		{BinlogColumn{Code: gomysql.MYSQL_TYPE_DOUBLE}, "double", "double", 0},
		{BinlogColumn{Code: gomysql.MYSQL_TYPE_BIT, Meta: 1<<8 | 5}, "bit(13)", "bit(13)", 0},
		{BinlogColumn{Code: gomysql.MYSQL_TYPE_BIT, Meta: 8 << 8}, "bit(64)", "bit(64)", 0},
		{BinlogColumn{Code: gomysql.MYSQL_TYPE_DATE}, "date", "date", 0},
		{BinlogColumn{Code: gomysql.MYSQL_TYPE_DATETIME2}, "datetime", "datetime", 0},
		{BinlogColumn{Code: gomysql.MYSQL_TYPE_DATETIME2, Meta: 6}, "datetime(6)", "datetime(6)", 0},
		{BinlogColumn{Code: gomysql.MYSQL_TYPE_TIMESTAMP2, Meta: 2}, "timestamp(2)", "timestamp(2)", 0},
		{BinlogColumn{Code: gomysql.MYSQL_TYPE_TIME2, Meta: 3}, "time(3)", "time(3)", 0},
		{utf8mb4(BinlogColumn{Code: gomysql.MYSQL_TYPE_VARCHAR, Meta: 160}), "varchar(40)", "varchar(40) character set utf8mb4", 40},
		{bin(BinlogColumn{Code: gomysql.MYSQL_TYPE_VARCHAR, Meta: 16}), "varbinary(16)", "varbinary(16)", 16},
		{BinlogColumn{Code: gomysql.MYSQL_TYPE_VARCHAR, Meta: 16}, "varchar(16)", "varchar(16)", 16},
		{utf8mb4(BinlogColumn{Code: gomysql.MYSQL_TYPE_STRING, Meta: 0xfe0c}), "char(3)", "char(3) character set utf8mb4", 3},
		{bin(BinlogColumn{Code: gomysql.MYSQL_TYPE_STRING, Meta: 0xfe04}), "binary(4)", "binary(4)", 4},
		// CHAR(255) in utf8mb4: 1020 bytes, the high bits in the type byte.
		{utf8mb4(BinlogColumn{Code: gomysql.MYSQL_TYPE_STRING, Meta: 0xcefc}), "char(255)", "char(255) character set utf8mb4", 255},
		{utf8mb4(BinlogColumn{Code: gomysql.MYSQL_TYPE_BLOB, Meta: 1}), "tinytext", "tinytext character set utf8mb4", 0},
		{utf8mb4(BinlogColumn{Code: gomysql.MYSQL_TYPE_BLOB, Meta: 2}), "text", "text character set utf8mb4", 0},
		{bin(BinlogColumn{Code: gomysql.MYSQL_TYPE_BLOB, Meta: 3}), "mediumblob", "mediumblob", 0},
		{BinlogColumn{Code: gomysql.MYSQL_TYPE_BLOB, Meta: 4}, "longblob", "longblob", 0},
		{BinlogColumn{Code: gomysql.MYSQL_TYPE_JSON, Meta: 4}, "json", "json", 0},
		{BinlogColumn{Code: gomysql.MYSQL_TYPE_GEOMETRY, Meta: 4}, "geometry", "geometry", 0},
		{utf8mb4(BinlogColumn{Code: gomysql.MYSQL_TYPE_STRING, Meta: 0xf701, Labels: labels("a", "b c", "d'e", `back\slash`, "😀")}),
			`enum('a','b c','d''e','back\\slash','😀')`, `enum('a','b c','d''e','back\\slash','😀') character set utf8mb4`, 0},
		{BinlogColumn{Code: gomysql.MYSQL_TYPE_STRING, Meta: 0xf801, Collation: 8, HasCollation: true, Labels: [][]byte{{'x'}, {0xe9}}},
			"set('x','é')", "set('x','é') character set latin1", 0},
	}
	for _, tc := range tests {
		got, err := FromBinlog(tc.col, testCollations)
		if err != nil {
			t.Errorf("%+v: %v", tc.col, err)
			continue
		}
		if got.ColumnType() != tc.columnType || got.String() != tc.source || got.Chars() != tc.chars {
			t.Errorf("%+v: %q (%q, %d chars), want %q (%q, %d chars)", tc.col, got.ColumnType(), got, got.Chars(), tc.columnType, tc.source, tc.chars)
		}
		// The text reads back as the same type.
		parsed, err := Parse(got.ColumnType())
		if err != nil || parsed.base != got.base || !slices.Equal(parsed.args, got.args) || parsed.unsigned != got.unsigned {
			t.Errorf("%q parses back as %+v (%v), built as %+v", got.ColumnType(), parsed, err, got)
		}
	}
	for _, bad := range []BinlogColumn{
		{Code: gomysql.MYSQL_TYPE_DECIMAL},
		{Code: 99},
		{Code: gomysql.MYSQL_TYPE_VARCHAR, Meta: 10, Collation: 4242, HasCollation: true},
		{Code: gomysql.MYSQL_TYPE_ENUM, Collation: 45, HasCollation: true, Labels: [][]byte{{0xff}}},
	} {
		if got, err := FromBinlog(bad, testCollations); err == nil {
			t.Errorf("%+v: %q, want an error", bad, got)
		}
	}
}

func TestFromBinlogCollation(t *testing.T) {
	c, err := FromBinlog(BinlogColumn{Code: gomysql.MYSQL_TYPE_VAR_STRING, Meta: 20, Collation: 8, HasCollation: true}, testCollations)
	if err != nil || c.Charset() != "latin1" || c.Collation() != "latin1_swedish_ci" || c.Chars() != 20 {
		t.Errorf("latin1 VARCHAR: %+v, %v", c, err)
	}
	b, err := FromBinlog(BinlogColumn{Code: gomysql.MYSQL_TYPE_VARCHAR, Meta: 20, Collation: 63, HasCollation: true}, testCollations)
	if err != nil || b.Charset() != "" || b.Collation() != "" || !b.Binary() {
		t.Errorf("binary VARCHAR: %+v, %v", b, err)
	}
}

func TestHoldsBinlog(t *testing.T) {
	tests := []struct {
		colType string
		code    byte
		meta    uint16
		want    bool
	}{
		{"int(11)", gomysql.MYSQL_TYPE_LONG, 0, true},
		{"bigint(20) unsigned", gomysql.MYSQL_TYPE_LONGLONG, 0, true},
		{"int(11)", gomysql.MYSQL_TYPE_LONGLONG, 0, false},         // INT became BIGINT
		{"bool", gomysql.MYSQL_TYPE_TINY, 0, true},                 // BOOL is TINYINT
		{"varchar(10)", gomysql.MYSQL_TYPE_VARCHAR, 40, true},      // a length is not checked
		{"varbinary(10)", gomysql.MYSQL_TYPE_VARCHAR, 10, true},    // collations are not read
		{"varchar(10)", gomysql.MYSQL_TYPE_BLOB, 2, false},         // VARCHAR became TEXT
		{"tinytext", gomysql.MYSQL_TYPE_BLOB, 4, true},             // any TEXT or BLOB size
		{"enum('a','b')", gomysql.MYSQL_TYPE_STRING, 0xf701, true}, // STRING with real type ENUM
		{"set('a','b')", gomysql.MYSQL_TYPE_STRING, 0xf801, true},  // STRING with real type SET
		{"char(3)", gomysql.MYSQL_TYPE_STRING, 0xfe0c, true},       // STRING
		{"char(3)", gomysql.MYSQL_TYPE_STRING, 0xf701, false},      // CHAR became ENUM
		{"datetime(6)", gomysql.MYSQL_TYPE_DATETIME2, 6, true},     // DATETIME2
		{"timestamp", gomysql.MYSQL_TYPE_DATETIME2, 0, false},      // TIMESTAMP became DATETIME
		{"json", gomysql.MYSQL_TYPE_BLOB, 4, true},                 // MariaDB JSON is LONGTEXT
		{"json", gomysql.MYSQL_TYPE_JSON, 4, true},                 // MySQL JSON
		{"longtext", gomysql.MYSQL_TYPE_JSON, 4, false},            // LONGTEXT became JSON
		{"point", gomysql.MYSQL_TYPE_GEOMETRY, 4, true},            // spatial subtypes are GEOMETRY
		{"decimal(10,2)", gomysql.MYSQL_TYPE_DECIMAL, 0, false},    // pre-5.0 DECIMAL: not read
		{"some_new_type", 99, 0, true},                             // unknown types pass
		{"int(11)", 99, 0, false},                                  // unknown codes do not
	}
	for _, tc := range tests {
		typ, err := Parse(tc.colType)
		if err != nil {
			t.Fatal(err)
		}
		if got := typ.HoldsBinlog(BinlogColumn{Code: tc.code, Meta: tc.meta}); got != tc.want {
			t.Errorf("%q.HoldsBinlog(%d, %#x) = %v, want %v", tc.colType, tc.code, tc.meta, got, tc.want)
		}
	}
}

func TestSameValues(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"int", "int(11)", true},
		{"int unsigned", "int(10) unsigned zerofill", true},
		{"year", "year(4)", true},
		{"geometry", "point", true},
		{"varchar(40)", "varchar(40)", true},
		{"varchar(40)", "varchar(41)", false},
		{"int", "bigint(20)", false},
		{"decimal(10,2)", "decimal(10,3)", false},
		{"enum('😀','b')", "enum('?','b')", true}, // information_schema shows the emoji as '?'
		{"enum('😀','b')", "enum('?','c')", false},
		{"enum('a','b')", "set('a','b')", false},
	}
	for _, tc := range tests {
		a, err1 := Parse(tc.a)
		b, err2 := Parse(tc.b)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if got := a.SameValues(b); got != tc.want {
			t.Errorf("%q.SameValues(%q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestTableMapColumns: the columns of a TABLE_MAP event as go-mysql
// decodes it, with signedness, collations and ENUM labels from the
// optional metadata.
func TestTableMapColumns(t *testing.T) {
	e := &replication.TableMapEvent{
		ColumnCount: 4,
		ColumnType:  []byte{gomysql.MYSQL_TYPE_LONG, gomysql.MYSQL_TYPE_VARCHAR, gomysql.MYSQL_TYPE_STRING, gomysql.MYSQL_TYPE_NEWDECIMAL},
		ColumnMeta:  []uint16{0, 160, 0xf701, 10<<8 | 2},
		// Numeric columns (the INT and the DECIMAL): the first unsigned.
		SignednessBitmap: []byte{0x80},
		// Character columns: default collation 45.
		DefaultCharset: []uint64{45},
		// ENUM and SET columns: collation 8.
		EnumSetDefaultCharset: []uint64{8},
		EnumStrValue:          [][][]byte{{[]byte("x"), {0xe9}}},
	}
	cols := TableMapColumns(e)
	want := []string{"int unsigned", "varchar(40) character set utf8mb4", "enum('x','é') character set latin1", "decimal(10,2)"}
	var got []string
	for _, c := range cols {
		typ, err := FromBinlog(c, testCollations)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, typ.String())
	}
	if !slices.Equal(got, want) {
		t.Errorf("types %q, want %q", got, want)
	}
	if cols[2].Code != gomysql.MYSQL_TYPE_STRING || !strings.HasPrefix(got[2], "enum") {
		t.Errorf("the ENUM column is %+v", cols[2])
	}
}
