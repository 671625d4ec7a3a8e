package mysqltype

import (
	"fmt"
	"strconv"
	"strings"
)

// Type is one MySQL or MariaDB column type. It is built from whichever
// description the caller has: FromInfoSchema for information_schema.COLUMNS,
// FromBinlog for a column of a binlog TABLE_MAP event, Parse for the type
// text alone (COLUMN_TYPE, or the type of a column definition in DDL). A
// Type is a schema.SourceType: Column stores it in the column, and the
// decoders read it back from there. The zero Type is no type.
type Type struct {
	columnType string   // COLUMN_TYPE as described, or as rebuilt from the binlog
	base       string   // lower-case type name: "int", "decimal", "enum", ...
	args       []string // parenthesised arguments; for ENUM and SET the unquoted labels
	unsigned   bool
	charset    string // lower-case character set ("" if none or unknown)
	collation  string // collation name ("" if none or unknown)
	chars      int64  // length in characters of a character type (0 if unknown)
	// showCharset: String names the character set, which the type text
	// does not.
	showCharset bool
}

// String renders the type for messages: COLUMN_TYPE, followed for
// character, ENUM and SET types by " character set <charset>" when the
// character set was described apart from the type text.
func (t Type) String() string {
	if t.showCharset {
		return t.columnType + " character set " + t.charset
	}
	return t.columnType
}

// ColumnType returns the type as information_schema.COLUMNS.COLUMN_TYPE
// writes it ("bigint(20) unsigned", "enum('a','b')"); for a type built from
// the binlog, as the binlog describes it (no display widths).
func (t Type) ColumnType() string { return t.columnType }

// Charset returns the character set of a character, ENUM or SET type
// ("" for other types and where unknown).
func (t Type) Charset() string { return t.charset }

// Collation returns the collation of a character, ENUM or SET type (""
// for other types and where unknown).
func (t Type) Collation() string { return t.collation }

// Chars returns the declared length in characters of a CHAR or VARCHAR
// type (information_schema's CHARACTER_MAXIMUM_LENGTH for other types; 0
// where unknown).
func (t Type) Chars() int64 { return t.chars }

// Binary reports whether values of t are bytes that need not be valid
// UTF-8: BINARY, VARBINARY, the BLOBs and BIT.
func (t Type) Binary() bool {
	switch t.base {
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "bit":
		return true
	}
	return false
}

// width returns the integer argument i, or def when absent.
func (t Type) width(i, def int) int {
	if i < len(t.args) {
		if n, err := strconv.Atoi(strings.TrimSpace(t.args[i])); err == nil {
			return n
		}
	}
	return def
}

// Families of base types.
var (
	intBits   = map[string]int{"tinyint": 8, "smallint": 16, "mediumint": 24, "int": 32, "integer": 32, "bigint": 64}
	charTypes = map[string]bool{"char": true, "varchar": true, "tinytext": true, "text": true, "mediumtext": true, "longtext": true}
	byteTypes = map[string]bool{"binary": true, "varbinary": true, "tinyblob": true, "blob": true, "mediumblob": true, "longblob": true}
	geoTypes  = map[string]bool{"geometry": true, "point": true, "linestring": true, "polygon": true, "multipoint": true,
		"multilinestring": true, "multipolygon": true, "geometrycollection": true, "geomcollection": true}
)

// labelled reports whether t is ENUM or SET.
func (t Type) labelled() bool { return t.base == "enum" || t.base == "set" }

// textual reports whether t's values are text in its character set:
// character types, ENUM and SET.
func (t Type) textual() bool { return charTypes[t.base] || t.labelled() }

// InfoSchema is a column's type as information_schema.COLUMNS describes it.
type InfoSchema struct {
	ColumnType string // COLUMN_TYPE, e.g. "bigint(20) unsigned", "decimal(10,2)", "enum('a','b')"
	DataType   string // DATA_TYPE, read when ColumnType is empty
	Charset    string // CHARACTER_SET_NAME ("" when NULL)
	Collation  string // COLLATION_NAME ("" when NULL)
	Chars      int64  // CHARACTER_MAXIMUM_LENGTH (0 when NULL)
}

// FromInfoSchema builds the type information_schema describes.
func FromInfoSchema(d InfoSchema) (Type, error) {
	text := d.ColumnType
	if strings.TrimSpace(text) == "" {
		text = d.DataType
	}
	t, err := Parse(text)
	if err != nil {
		return Type{}, err
	}
	t.setCharset(d.Charset)
	t.collation, t.chars = d.Collation, d.Chars
	return t, nil
}

// setCharset records a character set described apart from the type text,
// unless the text names one.
func (t *Type) setCharset(cs string) {
	cs = strings.ToLower(strings.TrimSpace(cs))
	if cs == "" || t.charset != "" {
		return
	}
	t.charset = cs
	t.showCharset = t.textual()
}

// Parse parses a type's text: a COLUMN_TYPE such as "bigint(20) unsigned
// zerofill", "enum('a','b')", or the type of a column definition such as
// "VARCHAR(10) CHARACTER SET latin1 COLLATE latin1_bin". Names are case
// insensitive; quoted ENUM and SET labels are unquoted (a doubled quote or
// a backslash escape stands for one character).
func Parse(text string) (Type, error) {
	s := strings.TrimSpace(text)
	t := Type{columnType: s}
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
	t.parseAttributes(strings.Fields(strings.ToLower(rest)))
	return t, nil
}

// parseAttributes reads the words after a type's name and arguments.
func (t *Type) parseAttributes(words []string) {
	for k := 0; k < len(words); k++ {
		switch w := words[k]; {
		case w == "unsigned":
			t.unsigned = true
		case w == "character" && k+2 < len(words) && words[k+1] == "set":
			t.charset = words[k+2]
			k += 2
		case w == "collate" && k+1 < len(words):
			t.collation = words[k+1]
			k++
		case w == "/*":
			// MariaDB marks old-format temporals: "datetime /* mariadb-5.3 */".
			for k < len(words) && words[k] != "*/" {
				k++
			}
		}
	}
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
			cur.WriteByte(unescape(s[i]))
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

func unescape(c byte) byte {
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

// quoteLabel quotes an ENUM or SET label so that parseTypeArgs reads it
// back.
func quoteLabel(l string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", "''").Replace(l) + "'"
}
