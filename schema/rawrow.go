package schema

import (
	"math"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

// RawKind says which canonical Go type (see Row) a RawValue stands for.
type RawKind uint8

// The kinds of RawValue, and the fields that hold each.
const (
	RawNull      RawKind = iota // nil
	RawUnchanged                // Unchanged
	RawBool                     // bool: Int is 0 or 1
	RawInt32                    // int32: Int
	RawInt64                    // int64: Int
	RawFloat32                  // float32: Bits holds its IEEE 754 bits
	RawFloat64                  // float64: Bits holds its IEEE 754 bits
	RawDecimal                  // decimal128.Num: Bits its low word, High its high word
	RawString                   // string: Bytes
	RawBinary                   // []byte: Bytes
	RawUUID                     // [16]byte: Bytes (16 bytes)
	RawList                     // []any: List
)

// RawValue is one value of a row encoding (AppendRow) as ScanRow reads
// it: not boxed, and its bytes not copied. Bytes is a view into the
// encoding, valid only while the encoding is.
type RawValue struct {
	Kind  RawKind
	Int   int64
	Bits  uint64
	High  int64
	Bytes []byte
	List  []any
}

// Box returns the canonical value v stands for, exactly as DecodeRow
// decodes it: strings and byte slices are copied out of the encoding.
func (v RawValue) Box() any {
	switch v.Kind {
	case RawUnchanged:
		return Unchanged
	case RawBool:
		return v.Int != 0
	case RawInt32:
		return int32(v.Int)
	case RawInt64:
		return v.Int
	case RawFloat32:
		return math.Float32frombits(uint32(v.Bits))
	case RawFloat64:
		return math.Float64frombits(v.Bits)
	case RawDecimal:
		return decimal128.New(v.High, v.Bits)
	case RawString:
		return string(v.Bytes)
	case RawBinary:
		return append([]byte{}, v.Bytes...)
	case RawUUID:
		return [16]byte(v.Bytes)
	case RawList:
		return v.List
	}
	return nil
}

// ScanRow checks an AppendRow encoding of a row of t as DecodeRow does
// and returns its values in dst[:0] (grown as needed), unboxed: a reader
// that copies each value somewhere else (an Arrow builder) pays for no
// allocation per value. Strings, byte slices and uuids are views into b;
// lists are decoded as DecodeRow decodes them.
func ScanRow(t *Table, b []byte, dst []RawValue) ([]RawValue, error) {
	if cap(dst) < len(t.Columns) {
		dst = make([]RawValue, len(t.Columns))
	}
	dst = dst[:len(t.Columns)]
	d, err := rowHeader(t, b)
	if err != nil {
		return dst[:0], err
	}
	for i, c := range t.Columns {
		if !d.value(c.Type, true, &dst[i]) {
			return dst[:0], d.corrupt(c)
		}
	}
	if err := d.end(); err != nil {
		return dst[:0], err
	}
	return dst, nil
}

// Size is ValueSize of the value v stands for.
func (v RawValue) Size() int {
	switch v.Kind {
	case RawString:
		return 16 + len(v.Bytes)
	case RawBinary:
		return 24 + len(v.Bytes)
	case RawList:
		return ValueSize(v.List)
	}
	return 16
}
