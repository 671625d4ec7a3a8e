package mysqltype

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/iceberg-go"

	"github.com/floe-cdc/floe/schema"
)

// MySQL decoders. Both kinds reduce a value to the same intermediate form
// (digits, raw bytes, date/time text) and then share one conversion per
// column, so the snapshot and the binlog cannot disagree on a value both
// read the same way.
//
// Text protocol (TextDecoder): the bytes of one non-NULL value of a
// COM_QUERY result, unparsed (take them from mysql.RowData with
// mysql.LengthEncodedString, not from FieldValue, which reformats floats).
// The connection must use character_set_results utf8mb4 (go-mysql's
// default charset) and time_zone '+00:00' (or Options.ServerTimeZone).
//
// Binlog (BinlogDecoder): one non-NULL value of a go-mysql v1.16.0
// replication.RowsEvent row, decoded with BinlogSyncerConfig ParseTime
// false, UseDecimal false, UseFloatWithTrailingZero false,
// TimestampStringLocation time.UTC, (for MySQL JSON)
// RenderJSONAsMySQLText true and, to save printing and parsing temporal
// values, RowsEventDecodeFunc DecodeRowsEvent. Accepted Go types:
//
//	integers          int8..int64, uint8..uint64, int (signed values of an UNSIGNED column are reinterpreted)
//	DECIMAL           string (also []byte, *BinlogDecimal (DecodeRowsEvent) or a fmt.Stringer such as decimal.Decimal)
//	FLOAT, DOUBLE     float32, float64
//	BIT, ENUM, SET    int64 (bits, 1-based index, member bitmask)
//	YEAR              int
//	character types   string, *string (DecodeRowsEvent) or []byte in the column's character set
//	binary, GEOMETRY  string, *string or []byte
//	DATE, TIME        string; DATE also (*)BinlogTemporal (DecodeRowsEvent)
//	DATETIME          string, (*)BinlogTemporal, or time.Time (wall clock in its location;
//	                  with Options.DatetimeZone, the instant of that wall clock in that zone)
//	TIMESTAMP         string in UTC, (*)BinlogTemporal, or time.Time (the instant)
//	JSON              string or []byte
//
// A value a decoder cannot represent exactly is a *schema.ValueError; the
// decoders never consult the process's local time zone.

// TextDecoder returns the decoder of c's text-protocol values (see
// above) into canonical values of c.Type. c must come from Column.
func TextDecoder(c schema.Column, o Options) (schema.Decoder, error) {
	return decoderFor(c, o, func(d *dec) (func([]byte) (any, error), error) { return d.text, nil })
}

// BinlogDecoder returns the decoder of c's go-mysql row-event values
// (see above) into the canonical value TextDecoder gives for the same
// stored value. c must come from Column. The decoder copies what it keeps,
// with one exception: a UTF-8 character value given as *string (by
// DecodeRowsEvent) decodes to a string that is a view of the event's
// bytes, which go-mysql reads into memory of each event's own and never
// reuses; the value keeps those bytes alive while it lives.
func BinlogDecoder(c schema.Column, o Options) (func(v any) (any, error), error) {
	return decoderFor(c, o, func(d *dec) (func(any) (any, error), error) {
		if !d.binlogCharsetOK {
			return nil, fmt.Errorf("decoder for column %s: binlog values in character set %s are not supported; convert the column to utf8mb4 (ALTER TABLE ... CONVERT TO CHARACTER SET utf8mb4)", c.Name, d.t.charset)
		}
		return d.binlog, nil
	})
}

// decoderFor returns the decoder pick chooses from c's dec. A column
// whose type the user overrode to text (see overridden) is decoded as
// its natural type and the value formatted as text.
func decoderFor[V any](c schema.Column, o Options, pick func(*dec) (func(V) (any, error), error)) (func(V) (any, error), error) {
	natural, over := overridden(c, o)
	d, err := newDec(natural, o)
	if err != nil {
		return nil, err
	}
	f, err := pick(d)
	if err != nil || !over {
		return f, err
	}
	return formatted(f, natural.Type), nil
}

