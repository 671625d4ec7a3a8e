package postgres

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/jackc/pglogrepl"
)

// parseMessage parses one pgoutput message. Insert, Update and Delete
// messages are parsed here so that their column values are slices of data,
// not copies (pglogrepl copies every value: a row with a 50 MB text and a
// 50 MB bytea value, 150 MB as text, would be held twice). The values are
// therefore valid only while data is: until the next message is received.
// decodeTuple copies what it keeps. Other messages go to pglogrepl.Parse.
func parseMessage(data []byte) (pglogrepl.Message, error) {
	k, ok := rowMessages[data[0]]
	if !ok {
		return pglogrepl.Parse(data)
	}
	p := parser{b: data, i: 1}
	m, err := p.row(k.typ)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k.what, err)
	}
	m.SetType(k.typ)
	return m, p.done(k.what)
}

// rowMessage is a pgoutput message parseMessage reads itself.
type rowMessage interface {
	pglogrepl.Message
	SetType(pglogrepl.MessageType)
}

// rowMessages are the messages parseMessage reads itself, by their first
// byte: the name its errors give and the type.
var rowMessages = map[byte]struct {
	what string
	typ  pglogrepl.MessageType
}{
	'I': {"insert", pglogrepl.MessageTypeInsert},
	'U': {"update", pglogrepl.MessageTypeUpdate},
	'D': {"delete", pglogrepl.MessageTypeDelete},
}

// row reads the rest of a row message of type typ (one of rowMessages);
// an error is a tuple kind the message may not have. It calls the reader
// directly, not through a function value, so that p stays on the stack.
func (p *parser) row(typ pglogrepl.MessageType) (rowMessage, error) {
	switch typ {
	case pglogrepl.MessageTypeInsert:
		return p.insert()
	case pglogrepl.MessageTypeUpdate:
		return p.update()
	}
	return p.delete()
}

func (p *parser) insert() (rowMessage, error) {
	m := &pglogrepl.InsertMessage{RelationID: p.uint32()}
	if err := p.kind(p.byte(), 'N'); err != nil {
		return nil, err
	}
	m.Tuple = p.tuple()
	return m, nil
}

func (p *parser) update() (rowMessage, error) {
	m := &pglogrepl.UpdateMessage{RelationID: p.uint32()}
	kind := p.byte()
	if kind == 'K' || kind == 'O' {
		m.OldTupleType, m.OldTuple = kind, p.tuple()
		kind = p.byte()
	}
	if err := p.kind(kind, 'N'); err != nil {
		return nil, err
	}
	m.NewTuple = p.tuple()
	return m, nil
}

func (p *parser) delete() (rowMessage, error) {
	m := &pglogrepl.DeleteMessage{RelationID: p.uint32(), OldTupleType: p.byte()}
	if err := p.kind(m.OldTupleType, 'K', 'O'); err != nil {
		return nil, err
	}
	m.OldTuple = p.tuple()
	return m, nil
}

// kind reports a tuple kind that is not one of want; after a read past
// the message's end it reports nothing (done reports the truncation).
func (p *parser) kind(kind byte, want ...byte) error {
	if p.err != nil || bytes.IndexByte(want, kind) >= 0 {
		return nil
	}
	wants := make([]string, len(want))
	for i, w := range want {
		wants[i] = fmt.Sprintf("%q", w)
	}
	return fmt.Errorf("tuple kind %q, want %s", kind, strings.Join(wants, " or "))
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
