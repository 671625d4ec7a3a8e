package mysqltype

import "math"

// maxUTF8Bytes is the most bytes one character takes as the server sends
// it to a utf8mb4 connection, whatever the column's character set.
const maxUTF8Bytes = 4

// MaxBytes returns the most bytes one value of t takes as the server
// sends it in the text protocol (its LENGTH in the result), and false
// when t does not bound it: JSON, the spatial types, a character or
// binary type of unknown length, types this package does not map. The
// TEXT and BLOB types return their declared maximum (LONGBLOB 4 GiB).
// Chunk planning uses it to size rows from their types where the types
// bound them, and to read the LENGTH only of the values they do not.
func (t Type) MaxBytes() (int64, bool) {
	if _, ok := intBits[t.base]; ok {
		return 20, true // -9223372036854775808, 18446744073709551615
	}
	switch t.base {
	case "decimal", "numeric", "dec", "fixed":
		return int64(t.width(0, 10)) + 2, true // sign and point
	case "float", "double", "real", "double precision":
		return 24, true // -1.7976931348623157e+308
	case "bool", "boolean":
		return 4, true
	case "year":
		return 4, true
	case "bit":
		return int64(t.width(0, 1)+7) / 8, true
	case "date":
		return 10, true
	case "time":
		return 17, true // -838:59:59.000000
	case "datetime", "timestamp":
		return 26, true
	case "tinytext", "tinyblob":
		return math.MaxUint8, true
	case "text", "blob":
		return math.MaxUint16, true
	case "mediumtext", "mediumblob":
		return 1<<24 - 1, true
	case "longtext", "longblob":
		return math.MaxUint32, true
	case "binary", "varbinary":
		if n := t.width(0, 0); n > 0 {
			return int64(n), true
		}
		return 0, false
	case "char", "varchar":
		n := t.chars
		if n <= 0 {
			n = int64(t.width(0, 0))
		}
		if n <= 0 {
			return 0, false
		}
		if t.charset == "binary" {
			return n, true
		}
		return n * maxUTF8Bytes, true
	case "enum", "set":
		var longest, all int64
		for _, l := range t.args {
			longest = max(longest, int64(len(l)))
			all += int64(len(l)) + 1 // and a comma
		}
		if t.base == "set" {
			return all * maxUTF8Bytes, true
		}
		return longest * maxUTF8Bytes, true
	}
	return 0, false
}
