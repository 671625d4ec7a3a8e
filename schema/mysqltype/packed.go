package mysqltype

import (
	"fmt"
	"math/bits"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
)

// BinlogTemporal is a DATE, DATETIME or TIMESTAMP value of a rows event
// as the binlog stores it, before go-mysql would print it as text:
// DecodeRowsEvent gives these in place of go-mysql's strings, and the
// binlog decoders read them to exactly the values the text gives, with no
// text printed and parsed again on the way. String prints the text
// go-mysql gives (ParseTime false, TimestampStringLocation UTC), which
// errors and dead letters show.
type BinlogTemporal struct {
	Code   byte   // MYSQL_TYPE_DATE, MYSQL_TYPE_DATETIME2 or MYSQL_TYPE_TIMESTAMP2
	Meta   uint16 // fractional digits (DATETIME2, TIMESTAMP2)
	Packed uint64 // the value's bytes, big-endian (a DATE's three are little-endian in the binlog)
}

// packedWidth returns how many bytes the binlog stores a value of a
// column of type code and meta in, for the types BinlogTemporal carries
// (0 for the others).
func packedWidth(code byte, meta uint16) int {
	switch code {
	case gomysql.MYSQL_TYPE_DATE:
		return 3
	case gomysql.MYSQL_TYPE_DATETIME2:
		if meta <= 6 {
			return 5 + int(meta+1)/2
		}
	case gomysql.MYSQL_TYPE_TIMESTAMP2:
		if meta <= 6 {
			return 4 + int(meta+1)/2
		}
	}
	return 0
}

// DecodeRowsEvent decodes a rows event's images for
// replication.BinlogSyncerConfig.RowsEventDecodeFunc, as go-mysql does
// with differences that save it work. The images of a table of common
// column types are decoded here (decodeImages in rowimage.go: strings and
// DECIMALs come as *string and *BinlogDecimal), the others by go-mysql.
// Either way, DATE, DATETIME2 and TIMESTAMP2
// values come as *BinlogTemporal instead of text, and the TABLE_MAP's
// signedness bitmap is left out, so that every integer comes as the
// signed Go type of its width, as from a server without
// binlog_row_metadata=FULL (go-mysql would build a map of the table's
// numeric columns for every image, 6 % of the bytes allocated in the
// bench's MariaDB catch-up; the integer decoders read an UNSIGNED
// column's signed value back by its width, see binlogInt). e.Table is
// left as a copy of the TABLE_MAP without the bitmap; go-mysql's own
// TABLE_MAP event keeps it. It runs on go-mysql's parsing goroutine and
// shares nothing.
//
// go-mysql reads a column it is told is a BIT of n bytes as the int64 of
// those bytes, big-endian: a temporal column is decoded as one, so its
// bytes pass through untouched, and is then wrapped in a BinlogTemporal
// with its real type.
func DecodeRowsEvent(e *replication.RowsEvent, data []byte) error {
	return decodeRowsEvent(e, data, true)
}

// decodeRowsEvent is DecodeRowsEvent; own false leaves every event to
// go-mysql (tests compare the two).
func decodeRowsEvent(e *replication.RowsEvent, data []byte, own bool) error {
	pos, err := e.DecodeHeader(data)
	if err != nil {
		return err
	}
	if e.Table == nil {
		return e.DecodeData(pos, data)
	}
	shown := *e.Table
	shown.SignednessBitmap = nil
	if plan, ok := planImages(&shown); own && ok && decodable(e) {
		e.Table = &shown
		return decodeImages(e, plan, data[pos:])
	}
	var packed []int // columns decoded as BIT
	for i, code := range shown.ColumnType {
		if i < len(shown.ColumnMeta) && packedWidth(code, shown.ColumnMeta[i]) > 0 {
			packed = append(packed, i)
		}
	}
	if len(packed) == 0 {
		e.Table = &shown
		return e.DecodeData(pos, data)
	}
	asBits := shown
	asBits.ColumnType = append([]byte(nil), shown.ColumnType...)
	asBits.ColumnMeta = append([]uint16(nil), shown.ColumnMeta...)
	for _, i := range packed {
		asBits.ColumnType[i] = gomysql.MYSQL_TYPE_BIT
		asBits.ColumnMeta[i] = uint16(packedWidth(shown.ColumnType[i], shown.ColumnMeta[i])) << 8 // n bytes: n*8 bits
	}
	e.Table = &asBits
	err = e.DecodeData(pos, data)
	e.Table = &shown
	if err != nil {
		return err
	}
	// One array holds the event's values, each row pointing at its own:
	// a pointer goes into an interface without an allocation of its own.
	values := make([]BinlogTemporal, 0, len(e.Rows)*len(packed))
	for _, row := range e.Rows {
		for _, i := range packed {
			if i >= len(row) || row[i] == nil {
				continue
			}
			n, ok := row[i].(int64)
			if !ok {
				return fmt.Errorf("column %d: go-mysql gave %T for a %d-byte BIT", i, row[i], packedWidth(shown.ColumnType[i], shown.ColumnMeta[i]))
			}
			values = append(values, BinlogTemporal{Code: shown.ColumnType[i], Meta: shown.ColumnMeta[i], Packed: uint64(n)})
			row[i] = &values[len(values)-1]
		}
	}
	return nil
}

// datetimeIntOffset is added to a DATETIME2's packed integer part so
// that it is stored unsigned (MySQL's DATETIMEF_INT_OFS).
const datetimeIntOffset = 0x8000000000