// dec decodes the values of one column.
type dec struct {
	c               *schema.Column
	t               Type
	family          byte // see the family constants
	bits            int  // integer width, BIT length
	loc             *time.Location
	zone            *time.Location // DATETIME wall clocks' zone, nil: none
	zeroDate        string
	binlogCharsetOK bool
	// charset decodes a famChars binlog value of the column's character
	// set (charsetDecoders); utf8 is set when that is utf8Text, whose
	// strings need only be validated and copied.
	charset func([]byte) (string, bool)
	utf8    bool
	// keepInt32 and keepInt64 are set for a signed integer column of
	// Iceberg type int and long: a binlog int32, resp. int64, is then
	// the value itself, passed on without being boxed again.
	keepInt32, keepInt64 bool
}

// Column families: how a value is read.
const (
	famInt = iota
	famDecimal
	famFloat
	famBit
	famChars
	famBinary
	famEnum
	famSet
	famDate
	famDatetime
	famTimestamp
	famTime
	famYear
	famJSON
)

// families are the families of the base types not told apart above.
var families = map[string]byte{"decimal": famDecimal, "numeric": famDecimal, "dec": famDecimal, "fixed": famDecimal,
	"float": famFloat, "double": famFloat, "real": famFloat, "bit": famBit, "enum": famEnum, "set": famSet,
	"date": famDate, "datetime": famDatetime, "timestamp": famTimestamp, "time": famTime,
	"year": famYear, "bool": famInt, "boolean": famInt, "json": famJSON}

func newDec(c schema.Column, o Options) (*dec, error) {
	if c.Type == nil {
		return nil, fmt.Errorf("decoder for column %s: no Iceberg type", c.Name)
	}
	t, err := typeOf(c)
	if err != nil {
		return nil, fmt.Errorf("decoder for %w", err)
	}
	d := &dec{c: &c, t: t, loc: o.ServerTimeZone, zeroDate: o.ZeroDate, binlogCharsetOK: true}
	if d.loc == nil {
		d.loc = time.UTC
	}
	switch d.zeroDate {
	case "":
		d.zeroDate = ZeroDateError
	case ZeroDateError, ZeroDateNull, ZeroDateEpoch:
	default:
		return nil, fmt.Errorf("decoder for column %s: zero-date treatment %q is not one of error, null, epoch", c.Name, o.ZeroDate)
	}
	if b, ok := intBits[t.base]; ok {
		d.family, d.bits = famInt, b
	} else {
		switch {
		case charTypes[t.base] && t.charset == "binary", byteTypes[t.base], geoTypes[t.base]:
			d.family = famBinary
		case charTypes[t.base]:
			d.family = famChars
			d.charset, d.binlogCharsetOK = charsetDecoders[t.charset]
			d.utf8 = utf8Charsets[t.charset]
		default:
			fam, ok := families[t.base]
			if !ok {
				return nil, fmt.Errorf("decoder for column %s: MySQL type %s is not supported", c.Name, t.base)
			}
			d.family, d.bits = fam, 8
		}
	}
	if d.family == famBit {
		d.bits = t.width(0, 1)
	}
	if d.family == famInt && !t.unsigned {
		_, d.keepInt32 = c.Type.(iceberg.Int32Type)
		_, d.keepInt64 = c.Type.(iceberg.Int64Type)
	}
	if d.family == famDatetime {
		d.zone = o.DatetimeZone
		_, zoned := c.Type.(iceberg.TimestampTzType)
		if zoned != (d.zone != nil) {
			return nil, fmt.Errorf("decoder for column %s: DATETIME of Iceberg type %s does not fit the options' DatetimeZone (%v); build the column with mysqltype.Column and the same options", c.Name, c.Type, d.zone)
		}
	}
	return d, nil
}

// fail builds a ValueError quoting v.
func (d *dec) fail(v any, reason string) error {
	var b []byte
	switch x := v.(type) {
	case []byte:
		b = x
	case string:
		b = []byte(x)
	case *string:
		b = []byte(*x)
	default:
		b = fmt.Appendf(nil, "%v", v)
	}
	return schema.NewValueError(d.c.Name, d.t.String(), b, reason)
}

// rawValue is the value a decoder was given, kept for its errors:
// text-protocol bytes, or a go-mysql binlog value. Passing it allocates
// nothing; only an error boxes it (a []byte passed as an any is boxed at
// every call: 4 % of the MariaDB snapshot's CPU at parallelism 1).
type rawValue struct {
	text   []byte
	binlog any
}

// failRaw is fail for a rawValue.
func (d *dec) failRaw(r rawValue, reason string) error {
	if r.binlog != nil {
		return d.fail(r.binlog, reason)
	}
	return d.fail(r.text, reason)
}

