package pgtype

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/apache/iceberg-go"

	"github.com/floe-cdc/floe/schema"
)

// Binary wire form of a few fixed-width types.
//
// A snapshot reads rows with the extended protocol, where each result
// column may come as text or in the type's binary form. For integers,
// booleans, uuids, dates and timestamps the binary form costs less on
// both sides: the server copies an integer instead of printing it (a
// timestamptz printed is a calendar computation per value), and Floe
// reads it instead of parsing it. BinaryDecoder reads those forms into
// exactly the canonical values TextDecoder gives for the same stored
// value, errors included (an infinite date or timestamp, one outside
// Iceberg's range); every other type, and any column whose Iceberg type
// is not the one the binary form maps to exactly (an override to text, a
// float widened to double), is read as text. BinaryText prints a binary
// value as PostgreSQL prints it (DateStyle=ISO, TimeZone=UTC), for error
// messages and dead letters, so that TextDecoder reads that text back to
// the same value.

// pgEpochDays is the days from 1970-01-01 to 2000-01-01, PostgreSQL's
// epoch for binary dates and timestamps.
const pgEpochDays = 10957

// pgEpochMicros is pgEpochDays in microseconds.
const pgEpochMicros = pgEpochDays * schema.DayMicros

// binaryWidth is the byte length of the binary form of each type
// BinaryDecoder reads.
var binaryWidth = map[uint32]int{
	oidInt2: 2, oidInt4: 4, oidInt8: 8, oidBool: 1, oidUUID: 16,
	oidDate: 4, oidTimestamp: 8, oidTimestamptz: 8,
}

// BinaryDecoder returns the decoder of c's values in the binary form of
// built-in type oid (the column's pg_attribute.atttypid, which names the
// form the server sends), or ok false when c is to be read as text: oid is
// not one of int2, int4, int8, bool, uuid, date, timestamp and
// timestamptz, or c's Iceberg type is not the one its binary form maps to
// exactly (int2 and int4 also to long). Its values and errors are those
// of TextDecoder(c) for the text of the same value.
func BinaryDecoder(c schema.Column, oid uint32) (d schema.Decoder, ok bool) {
	if !binaryReads(oid, c.Type) {
		return nil, false
	}
	src, _ := c.Source.(Type)
	col := &column{name: c.Name, source: src.describe()}
	width := binaryWidth[oid]
	toInt64 := c.Type.Equals(iceberg.PrimitiveTypes.Int64)
	return func(b []byte) (any, error) {
		if len(b) != width {
			return nil, col.fail(b, fmt.Sprintf("binary value of %d bytes where %s has %d", len(b), typeName(oid), width))
		}
		v, reason := decodeBinary(oid, b, toInt64)
		if reason != "" {
			text, _ := BinaryText(oid, b)
			return nil, col.fail([]byte(text), reason)
		}
		return v, nil
	}, true
}

// binaryReads reports whether values of built-in type oid are read in
// binary form for a column of Iceberg type typ.
func binaryReads(oid uint32, typ iceberg.Type) bool {
	switch oid {
	case oidInt2, oidInt4:
		return typ.Equals(iceberg.PrimitiveTypes.Int32) || typ.Equals(iceberg.PrimitiveTypes.Int64)
	case oidInt8, oidBool, oidUUID, oidDate, oidTimestamp, oidTimestamptz:
		return typ.Equals(builtinTypes[oid])
	}
	return false
}

// decodeBinary decodes b, of the right width for oid, into the value
// TextDecoder gives (int2 and int4 as int64 when toInt64), or says why it
// cannot be stored.
func decodeBinary(oid uint32, b []byte, toInt64 bool) (any, string) {
	switch oid {
	case oidInt2, oidInt4:
		var n int32
		if oid == oidInt2 {
			n = int32(int16(binary.BigEndian.Uint16(b)))
		} else {
			n = int32(binary.BigEndian.Uint32(b))
		}
		if toInt64 {
			return int64(n), ""
		}
		return n, ""
	case oidInt8:
		return int64(binary.BigEndian.Uint64(b)), ""
	case oidBool:
		return b[0] != 0, ""
	case oidUUID:
		return [16]byte(b), ""
	case oidDate:
		days, reason := binaryDate(b)
		if reason != "" {
			return nil, reason
		}
		return days, ""
	default: // timestamp, timestamptz
		us, reason := binaryTimestamp(b)
		if reason != "" {
			return nil, reason
		}
		return us, ""
	}
}

