package pgtype

import (
	"bytes"
	"math"

	"github.com/floe-cdc/floe/schema"
)

// Date and time text (DateStyle=ISO) is parsed by hand: fixed layouts,
// proleptic Gregorian calendar (as PostgreSQL uses), no time zone database
// and never the process's local zone. Forms accepted:
//
//	date         YYYY-MM-DD[ BC]                     (4 or more year digits)
//	time         HH:MM:SS[.f]                        (f: 1 to 6 digits)
//	timestamp    YYYY-MM-DD HH:MM:SS[.f][ BC]
//	timestamptz  YYYY-MM-DD HH:MM:SS[.f]±HH[:MM[:SS]][ BC]

const (
	// maxDays bounds |days| so that days*DayMicros fits an int64.
	maxDays = math.MaxInt64 / schema.DayMicros

	reasonInfinity = "PostgreSQL infinity cannot be stored: Iceberg dates and timestamps are finite; " +
		"update the row to a real value or leave the column out of the pipeline"
	reasonDateStyle = "not ISO date/time output (set DateStyle=ISO)"
	reasonRange     = "timestamp out of range for Iceberg (int64 microseconds since 1970)"
)

// parseDate parses date output into days since 1970-01-01; reason is ""
// on success.
func parseDate(b []byte) (int32, string) {
	days, rest, reason := leadingDate(b)
	if reason != "" {
		return 0, reason
	}
	if len(rest) != 0 {
		return 0, reasonDateStyle
	}
	if days > math.MaxInt32 || days < math.MinInt32 {
		return 0, "date out of range for Iceberg date"
	}
	return int32(days), ""
}

// parseTimeOfDay parses time output into microseconds since midnight.
func parseTimeOfDay(b []byte) (int64, string) {
	us, rest, ok := schema.ParseClock(b)
	if !ok || len(rest) != 0 {
		return 0, "not time output HH:MM:SS[.ffffff]"
	}
	if us >= schema.DayMicros {
		return 0, "24:00:00 cannot be stored: Iceberg time is below 24:00"
	}
	return us, ""
}

// parseTimestamp parses timestamp (withZone false) or timestamptz output
// into microseconds since the epoch: wall clock for timestamp, UTC for
// timestamptz (the printed offset is subtracted).
func parseTimestamp(b []byte, withZone bool) (int64, string) {
	days, rest, reason := leadingDate(b)
	if reason != "" {
		return 0, reason
	}
	if len(rest) == 0 || rest[0] != ' ' {
		return 0, reasonDateStyle
	}
	tod, rest, ok := schema.ParseClock(rest[1:])
	if !ok || tod >= schema.DayMicros {
		return 0, reasonDateStyle
	}
	var offset int64
	if withZone {
		offset, rest, ok = scanOffset(rest)
		if !ok {
			return 0, "not timestamptz output with a UTC offset (set DateStyle=ISO)"
		}
	}
	if len(rest) != 0 {
		return 0, reasonDateStyle
	}
	if days > maxDays || days < -maxDays {
		return 0, reasonRange
	}
	us := days * schema.DayMicros
	if us > math.MaxInt64-tod {
		return 0, reasonRange
	}
	us += tod
	if (offset < 0 && us > math.MaxInt64+offset) || (offset > 0 && us < math.MinInt64+offset) {
		return 0, reasonRange
	}
	return us - offset, ""
}

// leadingDate reads the date at the start of date or timestamp output,
// whose era marker (" BC") ends the whole text, and returns days since
// 1970-01-01 and the text between the date and the era marker.
func leadingDate(b []byte) (int64, []byte, string) {
	if string(b) == "infinity" || string(b) == "-infinity" {
		return 0, nil, reasonInfinity
	}
	bc := bytes.HasSuffix(b, []byte(" BC"))
	if bc {
		b = b[:len(b)-3]
	}
	return scanDate(b, bc)
}

// scanDate reads YYYY-MM-DD (four or more year digits) at the start of b
// and returns days since 1970-01-01 and the rest of b. For a BC date the
// printed year y is the astronomical year 1-y.
func scanDate(b []byte, bc bool) (int64, []byte, string) {
	i := 0
	var y int64
	for i < len(b) && isDigit(b[i]) {
		if i >= 9 {
			return 0, nil, "year out of range"
		}
		y = y*10 + int64(b[i]-'0')
		i++
	}
	if i < 4 || len(b) < i+6 || b[i] != '-' || b[i+3] != '-' {
		return 0, nil, reasonDateStyle
	}
	m, ok1 := schema.TwoDigits(b[i+1:])
	d, ok2 := schema.TwoDigits(b[i+4:])
	if !ok1 || !ok2 {
		return 0, nil, reasonDateStyle
	}
	if bc {
		if y == 0 {
			return 0, nil, reasonDateStyle
		}
		y = 1 - y
	}
	if !schema.ValidDate(y, m, d) {
		return 0, nil, "invalid date"
	}
	return schema.DaysFromCivil(y, m, d), b[i+6:], ""
}

// scanOffset reads a UTC offset ±HH[:MM[:SS]] at the start of b and
// returns it in microseconds (east of UTC positive).
func scanOffset(b []byte) (int64, []byte, bool) {
	if len(b) < 3 || (b[0] != '+' && b[0] != '-') {
		return 0, nil, false
	}
	sign := int64(1)
	if b[0] == '-' {
		sign = -1
	}
	h, ok := schema.TwoDigits(b[1:])
	if !ok {
		return 0, nil, false
	}
	secs := int64(h) * 3600
	b = b[3:]
	for unit := int64(60); unit >= 1 && len(b) >= 3 && b[0] == ':'; unit /= 60 {
		v, ok := schema.TwoDigits(b[1:])
		if !ok || v > 59 {
			return 0, nil, false
		}
		secs += int64(v) * unit
		b = b[3:]
	}
	return sign * secs * 1_000_000, b, true
}
