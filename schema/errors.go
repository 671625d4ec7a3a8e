package schema

import (
	"strconv"
	"unicode/utf8"
)

// ValueError reports a source value that cannot be decoded into its
// column's Iceberg type exactly. Decoders return it (as *ValueError) so
// callers can branch with errors.As; Error names the column, the source
// type, the value and the reason.
type ValueError struct {
	Column     string // column name
	SourceType string // source type as the source prints it, e.g. "numeric(10,2)" or "int4[]"
	Value      string // the offending text, cut to maxErrValue bytes
	Reason     string // why, and when there is one, what to do about it
}

// maxErrValue bounds the value quoted in a ValueError.
const maxErrValue = 200

func (e *ValueError) Error() string {
	return "column " + e.Column + " (" + e.SourceType + "): value " + strconv.Quote(e.Value) + ": " + e.Reason
}

// newValueError builds a ValueError for column c, quoting at most
// maxErrValue bytes of text (cut at a rune boundary).
func newValueError(c *Column, text []byte, reason string) *ValueError {
	v := text
	cut := false
	if len(v) > maxErrValue {
		v, cut = v[:maxErrValue], true
		for i := 0; i < utf8.UTFMax && len(v) > 0 && !utf8.RuneStart(text[len(v)]); i++ {
			v = v[:len(v)-1]
		}
	}
	s := string(v)
	if cut {
		s += "..."
	}
	return &ValueError{Column: c.Name, SourceType: describeSource(c.Source), Value: s, Reason: reason}
}

// describeSource renders t for messages, with numeric's precision and scale.
func describeSource(t SourceType) string {
	if t.Kind == KindArray && t.Elem != nil {
		e := *t.Elem
		if e.Modifier <= 0 && t.Modifier > 0 {
			e.Modifier = t.Modifier
		}
		return describeSource(e) + "[]"
	}
	if builtinOID(t) == oidNumeric {
		if p, s, ok := numericTypmod(t.Modifier); ok {
			return t.Name + "(" + strconv.Itoa(p) + "," + strconv.Itoa(s) + ")"
		}
	}
	return t.String()
}
