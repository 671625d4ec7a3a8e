package postgres

import (
	"encoding/binary"
	"fmt"

	"github.com/jackc/pglogrepl"
)

// parseMessage parses one pgoutput message. Insert, Update and Delete
// messages are parsed here so that their column values are slices of data,
// not copies (pglogrepl copies every value: a row with a 50 MB text and a
// 50 MB bytea value, 150 MB as text, would be held twice). The values are
// therefore valid only while data is: until the next message is received.
// decodeTuple copies what it keeps. Other messages go to pglogrepl.Parse.
func parseMessage(data []byte) (pglogrepl.Message, error) {
	switch data[0] {
	case 'I':
		p := parser{b: data, i: 1}
		m := &pglogrepl.InsertMessage{RelationID: p.uint32()}
		if kind := p.byte(); kind != 'N' && p.err == nil {
			return nil, fmt.Errorf("insert: tuple kind %q, want 'N'", kind)
		}
		m.Tuple = p.tuple()
		m.SetType(pglogrepl.MessageTypeInsert)
		return m, p.done("insert")
	case 'U':
		p := parser{b: data, i: 1}
		m := &pglogrepl.UpdateMessage{RelationID: p.uint32()}
		kind := p.byte()
		if kind == 'K' || kind == 'O' {
			m.OldTupleType, m.OldTuple = kind, p.tuple()
			kind = p.byte()
		}
		if kind != 'N' && p.err == nil {
			return nil, fmt.Errorf("update: tuple kind %q, want 'N'", kind)
		}
		m.NewTuple = p.tuple()
		m.SetType(pglogrepl.MessageTypeUpdate)
		return m, p.done("update")
	case 'D':
		p := parser{b: data, i: 1}
		m := &pglogrepl.DeleteMessage{RelationID: p.uint32(), OldTupleType: p.byte()}
		if m.OldTupleType != 'K' && m.OldTupleType != 'O' && p.err == nil {
			return nil, fmt.Errorf("delete: tuple kind %q, want 'K' or 'O'", m.OldTupleType)
		}
		m.OldTuple = p.tuple()
		m.SetType(pglogrepl.MessageTypeDelete)
		return m, p.done("delete")
	}
	return pglogrepl.Parse(data)
}

// parser reads a pgoutput message; the first read past its end sets err
// and every later read returns zero values.
type parser struct {
	b   []byte
	i   int
	err error
}

func (p *parser) take(n int) []byte {
	if p.err != nil {
		return nil
	}
	if n < 0 || n > len(p.b)-p.i {
		p.err = fmt.Errorf("message truncated at byte %d (%d more wanted)", p.i, n)
		return nil
	}
	s := p.b[p.i : p.i+n : p.i+n]
	p.i += n
	return s
}

func (p *parser) byte() byte {
	if s := p.take(1); s != nil {
		return s[0]
	}
	return 0
}

func (p *parser) uint32() uint32 {
	if s := p.take(4); s != nil {
		return binary.BigEndian.Uint32(s)
	}
	return 0
}

// tuple reads a TupleData: Int16 column count, then per column a kind
// ('n' null, 'u' unchanged TOAST, 't' text or 'b' binary with an Int32
// length and the bytes).
func (p *parser) tuple() *pglogrepl.TupleData {
	s := p.take(2)
	if s == nil {
		return nil
	}
	n := binary.BigEndian.Uint16(s)
	td := &pglogrepl.TupleData{ColumnNum: n, Columns: make([]*pglogrepl.TupleDataColumn, n)}
	cols := make([]pglogrepl.TupleDataColumn, n)
	for i := range cols {
		c := &cols[i]
		c.DataType = p.byte()
		switch c.DataType {
		case pglogrepl.TupleDataTypeText, pglogrepl.TupleDataTypeBinary:
			c.Length = p.uint32()
			c.Data = p.take(int(c.Length))
		case pglogrepl.TupleDataTypeNull, pglogrepl.TupleDataTypeToast:
		default:
			if p.err == nil {
				p.err = fmt.Errorf("column %d: unknown tuple data kind %q", i, c.DataType)
			}
		}
		td.Columns[i] = c
	}
	return td
}

// done reports a truncated or overlong message.
func (p *parser) done(what string) error {
	if p.err == nil && p.i != len(p.b) {
		p.err = fmt.Errorf("%d bytes after the message", len(p.b)-p.i)
	}
	if p.err != nil {
		return fmt.Errorf("%s message: %w", what, p.err)
	}
	return nil
}