// binaryDate reads a binary date (days since 2000-01-01) as days since
// 1970-01-01, with parseDate's reasons.
func binaryDate(b []byte) (int32, string) {
	d := int32(binary.BigEndian.Uint32(b))
	if d == math.MaxInt32 || d == math.MinInt32 {
		return 0, reasonInfinity
	}
	days := int64(d) + pgEpochDays
	if days > math.MaxInt32 {
		return 0, "date out of range for Iceberg date"
	}
	return int32(days), ""
}

// binaryTimestamp reads a binary timestamp (microseconds since
// 2000-01-01) as microseconds since 1970-01-01, with parseTimestamp's
// reasons.
func binaryTimestamp(b []byte) (int64, string) {
	us := int64(binary.BigEndian.Uint64(b))
	if us == math.MaxInt64 || us == math.MinInt64 {
		return 0, reasonInfinity
	}
	if us > math.MaxInt64-pgEpochMicros {
		return 0, reasonRange
	}
	return us + pgEpochMicros, ""
}

// BinaryText returns the text PostgreSQL prints (DateStyle=ISO,
// TimeZone=UTC) for b, a value in the binary form of built-in type oid;
// ok is false when oid is not a type BinaryDecoder reads or b is not of
// its width.
func BinaryText(oid uint32, b []byte) (text string, ok bool) {
	if w, known := binaryWidth[oid]; !known || len(b) != w {
		return "", false
	}
	switch oid {
	case oidInt2:
		return strconv.FormatInt(int64(int16(binary.BigEndian.Uint16(b))), 10), true
	case oidInt4:
		return strconv.FormatInt(int64(int32(binary.BigEndian.Uint32(b))), 10), true
	case oidInt8:
		return strconv.FormatInt(int64(binary.BigEndian.Uint64(b)), 10), true
	case oidBool:
		if b[0] != 0 {
			return "t", true
		}
		return "f", true
	case oidUUID:
		h := hex.EncodeToString(b)
		return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], true
	case oidDate:
		d := int32(binary.BigEndian.Uint32(b))
		if text, inf := infinite(int64(d), math.MaxInt32, math.MinInt32); inf {
			return text, true
		}
		var sb strings.Builder
		bc := writePGDate(&sb, int64(d)+pgEpochDays)
		return withEra(sb.String(), bc), true
	default: // timestamp, timestamptz
		us := int64(binary.BigEndian.Uint64(b))
		if text, inf := infinite(us, math.MaxInt64, math.MinInt64); inf {
			return text, true
		}
		// Days and time of day since 2000, then the date moved to 1970:
		// no sum that could overflow.
		days, tod := us/schema.DayMicros, us%schema.DayMicros
		if tod < 0 {
			days, tod = days-1, tod+schema.DayMicros
		}
		var sb strings.Builder
		bc := writePGDate(&sb, days+pgEpochDays)
		sb.WriteByte(' ')
		writePGTime(&sb, tod)
		if oid == oidTimestamptz {
			sb.WriteString("+00")
		}
		return withEra(sb.String(), bc), true
	}
}

// infinite returns PostgreSQL's word for v when it is the type's
// infinity (max) or -infinity (min).
func infinite(v, max, min int64) (string, bool) {
	switch v {
	case max:
		return "infinity", true
	case min:
		return "-infinity", true
	}
	return "", false
}

// writePGDate writes days since 1970-01-01 as PostgreSQL prints a date:
// YYYY-MM-DD with at least four year digits, a year before 1 as its BC
// year (bc is then true: the era marker ends the whole text).
func writePGDate(sb *strings.Builder, days int64) (bc bool) {
	y, m, d := schema.CivilFromDays(days)
	if y <= 0 {
		y, bc = 1-y, true
	}
	fmt.Fprintf(sb, "%04d-%02d-%02d", y, m, d)
	return bc
}

// writePGTime writes microseconds since midnight as HH:MM:SS with the
// fraction PostgreSQL prints (no trailing zeros).
func writePGTime(sb *strings.Builder, us int64) {
	secs, frac := us/1_000_000, us%1_000_000
	fmt.Fprintf(sb, "%02d:%02d:%02d", secs/3600, secs/60%60, secs%60)
	if frac != 0 {
		sb.WriteByte('.')
		sb.WriteString(strings.TrimRight(fmt.Sprintf("%06d", frac), "0"))
	}
}

func withEra(text string, bc bool) string {
	if bc {
		return text + " BC"
	}
	return text
}

// typeName names a built-in type BinaryDecoder reads.
func typeName(oid uint32) string {
	for name, o := range builtinByName {
		if o == oid {
			return name
		}
	}
	return fmt.Sprintf("type oid %d", oid)
}
