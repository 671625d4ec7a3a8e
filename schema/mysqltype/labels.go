package mysqltype

import (
	"fmt"
	"strings"

	"github.com/floe-cdc/floe/schema"
)

// ENUM and SET labels.
//
// information_schema (and SHOW CREATE TABLE) hold column types in utf8mb3
// on MariaDB and MySQL alike, so each character of a label outside the
// Basic Multilingual Plane (emoji, 4-byte UTF-8) reads back as '?',
// whatever the connection's character set. A column whose Type came from
// information_schema still decodes text-protocol values (the server sends
// the stored label in full, and '?' in a shown label matches '?' or one
// such character), but a binlog value is a member index, and its label
// must come from elsewhere: the TABLE_MAP event's optional metadata, which
// carries the labels in full when binlog_row_metadata=FULL (see
// FromBinlog and WithLabels).

// Labels returns the labels of an ENUM or SET column in definition order
// (nil for other columns).
func Labels(c schema.Column) []string {
	t, err := typeOf(c)
	if err != nil || !t.labelled() {
		return nil
	}
	return t.args
}

// LabelsUncertain reports whether c is an ENUM or SET column some of whose
// labels contain '?', which may stand for a character information_schema
// could not show: its binlog values then need the labels from the binlog
// (WithLabels).
func LabelsUncertain(c schema.Column) bool {
	for _, l := range Labels(c) {
		if strings.Contains(l, "?") {
			return true
		}
	}
	return false
}

// WithLabels returns c with its ENUM or SET labels replaced by the labels
// in full, raw: each in the column's character set, as a binlog TABLE_MAP
// event carries them (replication.TableMapEvent.EnumStrValue). It is an
// error when they are not the labels c was built with as
// information_schema shows them (a different count, or a label that
// differs other than by '?' standing for one character outside the BMP):
// the column changed.
func WithLabels(c schema.Column, raw [][]byte) (schema.Column, error) {
	t, err := typeOf(c)
	if err != nil {
		return schema.Column{}, fmt.Errorf("labels of %w", err)
	}
	if !t.labelled() {
		return schema.Column{}, fmt.Errorf("labels of column %s: %s is not ENUM or SET", c.Name, t.base)
	}
	dec, ok := charsetDecoders[t.charset]
	if !ok {
		return schema.Column{}, fmt.Errorf("labels of column %s: character set %s is not supported in the binlog", c.Name, t.charset)
	}
	labels := make([]string, len(raw))
	for i, b := range raw {
		if labels[i], ok = dec(b); !ok {
			return schema.Column{}, fmt.Errorf("label %d of column %s in the binlog is not valid %s text", i+1, c.Name, t.charset)
		}
	}
	if len(labels) != len(t.args) {
		return schema.Column{}, fmt.Errorf("column %s has %d labels in the binlog where information_schema showed %d", c.Name, len(labels), len(t.args))
	}
	for i, l := range labels {
		if !labelMatches(t.args[i], l) {
			return schema.Column{}, fmt.Errorf("label %d of column %s is %q in the binlog where information_schema showed %q", i+1, c.Name, l, t.args[i])
		}
	}
	full, err := t.withLabels(labels)
	if err != nil {
		return schema.Column{}, fmt.Errorf("labels of column %s: %w", c.Name, err)
	}
	out := c
	out.Source = full
	return out, nil
}

// withLabels returns t, an ENUM or SET, with the labels labels, written
// into its type text in place of the ones there.
func (t Type) withLabels(labels []string) (Type, error) {
	_, n, err := parseTypeArgs(t.columnType[len(t.base):])
	if err != nil {
		return Type{}, err
	}
	quoted := make([]string, len(labels))
	for i, l := range labels {
		quoted[i] = quoteLabel(l)
	}
	out := t
	out.args = labels
	out.columnType = t.columnType[:len(t.base)] + "(" + strings.Join(quoted, ",") + ")" + t.columnType[len(t.base)+n:]
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

// labelsMatch reports whether ENUM or SET labels as information_schema
// shows them (a character outside the BMP as '?') are the real labels, as
// the binlog's TABLE_MAP carries them, label by label.
func labelsMatch(shown, real []string) bool {
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
