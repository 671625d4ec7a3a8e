package mysqltype

import (
	"fmt"
	"strconv"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
)

// BinlogColumn is one column of a binlog TABLE_MAP event: its type code
// and metadata, and what the optional row metadata adds when the server
// logs it (binlog_row_metadata=MINIMAL: signedness and collation; FULL:
// ENUM and SET labels too). Zero values stand for metadata not logged.
type BinlogColumn struct {
	Code         byte   // binlog type code (ENUM and SET are logged as STRING, see Meta)
	Meta         uint16 // type metadata: length, precision and scale, fractional digits
	Unsigned     bool
	Collation    uint64 // collation id, when HasCollation
	HasCollation bool
	Labels       [][]byte // ENUM or SET labels, raw in the column's character set
}

// Collation is a server collation, as a TABLE_MAP event names it by id
// (information_schema.COLLATIONS and CHARACTER_SETS).
type Collation struct {
	Name, Charset string
	MaxLen        int64 // bytes per character
}

// TableMapColumns returns the columns a TABLE_MAP event describes.
func TableMapColumns(e *replication.TableMapEvent) []BinlogColumn {
	unsigned := e.UnsignedMap()
	charColl, enumColl := e.CollationMap(), e.EnumSetCollationMap()
	enums, sets := e.EnumStrValueMap(), e.SetStrValueMap()
	out := make([]BinlogColumn, e.ColumnCount)
	for i := range out {
		c := BinlogColumn{Code: e.ColumnType[i], Unsigned: unsigned[i]}
		if i < len(e.ColumnMeta) {
			c.Meta = e.ColumnMeta[i]
		}
		c.Collation, c.HasCollation = charColl[i]
		var labels []string
		switch c.realCode() {
		case gomysql.MYSQL_TYPE_ENUM:
			c.Collation, c.HasCollation = enumColl[i]
			labels = enums[i]
		case gomysql.MYSQL_TYPE_SET:
			c.Collation, c.HasCollation = enumColl[i]
			labels = sets[i]
		}
		for _, l := range labels {
			c.Labels = append(c.Labels, []byte(l))
		}
		out[i] = c
	}
	return out
}

// realCode returns c's type code, ENUM or SET for such a column logged
// as STRING with the real type in the high byte of its metadata.
func (c BinlogColumn) realCode() byte {
	if c.Code == gomysql.MYSQL_TYPE_STRING && c.Meta >= 256 {
		if real := byte(c.Meta >> 8); real == gomysql.MYSQL_TYPE_ENUM || real == gomysql.MYSQL_TYPE_SET {
			return real
		}
	}
	return c.Code
}

// binlogNames are the base types of the binlog type codes FromBinlog
// reads; a few are refined from the metadata (see FromBinlog).
var binlogNames = map[byte]string{
	gomysql.MYSQL_TYPE_TINY: "tinyint", gomysql.MYSQL_TYPE_SHORT: "smallint", gomysql.MYSQL_TYPE_INT24: "mediumint",
	gomysql.MYSQL_TYPE_LONG: "int", gomysql.MYSQL_TYPE_LONGLONG: "bigint", gomysql.MYSQL_TYPE_YEAR: "year",
	gomysql.MYSQL_TYPE_NEWDECIMAL: "decimal", gomysql.MYSQL_TYPE_FLOAT: "float", gomysql.MYSQL_TYPE_DOUBLE: "double",
	gomysql.MYSQL_TYPE_BIT: "bit", gomysql.MYSQL_TYPE_DATE: "date", gomysql.MYSQL_TYPE_NEWDATE: "date",
	gomysql.MYSQL_TYPE_DATETIME: "datetime", gomysql.MYSQL_TYPE_DATETIME2: "datetime",
	gomysql.MYSQL_TYPE_TIMESTAMP: "timestamp", gomysql.MYSQL_TYPE_TIMESTAMP2: "timestamp",
	gomysql.MYSQL_TYPE_TIME: "time", gomysql.MYSQL_TYPE_TIME2: "time",
	gomysql.MYSQL_TYPE_VARCHAR: "varchar", gomysql.MYSQL_TYPE_VAR_STRING: "varchar", gomysql.MYSQL_TYPE_STRING: "char",
	gomysql.MYSQL_TYPE_TINY_BLOB: "text", gomysql.MYSQL_TYPE_BLOB: "text", gomysql.MYSQL_TYPE_MEDIUM_BLOB: "text",
	gomysql.MYSQL_TYPE_LONG_BLOB: "text", gomysql.MYSQL_TYPE_JSON: "json", gomysql.MYSQL_TYPE_GEOMETRY: "geometry",
	gomysql.MYSQL_TYPE_ENUM: "enum", gomysql.MYSQL_TYPE_SET: "set",
}

