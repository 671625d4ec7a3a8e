package interop

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// keyVal is one key value as a PostgreSQL and as a Trino SQL literal.
type keyVal struct{ pg, trino string }

// keyType is one primary-key type of the README's type mapping, with key
// values in regions: ranges whose order differs between Iceberg's spec
// (unsigned bytes, code points, numbers) and a reader that compares
// otherwise (signed longs or bytes, UTF-16 units, little-endian bytes).
// Each streamed phase changes keys of one region only, so its
// equality-delete file covers that region alone, while the snapshot's data
// file spans all of them: a reader that misorders the bounds judges the
// two not to overlap and returns deleted rows and old versions.
//
// edges are the table's smallest and largest key in Iceberg's order,
// longer than a truncated bound where the type has one (PostgreSQL
// literals): written by the snapshot and later updated alone, one phase
// each, so that a delete file holding just that key checks the snapshot
// file's lower and upper bound.
type keyType struct {
	table   string
	pgType  string
	kind    kind
	regions [][]keyVal
	edges   []string
}

// regionSize keys per region; the last fresh of them are inserted while
// streaming, the others by the snapshot.
const (
	regionSize = 24
	fresh      = 2
)

func keyTypes() []keyType {
	rng := rand.New(rand.NewPCG(7, 11))
	gen := func(n int, f func(i int) keyVal) []keyVal {
		out := make([]keyVal, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	uuidOf := func(high bool) func(int) keyVal {
		return func(int) keyVal {
			var b [16]byte
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			b[0] &= 0x7f
			if high {
				b[0] |= 0x80
			}
			h := hex.EncodeToString(b[:])
			s := h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
			return keyVal{"'" + s + "'", "UUID '" + s + "'"}
		}
	}
	str := func(s string) keyVal { return keyVal{"'" + s + "'", "'" + s + "'"} }
	strOf := func(prefixes ...string) func(int) keyVal {
		return func(i int) keyVal { return str(fmt.Sprintf("%s%03d", prefixes[i%len(prefixes)], i)) }
	}
	bytesOf := func(f func(i int) []byte) func(int) keyVal {
		return func(i int) keyVal {
			h := hex.EncodeToString(f(i))
			return keyVal{`'\x` + h + `'`, "X'" + h + "'"}
		}
	}
	num := func(f func(i int) string) func(int) keyVal {
		return func(i int) keyVal { s := f(i); return keyVal{s, s} }
	}
	dec := func(f func(i int) string) func(int) keyVal {
		return func(i int) keyVal { s := f(i); return keyVal{s, "DECIMAL '" + s + "'"} }
	}
	when := func(layout, pgType, trinoType, suffix string, base time.Time, step time.Duration) func(int) keyVal {
		return func(i int) keyVal {
			s := base.Add(time.Duration(i) * step).Format(layout)
			return keyVal{pgType + " '" + s + suffix + "'", trinoType + " '" + s + suffix + "'"}
		}
	}
	const ts = "2006-01-02 15:04:05.000000"
	long15 := "abcdefghijklmno" // 15 code points: the 16th decides a truncated bound
	return []keyType{
		{"k_uuid", "uuid", kUUID, [][]keyVal{
			gen(regionSize, uuidOf(false)), gen(regionSize, uuidOf(true)),
		}, []string{"'00000000-0000-0000-0000-000000000000'", "'ffffffff-ffff-ffff-ffff-ffffffffffff'"}},
		{"k_text", "text", kString, [][]keyVal{
			gen(regionSize, strOf("a", "Z", "~")),
			// U+E000..U+FFFF sort after surrogates in UTF-16 units but
			// before every supplementary character in code points.
			gen(regionSize, strOf("\uE000", "\uFF71", "\uFFFD")),
			gen(regionSize, strOf("😀", "𝔸", "\U0010FFFD")),
			// Longer than the 16 code points iceberg-go's default
			// truncate(16) keeps: this region's files have truncated
			// bounds, the upper one incremented.
			gen(regionSize, strOf(long15+"\uD7FF", long15+"\U0010FFFF", long15+"😀", strings.Repeat("😀", 16))),
		}, []string{
			"'!" + strings.Repeat("é", 20) + "'",
			// Truncated to 16 code points the last is U+10FFFF, which has
			// no successor: the upper bound increments the one before.
			"'\U0010FFFD" + strings.Repeat("x", 14) + "\U0010FFFF" + "tail'",
		}},
		{"k_bytea", "bytea", kBinary, [][]keyVal{
			gen(regionSize, bytesOf(func(i int) []byte { return []byte{byte(i * 5 % 0x80), byte(i)} })),
			gen(regionSize, bytesOf(func(i int) []byte { return []byte{0x80 | byte(i*5), byte(i)} })),
			// Past the 16 bytes of truncate(16): an all-0xff prefix has no
			// truncated upper bound.
			gen(regionSize, bytesOf(func(i int) []byte {
				p := []byte(strings.Repeat("\xff", 15))
				return append(p, []byte{0x7f, 0x80, 0xfe}[i%3], byte(i))
			})),
		}, []string{`'\x'`, `'\x` + strings.Repeat("ff", 15) + `feffff'`}},
		{"k_numeric", "numeric(12,2)", kDecimal, [][]keyVal{
			gen(regionSize, dec(func(i int) string { return fmt.Sprintf("-%d.%02d", i*37+1, i) })),
			gen(regionSize, dec(func(i int) string { return fmt.Sprintf("%d.%02d", i*37, i) })),
			gen(regionSize, dec(func(i int) string { return fmt.Sprintf("%d.%02d", 9_000_000_000-int64(i)*97_531_357, i) })),
		}, []string{"-9999999999.99", "9999999999.99"}},
		{"k_bigint", "bigint", kInt, [][]keyVal{
			gen(regionSize, num(func(i int) string { return fmt.Sprint(-1 - int64(i)*1_000_000_000_007) })),
			gen(regionSize, num(func(i int) string { return fmt.Sprint(i * 255) })),
			gen(regionSize, num(func(i int) string { return fmt.Sprint(int64(i+1) << 40) })),
		}, []string{"-9223372036854775808", "9223372036854775807"}},
		{"k_int", "integer", kInt, [][]keyVal{
			gen(regionSize, num(func(i int) string { return fmt.Sprint(-1 - i*70_000_001) })),
			gen(regionSize, num(func(i int) string { return fmt.Sprint(i * 255) })),
			gen(regionSize, num(func(i int) string { return fmt.Sprint((i + 1) << 24) })),
		}, []string{"-2147483648", "2147483647"}},
		{"k_date", "date", kDate, [][]keyVal{
			gen(regionSize, when("2006-01-02", "DATE", "DATE", "", time.Date(1901, 3, 1, 0, 0, 0, 0, time.UTC), 977*24*time.Hour)),
			gen(regionSize, when("2006-01-02", "DATE", "DATE", "", time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), 255*24*time.Hour)),
		}, []string{"'4713-01-01 BC'", "'9999-12-31'"}},
		{"k_time", "time", kTime, [][]keyVal{
			gen(regionSize, when("15:04:05.000000", "TIME", "TIME", "", time.Date(2000, 1, 1, 0, 0, 0, 1000, time.UTC), 255*time.Microsecond)),
			gen(regionSize, when("15:04:05.000000", "TIME", "TIME", "", time.Date(2000, 1, 1, 23, 0, 0, 0, time.UTC), 149*time.Second)),
		}, []string{"'00:00:00'", "'23:59:59.999999'"}},
		{"k_timestamp", "timestamp", kTimestamp, [][]keyVal{
			gen(regionSize, when(ts, "TIMESTAMP", "TIMESTAMP", "", time.Date(1969, 12, 31, 23, 59, 59, 999_999_000, time.UTC), -977*time.Hour-time.Microsecond)),
			gen(regionSize, when(ts, "TIMESTAMP", "TIMESTAMP", "", time.Date(1970, 1, 1, 0, 0, 0, 1000, time.UTC), 255*time.Microsecond)),
			gen(regionSize, when(ts, "TIMESTAMP", "TIMESTAMP", "", time.Date(2024, 2, 29, 12, 0, 0, 1000, time.UTC), 97*time.Hour)),
		}, []string{"'0001-01-01 00:00:00'", "'9999-12-31 23:59:59.999999'"}},
		{"k_timestamptz", "timestamptz", kTimestamptz, [][]keyVal{
			gen(regionSize, when(ts, "TIMESTAMPTZ", "TIMESTAMP", " UTC", time.Date(1969, 12, 31, 23, 59, 59, 999_999_000, time.UTC), -977*time.Hour-time.Microsecond)),
			gen(regionSize, when(ts, "TIMESTAMPTZ", "TIMESTAMP", " UTC", time.Date(2024, 2, 29, 12, 0, 0, 1000, time.UTC), 97*time.Hour)),
		}, []string{"'0001-01-01 00:00:00+00'", "'9999-12-31 23:59:59.999999+00'"}},
		{"k_bool", "boolean", kBool, [][]keyVal{{{"false", "false"}}, {{"true", "true"}}}, nil},
	}
}

// keyCols are the compared columns of every key table.
func keyCols(k kind) []col { return []col{{"k", k}, {"v", kInt}, {"note", kString}} }

// TestTrinoKeyTypes streams, in upsert mode, one table per primary-key
// type the README maps (uuid, text, bytea, numeric, bigint, integer, date,
// time, timestamp, timestamptz, boolean) with keys on both sides of every
// boundary where a reader's order can differ from Iceberg's (uuids below
// and above 0x80…, strings with characters beyond the BMP and in
// U+E000..U+FFFF, strings and bytes longer than a truncated bound, bytes
// at and above 0x80, negative and positive numbers and times). It updates
// and deletes them region by region (one checkpoint each), then each
// table's smallest and largest key alone, then across regions, and reads
// every table through Trino before and after floe compact: every row
// equal to the source, and key lookups (IN lists, which Trino hands to
// Iceberg's file pruning) equal to the source's. A float table checks
// that filters on -0.0, 0.0, NaN and infinities prune no file holding a
// match.
func TestTrinoKeyTypes(t *testing.T) {
	needServers(t)
	ctx := context.Background()
	tr := trino(t)
	l := newLake(t, "keys")
	types := keyTypes()
	var ddl []string
	phases := 0
	snapshotRows := map[string]int{}
	for _, kt := range types {
		ddl = append(ddl, fmt.Sprintf("CREATE TABLE %s (k %s PRIMARY KEY, v integer NOT NULL, note text)", kt.table, kt.pgType))
		var rows []string
		for r, region := range kt.regions {
			for i, kv := range region {
				if len(region) > fresh && i >= len(region)-fresh {
					continue // inserted while streaming
				}
				rows = append(rows, fmt.Sprintf("(%s, %d, 'r%d')", kv.pg, i, r))
			}
		}
		for _, e := range kt.edges {
			rows = append(rows, fmt.Sprintf("(%s, -1, 'edge')", e))
		}
		snapshotRows[kt.table] = len(rows)
		ddl = append(ddl, fmt.Sprintf("INSERT INTO %s VALUES %s", kt.table, strings.Join(rows, ", ")))
		phases = max(phases, len(kt.regions))
	}
	phases = max(phases, len(floatPhases))
	ddl = append(ddl, floatSchema, "CREATE TABLE markers (id bigserial PRIMARY KEY, at timestamptz DEFAULT now())")
	l.exec(ddl...)
	for _, kt := range types {
		l.exec("ALTER TABLE " + kt.table + " OWNER TO u_keys")
	}
	l.exec("ALTER TABLE f_float OWNER TO u_keys", "ALTER TABLE markers OWNER TO u_keys")
	// Equality deletes on purpose: the test is about readers comparing
	// their key bounds (position deletes carry none). The line after the
	// catalog's lands in the sink: section.
	l.writeConfig(`public\..*`, "    type: sql\n    uri: "+l.catalogDSN()+"\n  delete-mode: equality\n", l.warehouse)

	start := time.Now()
	r := l.start()
	l.sync(r) // the slot exists: the phases below follow its start point
	// One phase per region: each table's changes in it stay inside that
	// region, and the sync message makes them one checkpoint of their own.
	for p := 0; p < phases; p++ {
		var sql []string
		for _, kt := range types {
			if p < len(kt.regions) {
				sql = append(sql, regionChanges(kt, p)...)
			}
		}
		sql = append(sql, floatChanges(p)...)
		l.inTx(sql)
		l.sync(r)
	}
	// Each edge key alone, so the delete file's range is that one key.
	for e := 0; e < 2; e++ {
		var sql []string
		for _, kt := range types {
			if e < len(kt.edges) {
				sql = append(sql, fmt.Sprintf("UPDATE %s SET v = v - 1, note = 'edge%d' WHERE k = %s", kt.table, e, kt.edges[e]))
			}
		}
		l.inTx(sql)
		l.sync(r)
	}
	// Then once across every region: keys updated before change again.
	var sql []string
	for _, kt := range types {
		sql = append(sql, crossChanges(kt)...)
	}
	l.inTx(sql)
	l.catchUpAndStop(r, "markers")
	t.Logf("floe snapshot + %d phases landed in %s", phases+3, time.Since(start).Round(time.Millisecond))

	if err := tr.CreateCatalog(ctx, "keys", l.trinoJDBCCatalog()); err != nil {
		t.Fatal(err)
	}
	compare := func(stage string) {
		t.Helper()
		for _, kt := range types {
			cols := keyCols(kt.kind)
			want := l.readPG(kt.table, cols)
			got := readTrino(t, tr, "keys.lake."+kt.table, cols)
			d := diff(want, got, cols, 10)
			if len(d) > 0 {
				t.Errorf("%s, %s (%s key): trino returned %d rows, the source has %d:\n%s",
					stage, kt.table, kt.pgType, len(got), len(want), strings.Join(d, "\n"))
			}
			// Key lookups: Trino hands the IN list to Iceberg, which skips
			// data files whose bounds exclude every value.
			var pgIn, trIn []string
			for _, region := range kt.regions {
				for i, kv := range region {
					if i%2 == 0 {
						pgIn, trIn = append(pgIn, kv.pg), append(trIn, kv.trino)
					}
				}
			}
			wantIn := l.readPG(kt.table+" WHERE k IN ("+strings.Join(pgIn, ", ")+")", cols)
			gotIn := readTrino(t, tr, "keys.lake."+kt.table+" WHERE k IN ("+strings.Join(trIn, ", ")+")", cols)
			dIn := diff(wantIn, gotIn, cols, 10)
			if len(dIn) > 0 {
				t.Errorf("%s, %s (%s key): key lookup through trino returned %d rows, the source has %d:\n%s",
					stage, kt.table, kt.pgType, len(gotIn), len(wantIn), strings.Join(dIn, "\n"))
			}
			if len(d)+len(dIn) == 0 {
				t.Logf("%s: %s: %d rows (%d looked up) equal in source and trino", stage, kt.table, len(want), len(wantIn))
			}
		}
		compareFloatFilters(t, l, tr, stage)
	}
	for _, kt := range types {
		if n := deleteFilesIn(t, tr, "keys", kt.table); n == 0 {
			t.Fatalf("%s has no delete files before compaction: the workload did not exercise equality deletes", kt.table)
		}
		// The phases' delete files each cover one region (or one key) only
		// if the data file they must reach spans all of them.
		if n := largestDataFile(t, tr, "keys", kt.table); n < snapshotRows[kt.table] {
			t.Fatalf("%s: the largest data file holds %d rows, the snapshot wrote %d: the snapshot file does not span every region", kt.table, n, snapshotRows[kt.table])
		}
	}
	compare("before compaction")

	out, err := runFloe(l, 3*time.Minute, "compact", "--config", l.configPath)
	if err != nil {
		t.Fatalf("floe compact: %v\n%s", err, out)
	}
	for _, kt := range types {
		if n := deleteFilesIn(t, tr, "keys", kt.table); n != 0 {
			t.Errorf("%s still has %d delete files after floe compact", kt.table, n)
		}
	}
	compare("after compaction")
}

// regionChanges updates every third key of region p of kt, deletes every
// fourth and inserts the region's fresh keys.
func regionChanges(kt keyType, p int) []string {
	region := kt.regions[p]
	var out []string
	for i, kv := range region {
		switch {
		case len(region) > fresh && i >= len(region)-fresh:
			out = append(out, fmt.Sprintf("INSERT INTO %s VALUES (%s, %d, 'new%d')", kt.table, kv.pg, 1000+i, p))
		case len(region) == 1 || i%3 == 0:
			out = append(out, fmt.Sprintf("UPDATE %s SET v = v + 100, note = 'upd%d' WHERE k = %s", kt.table, p, kv.pg))
		case i%4 == 1:
			out = append(out, fmt.Sprintf("DELETE FROM %s WHERE k = %s", kt.table, kv.pg))
		}
	}
	return out
}

// crossChanges changes keys of every region of kt in one transaction:
// keys updated by regionChanges again, some deleted, a fresh one deleted.
func crossChanges(kt keyType) []string {
	var out []string
	for r, region := range kt.regions {
		for i, kv := range region {
			switch {
			case len(region) == 1 && r == 0:
				out = append(out, fmt.Sprintf("DELETE FROM %s WHERE k = %s", kt.table, kv.pg))
			case len(region) == 1 || i%6 == 0:
				out = append(out, fmt.Sprintf("UPDATE %s SET v = v + 10000, note = 'cross' WHERE k = %s", kt.table, kv.pg))
			case i%6 == 3:
				out = append(out, fmt.Sprintf("DELETE FROM %s WHERE k = %s", kt.table, kv.pg))
			case i == len(region)-1:
				out = append(out, fmt.Sprintf("DELETE FROM %s WHERE k = %s", kt.table, kv.pg))
			}
		}
	}
	return out
}

// floatSchema is a table of float columns (never keys: Iceberg identifier
// fields cannot be floating point) whose files hold -0.0, 0.0, NaN and
// infinities in different combinations.
const floatSchema = `CREATE TABLE f_float (id integer PRIMARY KEY, d double precision, r real);
INSERT INTO f_float SELECT g, (g - 50) / 7.0, (g - 50) / 3.0 FROM generate_series(1, 100) g`

// floatPhases are the values each streamed phase inserts into f_float,
// one kind per file: -0.0 only, 0.0 only, NaN only, infinities only.
var floatPhases = []string{"'-0'", "'0'", "'NaN'", "'Infinity'", "'-Infinity'"}

func floatChanges(p int) []string {
	if p >= len(floatPhases) {
		return nil
	}
	v := floatPhases[p]
	return []string{fmt.Sprintf("INSERT INTO f_float SELECT 1000 * %d + g, %s, %s FROM generate_series(1, 5) g", p+1, v, v)}
}

// floatFilters are filters on f_float as PostgreSQL and Trino write them
// (PostgreSQL's NaN equals itself and sorts above every number).
var floatFilters = []struct{ pg, trino string }{
	{"d = 0", "d = 0"},
	{"d = '-0'", "d = -0.0E0"},
	{"d = 'NaN'", "is_nan(d)"},
	{"d = 'Infinity'", "d = infinity()"},
	{"d = '-Infinity'", "d = -infinity()"},
	{"d < 0", "d < 0"},
	{"d > 0 AND d <> 'NaN'", "d > 0 AND NOT is_nan(d)"},
	{"r = 0", "r = REAL '0'"},
	{"r = '-0'", "r = REAL '-0.0'"},
	{"r = 'NaN'", "is_nan(r)"},
	{"r > 1 AND r <> 'NaN'", "r > REAL '1' AND NOT is_nan(r)"},
}

// compareFloatFilters checks that each filter selects the same ids through
// Trino as in the source.
func compareFloatFilters(t *testing.T, l *lake, tr *Trino, stage string) {
	t.Helper()
	ids := []col{{"id", kInt}}
	for _, f := range floatFilters {
		want := l.readPG("f_float WHERE "+f.pg, ids)
		got := readTrino(t, tr, "keys.lake.f_float WHERE "+f.trino, ids)
		if d := diff(want, got, ids, 5); len(d) > 0 {
			t.Errorf("%s, f_float WHERE %s: trino returned %d rows, the source has %d:\n%s",
				stage, f.trino, len(got), len(want), strings.Join(d, "\n"))
			continue
		}
		t.Logf("%s: f_float WHERE %s: %d rows, as in the source", stage, f.trino, len(want))
	}
}

// largestDataFile is the most rows a live data file of catalog.lake.table holds.
func largestDataFile(t *testing.T, tr *Trino, catalog, table string) int {
	t.Helper()
	res, err := tr.Query(context.Background(), fmt.Sprintf(`SELECT max(record_count) FROM %s.lake."%s$files" WHERE content = 0`, catalog, table))
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if _, err := fmt.Sscan(fmt.Sprint(res.Rows[0][0]), &n); err != nil {
		t.Fatalf("largest data file: %v (%v)", err, res.Rows)
	}
	return n
}

// deleteFilesIn counts the live delete files of catalog.lake.table.
func deleteFilesIn(t *testing.T, tr *Trino, catalog, table string) int {
	t.Helper()
	res, err := tr.Query(context.Background(), fmt.Sprintf(`SELECT count(*) FROM %s.lake."%s$files" WHERE content <> 0`, catalog, table))
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if _, err := fmt.Sscan(fmt.Sprint(res.Rows[0][0]), &n); err != nil {
		t.Fatalf("count of delete files: %v (%v)", err, res.Rows)
	}
	return n
}

// inTx runs statements in one source transaction.
func (l *lake) inTx(sql []string) {
	l.t.Helper()
	ctx := context.Background()
	tx, err := l.admin().Begin(ctx)
	if err != nil {
		l.t.Fatal(err)
	}
	for _, s := range sql {
		if _, err := tx.Exec(ctx, s); err != nil {
			l.t.Fatalf("%s: %v", s, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		l.t.Fatal(err)
	}
}
