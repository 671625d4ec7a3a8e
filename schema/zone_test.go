package schema

import (
	"slices"
	"testing"
	"time"
	_ "time/tzdata" // the zones below, whatever the machine has
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// wallMicros is the wall clock s ("2006-01-02 15:04:05.999999") as
// microseconds since 1970-01-01 00:00:00 on the wall.
func wallMicros(t *testing.T, s string) int64 { return utcMicros(t, s) }

// utcMicros is the UTC instant s ("2006-01-02 15:04:05.999999") as
// microseconds since the Unix epoch.
func utcMicros(t *testing.T, s string) int64 {
	t.Helper()
	tm, err := time.Parse("2006-01-02 15:04:05.999999", s)
	if err != nil {
		t.Fatal(err)
	}
	return tm.UnixMicro()
}

func TestZonedInstant(t *testing.T) {
	berlin, ny := mustZone(t, "Europe/Berlin"), mustZone(t, "America/New_York")
	tests := []struct {
		loc        *time.Location
		wall, want string // want in UTC
	}{
		{berlin, "2024-01-15 12:00:00", "2024-01-15 11:00:00"},
		{berlin, "2024-07-01 12:00:00.123456", "2024-07-01 10:00:00.123456"},
		// Spring gap 02:00-03:00: read with the offset before it (+01:00).
		{berlin, "2024-03-31 01:59:59.999999", "2024-03-31 00:59:59.999999"},
		{berlin, "2024-03-31 02:00:00", "2024-03-31 01:00:00"},
		{berlin, "2024-03-31 02:30:00", "2024-03-31 01:30:00"},
		{berlin, "2024-03-31 03:00:00", "2024-03-31 01:00:00"},
		{berlin, "2024-03-31 03:30:00", "2024-03-31 01:30:00"},
		// Autumn overlap 02:00-03:00: the first pass (+02:00).
		{berlin, "2024-10-27 01:59:59", "2024-10-26 23:59:59"},
		{berlin, "2024-10-27 02:00:00", "2024-10-27 00:00:00"},
		{berlin, "2024-10-27 02:30:00.5", "2024-10-27 00:30:00.5"},
		{berlin, "2024-10-27 03:00:00", "2024-10-27 02:00:00"},
		{berlin, "1969-12-31 23:59:59.999999", "1969-12-31 22:59:59.999999"},
		{ny, "2024-03-10 02:30:00", "2024-03-10 07:30:00"},
		{ny, "2024-11-03 01:30:00", "2024-11-03 05:30:00"},
		{time.UTC, "9999-12-31 23:59:59.999999", "9999-12-31 23:59:59.999999"},
	}
	for _, tc := range tests {
		if got, want := ZonedInstant(wallMicros(t, tc.wall), tc.loc), utcMicros(t, tc.want); got != want {
			t.Errorf("%s in %s: %s UTC, want %s UTC", tc.wall, tc.loc, time.UnixMicro(got).UTC().Format(time.RFC3339Nano), tc.want)
		}
	}
	// Away from transitions it is time.Date's reading, also before the
	// zone's first transition (local mean time).
	for _, s := range []string{"1000-01-01 00:00:00", "1893-03-31 23:00:00", "1945-05-24 01:30:00", "2038-01-19 03:14:08"} {
		w := wallMicros(t, s)
		tm := time.UnixMicro(w).UTC()
		want := time.Date(tm.Year(), tm.Month(), tm.Day(), tm.Hour(), tm.Minute(), tm.Second(), 0, berlin).UnixMicro()
		if got := ZonedInstant(w, berlin); got != want {
			t.Errorf("%s in Berlin: %d, want %d", s, got, want)
		}
	}
}

func TestZonedWallClocks(t *testing.T) {
	berlin := mustZone(t, "Europe/Berlin")
	tests := []struct {
		instant string // UTC
		want    []string
	}{
		{"2024-01-15 11:00:00", []string{"2024-01-15 12:00:00"}},
		// The instant a gap wall clock lands on has two wall clocks.
		{"2024-03-31 01:30:00.25", []string{"2024-03-31 02:30:00.25", "2024-03-31 03:30:00.25"}},
		{"2024-10-27 00:30:00", []string{"2024-10-27 02:30:00"}},
		// The second pass of the overlap hour has none; its plain wall clock.
		{"2024-10-27 01:30:00", []string{"2024-10-27 02:30:00"}},
	}
	for _, tc := range tests {
		var want []int64
		for _, w := range tc.want {
			want = append(want, wallMicros(t, w))
		}
		if got := ZonedWallClocks(utcMicros(t, tc.instant), berlin); !slices.Equal(got, want) {
			t.Errorf("wall clocks of %s UTC: %v, want %v", tc.instant, got, want)
		}
	}
}
