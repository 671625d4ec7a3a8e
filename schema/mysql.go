package schema

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/apache/iceberg-go"
)

// MySQL and MariaDB type mapping.
//
// MySQLColumn maps a column as information_schema.COLUMNS describes it
// (COLUMN_TYPE, DATA_TYPE, CHARACTER_SET_NAME, IS_NULLABLE) to the Iceberg
// type Floe writes. Two decoders produce the canonical value (see Row) of
// that type: MySQLTextDecoder for the text protocol (the snapshot's
// SELECT) and MySQLBinlogDecoder for go-mysql's decoded row events; for
// the same stored value both return the same canonical value.
//
//	MySQL / MariaDB                    Iceberg          notes
//	TINYINT, SMALLINT, MEDIUMINT       int              signed or UNSIGNED; BOOL is TINYINT(1): int
//	INT                                int              INT UNSIGNED: long
//	BIGINT                             long             BIGINT UNSIGNED: decimal(20,0)
//	DECIMAL(p,s), p <= 38              decimal(p,s)
//	DECIMAL(p,s), p > 38               string           plain text, exactly s fractional digits
//	FLOAT                              float
//	DOUBLE                             double
//	BIT(n), n <= 63                    long             the bits as an unsigned number
//	BIT(64)                            binary           8 bytes, big-endian
//	CHAR, VARCHAR, *TEXT               string           any collation (also _bin); CHAR without trailing spaces
//	BINARY(n)                          binary           n bytes, 0x00-padded as stored
//	VARBINARY, *BLOB                   binary
//	DATE                               date             zero dates: see MySQLOptions.ZeroDate
//	DATETIME(0-6)                      timestamp        wall clock, never shifted
//	                                   timestamptz      with MySQLOptions.DatetimeZone: the UTC instant of the wall clock in that zone
//	TIMESTAMP(0-6)                     timestamptz      the UTC instant
//	TIME(0-6)                          long             signed microseconds, -838:59:59 .. 838:59:59
//	YEAR                               int              0 for YEAR 0000
//	ENUM                               string           the label ('' for the error value)
//	SET                                string           labels in definition order, comma-joined
//	JSON (MySQL)                       string           compact text, key order kept (see below)
//	JSON (MariaDB: LONGTEXT)           string           the exact text
//	GEOMETRY, POINT, POLYGON, ...      binary           MySQL's internal form: 4-byte little-endian SRID, then WKB
//
// Types not listed (MariaDB UUID, INET4, INET6, VECTOR) are an error.
//
// Column.Source.Name is COLUMN_TYPE, followed for character types by
// " character set <charset>"; the decoders read the type back from it, so
// a Column built by MySQLColumn is self-contained. Source.OID is 0,
// Source.Modifier -1, Source.Kind KindEnum for ENUM and SET, else KindBase.

// MySQLOptions says how ambiguous MySQL values are interpreted.
type MySQLOptions struct {
	// ServerTimeZone is the session time zone in which the text protocol
	// prints TIMESTAMP values (nil: UTC). Snapshot connections should set
	// time_zone='+00:00' and leave this nil: a zone with daylight saving
	// prints two instants of the autumn hour alike. DATETIME is a wall
	// clock and never shifted. Binlog TIMESTAMP values are epoch instants
	// and do not depend on it.
	ServerTimeZone *time.Location
	// DatetimeZone is the zone whose wall clocks the server's DATETIME
	// values are. nil (the default): DATETIME is a wall clock without a
	// zone, Iceberg timestamp, never shifted. Set: DATETIME maps to Iceberg
	// timestamptz and each value becomes the UTC instant of its wall clock
	// in this zone; gaps and overlaps are resolved as ZonedInstant says.
	// MySQLColumnWith and the decoders must be given the same value.
	// TIMESTAMP is an instant either way and does not depend on it.
	DatetimeZone *time.Location
	// ZeroDate is the treatment of DATE, DATETIME and TIMESTAMP values
	// that are not calendar dates: MySQL's zero date '0000-00-00' and,
	// without NO_ZERO_IN_DATE / with ALLOW_INVALID_DATES, dates such as
	// '2020-05-00' or '2020-02-30':
	//   "error" (the default, also for ""): a *ValueError that names the
	//            value and this option; the pipeline stops, nothing is
	//            written.
	//   "null":  NULL; on a NOT NULL column (Nullable false) NULL is
	//            impossible, so that is a *ValueError too.
	//   "epoch": 1970-01-01 (00:00:00 UTC).
	ZeroDate string
}

// ZeroDate treatments (MySQLOptions.ZeroDate).
const (
	ZeroDateError = "error"
	ZeroDateNull  = "null"
	ZeroDateEpoch = "epoch"
)

