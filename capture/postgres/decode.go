package postgres

import (
	"errors"
	"fmt"

	"github.com/jackc/pglogrepl"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

// decodeTuple decodes a pgoutput tuple: 'n' is NULL, 'u' (unchanged
// TOAST) is schema.Unchanged, 't' goes through the column's decoder, the
// same one the snapshot uses.
func decodeTuple(t *table, td *pglogrepl.TupleData) (schema.Row, error) {
	if td == nil {
		return nil, errors.New("tuple missing")
	}
	if len(td.Columns) != len(t.decoders) {
		return nil, fmt.Errorf("tuple has %d columns, the layout has %d", len(td.Columns), len(t.decoders))
	}
	row := make(schema.Row, len(td.Columns))
	for i, c := range td.Columns {
		switch c.DataType {
		case pglogrepl.TupleDataTypeNull:
		case pglogrepl.TupleDataTypeToast:
			row[i] = schema.Unchanged
		case pglogrepl.TupleDataTypeText:
			v, err := t.decoders[i](c.Data)
			if err != nil {
				return nil, withRowKey(t, err, func(k int) []byte { return tupleText(td, k) })
			}
			row[i] = v
		default:
			return nil, fmt.Errorf("column %s: unsupported tuple data kind %q", t.layout.Columns[i].Name, c.DataType)
		}
	}
	return row, nil
}

// decodeUpdate builds an OpUpdate change. A 'K' old tuple gives a key-only
// Before; an 'O' old tuple (REPLICA IDENTITY FULL) a full one, from which
// unchanged After values are filled. An 'O' old tuple with a value that
// cannot be decoded gives a key-only Before when its key decodes (the
// update that corrects such a row applies).
func decodeUpdate(t *table, m *pglogrepl.UpdateMessage) (capture.Change, error) {
	after, err := decodeTuple(t, m.NewTuple)
	if err != nil {
		return capture.Change{}, err
	}
	ch := capture.Change{Op: capture.OpUpdate, After: after}
	switch m.OldTupleType {
	case pglogrepl.UpdateMessageTupleTypeKey:
		ch.Before, err = decodeTuple(t, m.OldTuple)
		ch.BeforeKeyOnly = true
	case pglogrepl.UpdateMessageTupleTypeOld:
		ch.Before, err = decodeTuple(t, m.OldTuple)
		if err == nil {
			for i, v := range after {
				if schema.IsUnchanged(v) && !schema.IsUnchanged(ch.Before[i]) {
					after[i] = ch.Before[i]
				}
			}
		} else if ch.Before, err = oldKey(t, m.OldTuple, err); err == nil {
			ch.BeforeKeyOnly = true // the old row held a value that cannot be decoded; the new one can
		}
	}
	if err != nil {
		return capture.Change{}, fmt.Errorf("old tuple: %w", err)
	}
	return ch, nil
}

// decodeDelete builds an OpDelete change. An 'O' old tuple (REPLICA
// IDENTITY FULL) with a value that cannot be decoded gives a key-only
// Before when its key decodes; a key that cannot be decoded is the
// error, with the tuple as sent (Raw).
func decodeDelete(t *table, m *pglogrepl.DeleteMessage) (capture.Change, error) {
	before, err := decodeTuple(t, m.OldTuple)
	keyOnly := m.OldTupleType == pglogrepl.DeleteMessageTupleTypeKey
	if err != nil && !keyOnly {
		before, err = oldKey(t, m.OldTuple, err)
		keyOnly = true
	}
	if err != nil {
		return capture.Change{Raw: rawTuple(t, m.OldTuple)}, err
	}
	return capture.Change{Op: capture.OpDelete, Before: before, BeforeKeyOnly: keyOnly}, nil
}

// tupleText is the text of column k of td, nil unless sent as text.
func tupleText(td *pglogrepl.TupleData, k int) []byte {
	if c := td.Columns[k]; c.DataType == pglogrepl.TupleDataTypeText {
		return c.Data
	}
	return nil
}
