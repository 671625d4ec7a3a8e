package schema

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/iceberg-go"
)

// Binary encodings of canonical values.
//
// Row codec (AppendRow/DecodeRow), used to spill buffered rows to disk:
//
//	row   = version:byte(=1) count:uvarint value*count
//	value = tag:byte payload
//
// Key encoding (AppendKey/AppendKeyOf/HashRow) is the concatenation of the
// key columns' values in the same value encoding, without version or
// count, and with floats canonicalised (-0 as +0, every NaN as one NaN) so
// that equal values have equal bytes and vice versa.
//
// Payloads by tag (integers zigzag varints, fixed-width little endian):
//
//	0  NULL         (none)
//	1  Unchanged    (none)
//	2  false        (none)
//	3  true         (none)
//	4  int32        varint
//	5  int64        varint
//	6  float32      4 bytes, IEEE 754 bits
//	7  float64      8 bytes, IEEE 754 bits
//	8  decimal128   8 bytes low word, 8 bytes high word (two's complement)
//	9  string       uvarint length, UTF-8 bytes
//	10 []byte       uvarint length, bytes
//	11 [16]byte     16 bytes
//	12 []any        uvarint count, value*count
//
// Both formats are pinned by golden tests (testdata/); changing a byte
// means a new version.

// RowCodecVersion is the first byte of every AppendRow encoding.
const RowCodecVersion = 1

const (
	tagNull byte = iota
	tagUnchanged
	tagFalse
	tagTrue
	tagInt32
	tagInt64
	tagFloat32
	tagFloat64
	tagDecimal
	tagString
	tagBinary
	tagUUID
	tagList
)

// canonicalNaN is the bit pattern every NaN is keyed and hashed as.
const (
	canonicalNaN64 = 0x7ff8000000000000
	canonicalNaN32 = 0x7fc00000
)

// AppendRow appends the versioned binary encoding of r, a row of t, to
// dst. Decoding it with DecodeRow yields r again, bit for bit (NaN
// payloads included). It fails when len(r) != len(t.Columns) or a value's
// Go type is not the canonical one for its column's type (nil and
// Unchanged fit every column). On error dst is returned unchanged.
func AppendRow(dst []byte, t *Table, r Row) ([]byte, error) {
	orig := len(dst)
	if len(r) != len(t.Columns) {
		return dst, fmt.Errorf("encode row: %d values for %d columns", len(r), len(t.Columns))
	}
	dst = append(dst, RowCodecVersion)
	dst = binary.AppendUvarint(dst, uint64(len(r)))
	for i, v := range r {
		var ok bool
		dst, ok = appendValue(dst, v, t.Columns[i].Type, false)
		if !ok {
			return dst[:orig], fmt.Errorf("encode row: column %s (%s) holds %T", t.Columns[i].Name, t.Columns[i].Type, v)
		}
	}
	return dst, nil
}

// AppendKey appends the key encoding of r's key columns (t.Key order) to
// dst. Two rows' key bytes are equal exactly when their key values are.
// r must be a full row of t. A value whose Go type is not canonical for its
// column is encoded as an opaque tagged text form (still deterministic).
func AppendKey(dst []byte, t *Table, r Row) []byte {
	for _, k := range t.Key {
		dst = appendKeyValue(dst, r[k], t.Columns[k].Type)
	}
	return dst
}

// AppendKeyOf is AppendKey for a key-only row: key[i] is the value of
// column t.Key[i]. AppendKeyOf(dst, t, KeyRow(t, r)) == AppendKey(dst, t, r).
func AppendKeyOf(dst []byte, t *Table, key Row) []byte {
	for i, k := range t.Key {
		dst = appendKeyValue(dst, key[i], t.Columns[k].Type)
	}
	return dst
}

// KeyTable returns the table of t's key columns alone, in t.Key order,
// every one of them a key column: the layout of a key-only row (KeyRow).
func KeyTable(t *Table) *Table {
	kt := &Table{Columns: make([]Column, len(t.Key)), Key: make([]int, len(t.Key))}
	for i, k := range t.Key {
		kt.Columns[i], kt.Key[i] = t.Columns[k], i
	}
	return kt
}

