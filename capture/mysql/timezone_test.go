package mysql

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/apache/iceberg-go"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/deploy/testdb"
	"github.com/floe-cdc/floe/schema"
)

// berlinServer starts a MariaDB whose sessions default to Europe/Berlin,
// so that a snapshot session left in the server's zone would print the
// two instants of the autumn overlap hour alike.
func berlinServer(t *testing.T) *testdb.MariaDB {
	t.Helper()
	if testMaria == nil {
		t.Skip("integration test (needs MariaDB; not run with -short)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	m := testdb.StartMariaDBForTest(ctx, t, testdb.MariaDBOptions{})
	if err := m.LoadTimeZone(ctx, "Europe/Berlin"); err != nil {
		t.Fatal(err)
	}
	if err := m.Exec(ctx, "", "SET GLOBAL time_zone = 'Europe/Berlin'"); err != nil {
		t.Fatal(err)
	}
	return m
}

// utcAt is the instant s ("2006-01-02 15:04:05.999999", UTC) in microseconds.
func utcAt(t *testing.T, s string) int64 {
	t.Helper()
	tm, err := time.Parse("2006-01-02 15:04:05.999999", s)
	if err != nil {
		t.Fatal(err)
	}
	return tm.UnixMicro()
}

// TestServerTimeZone reads DATETIME and TIMESTAMP values, DST gap and
// overlap included, through the snapshot, the binlog and key lookups of a
// server running in Europe/Berlin, with source.server-time-zone
// Europe/Berlin and with the default.
func TestServerTimeZone(t *testing.T) {
	m := berlinServer(t)
	e := newEnvOn(t, m)
	e.exec("CREATE TABLE tz (id INT PRIMARY KEY, dt DATETIME(6), ts TIMESTAMP(6) NULL)",
		"CREATE TABLE tzkey (dt DATETIME PRIMARY KEY, v INT)")
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	// dt: wall clocks in Berlin and the UTC instants they stand for;
	// ts: instants, written in a UTC session so that both passes of the
	// overlap hour are stored.
	rows := []struct{ dt, dtUTC, ts string }{
		{"2024-01-15 12:00:00", "2024-01-15 11:00:00", "2024-10-27 00:30:00.5"},               // winter; ts: first 02:30
		{"2024-07-01 12:00:00.123456", "2024-07-01 10:00:00.123456", "2024-10-27 01:30:00.5"}, // summer; ts: second 02:30
		{"2024-03-31 02:30:00", "2024-03-31 01:30:00", "2024-03-31 01:30:00"},                 // gap: read as +01:00
		{"2024-10-27 02:30:00", "2024-10-27 00:30:00", "1970-01-01 00:00:01"},                 // overlap: the first pass
		{"1969-12-31 23:59:59.999999", "1969-12-31 22:59:59.999999", "2038-01-19 03:14:07.999999"},
		{"", "", ""}, // NULLs
	}
	lit := func(s string) string {
		if s == "" {
			return "NULL"
		}
		return "'" + s + "'"
	}
	insert := func(offset int) []string {
		stmts := []string{"SET time_zone = '+00:00'"}
		for i, r := range rows {
			stmts = append(stmts, "INSERT INTO tz VALUES ("+strconv.Itoa(offset+i+1)+", "+lit(r.dt)+", "+lit(r.ts)+")")
		}
		return stmts
	}
	want := func(i int) schema.Row {
		r := rows[i]
		if r.dt == "" {
			return schema.Row{int32(i + 1), nil, nil}
		}
		return schema.Row{int32(i + 1), utcAt(t, r.dtUTC), utcAt(t, r.ts)}
	}
	e.tx(insert(0)...)
	e.exec("INSERT INTO tzkey VALUES ('2024-03-31 02:30:00', 1), ('2024-10-27 02:30:00', 2), ('2024-06-01 00:00:00', 3)")

	cfg := e.config(e.db+`\.tz`, e.db+`\.tzkey`)
	cfg.ServerTimeZone = berlin
	s := e.source(cfg)
	ctx := testCtx(t)
	infos, err := s.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range infos {
		for _, c := range info.Schema.Columns {
			if c.Name != "dt" && c.Name != "ts" {
				continue
			}
			if !c.Type.Equals(iceberg.PrimitiveTypes.TimestampTz) {
				t.Errorf("%s.%s is %s, want timestamptz", info.ID, c.Name, c.Type)
			}
		}
	}
	if _, err := s.Start(ctx, capture.StartRequest{Snapshot: true}); err != nil {
		t.Fatal(err)
	}
	tzID, keyID := id(e.db, "tz"), id(e.db, "tzkey")
	snap, err := s.ReadChunk(ctx, tzID, capture.Chunk{})
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Changes) != len(rows) {
		t.Fatalf("snapshot read %d rows, want %d", len(snap.Changes), len(rows))
	}
	for i, ch := range snap.Changes {
		if got, w := fmtRow(ch.After), fmtRow(want(i)); got != w {
			t.Errorf("snapshot row %d (dt %s, ts %s): %s, want %s", i+1, rows[i].dt, rows[i].ts, got, w)
		}
	}
	keySnap, err := s.ReadChunk(ctx, keyID, capture.Chunk{})
	if err != nil {
		t.Fatal(err)
	}

	r := startStream(t, s)
	e.tx(insert(100)...)
	e.exec("UPDATE tzkey SET v = v + 10")
	b := r.Next()
	if len(b.Changes) != len(rows) {
		t.Fatalf("binlog batch has %d changes, want %d", len(b.Changes), len(rows))
	}
	for i, ch := range b.Changes {
		w := want(i)
		w[0] = int32(100 + i + 1)
		if got := fmtRow(ch.After); got != fmtRow(w) {
			t.Errorf("binlog row %d (dt %s, ts %s): %s, want %s", i+1, rows[i].dt, rows[i].ts, got, fmtRow(w))
		}
	}
	// A DATETIME key: the binlog's keys are the snapshot's, and key
	// lookups (convergence re-reads) find the rows by them.
	kb := r.Next()
	if len(kb.Changes) != 3 || len(keySnap.Changes) != 3 {
		t.Fatalf("tzkey: %d binlog changes, %d snapshot rows, want 3 each", len(kb.Changes), len(keySnap.Changes))
	}
	var keys []schema.Row
	for i, ch := range kb.Changes {
		if ch.Before[0] != keySnap.Changes[i].After[0] {
			t.Errorf("tzkey row %d: binlog key %v, snapshot key %v", i, ch.Before[0], keySnap.Changes[i].After[0])
		}
		keys = append(keys, schema.Row{ch.After[0]})
	}
	if keys[0][0] != utcAt(t, "2024-03-31 01:30:00") || keys[2][0] != utcAt(t, "2024-10-27 00:30:00") {
		t.Errorf("tzkey keys %v, want the gap and overlap wall clocks' instants", keys)
	}
	got, _, err := s.ReadRows(ctx, keyID, keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("ReadRows found %d of 3 rows: %v", len(got), got)
	}

	// The default: DATETIME is the wall clock (timestamp), TIMESTAMP the
	// same instants, although the server's sessions run in Berlin.
	plain := e.source(e.config(e.db + `\.tz`))
	infos, err = plain.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if dt := infos[0].Schema.Columns[1]; !dt.Type.Equals(iceberg.PrimitiveTypes.Timestamp) {
		t.Errorf("default: dt is %s, want timestamp", dt.Type)
	}
	scanned := scanAll(t, plain, tzID)
	for i := range rows {
		w := want(i)
		if rows[i].dt != "" {
			w[1] = utcAt(t, rows[i].dt) // the wall clock as if UTC
		}
		if scanned[i] != fmtRow(w) {
			t.Errorf("default row %d: %s, want %s", i+1, scanned[i], fmtRow(w))
		}
	}
}
