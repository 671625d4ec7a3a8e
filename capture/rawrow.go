package capture

import (
	"bytes"
	"encoding/json"
)

// RawValue is one column of a row as the source sent it: Text is the
// value's text form (nil for NULL).
type RawValue struct {
	Column string
	Text   *string
}

// RawRow is a row as the source sent it, column by column in the
// source's order, before any decoder turned it into canonical values. A
// change whose value could not be decoded carries it (Change.Raw) so that
// the row can be kept as it was (a dead letter). Columns the source did
// not send (PostgreSQL unchanged TOAST values) are absent.
type RawRow []RawValue

// NewRawText returns the text of a value read as bytes, nil for nil (NULL).
func NewRawText(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}

// MarshalJSON renders the row as one JSON object in column order: each
// column's text as a JSON string, NULL as JSON null. Text that is not
// valid UTF-8 is written with encoding/json's replacement of invalid
// bytes (U+FFFD).
func (r RawRow) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, v := range r {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(v.Column)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		if v.Text == nil {
			b.WriteString("null")
			continue
		}
		t, err := json.Marshal(*v.Text)
		if err != nil {
			return nil, err
		}
		b.Write(t)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
