package postgres

import (
	"errors"

	"github.com/jackc/pglogrepl"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

// rawTuple is a pgoutput tuple as the server sent it (capture.RawRow):
// text values as they are, NULL as nil; unchanged TOAST values, which the
// server did not send, are left out. nil when td is missing or does not
// match the layout.
func rawTuple(t *table, td *pglogrepl.TupleData) capture.RawRow {
	if td == nil || len(td.Columns) != len(t.layout.Columns) {
		return nil
	}
	raw := make(capture.RawRow, 0, len(td.Columns))
	for i, c := range td.Columns {
		switch c.DataType {
		case pglogrepl.TupleDataTypeNull:
			raw = append(raw, capture.RawValue{Column: t.layout.Columns[i].Name})
		case pglogrepl.TupleDataTypeText, pglogrepl.TupleDataTypeBinary:
			raw = append(raw, capture.RawValue{Column: t.layout.Columns[i].Name, Text: capture.NewRawText(c.Data)})
		}
	}
	return raw
}

// rawValues is a snapshot row as the server returned it (capture.RawRow):
// vals in the table's column order, nil for NULL. A value read in binary
// form (see readCodec) is given as PostgreSQL prints it (bytea in hex).
func rawValues(t *table, vals [][]byte, codec rowCodec) capture.RawRow {
	if len(vals) != len(t.layout.Columns) {
		return nil
	}
	raw := make(capture.RawRow, len(vals))
	for i, v := range vals {
		raw[i].Column = t.layout.Columns[i].Name
		if v != nil && codec.binaryAt(i) {
			text := codec.text(i, v)
			raw[i].Text = &text
			continue
		}
		raw[i].Text = capture.NewRawText(v)
	}
	return raw
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 2*len(b))
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&15]
	}
	return string(out)
}

// oldKey decodes the key columns of an old tuple td (REPLICA IDENTITY
// FULL) whose full decode failed with err: a row with only the key set,
// when err is a *schema.ValueError and the key decodes, so that a delete,
// or an update that corrects the row, still applies by key; else err.
func oldKey(t *table, td *pglogrepl.TupleData, err error) (schema.Row, error) {
	var verr *schema.ValueError
	if !errors.As(err, &verr) || td == nil || len(td.Columns) != len(t.decoders) {
		return nil, err
	}
	row := make(schema.Row, len(td.Columns))
	for _, k := range t.layout.Key {
		c := td.Columns[k]
		if c.DataType != pglogrepl.TupleDataTypeText {
			return nil, err
		}
		v, kerr := t.decoders[k](c.Data)
		if kerr != nil {
			return nil, err
		}
		row[k] = v
	}
	return row, nil
}