// KeyImage is a key as a keyed buffer holds it, undecoded: Key is its
// AppendKey encoding under a table t, Image an AppendRow encoding of the
// row it belongs to, of t or, when KeyOnly, of KeyTable(t). Readers that
// look keys up by their encoding decode the values (Values) only of the
// keys they find.
type KeyImage struct {
	Key, Image []byte
	KeyOnly    bool
}

// Values decodes the key values of k (t.Key order, as KeyRow gives them);
// kt is KeyTable(t).
func (k KeyImage) Values(t, kt *Table) (Row, error) {
	if k.KeyOnly {
		return DecodeRow(kt, k.Image)
	}
	return DecodeKey(t, k.Image)
}

// KeyRow returns the key values of r in t.Key order (a new Row).
func KeyRow(t *Table, r Row) Row {
	key := make(Row, len(t.Key))
	for i, k := range t.Key {
		key[i] = r[k]
	}
	return key
}

// appendKeyValue encodes one key value; values that do not fit typ fall
// back to tag 0xff and their %T:%v text so that keys stay deterministic.
func appendKeyValue(dst []byte, v any, typ iceberg.Type) []byte {
	out, ok := appendValue(dst, v, typ, true)
	if !ok {
		s := fmt.Sprintf("%T:%v", v, v)
		out = append(dst, 0xff)
		out = binary.AppendUvarint(out, uint64(len(s)))
		out = append(out, s...)
	}
	return out
}

// appendValue encodes v, checking that its Go type is canonical for typ.
// canonical folds -0 and NaNs (key encoding).
func appendValue(dst []byte, v any, typ iceberg.Type, canonical bool) ([]byte, bool) {
	if v == nil {
		return append(dst, tagNull), true
	}
	want := tagFor(typ)
	switch x := v.(type) {
	case bool:
		if want != tagTrue {
			return dst, false
		}
		if x {
			return append(dst, tagTrue), true
		}
		return append(dst, tagFalse), true
	case int32:
		return binary.AppendVarint(append(dst, tagInt32), int64(x)), want == tagInt32
	case int64:
		return binary.AppendVarint(append(dst, tagInt64), x), want == tagInt64
	case float32:
		bits := floatBits(x, math.Float32bits, canonicalNaN32, canonical)
		return binary.LittleEndian.AppendUint32(append(dst, tagFloat32), bits), want == tagFloat32
	case float64:
		bits := floatBits(x, math.Float64bits, canonicalNaN64, canonical)
		return binary.LittleEndian.AppendUint64(append(dst, tagFloat64), bits), want == tagFloat64
	case decimal128.Num:
		dst = binary.LittleEndian.AppendUint64(append(dst, tagDecimal), x.LowBits())
		return binary.LittleEndian.AppendUint64(dst, uint64(x.HighBits())), want == tagDecimal
	case string:
		dst = binary.AppendUvarint(append(dst, tagString), uint64(len(x)))
		return append(dst, x...), want == tagString
	case []byte:
		dst = binary.AppendUvarint(append(dst, tagBinary), uint64(len(x)))
		return append(dst, x...), want == tagBinary
	case [16]byte:
		return append(append(dst, tagUUID), x[:]...), want == tagUUID
	case []any:
		lt, ok := typ.(*iceberg.ListType)
		if !ok || lt == nil {
			return dst, false
		}
		dst = binary.AppendUvarint(append(dst, tagList), uint64(len(x)))
		for _, e := range x {
			if IsUnchanged(e) {
				return dst, false
			}
			if dst, ok = appendValue(dst, e, lt.Element, canonical); !ok {
				return dst, false
			}
		}
		return dst, true
	}
	if IsUnchanged(v) {
		return append(dst, tagUnchanged), true
	}
	return dst, false
}

// floatBits returns the IEEE 754 bits of f; canonical folds -0 into +0
// and every NaN into the bits nan.
func floatBits[F float32 | float64, B uint32 | uint64](f F, bits func(F) B, nan B, canonical bool) B {
	switch {
	case canonical && f != f:
		return nan
	case canonical && f == 0:
		return 0
	}
	return bits(f)
}

