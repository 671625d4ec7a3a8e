package schema

import (
	"bytes"
	"math"
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
	dayMicros = 86_400_000_000
	// maxDays bounds |days| so that days*dayMicros fits an int64.
	maxDays = math.MaxInt64 / dayMicros

	reasonInfinity = "PostgreSQL infinity cannot be stored: Iceberg dates and timestamps are finite; " +
		"update the row to a real value or leave the column out of the pipeline"
	reasonDateStyle = "not ISO date/time output (set DateStyle=ISO)"
)

// parseDate parses date output into days since 1970-01-01; reason is ""
// on success.
func parseDate(b []byte) (int32, string) {
	if isInfinity(b) {
		return 0, reasonInfinity
	}
	b, bc := cutBC(b)
	days, rest, reason := scanDate(b, bc)
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
	us, rest, ok := scanTime(b)
	if !ok || len(rest) != 0 {
		return 0, "not time output HH:MM:SS[.ffffff]"
	}
	if us >= dayMicros {
		return 0, "24:00:00 cannot be stored: Iceberg time is below 24:00"
	}
	return us, ""
}

// parseTimestamp parses timestamp (withZone false) or timestamptz output
// into microseconds since the epoch: wall clock for timestamp, UTC for
// timestamptz (the printed offset is subtracted).
func parseTimestamp(b []byte, withZone bool) (int64, string) {
	if isInfinity(b) {
		return 0, reasonInfinity
	}
	b, bc := cutBC(b)
	days, rest, reason := scanDate(b, bc)
	if reason != "" {
		return 0, reason
	}
	if len(rest) == 0 || rest[0] != ' ' {
		return 0, reasonDateStyle
	}
	tod, rest, ok := scanTime(rest[1:])
	if !ok || tod >= dayMicros {
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
		return 0, "timestamp out of range for Iceberg (int64 microseconds since 1970)"
	}
	us := days * dayMicros
	if us > math.MaxInt64-tod {
		return 0, "timestamp out of range for Iceberg (int64 microseconds since 1970)"
	}
	us += tod
	if (offset < 0 && us > math.MaxInt64+offset) || (offset > 0 && us < math.MinInt64+offset) {
		return 0, "timestamp out of range for Iceberg (int64 microseconds since 1970)"
	}
	return us - offset, ""
}

func isInfinity(b []byte) bool {
	return string(b) == "infinity" || string(b) == "-infinity"
}

// cutBC removes a trailing " BC" era marker.
func cutBC(b []byte) ([]byte, bool) {
	if bytes.HasSuffix(b, []byte(" BC")) {
		return b[:len(b)-3], true
	}
	return b, false
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
	m, ok1 := twoDigits(b[i+1:])
	d, ok2 := twoDigits(b[i+4:])
	if !ok1 || !ok2 {
		return 0, nil, reasonDateStyle
	}
	if bc {
		if y == 0 {
			return 0, nil, reasonDateStyle
		}
		y = 1 - y
	}
	if m < 1 || m > 12 || d < 1 || d > daysInMonth(y, m) {
		return 0, nil, "invalid date"
	}
	return daysFromCivil(y, m, d), b[i+6:], ""
}

// scanTime reads HH:MM:SS[.f] (f of 1 to 6 digits) at the start of b and
// returns microseconds since midnight (24:00:00 reads as dayMicros) and the
// rest of b. A seconds field of 60 (a leap second) is rejected: PostgreSQL
// never prints one.
func scanTime(b []byte) (int64, []byte, bool) {
	if len(b) < 8 || b[2] != ':' || b[5] != ':' {
		return 0, nil, false
	}
	h, ok1 := twoDigits(b)
	m, ok2 := twoDigits(b[3:])
	s, ok3 := twoDigits(b[6:])
	if !ok1 || !ok2 || !ok3 || h > 24 || m > 59 || s > 59 {
		return 0, nil, false
	}
	us := (int64(h)*3600 + int64(m)*60 + int64(s)) * 1_000_000
	b = b[8:]
	if len(b) > 0 && b[0] == '.' {
		n := 1
		var f int64
		for n < len(b) && isDigit(b[n]) {
			if n > 6 {
				return 0, nil, false
			}
			f = f*10 + int64(b[n]-'0')
			n++
		}
		if n == 1 {
			return 0, nil, false
		}
		for k := n; k <= 6; k++ {
			f *= 10
		}
		us += f
		b = b[n:]
	}
	if us > dayMicros {
		return 0, nil, false
	}
	return us, b, true
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
	h, ok := twoDigits(b[1:])
	if !ok {
		return 0, nil, false
	}
	secs := int64(h) * 3600
	b = b[3:]
	for unit := int64(60); unit >= 1 && len(b) >= 3 && b[0] == ':'; unit /= 60 {
		v, ok := twoDigits(b[1:])
		if !ok || v > 59 {
			return 0, nil, false
		}
		secs += int64(v) * unit
		b = b[3:]
	}
	return sign * secs * 1_000_000, b, true
}

func twoDigits(b []byte) (int, bool) {
	if len(b) < 2 || !isDigit(b[0]) || !isDigit(b[1]) {
		return 0, false
	}
	return int(b[0]-'0')*10 + int(b[1]-'0'), true
}

func isLeap(y int64) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysInMonth(y int64, m int) int {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the number of days from 1970-01-01 to y-m-d in the
// proleptic Gregorian calendar (astronomical year numbering: 1 BC is 0).
func daysFromCivil(y int64, m, d int) int64 {
	// Count from 0000-03-01 so the leap day ends the counted year.
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400                     // [0, 399]
	mp := int64((m + 9) % 12)              // March = 0
	doy := (153*mp+2)/5 + int64(d) - 1     // [0, 365]
	doe := yoe*365 + yoe/4 - yoe/100 + doy // [0, 146096]
	return era*146097 + doe - 719468       // 719468 = days from 0000-03-01 to 1970-01-01
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(days int64) (y int64, m, d int) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	m = int((mp+2)%12 + 1)
	y = yoe + era*400
	if m <= 2 {
		y++
	}
	return y, m, d
}