// text decodes one text-protocol value.
func (d *dec) text(b []byte) (any, error) {
	switch d.family {
	case famInt, famYear:
		neg, mag, ok := parseInt(b)
		if !ok {
			return nil, d.fail(b, "not an integer")
		}
		return d.intOut(rawValue{text: b}, neg, mag)
	case famDecimal:
		return d.decimalOut(b)
	case famFloat:
		bits := 64
		if _, ok := d.c.Type.(iceberg.Float32Type); ok {
			bits = 32
		}
		f, err := strconv.ParseFloat(string(b), bits)
		if err != nil {
			return nil, d.fail(b, "not a floating-point number")
		}
		return d.floatOut(rawValue{text: b}, f)
	case famBit:
		if len(b) > 8 {
			return nil, d.fail(b, "BIT value longer than 8 bytes")
		}
		var u uint64
		for _, x := range b {
			u = u<<8 | uint64(x)
		}
		return d.bitOut(rawValue{text: b}, u)
	case famChars, famEnum, famSet:
		s, ok := utf8Text(b) // charsetDecoders["utf8mb4"], without a map lookup per value
		if !ok {
			return nil, d.fail(b, "not valid UTF-8; the connection must use character set utf8mb4")
		}
		if d.family != famChars && !d.members(s) {
			return nil, d.fail(b, "not a member of the column's "+strings.ToUpper(d.t.base)+" (is the layout current?)")
		}
		return d.charsOut(s), nil
	case famBinary:
		return d.binaryOut(b), nil
	case famJSON:
		return d.jsonOut(b)
	default:
		return d.temporal(rawValue{text: b}, string(b), false)
	}
}

// binlog decodes one go-mysql row-event value.
func (d *dec) binlog(v any) (any, error) {
	switch d.family {
	case famInt, famYear:
		switch v.(type) {
		case int32:
			if d.keepInt32 {
				return v, nil
			}
		case int64:
			if d.keepInt64 {
				return v, nil
			}
		}
		neg, mag, ok := d.binlogInt(v)
		if !ok {
			return nil, d.fail(v, fmt.Sprintf("binlog value of Go type %T is not an integer", v))
		}
		return d.intOut(rawValue{binlog: v}, neg, mag)
	case famDecimal:
		switch x := v.(type) {
		case *BinlogDecimal:
			return d.binlogDecimal(x)
		case string:
			return d.decimalOut([]byte(x))
		case []byte:
			return d.decimalOut(x)
		case fmt.Stringer:
			return d.decimalOut([]byte(x.String()))
		}
	case famFloat:
		switch x := v.(type) {
		case float32:
			return d.floatOut(rawValue{binlog: v}, float64(x))
		case float64:
			return d.floatOut(rawValue{binlog: v}, x)
		}
	case famBit:
		if n, ok := v.(int64); ok {
			return d.bitOut(rawValue{binlog: v}, uint64(n))
		}
	case famEnum, famSet:
		if n, ok := v.(int64); ok {
			return d.labelsOut(rawValue{binlog: v}, n)
		}
	case famChars, famBinary, famJSON:
		return d.binlogBytes(v)
	default:
		switch x := v.(type) {
		case string:
			return d.temporal(rawValue{binlog: v}, x, true)
		case []byte:
			return d.temporal(rawValue{binlog: v}, string(x), true)
		case *BinlogTemporal:
			return d.packedTemporal(x)
		case BinlogTemporal:
			return d.packedTemporal(&x)
		case time.Time:
			return d.timeValue(x)
		}
	}
	return nil, d.fail(v, fmt.Sprintf("unexpected binlog value of Go type %T (check the go-mysql settings in schema/mysqltype/decode.go)", v))
}

// labelsOut renders an ENUM value's 1-based index (0: the error value
// ”) or a SET value's member bitmask as its labels.
func (d *dec) labelsOut(raw rawValue, n int64) (any, error) {
	if d.family == famEnum {
		switch {
		case n == 0:
			return "", nil
		case n > 0 && int(n) <= len(d.t.args):
			return d.t.args[n-1], nil
		}
		return nil, d.failRaw(raw, "ENUM index out of range of the column's members")
	}
	var labels []string
	for i, m := 0, uint64(n); m != 0; i, m = i+1, m>>1 {
		if m&1 == 0 {
			continue
		}
		if i >= len(d.t.args) {
			return nil, d.failRaw(raw, "SET bitmask names a member the column does not have")
		}
		labels = append(labels, d.t.args[i])
	}
	return strings.Join(labels, ","), nil
}

