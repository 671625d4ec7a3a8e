package schema

import (
	"fmt"
	"strings"
)

// ENUM and SET labels.
//
// information_schema (and SHOW CREATE TABLE) hold column types in utf8mb3
// on MariaDB and MySQL alike, so each character of a label outside the
// Basic Multilingual Plane (emoji, 4-byte UTF-8) reads back as '?',
// whatever the connection's character set. A column built from such a
// COLUMN_TYPE still decodes text-protocol values (the server sends the
// stored label in full, and '?' in a shown label matches '?' or one such
// character), but a binlog value is a member index, and its label must
// come from elsewhere: the TABLE_MAP event's optional metadata, which
// carries the labels in full when binlog_row_metadata=FULL.

// MySQLLabels returns the labels of an ENUM or SET column in definition
// order (nil for other columns).
func MySQLLabels(c Column) []string {
	t, err := parseMySQLType(c.Source.Name)
	if err != nil || (t.base != "enum" && t.base != "set") {
		return nil
	}
	return t.args
}

// MySQLLabelsUncertain reports whether c is an ENUM or SET column some of
// whose labels contain '?', which may stand for a character
// information_schema could not show: its binlog values then need the
// labels from the binlog (MySQLWithLabels).
func MySQLLabelsUncertain(c Column) bool {
	for _, l := range MySQLLabels(c) {
		if strings.Contains(l, "?") {
			return true
		}
	}
	return false
}

// MySQLWithLabels returns c with its ENUM or SET labels replaced by the
// labels in full, raw: each in the column's character set, as a binlog
// TABLE_MAP event carries them (replication.TableMapEvent.EnumStrValue).
// It is an error when they are not the labels c was built with as
// information_schema shows them (a different count, or a label that
// differs other than by '?' standing for one character outside the BMP):
// the column changed.
func MySQLWithLabels(c Column, raw [][]byte) (Column, error) {
	t, err := parseMySQLType(c.Source.Name)
	if err != nil {
		return Column{}, fmt.Errorf("labels of column %s: %w", c.Name, err)
	}
	if t.base != "enum" && t.base != "set" {
		return Column{}, fmt.Errorf("labels of column %s: %s is not ENUM or SET", c.Name, t.base)
	}
	dec, ok := charsetDecoders[t.charset]
	if !ok {
		return Column{}, fmt.Errorf("labels of column %s: character set %s is not supported in the binlog", c.Name, t.charset)
	}
	labels := make([]string, len(raw))
	for i, b := range raw {
		if labels[i], ok = dec(b); !ok {
			return Column{}, fmt.Errorf("label %d of column %s in the binlog is not valid %s text", i+1, c.Name, t.charset)
		}
	}
	if len(labels) != len(t.args) {
		return Column{}, fmt.Errorf("column %s has %d labels in the binlog where information_schema showed %d", c.Name, len(labels), len(t.args))
	}
	for i, l := range labels {
		if !labelMatches(t.args[i], l) {
			return Column{}, fmt.Errorf("label %d of column %s is %q in the binlog where information_schema showed %q", i+1, c.Name, l, t.args[i])
		}
	}
	name := strings.TrimSpace(c.Source.Name)
	_, n, err := parseTypeArgs(name[len(t.base):])
	if err != nil {
		return Column{}, fmt.Errorf("labels of column %s: %w", c.Name, err)
	}
	quoted := make([]string, len(labels))
	for i, l := range labels {
		quoted[i] = "'" + strings.NewReplacer(`\`, `\\`, "'", "''").Replace(l) + "'"
	}
	out := c
	out.Source.Name = name[:len(t.base)] + "(" + strings.Join(quoted, ",") + ")" + name[len(t.base)+n:]
	return out, nil
}

// labelMatches reports whether real is the label information_schema
// shows as shown: equal, except that each '?' of shown may stand for one
// character outside the BMP.
func labelMatches(shown, real string) bool {
	if shown == real {
		return true
	}
	if !strings.Contains(shown, "?") {
		return false
	}
	rs := []rune(real)
	i := 0
	for _, c := range shown {
		if i >= len(rs) {
			return false
		}
		switch {
		case c == rs[i]:
		case c == '?' && rs[i] > 0xFFFF:
		default:
			return false
		}
		i++
	}
	return i == len(rs)
}

// MySQLCharsetText decodes b, text in the MySQL character set charset
// (as the binlog carries ENUM and SET labels), to UTF-8.
func MySQLCharsetText(charset string, b []byte) (string, error) {
	dec, ok := charsetDecoders[strings.ToLower(charset)]
	if !ok {
		return "", fmt.Errorf("character set %s is not supported in the binlog", charset)
	}
	s, ok := dec(b)
	if !ok {
		return "", fmt.Errorf("%q is not valid %s text", b, charset)
	}
	return s, nil
}

// MySQLLabelsMatch reports whether ENUM or SET labels as information_schema
// shows them (a character outside the BMP as '?') are the real labels, as
// the binlog's TABLE_MAP carries them, label by label.
func MySQLLabelsMatch(shown, real []string) bool {
	if shown == nil || real == nil || len(shown) != len(real) {
		return false
	}
	for i := range shown {
		if !labelMatches(shown[i], real[i]) {
			return false
		}
	}
	return true
}
