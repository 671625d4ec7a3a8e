package schema

import (
	"strings"
	"testing"
	"time"
)

func TestDateRoundTrip(t *testing.T) {
	// CivilFromDays inverts DaysFromCivil and both agree with package time.
	for d := int64(-800_000); d <= 3_000_000; d += 37 {
		y, m, dd := CivilFromDays(d)
		if got := DaysFromCivil(y, m, dd); got != d {
			t.Fatalf("day %d -> %d-%d-%d -> %d", d, y, m, dd, got)
		}
		want := time.Unix(d*86400, 0).UTC()
		if int64(want.Year()) != y || int(want.Month()) != m || want.Day() != dd {
			t.Fatalf("day %d: %d-%d-%d, time says %s", d, y, m, dd, want)
		}
	}
}

func TestParseClock(t *testing.T) {
	for _, tc := range []struct {
		in   string
		us   int64
		rest string
		ok   bool
	}{
		{"00:00:00", 0, "", true},
		{"23:59:59.999999", DayMicros - 1, "", true},
		{"12:34:56.5+05", (12*3600+34*60+56)*1e6 + 500000, "+05", true},
		{"12:34:56.000123 BC", (12*3600+34*60+56)*1e6 + 123, " BC", true},
		{"24:00:00", DayMicros, "", true},
		{"24:00:00.000001", 0, "", false},
		{"23:59:60", 0, "", false},
		{"12:60:00", 0, "", false},
		{"12:34:56.", 0, "", false},
		{"12:34:56.1234567", 0, "", false},
		{"1:00:00", 0, "", false},
		{"12:34", 0, "", false},
	} {
		us, rest, ok := ParseClock([]byte(tc.in))
		if ok != tc.ok || (ok && (us != tc.us || string(rest) != tc.rest)) {
			t.Errorf("ParseClock(%q) = %d, %q, %v; want %d, %q, %v", tc.in, us, rest, ok, tc.us, tc.rest, tc.ok)
		}
	}
}

func TestValidDate(t *testing.T) {
	for _, tc := range []struct {
		y    int64
		m, d int
		want bool
	}{
		{2024, 2, 29, true}, {2023, 2, 29, false}, {1900, 2, 29, false}, {2000, 2, 29, true},
		{0, 2, 29, true}, {-4, 2, 29, true}, {2024, 4, 31, false}, {2024, 12, 31, true},
		{2024, 0, 1, false}, {2024, 13, 1, false}, {2024, 1, 0, false},
	} {
		if got := ValidDate(tc.y, tc.m, tc.d); got != tc.want {
			t.Errorf("ValidDate(%d, %d, %d) = %v, want %v", tc.y, tc.m, tc.d, got, tc.want)
		}
	}
}

func TestParseDecimal(t *testing.T) {
	for _, tc := range []struct {
		in         string
		prec, sc   int
		want       string // unscaled, or "" for a failure
		wantReason string
	}{
		{"123.45", 10, 2, "12345", ""},
		{"-0.01", 10, 2, "-1", ""},
		{"+7", 3, 0, "7", ""},
		{"1.50000", 5, 1, "15", ""},
		{"007.5", 2, 1, "75", ""},
		{"1.25", 10, 1, "", "more than 1 fractional digits"},
		{"123.4", 4, 2, "", "more than 2 integer digits"},
		{"NaN", 10, 2, "", "cannot store NaN"},
		{"1e5", 10, 2, "", "not a decimal number"},
		{".", 10, 2, "", "not a decimal number"},
	} {
		n, reason := ParseDecimal([]byte(tc.in), tc.prec, tc.sc)
		switch {
		case tc.want != "" && (reason != "" || n != dec(tc.want)):
			t.Errorf("ParseDecimal(%q, %d, %d) = %v, %q; want %s", tc.in, tc.prec, tc.sc, n.BigInt(), reason, tc.want)
		case tc.want == "" && !strings.Contains(reason, tc.wantReason):
			t.Errorf("ParseDecimal(%q, %d, %d): reason %q, want one containing %q", tc.in, tc.prec, tc.sc, reason, tc.wantReason)
		}
	}
}