// FromBinlog builds the type a TABLE_MAP event states for column c, with
// the server's collations by id: the base type from the type code;
// lengths, precision and scale and fractional digits from the metadata;
// signedness, the character set and collation (which tell text from bytes),
// and ENUM and SET labels from the optional metadata where logged. What the
// binlog does not carry, it does not have: display widths, ZEROFILL, the
// subtype of a spatial type, and, without collations, text from bytes (a
// BLOB or BINARY). Its ColumnType is written from what it has
// ("decimal(10,2) unsigned", "varchar(40)", "enum('a','b')").
func FromBinlog(c BinlogColumn, collations map[uint64]Collation) (Type, error) {
	code := c.realCode()
	base, ok := binlogNames[code]
	if !ok {
		return Type{}, fmt.Errorf("binlog type %d is not one Floe maps", code)
	}
	var coll Collation
	if c.HasCollation {
		if coll, ok = collations[c.Collation]; !ok {
			return Type{}, fmt.Errorf("unknown collation id %d", c.Collation)
		}
	}
	binary := c.HasCollation && coll.Charset == "binary"
	t := Type{base: base}
	if c.HasCollation && !binary {
		t.collation = coll.Name
		t.setCharset(coll.Charset)
	}
	switch base {
	case "tinyint", "smallint", "mediumint", "int", "bigint", "float", "double":
		t.unsigned = c.Unsigned
	case "decimal":
		t.unsigned = c.Unsigned
		t.args = []string{strconv.Itoa(int(c.Meta >> 8)), strconv.Itoa(int(c.Meta & 0xff))}
	case "bit":
		t.args = []string{strconv.Itoa(int(c.Meta>>8)*8 + int(c.Meta&0xff))}
	case "datetime", "timestamp", "time":
		if c.Meta != 0 {
			t.args = []string{strconv.Itoa(int(c.Meta))}
		}
	case "varchar", "char":
		t.setLength(c.Meta, binary, coll.MaxLen)
	case "text":
		t.base = map[uint16]string{1: "tiny", 2: "", 3: "medium", 4: "long"}[c.Meta] + "text"
		if binary || !c.HasCollation {
			t.base = strings.TrimSuffix(t.base, "text") + "blob"
		}
	case "enum", "set":
		for j, l := range c.Labels {
			text, err := charsetText(t.charset, l)
			if err != nil {
				return Type{}, fmt.Errorf("label %d: %w", j+1, err)
			}
			t.args = append(t.args, text)
		}
	}
	t.columnType = t.render()
	return t, nil
}

// setLength sets the base type and the length in characters of a VARCHAR
// (meta: the length in bytes) or CHAR (meta: the real type and the length
// in bytes, whose high bits MySQL keeps in the real type's byte) and
// their byte forms, VARBINARY and BINARY.
func (t *Type) setLength(meta uint16, binary bool, maxLen int64) {
	n := int64(meta)
	if t.base == "char" && meta >= 256 {
		b0, b1 := byte(meta>>8), byte(meta&0xff)
		if b0&0x30 != 0x30 {
			n = int64(uint16(b1) | uint16((b0&0x30)^0x30)<<4)
		} else {
			n = int64(meta & 0xff)
		}
	}
	if !binary && maxLen > 0 {
		n /= maxLen
	}
	t.chars = n
	if binary {
		t.base = map[string]string{"char": "binary", "varchar": "varbinary"}[t.base]
	}
	t.args = []string{strconv.FormatInt(n, 10)}
}

