package mysqltype

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/floe-cdc/floe/schema"
)

// TestBinlogTemporalLikeItsText: a BinlogTemporal decodes to exactly what
// its text (String, go-mysql's form) decodes to through the binlog
// decoder, value or error, for random bytes of every width: canonical
// values, zero dates and parts, invalid dates, fractions MySQL would
// not write, fields beyond a calendar's ranges; under each zero-date
// treatment, with and without a DATETIME zone, NULL allowed or not.
// TestMySQLDecodersLive checks String against go-mysql's own text for
// values a server wrote.
func TestBinlogTemporalLikeItsText(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 11))
	type kind struct {
		colType string
		code    byte
		meta    uint16
	}
	var kinds []kind
	for dec := range uint16(7) {
		suffix := ""
		if dec > 0 {
			suffix = fmt.Sprintf("(%d)", dec)
		}
		kinds = append(kinds, kind{"datetime" + suffix, gomysql.MYSQL_TYPE_DATETIME2, dec}, kind{"timestamp" + suffix, gomysql.MYSQL_TYPE_TIMESTAMP2, dec})
	}
	kinds = append(kinds, kind{"date", gomysql.MYSQL_TYPE_DATE, 0})
	checked := 0
	for _, k := range kinds {
		width := packedWidth(k.code, k.meta)
		for _, o := range []Options{{ZeroDate: ZeroDateError}, {ZeroDate: ZeroDateNull}, {ZeroDate: ZeroDateEpoch}, {DatetimeZone: berlin}} {
			for _, notNull := range []bool{false, true} {
				typ, err := Parse(k.colType)
				if err != nil {
					t.Fatal(err)
				}
				c, err := Column("c", typ, notNull, o)
				if err != nil {
					t.Fatal(err)
				}
				bd, err := BinlogDecoder(c, o)
				if err != nil {
					t.Fatal(err)
				}
				for i := range 3000 {
					v := BinlogTemporal{Code: k.code, Meta: k.meta, Packed: randomPacked(rng, k.code, k.meta, width, i)}
					var in any = v
					if i%2 == 1 {
						in = &v // as DecodeRowsEvent gives it
					}
					got, gotErr := bd(in)
					want, wantErr := bd(v.String())
					var ve *schema.ValueError
					switch {
					case (gotErr == nil) != (wantErr == nil):
						t.Fatalf("%s %v (%s): packed gives %#v, %v; its text gives %#v, %v", k.colType, v, fmtOptions(o), got, gotErr, want, wantErr)
					case gotErr != nil && (!errors.As(gotErr, &ve) || !errors.As(wantErr, &ve)):
						t.Fatalf("%s %v: errors %v, %v; want schema.ValueErrors", k.colType, v, gotErr, wantErr)
					case gotErr == nil && !sameCanonical(got, want):
						t.Fatalf("%s %v (%s): packed gives %#v; its text gives %#v", k.colType, v, fmtOptions(o), got, want)
					}
					checked++
				}
			}
		}
	}
	t.Logf("%d values checked", checked)
}

// randomPacked returns width bytes for a value of a column of type code:
// mostly canonical values of random fields (some of them zero, or beyond
// their range), sometimes random bytes.
func randomPacked(rng *rand.Rand, code byte, meta uint16, width, i int) uint64 {
	if i%7 == 0 {
		return rng.Uint64() >> (64 - 8*width)
	}
	field := func(limit int) uint64 {
		switch rng.IntN(10) {
		case 0:
			return 0
		case 1:
			return uint64(rng.IntN(2 * limit)) // beyond
		}
		return uint64(rng.IntN(limit))
	}
	switch code {
	case gomysql.MYSQL_TYPE_DATE:
		d := field(10000)<<9 | field(13)<<5 | field(32)
		return uint64(d&0xff)<<16 | uint64(d>>8&0xff)<<8 | uint64(d>>16&0xff) // little-endian in the binlog
	case gomysql.MYSQL_TYPE_TIMESTAMP2:
		sec := uint64(rng.Uint32())
		if rng.IntN(10) == 0 {
			sec = 0
		}
		return sec<<(8*(width-4)) | randomFraction(rng, meta)
	}
	ym := field(10000)*13 + field(13)
	ymdhms := ((ym<<5|field(32))<<17 | field(24)<<12 | field(60)<<6 | field(60))
	intPart := ymdhms + datetimeIntOffset
	if rng.IntN(20) == 0 {
		intPart = datetimeIntOffset // MySQL's zero
	}
	return intPart<<(8*(width-5)) | randomFraction(rng, meta)
}

// randomFraction returns the fraction bytes of a DATETIME2 or
// TIMESTAMP2 with dec digits: canonical (the digits past dec are 0) or
// not, and sometimes beyond 999,999 microseconds.
func randomFraction(rng *rand.Rand, dec uint16) uint64 {
	limit := map[uint16]int{0: 1, 1: 100, 2: 100, 3: 10000, 4: 10000, 5: 1 << 24, 6: 1 << 24}[dec]
	f := rng.IntN(limit)
	if rng.IntN(2) == 0 {
		switch dec {
		case 1, 3, 5:
			f -= f % 10
		}
	}
	return uint64(f)
}

func fmtOptions(o Options) string {
	return fmt.Sprintf("zero-date %q, zone %v", o.ZeroDate, o.DatetimeZone)
}

// TestBinlogTemporalAllocatesItsValueOnly: a *BinlogTemporal, as
// DecodeRowsEvent gives it, decodes with one allocation, the value's own
// box: the packed value is not boxed again on the way.
func TestBinlogTemporalAllocatesItsValueOnly(t *testing.T) {
	date := uint64(2026<<9 | 12<<5 | 5)
	for _, k := range []struct {
		colType, text string
		v             BinlogTemporal
	}{
		{"date", "2026-12-05", BinlogTemporal{Code: gomysql.MYSQL_TYPE_DATE,
			Packed: date&0xff<<16 | date>>8&0xff<<8 | date>>16&0xff}},
		{"timestamp", "2026-12-05 18:30:00", BinlogTemporal{Code: gomysql.MYSQL_TYPE_TIMESTAMP2, Packed: 1796495400}},
		{"datetime", "2026-12-05 18:30:00", BinlogTemporal{Code: gomysql.MYSQL_TYPE_DATETIME2,
			Packed: ((2026*13+12)<<5|5)<<17 | 18<<12 | 30<<6 | datetimeIntOffset}},
	} {
		typ, err := Parse(k.colType)
		if err != nil {
			t.Fatal(err)
		}
		c, err := Column("c", typ, true, Options{})
		if err != nil {
			t.Fatal(err)
		}
		bd, err := BinlogDecoder(c, Options{})
		if err != nil {
			t.Fatal(err)
		}
		packed := &k.v
		got, err := bd(packed)
		if want, wantErr := bd(k.text); err != nil || wantErr != nil || got != want {
			t.Fatalf("%s: %v decodes to %#v (%v), %s to %#v (%v)", k.colType, packed, got, err, k.text, want, wantErr)
		}
		if n := testing.AllocsPerRun(100, func() { _, _ = bd(packed) }); n > 1 {
			t.Errorf("%s: %v allocations decoding %v, want at most 1", k.colType, n, packed)
		}
	}
}
