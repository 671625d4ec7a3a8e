package mysqltype

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unsafe"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
)

// A rows event whose table has only columns of the common types below is
// decoded here rather than by go-mysql (decodeImages): the same values
// go-mysql gives, except that the bulky ones come as pointers into arrays
// of the event, so that boxing them into the row's interfaces allocates
// nothing:
//
//	CHAR, VARCHAR, BINARY, VARBINARY, TEXT, BLOB   *string, a view of the event's bytes (a copy in an event over viewEventBytes)
//	DECIMAL                                        *BinlogDecimal, its stored bytes
//	DATE, DATETIME2, TIMESTAMP2                    *BinlogTemporal, as before
//	integers, FLOAT, DOUBLE, YEAR, BIT, ENUM, SET  as go-mysql gives them
//
// and one array holds all the row slices of the event. In the bench's
// MariaDB catch-up, go-mysql's decoding allocated a third of the objects
// of the whole run, one or more per value.
//
// Everything else goes to go-mysql: a table with a column of another type
// (JSON, GEOMETRY, TIME, the pre-5.6 temporal types, VECTOR), an image
// that lacks columns (binlog_row_image is not FULL: go-mysql reports the
// skipped columns, which the capture source refuses), a MySQL partial
// update (its after image carries a JSON diff) and a MariaDB compressed
// rows event (go-mysql keeps that it is compressed in a field of its own,
// read by reflection: if a go-mysql version renamed it, every event would
// simply go to go-mysql).

// viewEventBytes is the largest rows event whose strings DecodeRowsEvent
// gives as views of its bytes. The decoders keep a UTF-8 string as such a
// view (BinlogDecoder), so a small value would keep a whole event alive:
// past this size (only a row larger than binlog_row_event_max_size makes
// an event that large) each string is a copy of its own. With views of
// events of 50 MiB values, the bench's largevalues scenario peaked at
// 0.94-1.1 GiB instead of 0.85-0.92.
const viewEventBytes = 64 << 10

// BinlogDecimal is a DECIMAL value of a rows event as the binlog stores
// it (MySQL's binary decimal format): DecodeRowsEvent gives these in place
// of go-mysql's text, and the binlog decoder reads them without a string
// per value. String prints go-mysql's text.
type BinlogDecimal struct {
	Precision, Scale int
	Stored           []byte // the value's bytes, a view of the event's
}

// decimalWidth returns how many bytes MySQL stores a DECIMAL(precision,
// scale) in: 4 per 9 digits, fewer for the digits left over on each side
// of the point.
func decimalWidth(precision, scale int) int {
	intDigits := precision - scale
	return intDigits/9*4 + leftoverBytes[intDigits%9] + scale/9*4 + leftoverBytes[scale%9]
}

// leftoverBytes[n] is how many bytes MySQL stores n < 9 decimal digits in.
var leftoverBytes = [9]int{0, 1, 1, 2, 2, 3, 3, 4, 4}

// AppendText appends the value as go-mysql prints it: a minus sign for a
// negative value (also for a negative zero, which MySQL does not write),
// the integer digits without leading zeros ("0" when there are none),
// and exactly Scale fractional digits.
func (v *BinlogDecimal) AppendText(dst []byte) []byte {
	b := v.Stored
	if len(b) == 0 {
		return dst
	}
	// The first byte's top bit is set for a value ≥ 0; a negative value
	// is stored with every bit inverted.
	var mask uint32
	if b[0]&0x80 == 0 {
		mask = ^uint32(0)
		dst = append(dst, '-')
	}
	group := func(n int) uint32 { // the next n bytes, big-endian, unmasked
		var x uint32
		for i := range n {
			c := b[i]
			if i == 0 && len(b) == len(v.Stored) {
				c ^= 0x80
			}
			x = x<<8 | uint32(c)
		}
		b = b[n:]
		return x ^ (mask >> (32 - 8*n))
	}
	intDigits := v.Precision - v.Scale
	leading := true
	if n := leftoverBytes[intDigits%9]; n > 0 {
		if x := group(n); x != 0 {
			dst, leading = strconv.AppendUint(dst, uint64(x), 10), false
		}
	}
	for range intDigits / 9 {
		x := group(4)
		switch {
		case !leading:
			dst = appendPadded(dst, x, 9)
		case x != 0:
			dst, leading = strconv.AppendUint(dst, uint64(x), 10), false
		}
	}
	if leading {
		dst = append(dst, '0')
	}
	if v.Scale == 0 {
		return dst
	}
	dst = append(dst, '.')
	for range v.Scale / 9 {
		dst = appendPadded(dst, group(4), 9)
	}
	if left := v.Scale % 9; left > 0 {
		dst = appendPadded(dst, group(leftoverBytes[left]), left)
	}
	return dst
}

