package schema

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// ValueError reports a source value that cannot be decoded into its
// column's Iceberg type exactly. Decoders return it (as *ValueError) so
// callers can branch with errors.As; Error names the column, the source
// type, the value and the reason.
type ValueError struct {
	Column     string // column name
	SourceType string // the column's type as the source prints it
	Value      string // the offending text, cut to maxErrValue bytes
	Reason     string // why, and when there is one, what to do about it
	// Key names the row, "id=5" or "tenant=a, seq=7", when the caller
	// knows it (WithRowKey); "" otherwise.
	Key string
}

// maxErrValue bounds the value quoted in a ValueError.
const maxErrValue = 200

func (e *ValueError) Error() string {
	if e.Key != "" {
		return "row with key " + e.Key + ": column " + e.Column + " (" + e.SourceType + "): value " + strconv.Quote(e.Value) + ": " + e.Reason
	}
	return "column " + e.Column + " (" + e.SourceType + "): value " + strconv.Quote(e.Value) + ": " + e.Reason
}

// NewValueError builds the ValueError of column, whose type the source
// prints as sourceType, for the value text, quoting at most maxErrValue
// bytes of it (cut at a rune boundary).
func NewValueError(column, sourceType string, text []byte, reason string) *ValueError {
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
	return &ValueError{Column: column, SourceType: sourceType, Value: s, Reason: reason}
}

// WithRowKey returns err naming the row it is about when err is a
// *ValueError without a key: a copy with Key set to the pairs of names
// and values ("id=5, seq=7"; each value cut as NewValueError cuts it).
// Any other error, or names empty, is returned as it is.
func WithRowKey(err error, names []string, values [][]byte) error {
	ve, ok := err.(*ValueError)
	if !ok || ve.Key != "" || len(names) == 0 || len(names) != len(values) {
		return err
	}
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(n)
		b.WriteByte('=')
		if values[i] == nil {
			b.WriteString("NULL")
			continue
		}
		b.WriteString(NewValueError("", "", values[i], "").Value)
	}
	c := *ve
	c.Key = b.String()
	return &c
}
