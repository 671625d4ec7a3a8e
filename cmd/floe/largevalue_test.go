package main

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/floe-cdc/floe/deploy/e2e"
	"github.com/floe-cdc/floe/deploy/testdb"
	"github.com/floe-cdc/floe/schema"
)

// largeValue is the size of the text and binary values of the large-value
// tests: 8 MiB each, so a row carries 16 MiB: past capture's
// MaxBatchBytes (each change is a part of its own) and the value size
// from which lakewriter writes rows into files of its own. The
// largevalues scenario of floe-bench (make bench-memory) runs the same
// paths with 50 MiB values and reports the peak memory.
const largeValue = 8 << 20

// TestLargeValuesPostgres: rows carrying an 8 MiB text and an 8 MiB bytea
// value go through the snapshot, a streamed insert, a transaction of
// three such rows, an update that sends the values as unchanged TOAST
// (filled from Iceberg), an update that replaces them and a delete, and
// read back exactly (floe verify, and the digests of the values in
// Iceberg against the source's md5).
func TestLargeValuesPostgres(t *testing.T) {
	needServers(t)
	e := newPipelineEnv(t, "big_values", `public\.blobs`, "upsert", "")
	e.exec("CREATE TABLE blobs (id bigint PRIMARY KEY, body text, data bytea, note text)", "ALTER TABLE blobs OWNER TO u_big_values")
	// Random hex text (compresses about 2:1) and random bytes.
	text := fmt.Sprintf("(SELECT string_agg(md5(random()::text || g), '') FROM generate_series(1, %d) g)", largeValue/32)
	bin := fmt.Sprintf("(SELECT decode(string_agg(md5(random()::text || g), ''), 'hex') FROM generate_series(1, %d) g)", largeValue/16)
	insert := func(id int) string {
		return fmt.Sprintf("INSERT INTO blobs VALUES (%d, %s, %s, 'n%d')", id, text, bin, id)
	}
	e.exec(insert(1)) // read by the snapshot
	r := e.start()
	r.TrackPeakRSS(20 * time.Millisecond)
	e.waitStreaming(r)
	e.exec(insert(2),
		"BEGIN; "+insert(4)+"; "+insert(5)+"; "+insert(6)+"; COMMIT",
		"UPDATE blobs SET note = 'changed' WHERE id = 1", // body and data arrive as unchanged TOAST
		fmt.Sprintf("UPDATE blobs SET body = %s, data = %s WHERE id = 2", text, bin),
		insert(3), "DELETE FROM blobs WHERE id IN (3, 5)")
	e.waitCaughtUp(r, 5*time.Minute)
	e.stop(r)
	logPeakRSS(t, r)
	e.mustVerify(1)

	want := map[int64][2]string{}
	rows, err := e.conn().Query(context.Background(), "SELECT id, md5(body), md5(data) FROM blobs")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var a, b string
		if err := rows.Scan(&id, &a, &b); err != nil {
			t.Fatal(err)
		}
		want[id] = [2]string{a, b}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	checkDigests(t, e, "blobs", want)
}

