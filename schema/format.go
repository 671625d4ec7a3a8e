package schema

import (
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/iceberg-go"
)

// FormatValue renders a canonical value of Iceberg type typ for people:
// NULL, decimals with their scale ("12.50"), dates and times in ISO 8601
// ("2024-01-02", "03:04:05.5", "2024-01-02T03:04:05.123456", timestamptz
// with a trailing Z; years outside 0000-9999 signed, e.g. "-0043-03-15"),
// uuids in 8-4-4-4-12 form, binary as \x-prefixed hex, floats in their
// shortest form (NaN, Infinity, -Infinity) and lists as "[a, b]". A value
// whose Go type does not fit typ is printed with %v.
func FormatValue(v any, typ iceberg.Type) string {
	var b strings.Builder
	formatValue(&b, v, typ)
	return b.String()
}

func formatValue(b *strings.Builder, v any, typ iceberg.Type) {
	if v == nil {
		b.WriteString("NULL")
		return
	}
	if IsUnchanged(v) {
		b.WriteString("<unchanged>")
		return
	}
	switch t := typ.(type) {
	case iceberg.DecimalType:
		if n, ok := v.(decimal128.Num); ok {
			b.WriteString(n.ToString(int32(t.Scale())))
			return
		}
	case iceberg.DateType:
		if d, ok := v.(int32); ok {
			writeDate(b, int64(d))
			return
		}
	case iceberg.TimeType:
		if us, ok := v.(int64); ok {
			writeTime(b, us)
			return
		}
	case iceberg.TimestampType, iceberg.TimestampTzType:
		if us, ok := v.(int64); ok {
			days, tod := floorDiv(us, DayMicros)
			writeDate(b, days)
			b.WriteByte('T')
			writeTime(b, tod)
			if _, tz := t.(iceberg.TimestampTzType); tz {
				b.WriteByte('Z')
			}
			return
		}
	case iceberg.UUIDType:
		if u, ok := v.([16]byte); ok {
			h := hex.EncodeToString(u[:])
			b.WriteString(h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:])
			return
		}
	case *iceberg.ListType:
		if l, ok := v.([]any); ok {
			b.WriteByte('[')
			for i, e := range l {
				if i > 0 {
					b.WriteString(", ")
				}
				formatValue(b, e, t.Element)
			}
			b.WriteByte(']')
			return
		}
	}
	switch x := v.(type) {
	case float32:
		b.WriteString(formatFloat(float64(x), 32))
	case float64:
		b.WriteString(formatFloat(x, 64))
	case []byte:
		b.WriteString(`\x`)
		b.WriteString(hex.EncodeToString(x))
	case string:
		b.WriteString(x)
	default:
		fmt.Fprintf(b, "%v", v)
	}
}

func formatFloat(f float64, bitSize int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return strconv.FormatFloat(f, 'g', -1, bitSize)
}

// writeDate writes days since 1970-01-01 as ISO 8601 YYYY-MM-DD.
func writeDate(b *strings.Builder, days int64) {
	y, m, d := CivilFromDays(days)
	switch {
	case y < 0:
		fmt.Fprintf(b, "-%04d", -y)
	case y > 9999:
		fmt.Fprintf(b, "+%d", y)
	default:
		fmt.Fprintf(b, "%04d", y)
	}
	fmt.Fprintf(b, "-%02d-%02d", m, d)
}

// writeTime writes microseconds since midnight as HH:MM:SS[.f], the
// fraction without trailing zeros.
func writeTime(b *strings.Builder, us int64) {
	secs, frac := us/1_000_000, us%1_000_000
	fmt.Fprintf(b, "%02d:%02d:%02d", secs/3600, secs/60%60, secs%60)
	if frac != 0 {
		f := fmt.Sprintf("%06d", frac)
		b.WriteByte('.')
		b.WriteString(strings.TrimRight(f, "0"))
	}
}