// tagFor returns the tag of the canonical Go type of typ (tagTrue stands
// for bool), or 0xff for a type with no canonical value.
func tagFor(typ iceberg.Type) byte {
	switch typ.(type) {
	case iceberg.BooleanType:
		return tagTrue
	case iceberg.Int32Type, iceberg.DateType:
		return tagInt32
	case iceberg.Int64Type, iceberg.TimeType, iceberg.TimestampType, iceberg.TimestampTzType,
		iceberg.TimestampNsType, iceberg.TimestampTzNsType:
		return tagInt64
	case iceberg.Float32Type:
		return tagFloat32
	case iceberg.Float64Type:
		return tagFloat64
	case iceberg.DecimalType:
		return tagDecimal
	case iceberg.StringType:
		return tagString
	case iceberg.BinaryType, iceberg.FixedType:
		return tagBinary
	case iceberg.UUIDType:
		return tagUUID
	case *iceberg.ListType:
		return tagList
	}
	return 0xff
}

// errCorrupt is wrapped by every DecodeRow failure on malformed input.
var errCorrupt = errors.New("corrupt row encoding")

// DecodeRow decodes an AppendRow encoding of a row of t. It fails on an
// unknown version, a column count other than len(t.Columns), a value that
// does not fit its column's type, truncated or trailing bytes; it never
// panics, whatever b holds. Strings and byte slices are copied out of b.
func DecodeRow(t *Table, b []byte) (Row, error) {
	r := make(Row, len(t.Columns))
	if err := decodeRow(t, b, nil, func(i int, v any) { r[i] = v }); err != nil {
		return nil, err
	}
	return r, nil
}

// DecodeKey decodes the key values (t.Key order, as KeyRow gives them)
// of an AppendRow encoding of a row of t. It checks b as DecodeRow does,
// but copies out only the key values: the others, however large, cost no
// memory.
func DecodeKey(t *Table, b []byte) (Row, error) {
	keep := make([]bool, len(t.Columns))
	slot := make([]int, len(t.Columns))
	for j, k := range t.Key {
		keep[k], slot[k] = true, j
	}
	key := make(Row, len(t.Key))
	if err := decodeRow(t, b, keep, func(i int, v any) { key[slot[i]] = v }); err != nil {
		return nil, err
	}
	return key, nil
}

// decodeRow checks b and passes set the value of every column i with
// keep[i] (every column when keep is nil); the other values are skipped
// without being copied.
func decodeRow(t *Table, b []byte, keep []bool, set func(i int, v any)) error {
	d, err := rowHeader(t, b)
	if err != nil {
		return err
	}
	var v RawValue
	for i, c := range t.Columns {
		d.skip = keep != nil && !keep[i]
		if !d.value(c.Type, true, &v) {
			return d.corrupt(c)
		}
		if !d.skip {
			set(i, v.Box())
		}
	}
	return d.end()
}

// rowHeader checks the version and column count of b, an encoding of a
// row of t, and returns the decoder of its values.
func rowHeader(t *Table, b []byte) (rowDecoder, error) {
	if len(b) == 0 {
		return rowDecoder{}, fmt.Errorf("decode row: %w: empty", errCorrupt)
	}
	if b[0] != RowCodecVersion {
		return rowDecoder{}, fmt.Errorf("decode row: unknown codec version %d", b[0])
	}
	d := rowDecoder{b: b, i: 1}
	n, ok := d.uvarint()
	if !ok || n != uint64(len(t.Columns)) {
		return rowDecoder{}, fmt.Errorf("decode row: %w: column count does not match %d columns", errCorrupt, len(t.Columns))
	}
	return d, nil
}

// corrupt is the error of a value of column c that does not decode.
func (d *rowDecoder) corrupt(c Column) error {
	return fmt.Errorf("decode row: %w: column %s (%s) at byte %d", errCorrupt, c.Name, c.Type, d.i)
}