// binlogBytes decodes a binlog value of a character, binary or JSON
// column, text in the column's character set.
func (d *dec) binlogBytes(v any) (any, error) {
	var b []byte
	switch x := v.(type) {
	case *string:
		return d.binlogString(*x, true)
	case string:
		return d.binlogString(x, false)
	case []byte:
		b = x
	default:
		return nil, d.fail(v, fmt.Sprintf("binlog value of Go type %T is not a string", v))
	}
	return d.bytesOut(b)
}

// binlogString decodes a binlog value given as a string (a view of the
// event's bytes) of a character, binary or JSON column. owned says the
// event's bytes are DecodeRowsEvent's: then UTF-8 text is given as a view
// of them (see BinlogDecoder), else as a copy.
func (d *dec) binlogString(x string, owned bool) (any, error) {
	if d.family == famChars && d.utf8 {
		// Validated in place, and copied at most once.
		if !utf8.ValidString(x) {
			return nil, d.fail([]byte(x), "not valid "+d.t.charset+" text")
		}
		if owned {
			return d.charsOut(x), nil
		}
		return strings.Clone(d.charsOut(x)), nil
	}
	if d.family == famBinary {
		// binaryOut copies: it reads the event's bytes in place.
		return d.binaryOut(unsafe.Slice(unsafe.StringData(x), len(x))), nil
	}
	return d.bytesOut([]byte(x))
}

// binlogDecimal decodes a DECIMAL as the binlog stores it through its
// text (what go-mysql would give), printed on the stack.
func (d *dec) binlogDecimal(x *BinlogDecimal) (any, error) {
	var buf [80]byte // 65 digits, a sign, a point and a leading zero
	text := x.AppendText(buf[:0])
	if t, ok := d.c.Type.(iceberg.DecimalType); ok {
		n, reason := schema.ParseDecimal(text, t.Precision(), t.Scale())
		if reason != "" {
			return nil, d.failRaw(rawValue{binlog: x}, reason)
		}
		return n, nil
	}
	return d.decimalOut(bytes.Clone(text))
}

// bytesOut decodes the bytes of a character, binary or JSON column's
// binlog value.
func (d *dec) bytesOut(b []byte) (any, error) {
	switch d.family {
	case famBinary:
		return d.binaryOut(b), nil
	case famJSON:
		return d.jsonOut(b)
	}
	if d.charset == nil {
		return nil, d.fail(b, "character set "+d.t.charset+" is not supported")
	}
	s, ok := d.charset(b)
	if !ok {
		return nil, d.fail(b, "not valid "+d.t.charset+" text")
	}
	return d.charsOut(s), nil
}

// binlogInt returns the sign and magnitude of an integer binlog value,
// reinterpreting a signed value of an UNSIGNED column by the column width.
func (d *dec) binlogInt(v any) (neg bool, mag uint64, ok bool) {
	var s int64
	switch x := v.(type) {
	case int8:
		s = int64(x)
	case int16:
		s = int64(x)
	case int32:
		s = int64(x)
	case int64:
		s = x
	case int:
		s = int64(x)
	case uint8:
		return false, uint64(x), true
	case uint16:
		return false, uint64(x), true
	case uint32:
		return false, uint64(x), true
	case uint64:
		return false, x, true
	default:
		return false, 0, false
	}
	if d.t.unsigned {
		u := uint64(s)
		if d.bits < 64 {
			u &= 1<<d.bits - 1
		}
		return false, u, true
	}
	if s < 0 {
		return true, uint64(-(s + 1)) + 1, true
	}
	return false, uint64(s), true
}

// parseInt parses [-]digits into sign and magnitude.
func parseInt(b []byte) (neg bool, mag uint64, ok bool) {
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg, b = b[0] == '-', b[1:]
	}
	if len(b) == 0 {
		return false, 0, false
	}
	mag, err := strconv.ParseUint(string(b), 10, 64)
	return neg && mag != 0, mag, err == nil
}

