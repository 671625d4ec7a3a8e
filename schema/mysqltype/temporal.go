package mysqltype

import (
	"strconv"
	"strings"
	"time"

	"github.com/floe-cdc/floe/schema"
)

// temporal decodes DATE, DATETIME, TIMESTAMP and TIME text: "YYYY-MM-DD",
// "YYYY-MM-DD HH:MM:SS[.f]", "[-]HHH:MM:SS[.f]" (f: 1 to 6 digits).
// TIMESTAMP text is in UTC when it comes from the binlog, else in the
// session time zone (Options.ServerTimeZone).
func (d *dec) temporal(raw rawValue, s string, fromBinlog bool) (any, error) {
	if d.family == famTime {
		us, ok := parseTime(s)
		if !ok {
			return nil, d.failRaw(raw, "not MySQL TIME text [-]HHH:MM:SS[.ffffff]")
		}
		return us, nil
	}
	y, m, day, rest, ok := scanYMD(s)
	if !ok {
		return nil, d.failRaw(raw, "not MySQL date text YYYY-MM-DD")
	}
	var tod int64
	if d.family != famDate {
		if len(rest) == 0 || rest[0] != ' ' {
			return nil, d.failRaw(raw, "not MySQL datetime text YYYY-MM-DD HH:MM:SS[.ffffff]")
		}
		var left []byte
		tod, left, ok = schema.ParseClock([]byte(rest[1:]))
		if !ok || len(left) != 0 || tod >= schema.DayMicros {
			return nil, d.failRaw(raw, "not MySQL datetime text YYYY-MM-DD HH:MM:SS[.ffffff]")
		}
	} else if rest != "" {
		return nil, d.failRaw(raw, "not MySQL date text YYYY-MM-DD")
	}
	return d.civil(raw, y, m, day, tod, fromBinlog)
}

// civil decodes a DATE, DATETIME or TIMESTAMP value given by its
// calendar fields, tod the microseconds since midnight (0 for a DATE),
// as temporal does once it has read them from text.
func (d *dec) civil(raw rawValue, y int64, m, day int, tod int64, fromBinlog bool) (any, error) {
	if !schema.ValidDate(y, m, day) {
		return d.zero(raw)
	}
	days := schema.DaysFromCivil(y, m, day)
	switch d.family {
	case famDate:
		return int32(days), nil
	case famDatetime:
		if d.zone != nil {
			return schema.ZonedInstant(days*schema.DayMicros+tod, d.zone), nil
		}
	case famTimestamp:
		if !fromBinlog && d.loc != time.UTC {
			sec, frac := tod/1_000_000, tod%1_000_000
			t := time.Date(int(y), time.Month(m), day, int(sec/3600), int(sec/60%60), int(sec%60), int(frac)*1000, d.loc)
			return t.UnixMicro(), nil
		}
	}
	return days*schema.DayMicros + tod, nil
}

// timeValue decodes a time.Time binlog value (go-mysql with ParseTime):
// DATETIME by its wall clock, TIMESTAMP by its instant.
func (d *dec) timeValue(t time.Time) (any, error) {
	switch d.family {
	case famTimestamp:
		return t.UnixMicro(), nil
	case famDatetime, famDate:
		y, m, day := t.Date()
		days := schema.DaysFromCivil(int64(y), int(m), day)
		if d.family == famDate {
			return int32(days), nil
		}
		h, mi, sec := t.Clock()
		wall := days*schema.DayMicros + (int64(h)*3600+int64(mi)*60+int64(sec))*1_000_000 + int64(t.Nanosecond()/1000)
		if d.zone != nil {
			return schema.ZonedInstant(wall, d.zone), nil
		}
		return wall, nil
	}
	return nil, d.fail(t, "unexpected time.Time binlog value")
}

// zero applies the zero-date treatment to a value that is not a calendar
// date ('0000-00-00', '2020-05-00', '2021-02-30').
func (d *dec) zero(raw rawValue) (any, error) {
	switch d.zeroDate {
	case ZeroDateNull:
		if d.c.Nullable {
			return nil, nil
		}
		return nil, d.failRaw(raw, "zero or invalid date in a NOT NULL column cannot become NULL; "+
			"set the zero-date treatment to epoch, or fix the row")
	case ZeroDateEpoch:
		if d.family == famDate {
			return int32(0), nil
		}
		return int64(0), nil
	}
	return nil, d.failRaw(raw, "zero or invalid date (MySQL zero date) has no Iceberg form; "+
		"set the zero-date treatment to null or epoch, or fix the row")
}

// scanYMD reads YYYY-MM-DD at the start of s without validating it.
func scanYMD(s string) (y int64, m, day int, rest string, ok bool) {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return 0, 0, 0, "", false
	}
	for i := 0; i < 4; i++ {
		if !isDigit(s[i]) {
			return 0, 0, 0, "", false
		}
		y = y*10 + int64(s[i]-'0')
	}
	m, ok1 := schema.TwoDigits([]byte(s[5:7]))
	day, ok2 := schema.TwoDigits([]byte(s[8:10]))
	return y, m, day, s[10:], ok1 && ok2
}

// parseTime parses TIME text into signed microseconds.
func parseTime(s string) (int64, bool) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	hours, rest, ok := strings.Cut(s, ":")
	if !ok || len(hours) < 2 || len(hours) > 3 || len(rest) < 5 || rest[2] != ':' {
		return 0, false
	}
	if strings.Trim(hours, "0123456789") != "" {
		return 0, false
	}
	h, err := strconv.Atoi(hours)
	mi, ok1 := schema.TwoDigits([]byte(rest))
	sec, ok2 := schema.TwoDigits([]byte(rest[3:]))
	if err != nil || h < 0 || !ok1 || !ok2 || mi > 59 || sec > 59 {
		return 0, false
	}
	us := (int64(h)*3600 + int64(mi)*60 + int64(sec)) * 1_000_000
	if frac := rest[5:]; frac != "" {
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 7 {
			return 0, false
		}
		f, err := strconv.Atoi(frac[1:])
		if err != nil || f < 0 || frac[1] == '+' {
			return 0, false
		}
		for k := len(frac) - 1; k < 6; k++ {
			f *= 10
		}
		us += int64(f)
	}
	if neg {
		us = -us
	}
	return us, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