// appendPadded appends x in at least width digits, 0-padded on the left.
func appendPadded(dst []byte, x uint32, width int) []byte {
	var buf [10]byte
	s := strconv.AppendUint(buf[:0], uint64(x), 10)
	for range width - len(s) {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// String prints v as go-mysql prints the value (UseDecimal false).
func (v *BinlogDecimal) String() string { return string(v.AppendText(nil)) }

// imageColumn is how decodeImages reads one column's values.
type imageColumn struct {
	kind  byte // one of the col* below
	width int  // fixed width in bytes, or of the length prefix (blobs, strings)
	prec  int  // DECIMAL
	scale int  // DECIMAL
	code  byte // BinlogTemporal.Code
	meta  uint16
}

const (
	colInt8 byte = iota + 1
	colInt16
	colInt24
	colInt32
	colInt64
	colFloat
	colDouble
	colYear
	colBit
	colEnum
	colSet
	colString // a 1- or 2-byte length, then the bytes
	colBlob   // a width-byte length, then the bytes
	colDecimal
	colTemporal
)

// imagePlan is how decodeImages reads the rows of one table: each
// column's imageColumn, and how many columns give each pointer type.
type imagePlan struct {
	cols                         []imageColumn
	strings, decimals, temporals int
	minImage                     int // an image's bytes without NULLs or string bytes: estimates the first rows
}

// planImages returns how to read tm's rows, or false when a column is
// not of a type decodeImages reads.
func planImages(tm *replication.TableMapEvent) (imagePlan, bool) {
	cols, ok := imageColumns(tm)
	if !ok {
		return imagePlan{}, false
	}
	p := imagePlan{cols: cols, minImage: max(1, (len(cols)+7)/8)}
	for _, c := range cols {
		p.minImage += c.width
		switch c.kind {
		case colString, colBlob:
			p.strings++
		case colDecimal:
			p.decimals++
		case colTemporal:
			p.temporals++
		}
	}
	return p, true
}

// imageColumns returns how to read each column of tm's rows, or false
// when a column is not of a type decodeImages reads.
func imageColumns(tm *replication.TableMapEvent) ([]imageColumn, bool) {
	if len(tm.ColumnMeta) != len(tm.ColumnType) {
		return nil, false
	}
	cols := make([]imageColumn, len(tm.ColumnType))
	for i, code := range tm.ColumnType {
		meta := tm.ColumnMeta[i]
		c := &cols[i]
		switch code {
		case gomysql.MYSQL_TYPE_TINY:
			c.kind, c.width = colInt8, 1
		case gomysql.MYSQL_TYPE_SHORT:
			c.kind, c.width = colInt16, 2
		case gomysql.MYSQL_TYPE_INT24:
			c.kind, c.width = colInt24, 3
		case gomysql.MYSQL_TYPE_LONG:
			c.kind, c.width = colInt32, 4
		case gomysql.MYSQL_TYPE_LONGLONG:
			c.kind, c.width = colInt64, 8
		case gomysql.MYSQL_TYPE_FLOAT:
			c.kind, c.width = colFloat, 4
		case gomysql.MYSQL_TYPE_DOUBLE:
			c.kind, c.width = colDouble, 8
		case gomysql.MYSQL_TYPE_YEAR:
			c.kind, c.width = colYear, 1
		case gomysql.MYSQL_TYPE_BIT:
			nbits := int(meta>>8)*8 + int(meta&0xff)
			if nbits < 1 || nbits > 64 {
				return nil, false
			}
			c.kind, c.width = colBit, (nbits+7)/8
		case gomysql.MYSQL_TYPE_NEWDECIMAL:
			c.kind, c.prec, c.scale = colDecimal, int(meta>>8), int(meta&0xff)
			if c.prec < 1 || c.prec > 65 || c.scale > c.prec {
				return nil, false
			}
			c.width = decimalWidth(c.prec, c.scale)
		case gomysql.MYSQL_TYPE_DATE, gomysql.MYSQL_TYPE_DATETIME2, gomysql.MYSQL_TYPE_TIMESTAMP2:
			c.kind, c.code, c.meta, c.width = colTemporal, code, meta, packedWidth(code, meta)
			if c.width == 0 {
				return nil, false
			}
		case gomysql.MYSQL_TYPE_VARCHAR, gomysql.MYSQL_TYPE_VAR_STRING:
			c.kind, c.width = colString, prefixWidth(int(meta))
		case gomysql.MYSQL_TYPE_STRING:
			// The real type (ENUM, SET or STRING) and the length are packed
			// into meta, as go-mysql's decodeValue unpacks them.
			real, length := code, int(meta)
			if meta >= 256 {
				b0, b1 := byte(meta>>8), byte(meta)
				if b0&0x30 != 0x30 {
					real, length = b0|0x30, int(uint16(b1)|uint16((b0&0x30)^0x30)<<4)
				} else {
					real, length = b0, int(meta&0xff)
				}
			}
			switch real {
			case gomysql.MYSQL_TYPE_ENUM:
				if length != 1 && length != 2 {
					return nil, false
				}
				c.kind, c.width = colEnum, length
			case gomysql.MYSQL_TYPE_SET:
				if length < 1 || length > 8 {
					return nil, false
				}
				c.kind, c.width = colSet, length
			case gomysql.MYSQL_TYPE_STRING:
				c.kind, c.width = colString, prefixWidth(length)
			default:
				return nil, false
			}
		case gomysql.MYSQL_TYPE_BLOB:
			if meta < 1 || meta > 4 {
				return nil, false
			}
			c.kind, c.width = colBlob, int(meta)
		default:
			return nil, false
		}
	}
	return cols, true
}

// prefixWidth is the width of the length in front of a string value of a
// column of at most maxBytes bytes.
func prefixWidth(maxBytes int) int {
	if maxBytes < 256 {
		return 1
	}
	return 2
}

// compressedField is the index of go-mysql's unexported RowsEvent field
// that says a MariaDB rows event is compressed, or -1 if this go-mysql
// has no such bool (then decodeImages decodes nothing).
var compressedField = func() int {
	f, ok := reflect.TypeFor[replication.RowsEvent]().FieldByName("compressed")
	if !ok || len(f.Index) != 1 || f.Type.Kind() != reflect.Bool {
		return -1
	}
	return f.Index[0]
}()

// decodable reports whether decodeImages reads e's images: an insert,
// update or delete (not a partial update), not compressed, with every
// column in every image.
func decodable(e *replication.RowsEvent) bool {
	if compressedField < 0 || reflect.ValueOf(e).Elem().Field(compressedField).Bool() {
		return false
	}
	switch e.Type() {
	case replication.EnumRowsEventTypeInsert, replication.EnumRowsEventTypeDelete:
		if e.ColumnBitmap2 != nil {
			return false
		}
	case replication.EnumRowsEventTypeUpdate:
		if e.ColumnBitmap2 == nil || !allSet(e.ColumnBitmap2, int(e.ColumnCount)) {
			return false
		}
	default:
		return false
	}
	return int(e.ColumnCount) == len(e.Table.ColumnType) && allSet(e.ColumnBitmap1, int(e.ColumnCount))
}

// bigEndian returns the value of b's (at most 8) bytes, big-endian.
func bigEndian(b []byte) uint64 {
	var x uint64
	for _, c := range b {
		x = x<<8 | uint64(c)
	}
	return x
}

// allSet reports whether the first n bits of bitmap are set.
func allSet(bitmap []byte, n int) bool {
	if len(bitmap) < (n+7)/8 {
		return false
	}
	for i := range n {
		if bitmap[i>>3]&(1<<(i&7)) == 0 {
			return false
		}
	}
	return true
}

// decodeImages decodes the row images of e, whose header is decoded,
// from data (what follows the header) with p (planImages of e.Table)
// into e.Rows; e.SkippedColumns stays empty, every image having every
// column (decodable).
func decodeImages(e *replication.RowsEvent, p imagePlan, data []byte) error {
	cols := p.cols
	n := len(cols)
	nullBytes := (n + 7) / 8
	var (
		values    []any
		strs      []string
		decimals  []BinlogDecimal
		temporals []BinlogTemporal
	)
	// The values, strings, decimals and temporals are appended to arrays
	// sized for the images still to come (rowsLeft); a full array is
	// replaced, the rows read so far keeping theirs.
	start := 0 // where the image being read starts
	rowsLeft := func() int {
		if len(e.Rows) == 0 {
			return min(16, len(data)/p.minImage+1)
		}
		return (len(data)-start)/max(1, start/len(e.Rows)) + 1
	}
	e.SkippedColumns, e.Rows = nil, nil // a reused event's are not this one's
	e.Rows = make([][]any, 0, rowsLeft())
	for pos := 0; pos < len(data); {
		start = pos
		if len(data)-pos < nullBytes {
			return fmt.Errorf("rows event: image %d is cut short in its NULL bitmap", len(e.Rows))
		}
		nulls := data[pos : pos+nullBytes]
		pos += nullBytes
		if cap(values)-len(values) < n {
			values = make([]any, 0, n*rowsLeft())
		}
		row := values[len(values) : len(values)+n : len(values)+n]
		values = values[:len(values)+n]
		for i := range cols {
			if nulls[i>>3]&(1<<(i&7)) != 0 {
				continue // row[i] is nil
			}
			c := &cols[i]
			end := pos + c.width
			if end > len(data) {
				return fmt.Errorf("rows event: image %d is cut short in column %d", len(e.Rows), i)
			}
			b := data[pos:end]
			switch c.kind {
			case colInt8:
				row[i] = int8(b[0])
			case colInt16:
				row[i] = int16(binary.LittleEndian.Uint16(b))
			case colInt24:
				u := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
				row[i] = int32(u<<8) >> 8 // sign-extended
			case colInt32:
				row[i] = int32(binary.LittleEndian.Uint32(b))
			case colInt64:
				row[i] = int64(binary.LittleEndian.Uint64(b))
			case colFloat:
				row[i] = gomysql.ParseBinaryFloat32(b)
			case colDouble:
				row[i] = gomysql.ParseBinaryFloat64(b)
			case colYear:
				if b[0] == 0 {
					row[i] = 0
				} else {
					row[i] = int(b[0]) + 1900
				}
			case colBit:
				row[i] = int64(bigEndian(b))
			case colEnum:
				if c.width == 1 {
					row[i] = int64(b[0])
				} else {
					row[i] = int64(binary.LittleEndian.Uint16(b))
				}
			case colSet:
				var x uint64
				for k := len(b) - 1; k >= 0; k-- {
					x = x<<8 | uint64(b[k])
				}
				row[i] = int64(x)
			case colDecimal:
				if len(decimals) == cap(decimals) {
					decimals = make([]BinlogDecimal, 0, p.decimals*rowsLeft())
				}
				decimals = append(decimals, BinlogDecimal{Precision: c.prec, Scale: c.scale, Stored: b})
				row[i] = &decimals[len(decimals)-1]
			case colTemporal:
				if len(temporals) == cap(temporals) {
					temporals = make([]BinlogTemporal, 0, p.temporals*rowsLeft())
				}
				temporals = append(temporals, BinlogTemporal{Code: c.code, Meta: c.meta, Packed: bigEndian(b)})
				row[i] = &temporals[len(temporals)-1]
			case colString, colBlob:
				length := 0
				for k := c.width - 1; k >= 0; k-- {
					length = length<<8 | int(b[k])
				}
				end += length
				if end > len(data) {
					return fmt.Errorf("rows event: image %d is cut short in column %d", len(e.Rows), i)
				}
				if len(strs) == cap(strs) {
					strs = make([]string, 0, p.strings*rowsLeft())
				}
				str := unsafe.String(unsafe.SliceData(data[pos+c.width:end]), length)
				if len(data) > viewEventBytes {
					str = strings.Clone(str)
				}
				strs = append(strs, str)
				row[i] = &strs[len(strs)-1]
			}
			pos = end
		}
		e.Rows = append(e.Rows, row)
	}
	return nil
}