// intOut renders an integer as c.Type: int, long or decimal(p,0).
func (d *dec) intOut(raw rawValue, neg bool, mag uint64) (any, error) {
	switch t := d.c.Type.(type) {
	case iceberg.Int32Type:
		if !neg && mag <= math.MaxInt32 {
			return int32(mag), nil
		}
		if neg && mag <= 1<<31 {
			return int32(-int64(mag)), nil
		}
	case iceberg.Int64Type:
		if !neg && mag <= math.MaxInt64 {
			return int64(mag), nil
		}
		if neg && mag <= 1<<63 {
			return int64(-mag), nil
		}
	case iceberg.DecimalType:
		n := decimal128.FromU64(mag)
		if neg {
			n = n.Negate()
		}
		if t.Scale() > 0 {
			n = n.IncreaseScaleBy(int32(t.Scale()))
		}
		if n.FitsInPrecision(int32(t.Precision())) {
			return n, nil
		}
	}
	return nil, d.failRaw(raw, "integer out of range of Iceberg "+d.c.Type.String())
}

// decimalOut parses DECIMAL text into decimal(p,s) or canonical text.
func (d *dec) decimalOut(b []byte) (any, error) {
	if _, ok := d.c.Type.(iceberg.Float64Type); ok { // an override chose double
		f, err := strconv.ParseFloat(string(b), 64)
		if err != nil {
			return nil, d.fail(b, "not a decimal number")
		}
		return f, nil
	}
	if t, ok := d.c.Type.(iceberg.DecimalType); ok {
		n, reason := schema.ParseDecimal(b, t.Precision(), t.Scale())
		if reason != "" {
			return nil, d.fail(b, reason)
		}
		return n, nil
	}
	s, ok := canonDecimalText(b, d.t.width(1, 0))
	if !ok {
		return nil, d.fail(b, "not a decimal number with at most "+strconv.Itoa(d.t.width(1, 0))+" fractional digits")
	}
	return s, nil
}

// canonDecimalText renders [+-]digits[.digits] with no leading zeros, no
// plus sign, no negative zero and exactly scale fractional digits.
func canonDecimalText(b []byte, scale int) (string, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		b = b[1:]
	}
	intPart, frac, _ := strings.Cut(string(b), ".")
	if intPart == "" && frac == "" || strings.Trim(intPart+frac, "0123456789") != "" {
		return "", false
	}
	intPart = strings.TrimLeft(intPart, "0")
	for len(frac) > scale && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	if len(frac) > scale {
		return "", false
	}
	frac += strings.Repeat("0", scale-len(frac))
	if intPart == "" {
		intPart = "0"
	}
	if strings.Trim(intPart+frac, "0") == "" {
		neg = false
	}
	s := intPart
	if scale > 0 {
		s += "." + frac
	}
	if neg {
		s = "-" + s
	}
	return s, true
}

func (d *dec) floatOut(raw rawValue, f float64) (any, error) {
	switch d.c.Type.(type) {
	case iceberg.Float32Type:
		return float32(f), nil
	case iceberg.Float64Type:
		return f, nil
	}
	return nil, d.failRaw(raw, "no float form for Iceberg "+d.c.Type.String())
}

// bitOut renders BIT bits as long, or as 8 big-endian bytes (BIT(64)).
func (d *dec) bitOut(raw rawValue, u uint64) (any, error) {
	if d.bits < 64 && u>>d.bits != 0 {
		return nil, d.failRaw(raw, fmt.Sprintf("value has more than %d bits", d.bits))
	}
	switch d.c.Type.(type) {
	case iceberg.Int64Type:
		if u <= math.MaxInt64 {
			return int64(u), nil
		}
	case iceberg.BinaryType:
		return binary.BigEndian.AppendUint64(nil, u), nil
	}
	return nil, d.failRaw(raw, "BIT value does not fit Iceberg "+d.c.Type.String())
}

// members reports whether s is a valid ENUM or SET value of the column.
func (d *dec) members(s string) bool {
	if s == "" {
		return true
	}
	labels := []string{s}
	if d.family == famSet {
		labels = strings.Split(s, ",")
	}
	for _, l := range labels {
		found := false
		for _, m := range d.t.args {
			found = found || labelMatches(m, l)
		}
		if !found {
			return false
		}
	}
	return true
}

// charsOut applies CHAR's trailing-space removal (as SELECT returns CHAR).
func (d *dec) charsOut(s string) string {
	if d.t.base == "char" {
		s = strings.TrimRight(s, " ")
	}
	return s
}

// binaryOut copies b, 0x00-padding BINARY(n) to n bytes.
func (d *dec) binaryOut(b []byte) []byte {
	n := len(b)
	if d.t.base == "binary" {
		n = max(n, d.t.width(0, 1))
	}
	out := make([]byte, n)
	copy(out, b)
	return out
}