// render writes t as COLUMN_TYPE: the base type, its arguments and
// UNSIGNED.
func (t Type) render() string {
	s := t.base
	if len(t.args) > 0 || t.labelled() {
		args := t.args
		if t.labelled() {
			args = make([]string, len(t.args))
			for i, l := range t.args {
				args[i] = quoteLabel(l)
			}
		}
		s += "(" + strings.Join(args, ",") + ")"
	}
	if t.unsigned {
		s += " unsigned"
	}
	return s
}

// storage names the binlog storage of base types: the types of one
// storage are logged with the same type codes.
var storage = map[string]string{
	"tinyint": "tinyint", "bool": "tinyint", "boolean": "tinyint", "smallint": "smallint", "mediumint": "mediumint",
	"int": "int", "integer": "int", "bigint": "bigint", "decimal": "decimal", "numeric": "decimal", "dec": "decimal",
	"fixed": "decimal", "float": "float", "double": "double", "real": "double", "bit": "bit", "date": "date",
	"datetime": "datetime", "timestamp": "timestamp", "time": "time", "year": "year",
	"char": "char", "binary": "char", "varchar": "varchar", "varbinary": "varchar", "json": "json", "enum": "enum", "set": "set",
	"tinytext": "blob", "text": "blob", "mediumtext": "blob", "longtext": "blob",
	"tinyblob": "blob", "blob": "blob", "mediumblob": "blob", "longblob": "blob",
	"geometry": "geometry", "point": "geometry", "linestring": "geometry", "polygon": "geometry", "multipoint": "geometry",
	"multilinestring": "geometry", "multipolygon": "geometry", "geometrycollection": "geometry", "geomcollection": "geometry",
}

// HoldsBinlog reports whether binlog column c, as a TABLE_MAP event
// without column names states it, is stored as values of t are: the
// same type codes, whatever the lengths (a TEXT logged for a VARCHAR is a
// changed column; a longer VARCHAR is not seen here). A JSON column may
// be logged as a BLOB (MariaDB's JSON is LONGTEXT). A t that Floe does not
// map holds any column.
func (t Type) HoldsBinlog(c BinlogColumn) bool {
	mine, known := storage[t.base]
	if !known {
		return true
	}
	c.HasCollation, c.Labels = false, nil // the storage does not depend on them
	logged, err := FromBinlog(c, nil)
	if err != nil {
		return false
	}
	theirs := storage[logged.base]
	return mine == theirs || (mine == "json" && theirs == "blob")
}

// SameValues reports whether t and shown describe one column's values
// alike: the same type text up to integer and YEAR display widths,
// ZEROFILL and the subtype of a spatial type (all are WKB with an SRID),
// or, of two ENUMs or two SETs, labels that shown, as information_schema
// shows them, has for t's in full (see labelsMatch). The character set is
// not compared.
func (t Type) SameValues(shown Type) bool {
	if normColType(t.columnType) == normColType(shown.columnType) {
		return true
	}
	return t.labelled() && t.base == shown.base && labelsMatch(shown.args, t.args)
}

// normColType drops what does not change a column's values from a
// COLUMN_TYPE: integer and YEAR display widths, ZEROFILL, and the
// subtype of a spatial column.
func normColType(ct string) string {
	ct = strings.ToLower(strings.TrimSpace(ct))
	ct = strings.ReplaceAll(ct, " zerofill", "")
	if geoTypes[ct] {
		return "geometry"
	}
	for _, base := range []string{"tinyint", "smallint", "mediumint", "bigint", "int", "year"} {
		if rest, ok := strings.CutPrefix(ct, base+"("); ok {
			if end := strings.IndexByte(rest, ')'); end >= 0 {
				return base + rest[end+1:]
			}
		}
	}
	return ct
}