// mysqlType is a parsed COLUMN_TYPE.
type mysqlType struct {
	base     string   // lower-case type name: "int", "decimal", "enum", ...
	args     []string // parenthesised arguments; for ENUM and SET the unquoted labels
	unsigned bool
	charset  string // lower-case character set of character types ("" if none)
}

// width returns the integer argument i, or def when absent.
func (t *mysqlType) width(i, def int) int {
	if i < len(t.args) {
		if n, err := strconv.Atoi(strings.TrimSpace(t.args[i])); err == nil {
			return n
		}
	}
	return def
}

// parseMySQLType parses a COLUMN_TYPE such as "bigint(20) unsigned
// zerofill", "enum('a','b')" or "varchar(10) character set latin1".
func parseMySQLType(s string) (mysqlType, error) {
	var t mysqlType
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && s[i] != '(' && s[i] != ' ' {
		i++
	}
	t.base = strings.ToLower(s[:i])
	if t.base == "" {
		return t, fmt.Errorf("empty MySQL column type")
	}
	rest := s[i:]
	if strings.HasPrefix(rest, "(") {
		args, n, err := parseTypeArgs(rest)
		if err != nil {
			return t, fmt.Errorf("parse MySQL column type %q: %w", s, err)
		}
		t.args, rest = args, rest[n:]
	}
	words := strings.Fields(strings.ToLower(rest))
	for k := 0; k < len(words); k++ {
		switch w := words[k]; {
		case w == "unsigned":
			t.unsigned = true
		case w == "character" && k+2 < len(words) && words[k+1] == "set":
			t.charset = words[k+2]
			k += 2
		case w == "/*":
			// MariaDB marks old-format temporals: "datetime /* mariadb-5.3 */".
			for k < len(words) && words[k] != "*/" {
				k++
			}
		}
	}
	return t, nil
}

// parseTypeArgs parses "(a,b)" or "('x','y')" at the start of s and
// returns the arguments and the number of bytes consumed. Quoted
// arguments are unquoted: a doubled quote or a backslash escape inside
// them stands for one character.
func parseTypeArgs(s string) ([]string, int, error) {
	var args []string
	var cur strings.Builder
	quoted := false
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '\'' && i+1 < len(s) && s[i+1] == '\'':
			cur.WriteByte('\'')
			i++
		case quoted && c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(unescapeMySQL(s[i]))
		case c == '\'':
			quoted = !quoted
		case !quoted && c == ',':
			args = append(args, cur.String())
			cur.Reset()
		case !quoted && c == ')':
			return append(args, cur.String()), i + 1, nil
		default:
			cur.WriteByte(c)
		}
	}
	return nil, 0, fmt.Errorf("unterminated argument list")
}

func unescapeMySQL(c byte) byte {
	switch c {
	case '0':
		return 0
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'Z':
		return 26
	}
	return c
}

// Families of MySQL base types.
var (
	mysqlIntBits = map[string]int{"tinyint": 8, "smallint": 16, "mediumint": 24, "int": 32, "integer": 32, "bigint": 64}
	mysqlChars   = map[string]bool{"char": true, "varchar": true, "tinytext": true, "text": true, "mediumtext": true, "longtext": true}
	mysqlBinary  = map[string]bool{"binary": true, "varbinary": true, "tinyblob": true, "blob": true, "mediumblob": true, "longblob": true}
	mysqlGeo     = map[string]bool{"geometry": true, "point": true, "linestring": true, "polygon": true, "multipoint": true,
		"multilinestring": true, "multipolygon": true, "geometrycollection": true, "geomcollection": true}
)

// MySQLColumn returns the Iceberg column for a MySQL/MariaDB column named
// name: columnType is information_schema.COLUMNS.COLUMN_TYPE (e.g.
// "bigint(20) unsigned", "decimal(10,2)", "enum('a','b')"), dataType its
// DATA_TYPE (used when columnType is empty), charset its
// CHARACTER_SET_NAME ("" for non-character types) and notNull is
// IS_NULLABLE = 'NO' (or a key column). The mapping is the table above.
func MySQLColumn(name, columnType, dataType, charset string, notNull bool) (Column, error) {
	return MySQLColumnWith(name, columnType, dataType, charset, notNull, MySQLOptions{})
}

