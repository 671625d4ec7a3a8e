package toolkit

import (
	"errors"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

// UndecodableByKey adapts bad, a capture.TableScanner caller's handler
// of undecodable rows by key, to a reader's handler of a row it could not
// decode, given with the row as the source sent it (capture.RawRow, in
// layout's column order): decode turns key column col's text into its
// value. A row whose key is NULL or cannot be decoded ends the read with
// the row's own error. A nil bad gives nil (the read ends at such a row).
func UndecodableByKey(layout *schema.Table, decode func(col int, text []byte) (any, error),
	bad func(key schema.Row, err error) error) func(error, capture.RawRow) error {
	if bad == nil {
		return nil
	}
	return func(rowErr error, raw capture.RawRow) error {
		key, err := rawKey(layout, raw, decode)
		if err != nil {
			return rowErr
		}
		return bad(key, rowErr)
	}
}

// rawKey decodes the key columns of raw into a row of layout with only
// the key set.
func rawKey(layout *schema.Table, raw capture.RawRow, decode func(col int, text []byte) (any, error)) (schema.Row, error) {
	if len(raw) != len(layout.Columns) {
		return nil, errors.New("row does not match the layout")
	}
	key := make(schema.Row, len(raw))
	for _, k := range layout.Key {
		if raw[k].Text == nil {
			return nil, errors.New("NULL key")
		}
		v, err := decode(k, []byte(*raw[k].Text))
		if err != nil {
			return nil, err
		}
		key[k] = v
	}
	return key, nil
}