// TestLargeValuesMariaDB is TestLargeValuesPostgres for MariaDB (LONGTEXT
// and LONGBLOB; an update's row event carries both full images).
func TestLargeValuesMariaDB(t *testing.T) {
	e := newBlobMySQLEnv(t, "my_big_values", "max_allowed_packet=64M")
	e.sql("CREATE TABLE blobs (id BIGINT PRIMARY KEY, body LONGTEXT, data LONGBLOB, note VARCHAR(20))")
	rng := rand.New(rand.NewPCG(5, 6))
	value := func() (string, []byte) {
		const hexdigits = "0123456789abcdef"
		s := make([]byte, largeValue)
		for i := range s {
			s[i] = hexdigits[rng.IntN(16)]
		}
		b := make([]byte, largeValue)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return string(s), b
	}
	insert := func(ids ...int) {
		tx, err := e.root.Begin()
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			s, b := value()
			if _, err := tx.Exec("INSERT INTO blobs VALUES (?, ?, ?, ?)", id, s, b, fmt.Sprintf("n%d", id)); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	insert(1)
	if out, err := e.floeCmd("check", "--config", e.config).CombinedOutput(); err != nil {
		t.Fatalf("floe check: %v\n%s", err, out)
	}
	r := e.start()
	r.TrackPeakRSS(20 * time.Millisecond)
	e.waitStreaming(r)
	insert(2)
	insert(4, 5, 6)
	e.sql("UPDATE blobs SET note = 'changed' WHERE id = 1") // a row event with both images
	s, b := value()
	if _, err := e.root.Exec("UPDATE blobs SET body = ?, data = ? WHERE id = 2", s, b); err != nil {
		t.Fatal(err)
	}
	insert(3)
	e.sql("DELETE FROM blobs WHERE id IN (3, 5)")
	e.waitCaughtUp(r, 5*time.Minute)
	e.stop(r)
	logPeakRSS(t, r)
	e.mustVerify(2)

	want := map[int64][2]string{}
	rows, err := e.root.Query("SELECT id, MD5(body), MD5(data) FROM blobs")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var a, b string
		if err := rows.Scan(&id, &a, &b); err != nil {
			t.Fatal(err)
		}
		want[id] = [2]string{a, b}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	checkDigests(t, e.pipelineEnv, "blobs", want)
}

// checkDigests compares the md5 of each row's body and data in the Iceberg
// table with want (by id), and that the values have their full size.
func checkDigests(t *testing.T, e *pipelineEnv, table string, want map[int64][2]string) {
	t.Helper()
	got := map[int64][2]string{}
	err := e.sinkTable(table).Scan(context.Background(), func(r schema.Row) error {
		body, _ := r[1].(string)
		data, _ := r[2].([]byte)
		if len(body) != largeValue || len(data) != largeValue {
			return fmt.Errorf("row %v: body %d bytes, data %d bytes, want %d each", r[0], len(body), len(data), largeValue)
		}
		a, b := md5.Sum([]byte(body)), md5.Sum(data)
		got[r[0].(int64)] = [2]string{hex.EncodeToString(a[:]), hex.EncodeToString(b[:])}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("Iceberg holds %d rows, the source %d", len(got), len(want))
	}
	for id, w := range want {
		if got[id] != w {
			t.Fatalf("row %d: Iceberg digests %v, source %v", id, got[id], w)
		}
	}
}

// logPeakRSS logs the peak resident memory of a finished floe run, as
// TrackPeakRSS saw it (the kernel's ru_maxrss of a child counts the test
// process's own size).
func logPeakRSS(t *testing.T, r *running) {
	t.Helper()
	<-r.Exited
	t.Logf("floe run peak RSS %d MiB", r.PeakRSS()>>20)
}

// newBlobMySQLEnv starts a MariaDB (or MySQL, per FLOE_TEST_MYSQL) with
// extra server settings and a pipeline capturing db.blobs and the marker
// table waitCaughtUp writes.
func newBlobMySQLEnv(t *testing.T, db string, conf ...string) *mysqlEnv {
	t.Helper()
	needServers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	m := testdb.StartMariaDBForTest(ctx, t, testdb.MariaDBOptions{ExtraConf: conf})
	root := m.DatabaseForTest(t, db, "u_"+db, testPassword, "")
	f := e2e.NewPipeline(t, floeBin)
	e := &mysqlEnv{pipelineEnv: &pipelineEnv{t: t, db: db, dir: f.Dir, config: f.Config, logPath: f.Log}, m: m, root: root}
	f.WriteConfig(e2e.Config{Name: db,
		Source: e2e.Source{Type: "mysql", Port: m.Port, User: "u_" + db, Tables: db + `\.(blobs|floe_marker)`},
		Sink:   e2e.Sink{Mode: "upsert"}})
	e.sql("CREATE TABLE floe_marker (id INT PRIMARY KEY, at DATETIME(6))")
	return e
}