// MySQLColumnWith is MySQLColumn under the options o: with
// o.DatetimeZone set, DATETIME maps to timestamptz. The decoders of the
// column must be built with the same options.
func MySQLColumnWith(name, columnType, dataType, charset string, notNull bool, o MySQLOptions) (Column, error) {
	if strings.TrimSpace(columnType) == "" {
		columnType = dataType
	}
	t, err := parseMySQLType(columnType)
	if err != nil {
		return Column{}, fmt.Errorf("map column %s: %w", name, err)
	}
	srcName := strings.TrimSpace(columnType)
	if cs := strings.ToLower(strings.TrimSpace(charset)); cs != "" && t.charset == "" &&
		(mysqlChars[t.base] || t.base == "enum" || t.base == "set") {
		t.charset = cs
		srcName += " character set " + cs
	}
	typ, err := mysqlIcebergType(t)
	if err != nil {
		return Column{}, fmt.Errorf("map column %s: %w", name, err)
	}
	if t.base == "datetime" && o.DatetimeZone != nil {
		typ = iceberg.PrimitiveTypes.TimestampTz
	}
	kind := KindBase
	if t.base == "enum" || t.base == "set" {
		kind = KindEnum
	}
	return Column{Name: name, Type: typ, Nullable: !notNull,
		Source: SourceType{Name: srcName, Modifier: -1, Kind: kind}}, nil
}

// MySQLSelectExpr returns the select-list expression with which a
// snapshot reads column c (quoted is its quoted name, e.g. "`price`") so
// that the text protocol is lossless: the column itself, except FLOAT,
// which the server prints with only 6 significant digits and which is
// therefore read as CAST(quoted AS DOUBLE) (exact; MariaDB 10.4.5+ and
// MySQL 8.0.17+). MySQLTextDecoder accepts either text for FLOAT.
func MySQLSelectExpr(c Column, quoted string) string {
	if t, err := parseMySQLType(c.Source.Name); err == nil && t.base == "float" {
		return "CAST(" + quoted + " AS DOUBLE)"
	}
	return quoted
}

// mysqlIcebergType maps a parsed type (see the table above).
func mysqlIcebergType(t mysqlType) (iceberg.Type, error) {
	if bits, ok := mysqlIntBits[t.base]; ok {
		switch {
		case bits == 64 && t.unsigned:
			return iceberg.DecimalTypeOf(20, 0), nil
		case bits == 64 || (bits == 32 && t.unsigned):
			return iceberg.PrimitiveTypes.Int64, nil
		}
		return iceberg.PrimitiveTypes.Int32, nil
	}
	switch {
	case mysqlChars[t.base] && t.charset == "binary":
		return iceberg.PrimitiveTypes.Binary, nil
	case mysqlChars[t.base], t.base == "enum", t.base == "set", t.base == "json":
		return iceberg.PrimitiveTypes.String, nil
	case mysqlBinary[t.base], mysqlGeo[t.base]:
		return iceberg.PrimitiveTypes.Binary, nil
	}
	switch t.base {
	case "decimal", "numeric", "dec", "fixed":
		p, s := t.width(0, 10), t.width(1, 0)
		if p < 1 || s < 0 || s > p {
			return nil, fmt.Errorf("invalid MySQL decimal(%d,%d)", p, s)
		}
		if p > 38 {
			return iceberg.PrimitiveTypes.String, nil
		}
		return iceberg.DecimalTypeOf(p, s), nil
	case "float":
		return iceberg.PrimitiveTypes.Float32, nil
	case "double", "real", "double precision":
		return iceberg.PrimitiveTypes.Float64, nil
	case "bit":
		if n := t.width(0, 1); n < 1 || n > 64 {
			return nil, fmt.Errorf("invalid MySQL bit(%d)", n)
		} else if n == 64 {
			return iceberg.PrimitiveTypes.Binary, nil
		}
		return iceberg.PrimitiveTypes.Int64, nil
	case "bool", "boolean", "year":
		return iceberg.PrimitiveTypes.Int32, nil
	case "date":
		return iceberg.PrimitiveTypes.Date, nil
	case "datetime":
		return iceberg.PrimitiveTypes.Timestamp, nil
	case "timestamp":
		return iceberg.PrimitiveTypes.TimestampTz, nil
	case "time":
		return iceberg.PrimitiveTypes.Int64, nil
	}
	return nil, fmt.Errorf("MySQL type %s is not supported; exclude the table or the column from the pipeline", t.base)
}

// charsetDecoders convert text in a MySQL character set to UTF-8 (false:
// not valid in that set). Binlog row events carry character columns in
// their own character set; the text protocol converts to the connection's
// (utf8mb4). Character sets not listed are not supported in the binlog.
var charsetDecoders = map[string]func([]byte) (string, bool){
	"":        utf8Text,
	"utf8mb4": utf8Text,
	"utf8mb3": utf8Text,
	"utf8":    utf8Text,
	"ascii":   utf8Text,
	"binary":  utf8Text,
	"latin1":  latin1Text,
	"ucs2":    func(b []byte) (string, bool) { return utf16Text(b, binary.BigEndian) },
	"utf16":   func(b []byte) (string, bool) { return utf16Text(b, binary.BigEndian) },
	"utf16le": func(b []byte) (string, bool) { return utf16Text(b, binary.LittleEndian) },
	"utf32":   utf32Text,
}