// end fails unless every byte was decoded.
func (d *rowDecoder) end() error {
	if d.i != len(d.b) {
		return fmt.Errorf("decode row: %w: %d trailing bytes", errCorrupt, len(d.b)-d.i)
	}
	return nil
}

type rowDecoder struct {
	b    []byte
	i    int
	skip bool // check values but decode no list
}

func (d *rowDecoder) uvarint() (uint64, bool) {
	v, n := binary.Uvarint(d.b[d.i:])
	return v, d.advance(n)
}

func (d *rowDecoder) varint() (int64, bool) {
	v, n := binary.Varint(d.b[d.i:])
	return v, d.advance(n)
}

// advance moves past a varint of n bytes as encoding/binary's Uvarint and
// Varint report it: n <= 0 (truncated or overflowing input, whose value
// they return as 0) reports false and moves nothing.
func (d *rowDecoder) advance(n int) bool {
	if n <= 0 {
		return false
	}
	d.i += n
	return true
}

func (d *rowDecoder) take(n uint64) ([]byte, bool) {
	if n > uint64(len(d.b)-d.i) {
		return nil, false
	}
	s := d.b[d.i : d.i+int(n)]
	d.i += int(n)
	return s, true
}

// value decodes one value of type typ; top marks a row-level value (only
// those may be Unchanged). Strings, byte slices and uuids are views into
// d.b; a list is decoded into its canonical []any unless d.skip.
func (d *rowDecoder) value(typ iceberg.Type, top bool, out *RawValue) bool {
	*out = RawValue{}
	if d.i >= len(d.b) {
		return false
	}
	tag := d.b[d.i]
	d.i++
	switch tag {
	case tagNull:
		return true
	case tagUnchanged:
		out.Kind = RawUnchanged
		return top
	}
	want := tagFor(typ)
	if tag != want && !(want == tagTrue && tag == tagFalse) {
		return false
	}
	switch tag {
	case tagFalse:
		out.Kind = RawBool
		return true
	case tagTrue:
		out.Kind, out.Int = RawBool, 1
		return true
	case tagInt32:
		v, ok := d.varint()
		out.Kind, out.Int = RawInt32, v
		return ok && v == int64(int32(v))
	case tagInt64:
		v, ok := d.varint()
		out.Kind, out.Int = RawInt64, v
		return ok
	case tagFloat32:
		p, ok := d.take(4)
		if !ok {
			return false
		}
		out.Kind, out.Bits = RawFloat32, uint64(binary.LittleEndian.Uint32(p))
		return true
	case tagFloat64:
		p, ok := d.take(8)
		if !ok {
			return false
		}
		out.Kind, out.Bits = RawFloat64, binary.LittleEndian.Uint64(p)
		return true
	case tagDecimal:
		p, ok := d.take(16)
		if !ok {
			return false
		}
		out.Kind, out.Bits, out.High = RawDecimal, binary.LittleEndian.Uint64(p), int64(binary.LittleEndian.Uint64(p[8:]))
		return true
	case tagString, tagBinary:
		n, ok := d.uvarint()
		if !ok {
			return false
		}
		p, ok := d.take(n)
		if !ok {
			return false
		}
		out.Kind, out.Bytes = RawBinary, p
		if tag == tagString {
			out.Kind = RawString
		}
		return true
	case tagUUID:
		p, ok := d.take(16)
		if !ok {
			return false
		}
		out.Kind, out.Bytes = RawUUID, p
		return true
	case tagList:
		n, ok := d.uvarint()
		if !ok || n > uint64(len(d.b)-d.i) { // every element takes at least one byte
			return false
		}
		lt := typ.(*iceberg.ListType)
		if lt == nil {
			return false
		}
		out.Kind = RawList
		var e RawValue
		if d.skip {
			for range n {
				if !d.value(lt.Element, false, &e) {
					return false
				}
			}
			return true
		}
		list := make([]any, n)
		for j := range list {
			if !d.value(lt.Element, false, &e) {
				return false
			}
			list[j] = e.Box()
		}
		out.List = list
		return true
	}
	return false
}