// fields unpacks v into calendar fields and microseconds as MySQL stores
// them (unchecked). zero reports MySQL's zero value, which go-mysql
// prints as 0000-00-00[ 00:00:00[.fraction]] without reading the fields;
// for a TIMESTAMP, sec is the instant's seconds and the calendar fields
// are not set.
func (v BinlogTemporal) fields() (year, month, day, hour, minute, second int, sec int64, micros int64, zero bool) {
	switch v.Code {
	case gomysql.MYSQL_TYPE_DATE:
		d := int(bits.ReverseBytes32(uint32(v.Packed)) >> 8) // three little-endian bytes
		return d / (16 * 32), d / 32 % 16, d % 32, 0, 0, 0, 0, 0, d == 0
	case gomysql.MYSQL_TYPE_TIMESTAMP2:
		fracBytes := packedWidth(v.Code, v.Meta) - 4
		sec = int64(v.Packed >> (8 * fracBytes))
		micros = fraction(v.Packed, v.Meta)
		return 0, 0, 0, 0, 0, 0, sec, micros, sec == 0
	}
	fracBytes := packedWidth(v.Code, v.Meta) - 5
	intPart := int64(v.Packed>>(8*fracBytes)) - datetimeIntOffset
	micros = fraction(v.Packed, v.Meta)
	if intPart == 0 {
		return 0, 0, 0, 0, 0, 0, 0, micros, true
	}
	tmp := intPart<<24 + micros
	if tmp < 0 {
		tmp = -tmp
	}
	ymdhms := tmp >> 24
	ymd, hms := ymdhms>>17, ymdhms%(1<<17)
	ym := ymd >> 5
	return int(ym / 13), int(ym % 13), int(ymd % (1 << 5)), int(hms >> 12), int((hms >> 6) % (1 << 6)), int(hms % (1 << 6)), 0, micros, false
}

// fraction returns the microseconds of a DATETIME2 or TIMESTAMP2 with
// dec fractional digits, from the low bytes of packed.
func fraction(packed uint64, dec uint16) int64 {
	switch dec {
	case 1, 2:
		return int64(packed&0xff) * 10000
	case 3, 4:
		return int64(packed&0xffff) * 100
	case 5, 6:
		return int64(packed & 0xffffff)
	}
	return 0
}

// String prints v as go-mysql prints the value (ParseTime false,
// TimestampStringLocation UTC).
func (v BinlogTemporal) String() string {
	y, mo, d, h, mi, s, sec, us, zero := v.fields()
	if v.Code == gomysql.MYSQL_TYPE_DATE {
		if zero {
			return "0000-00-00"
		}
		return fmt.Sprintf("%04d-%02d-%02d", y, mo, d)
	}
	if v.Code == gomysql.MYSQL_TYPE_TIMESTAMP2 && !zero {
		t := time.Unix(sec, us*1000).UTC()
		y, mo, d, h, mi, s = t.Year(), int(t.Month()), t.Day(), t.Hour(), t.Minute(), t.Second()
		us = int64(t.Nanosecond() / 1000)
	}
	text := fmt.Sprintf("%04d-%02d-%02d %02d:%02d:%02d", y, mo, d, h, mi, s)
	if v.digits() == 0 {
		return text
	}
	frac := fmt.Sprintf("%06d", us)
	return text + "." + frac[:len(frac)-(6-v.digits())]
}

// digits returns the fractional digits v's text shows: its Meta for a
// DATETIME2 or TIMESTAMP2 (at most 6), none for a DATE.
func (v BinlogTemporal) digits() int {
	if v.Code == gomysql.MYSQL_TYPE_DATE {
		return 0
	}
	return int(min(v.Meta, 6))
}

// packedTemporal decodes a BinlogTemporal to exactly what its text would
// decode to (temporal with fromBinlog), without the text: values whose
// fields text could not hold as MySQL prints them (beyond a calendar's
// ranges; MySQL does not write them) go through the text.
func (d *dec) packedTemporal(v *BinlogTemporal) (any, error) {
	raw := rawValue{binlog: v} // a pointer: boxed without an allocation
	if packedWidth(v.Code, v.Meta) == 0 {
		return nil, d.failRaw(raw, "not a DATE, DATETIME2 or TIMESTAMP2 the binlog can hold")
	}
	y, mo, day, h, mi, s, sec, us, zero := v.fields()
	if us >= 1_000_000 {
		return d.temporal(raw, v.String(), true)
	}
	keep := pow10[6-v.digits()]
	us = us / keep * keep // the digits the text keeps
	switch {
	case d.family != v.family():
		return d.temporal(raw, v.String(), true) // not the column's type: as its text fares
	case zero:
		return d.zero(raw)
	case v.Code == gomysql.MYSQL_TYPE_TIMESTAMP2:
		return sec*1_000_000 + us, nil
	case y > 9999, mo > 12, h > 23, mi > 59, s > 59:
		return d.temporal(raw, v.String(), true)
	}
	return d.civil(raw, int64(y), mo, day, (int64(h)*3600+int64(mi)*60+int64(s))*1_000_000+us, true)
}

// family is the column family whose binlog values have v's type.
func (v BinlogTemporal) family() byte {
	switch v.Code {
	case gomysql.MYSQL_TYPE_DATE:
		return famDate
	case gomysql.MYSQL_TYPE_DATETIME2:
		return famDatetime
	}
	return famTimestamp
}

// pow10[n] is 10ⁿ, for n up to 6.
var pow10 = [7]int64{1, 10, 100, 1000, 10000, 100000, 1000000}
