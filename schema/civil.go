package schema

// Civil dates and times: the proleptic Gregorian calendar (astronomical
// year numbering: 1 BC is year 0), days since 1970-01-01 and microseconds
// since midnight, as the canonical values of Iceberg date, time and
// timestamp are (see Row). No time zone database and never the process's
// local zone: dialect packages parse their text with these and nothing
// else.

// DayMicros is the number of microseconds in a day.
const DayMicros = 86_400_000_000

// ValidDate reports whether y-m-d is a calendar date: month 1 to 12, day
// 1 to the month's length.
func ValidDate(y int64, m, d int) bool {
	return m >= 1 && m <= 12 && d >= 1 && d <= daysInMonth(y, m)
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

// DaysFromCivil returns the number of days from 1970-01-01 to y-m-d.
func DaysFromCivil(y int64, m, d int) int64 {
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

// CivilFromDays is the inverse of DaysFromCivil.
func CivilFromDays(days int64) (y int64, m, d int) {
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

// ParseClock reads HH:MM:SS[.f] (f of 1 to 6 digits) at the start of b
// and returns microseconds since midnight (24:00:00 reads as DayMicros)
// and the rest of b. A seconds field of 60 (a leap second) is rejected.
func ParseClock(b []byte) (int64, []byte, bool) {
	if len(b) < 8 || b[2] != ':' || b[5] != ':' {
		return 0, nil, false
	}
	h, ok1 := TwoDigits(b)
	m, ok2 := TwoDigits(b[3:])
	s, ok3 := TwoDigits(b[6:])
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
	if us > DayMicros {
		return 0, nil, false
	}
	return us, b, true
}

// TwoDigits parses the two decimal digits at the start of b.
func TwoDigits(b []byte) (int, bool) {
	if len(b) < 2 || !isDigit(b[0]) || !isDigit(b[1]) {
		return 0, false
	}
	return int(b[0]-'0')*10 + int(b[1]-'0'), true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// floorDiv returns q, r with a = q*n + r and 0 <= r < n.
func floorDiv(a, n int64) (int64, int64) {
	q, r := a/n, a%n
	if r < 0 {
		q--
		r += n
	}
	return q, r
}
