package schema

import (
	"slices"
	"time"
)

// Wall clocks in a zone.
//
// A source's wall-clock timestamp has no zone. When a source's wall clocks
// are all in one known zone, ZonedInstant turns each into the UTC instant
// it names in that zone (an Iceberg timestamptz value). Wall clocks that
// daylight saving makes ambiguous are resolved as java.time's
// ZonedDateTime.of (and Debezium) resolve them:
//
//   - in a gap (spring forward: Europe/Berlin 2024-03-31 02:30 never
//     happened) the wall clock is read with the offset in force before the
//     gap, so it lands one gap length later: 02:30 is 01:30 UTC, the same
//     instant as 03:30 CEST;
//   - in an overlap (fall back: 2024-10-27 02:30 happened twice) the
//     earlier instant is taken, the one with the offset in force before
//     the transition: 02:30 CEST, 00:30 UTC.
//
// The mapping is therefore not one-to-one inside a gap: a wall clock in the
// gap and the one a gap length later land on the same instant. Zone
// transitions are assumed to be more than a day apart (true of every zone
// in the tz database since 1900).

// secondsOffset is the UTC offset of loc at the Unix second sec.
func secondsOffset(loc *time.Location, sec int64) int64 {
	_, off := time.Unix(sec, 0).In(loc).Zone()
	return int64(off)
}

// nearbyOffsets are the offsets loc has within a day of the Unix second
// sec (read as an instant), in ascending order without repeats.
func nearbyOffsets(loc *time.Location, sec int64) []int64 {
	offs := []int64{secondsOffset(loc, sec-86400), secondsOffset(loc, sec), secondsOffset(loc, sec+86400)}
	slices.Sort(offs)
	return slices.Compact(offs)
}

// ZonedInstant returns the instant (microseconds since the Unix epoch)
// of the wall clock wall (microseconds since 1970-01-01 00:00:00 on the
// wall) in loc, resolving gaps and overlaps as described above.
func ZonedInstant(wall int64, loc *time.Location) int64 {
	sec, frac := floorDiv(wall, 1_000_000)
	offs := nearbyOffsets(loc, sec)
	best, found := int64(0), false
	for _, o := range offs {
		u := sec - o
		if secondsOffset(loc, u) == o && (!found || u < best) {
			best, found = u, true // a valid reading; the earliest wins (overlap)
		}
	}
	if !found {
		// A gap: clocks jumped forward, so the offset before it is the
		// smallest one nearby.
		best = sec - offs[0]
	}
	return best*1_000_000 + frac
}

// ZonedWallClocks returns the wall clocks (microseconds since 1970-01-01
// 00:00:00 on the wall) that ZonedInstant maps to the instant us in loc:
// usually one; two when us is also the image of a wall clock in a gap;
// none when us is the second pass of an overlap hour, which no wall clock
// maps to (then the plain wall clock of us is returned alone, so a key
// lookup still finds a row stored with it).
func ZonedWallClocks(us int64, loc *time.Location) []int64 {
	sec, frac := floorDiv(us, 1_000_000)
	var out []int64
	for _, o := range nearbyOffsets(loc, sec) {
		w := (sec+o)*1_000_000 + frac
		if ZonedInstant(w, loc) == us && !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	if len(out) == 0 {
		out = append(out, (sec+secondsOffset(loc, sec))*1_000_000+frac)
	}
	slices.Sort(out)
	return out
}