func utf8Text(b []byte) (string, bool) { return string(b), utf8.Valid(b) }

// mysqlLatin1High maps bytes 0x80-0x9F of MySQL's latin1, which is
// Windows-1252 with the five bytes 1252 leaves undefined mapped to the C1
// controls of the same value. 0xA0-0xFF are U+00A0-U+00FF.
var mysqlLatin1High = [32]rune{
	0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
	0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
}

func latin1Text(b []byte) (string, bool) {
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/4)
	for _, c := range b {
		switch {
		case c < 0x80:
			sb.WriteByte(c)
		case c < 0xA0:
			sb.WriteRune(mysqlLatin1High[c-0x80])
		default:
			sb.WriteRune(rune(c))
		}
	}
	return sb.String(), true
}

func utf16Text(b []byte, order binary.ByteOrder) (string, bool) {
	if len(b)%2 != 0 {
		return "", false
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = order.Uint16(b[2*i:])
	}
	for i := 0; i < len(u); i++ { // reject unpaired surrogates
		switch {
		case utf16.IsSurrogate(rune(u[i])) && u[i] < 0xDC00 && i+1 < len(u) && u[i+1] >= 0xDC00 && u[i+1] <= 0xDFFF:
			i++
		case utf16.IsSurrogate(rune(u[i])):
			return "", false
		}
	}
	return string(utf16.Decode(u)), true
}

func utf32Text(b []byte) (string, bool) {
	if len(b)%4 != 0 {
		return "", false
	}
	var sb strings.Builder
	for i := 0; i < len(b); i += 4 {
		r := rune(binary.BigEndian.Uint32(b[i:]))
		if !utf8.ValidRune(r) {
			return "", false
		}
		sb.WriteRune(r)
	}
	return sb.String(), true
}

// jsonOut decodes a MySQL (binary) JSON value's text: the snapshot gets
// MySQL's rendering, the binlog go-mysql's, so both are brought to one
// canonical text (see canonJSON).
func (d *mysqlDec) jsonOut(b []byte) (any, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return "null", nil // MySQL stores an empty document as JSON null
	}
	if !json.Valid(b) {
		return nil, d.fail(b, "not a JSON document")
	}
	s, err := canonJSON(b)
	if err != nil {
		return nil, d.fail(b, "not a JSON document: "+err.Error())
	}
	return s, nil
}

// canonJSON re-renders a JSON document in MySQL's text style: object keys
// in document order, ", " and ": " separators, strings with only the
// required escapes, integers as written and other numbers in Go's
// shortest form of their double value (MySQL JSON numbers are int64,
// uint64 or double; a longer literal, a DECIMAL inside the document, is
// kept as written unless it is exactly a double's value: go-mysql writes
// a whole-number double with all its digits, 1e300 as "1000…0.0", where
// MySQL's own text says 1e300).
func canonJSON(b []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var sb strings.Builder
	type frame struct {
		obj   bool
		count int
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", err
		}
		if dl, ok := tok.(json.Delim); ok && (dl == '}' || dl == ']') {
			stack = stack[:len(stack)-1]
			sb.WriteByte(byte(dl))
			continue
		}
		if n := len(stack); n > 0 {
			top := &stack[n-1]
			switch {
			case top.obj && top.count%2 == 1:
				sb.WriteString(": ")
			case top.count > 0:
				sb.WriteString(", ")
			}
			top.count++
		}
		switch x := tok.(type) {
		case json.Delim:
			stack = append(stack, frame{obj: x == '{'})
			sb.WriteByte(byte(x))
		case string:
			writeJSONString(&sb, x)
		case json.Number:
			sb.WriteString(canonJSONNumber(string(x)))
		case bool:
			sb.WriteString(strconv.FormatBool(x))
		case nil:
			sb.WriteString("null")
		}
	}
	return sb.String(), nil
}

func canonJSONNumber(s string) string {
	if !strings.ContainsAny(s, ".eE") {
		return s
	}
	digits := strings.TrimLeft(strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, strings.FieldsFunc(s, func(r rune) bool { return r == 'e' || r == 'E' })[0]), "0")
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	if len(digits) > 17 && s != strconv.FormatFloat(f, 'f', 1, 64) {
		return s
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func writeJSONString(sb *strings.Builder, s string) {
	sb.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			sb.WriteByte('\\')
			sb.WriteRune(r)
		case r == '\n':
			sb.WriteString(`\n`)
		case r == '\t':
			sb.WriteString(`\t`)
		case r == '\r':
			sb.WriteString(`\r`)
		case r < 0x20:
			fmt.Fprintf(sb, `\u%04x`, r)
		default:
			sb.WriteRune(r)
		}
	}
	sb.WriteByte('"')
}
