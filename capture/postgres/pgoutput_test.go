package postgres

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/jackc/pglogrepl"
)

// tupleCol is one column of a test tuple: kind 'n', 'u', 't' or 'b'.
type tupleCol struct {
	kind byte
	data string
}

func appendTuple(b []byte, cols ...tupleCol) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(cols)))
	for _, c := range cols {
		b = append(b, c.kind)
		if c.kind == 't' || c.kind == 'b' {
			b = binary.BigEndian.AppendUint32(b, uint32(len(c.data)))
			b = append(b, c.data...)
		}
	}
	return b
}

func msg(kind byte, rel uint32, parts ...[]byte) []byte {
	b := binary.BigEndian.AppendUint32([]byte{kind}, rel)
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func withKind(k byte, cols ...tupleCol) []byte { return appendTuple([]byte{k}, cols...) }

// pgoutputSamples are valid Insert, Update and Delete messages of every
// tuple shape.
func pgoutputSamples() [][]byte {
	row := []tupleCol{{'t', "42"}, {'t', "héllo"}, {'n', ""}, {'u', ""}, {'b', "\x00\x01"}, {'t', ""}}
	key := []tupleCol{{'t', "42"}, {'n', ""}, {'n', ""}, {'n', ""}, {'n', ""}, {'n', ""}}
	return [][]byte{
		msg('I', 7, withKind('N', row...)),
		msg('U', 7, withKind('N', row...)),
		msg('U', 7, withKind('K', key...), withKind('N', row...)),
		msg('U', 7, withKind('O', row...), withKind('N', row...)),
		msg('D', 7, withKind('K', key...)),
		msg('D', 7, withKind('O', row...)),
	}
}

// TestParseMessageMatchesPglogrepl: Insert, Update and Delete messages
// parse to what pglogrepl.Parse gives, and a text value is a slice of the
// message, not a copy of it.
func TestParseMessageMatchesPglogrepl(t *testing.T) {
	for _, data := range pgoutputSamples() {
		want, err := pglogrepl.Parse(bytes.Clone(data))
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseMessage(data)
		if err != nil {
			t.Fatalf("parseMessage(%q): %v", data, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("parseMessage(%q) = %#v, pglogrepl.Parse %#v", data, got, want)
		}
	}
	big := strings.Repeat("x", 1<<20)
	data := msg('I', 7, withKind('N', tupleCol{'t', big}))
	m, err := parseMessage(data)
	if err != nil {
		t.Fatal(err)
	}
	v := m.(*pglogrepl.InsertMessage).Tuple.Columns[0].Data
	start, end := uintptr(unsafe.Pointer(&data[0])), uintptr(unsafe.Pointer(&data[len(data)-1]))
	if p := uintptr(unsafe.Pointer(&v[0])); p < start || p > end || string(v) != big {
		t.Fatal("the value of a text column was copied out of the message")
	}
	// Other messages are pglogrepl's.
	commit := append([]byte{'C', 0}, make([]byte, 24)...)
	if _, err := parseMessage(commit); err != nil {
		t.Fatalf("commit message: %v", err)
	}
}

func TestParseMessageErrors(t *testing.T) {
	good := msg('U', 7, withKind('O', tupleCol{'t', "abc"}), withKind('N', tupleCol{'t', "abcd"}))
	for name, data := range map[string][]byte{
		"no relation":     {'I', 0, 0},
		"insert not N":    msg('I', 7, withKind('K', tupleCol{'t', "1"})),
		"update not N":    msg('U', 7, withKind('X', tupleCol{'t', "1"})),
		"delete not K/O":  msg('D', 7, withKind('N', tupleCol{'t', "1"})),
		"unknown kind":    msg('I', 7, withKind('N', tupleCol{'x', ""})),
		"length past end": append(msg('I', 7, []byte{'N', 0, 1, 't', 0xff, 0xff, 0xff, 0xff}), 'a'),
		"truncated":       good[:len(good)-1],
		"trailing bytes":  append(bytes.Clone(good), 0),
		"no tuple":        msg('D', 7, []byte{'K'}),
	} {
		if _, err := parseMessage(data); err == nil {
			t.Errorf("%s: parseMessage accepted %q", name, data)
		}
	}
}

// FuzzParseMessage: parseMessage never panics, and a message it accepts
// is a valid one (re-encoding its parse gives the same bytes).
func FuzzParseMessage(f *testing.F) {
	for _, s := range pgoutputSamples() {
		f.Add(s)
		f.Add(s[:len(s)/2])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 || !bytes.ContainsRune([]byte("IUD"), rune(data[0])) {
			return
		}
		m, err := parseMessage(data)
		if err != nil {
			return
		}
		var enc []byte
		tuple := func(k byte, td *pglogrepl.TupleData) {
			enc = append(enc, k)
			enc = binary.BigEndian.AppendUint16(enc, td.ColumnNum)
			for _, c := range td.Columns {
				enc = append(enc, c.DataType)
				if c.DataType == 't' || c.DataType == 'b' {
					enc = binary.BigEndian.AppendUint32(enc, c.Length)
					enc = append(enc, c.Data...)
				}
			}
		}
		switch m := m.(type) {
		case *pglogrepl.InsertMessage:
			enc = binary.BigEndian.AppendUint32([]byte{'I'}, m.RelationID)
			tuple('N', m.Tuple)
		case *pglogrepl.UpdateMessage:
			enc = binary.BigEndian.AppendUint32([]byte{'U'}, m.RelationID)
			if m.OldTuple != nil {
				tuple(m.OldTupleType, m.OldTuple)
			}
			tuple('N', m.NewTuple)
		case *pglogrepl.DeleteMessage:
			enc = binary.BigEndian.AppendUint32([]byte{'D'}, m.RelationID)
			tuple(m.OldTupleType, m.OldTuple)
		}
		if !bytes.Equal(enc, data) {
			t.Fatalf("accepted %x, which re-encodes to %x", data, enc)
		}
	})
}

// TestParseMessageKindErrors pins the wording of a tuple kind a message
// may not have, and that no message comes with the error.
func TestParseMessageKindErrors(t *testing.T) {
	for want, data := range map[string][]byte{
		`insert: tuple kind 'K', want 'N'`:        msg('I', 7, withKind('K', tupleCol{'t', "1"})),
		`update: tuple kind 'X', want 'N'`:        msg('U', 7, withKind('X', tupleCol{'t', "1"})),
		`update: tuple kind 'K', want 'N'`:        msg('U', 7, withKind('O', tupleCol{'t', "1"}), withKind('K', tupleCol{'t', "1"})),
		`delete: tuple kind 'N', want 'K' or 'O'`: msg('D', 7, withKind('N', tupleCol{'t', "1"})),
	} {
		m, err := parseMessage(data)
		if err == nil || err.Error() != want || m != nil {
			t.Errorf("parseMessage(%q) = %v, %v; want error %q and no message", data, m, err, want)
		}
	}
}

// BenchmarkParseMessage parses an update with an old and a new tuple, the
// longest of the row messages parseMessage reads itself.
func BenchmarkParseMessage(b *testing.B) {
	data := msg('U', 7, withKind('O', tupleCol{'t', "abc"}, tupleCol{'n', ""}), withKind('N', tupleCol{'t', "abcd"}, tupleCol{'u', ""}))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseMessage(data); err != nil {
			b.Fatal(err)
		}
	}
}
