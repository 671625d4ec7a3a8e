package mysql

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/capturetest"
	"github.com/floe-cdc/floe/deploy/testdb"
)

func TestResumeIsExact(t *testing.T) {
	e := newEnv(t)
	e.exec("CREATE TABLE t (id INT PRIMARY KEY, v INT)")
	cfg := e.config(e.db + `\.t`)
	s := e.source(cfg)
	ctx := testCtx(t)
	if _, err := s.Start(ctx, capture.StartRequest{}); err != nil {
		t.Fatal(err)
	}
	r := startStream(t, s)
	for i := 1; i <= 5; i++ {
		e.exec(fmt.Sprintf("INSERT INTO t VALUES (%d, %d)", i, i))
	}
	var pos []capture.Position
	for i := 0; i < 5; i++ {
		b := r.Next()
		if got := b.Changes[0].After[0]; got != int32(i+1) {
			t.Fatalf("batch %d holds id %v", i, got)
		}
		pos = append(pos, b.Position)
	}
	r.Stop()
	// The stored form is what a restart reads back.
	resume, err := s.DecodePosition(pos[1].String())
	if err != nil {
		t.Fatal(err)
	}
	s2 := e.source(cfg)
	info, err := s2.Start(ctx, capture.StartRequest{Resume: resume})
	if err != nil {
		t.Fatal(err)
	}
	if info.From.Compare(pos[1]) != 0 {
		t.Fatalf("From = %s, want %s", info.From, pos[1])
	}
	r2 := startStream(t, s2)
	for i := 2; i < 5; i++ {
		b := r2.Next()
		if got := b.Changes[0].After[0]; got != int32(i+1) || b.Position.Compare(pos[i]) != 0 {
			t.Fatalf("after resume: batch holds id %v at %s, want id %d at %s", got, b.Position, i+1, pos[i])
		}
	}
	e.exec("INSERT INTO t VALUES (6, 6)")
	if b := r2.Next(); b.Changes[0].After[0] != int32(6) {
		t.Fatalf("after resume: next batch holds %v, want id 6", b.Changes[0].After[0])
	}
	cur, err := s2.CurrentPosition(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cur.Compare(pos[4]) <= 0 {
		t.Fatalf("CurrentPosition %s not after %s", cur, pos[4])
	}
}

func TestReadRows(t *testing.T) {
	e := newEnv(t)
	e.exec("CREATE TABLE t (a INT, b VARCHAR(5), d DATETIME, v TEXT, PRIMARY KEY (a, b, d))",
		"INSERT INTO t VALUES (1, 'x', '2024-01-01 10:00:00', 'one'), (2, 'y', '2024-01-02 00:00:00', 'two')")
	s := e.source(e.config(e.db + `\.t`))
	ctx := testCtx(t)
	tid := id(e.db, "t")
	var keys []schemaRow
	var all []string
	if err := s.ScanTable(ctx, tid, func(r schemaRow) error {
		keys = append(keys, schemaRow{r[0], r[1], r[2]})
		all = append(all, fmtRow(r))
		return nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	rows, _, err := s.ReadRows(ctx, tid, append(keys, schemaRow{int32(9), "z", int64(0)}))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || fmtRow(rows[0]) != all[0] || fmtRow(rows[1]) != all[1] {
		t.Fatalf("ReadRows = %v, want %v", rows, all)
	}
}

// nextWithBarriers returns the next batch with changes, and how many
// Barrier batches came before it.
func nextWithBarriers(t *testing.T, r *capturetest.Running) (capture.Batch, int) {
	t.Helper()
	barriers := 0
	deadline := time.After(20 * time.Second)
	for {
		select {
		case b := <-r.Out:
			if b.Barrier {
				barriers++
			}
			if len(b.Changes) > 0 {
				return b, barriers
			}
		case err := <-r.Done:
			r.Returned()
			t.Fatalf("Stream ended: %v", err)
		case <-deadline:
			t.Fatal("no batch within 20s")
		}
	}
}

// TestLayoutHistory: the stream follows a captured table through schema
// changes, each row decoded with the layout its TABLE_MAP states: a DDL
// of the table is a Barrier batch; an index leaves the layout (and its
// pointer) as it was; ADD, MODIFY (widening) and DROP COLUMN give new
// layouts; a rename stops the stream naming the fix.
func TestLayoutHistory(t *testing.T) {
	e := newEnv(t)
	e.exec("CREATE TABLE t (id INT PRIMARY KEY, v INT)", "CREATE TABLE other (id INT PRIMARY KEY)")
	s := e.source(e.config(e.db + `\.t`))
	ctx := testCtx(t)
	if _, err := s.Start(ctx, capture.StartRequest{}); err != nil {
		t.Fatal(err)
	}
	r := startStream(t, s)
	e.exec("ALTER TABLE other ADD COLUMN c INT", "INSERT INTO t VALUES (1, 1)")
	b, barriers := nextWithBarriers(t, r)
	if barriers != 0 || b.Changes[0].After[0] != int32(1) {
		t.Fatalf("after a DDL of another table: %d barriers, batch %+v", barriers, b)
	}
	v1 := b.Changes[0].Schema

	step := func(ddl, insert string, wantCols ...string) capture.Change {
		t.Helper()
		e.exec(ddl, insert)
		b, barriers := nextWithBarriers(t, r)
		if barriers != 1 {
			t.Fatalf("%s: %d Barrier batches before the next change, want 1", ddl, barriers)
		}
		ch := b.Changes[0]
		if got := ch.Schema.String(); len(ch.Schema.Columns) != len(wantCols) {
			t.Fatalf("%s: layout %s, want columns %v", ddl, got, wantCols)
		}
		for i, c := range wantCols {
			if ch.Schema.Columns[i].Name != c {
				t.Fatalf("%s: layout %s, want columns %v", ddl, ch.Schema, wantCols)
			}
		}
		return ch
	}
	if ch := step("CREATE INDEX iv ON t (v)", "INSERT INTO t VALUES (2, 2)", "id", "v"); ch.Schema != v1 {
		t.Fatalf("an index changed the layout pointer: %s", ch.Schema)
	}
	ch := step("ALTER TABLE t ADD COLUMN c INT", "INSERT INTO t VALUES (3, 3, 33)", "id", "v", "c")
	if ch.After[2] != int32(33) {
		t.Fatalf("after ADD COLUMN: %v", ch.After)
	}
	ch = step("ALTER TABLE t MODIFY v BIGINT", "INSERT INTO t VALUES (4, 1099511627776, 4)", "id", "v", "c")
	if ch.After[1] != int64(1<<40) {
		t.Fatalf("after MODIFY v BIGINT: %v (%T)", ch.After, ch.After[1])
	}
	ch = step("ALTER TABLE t DROP COLUMN c", "INSERT INTO t VALUES (5, 5)", "id", "v")
	if ch.After[1] != int64(5) {
		t.Fatalf("after DROP COLUMN: %v", ch.After)
	}
	e.exec("RENAME TABLE t TO t2")
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), "was renamed") || !strings.Contains(err.Error(), "source.tables") {
		t.Fatalf("stream error after a rename = %v", err)
	}
}

// TestResumeDecodesOldLayout: events written before a schema change that
// happened while no source ran are decoded with the layout they were
// written in, not the table's current one (go-mysql's canal gets this
// wrong), and the events after it with the new one.
func TestResumeDecodesOldLayout(t *testing.T) {
	e := newEnv(t)
	e.exec("CREATE TABLE t (id INT PRIMARY KEY, v INT)")
	cfg := e.config(e.db + `\.t`)
	s := e.source(cfg)
	ctx := testCtx(t)
	info, err := s.Start(ctx, capture.StartRequest{})
	if err != nil {
		t.Fatal(err)
	}
	e.exec("INSERT INTO t VALUES (1, 1)", "ALTER TABLE t MODIFY v VARCHAR(10)", "INSERT INTO t VALUES (2, 'two')")
	s2 := e.source(cfg)
	infos, err := s2.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if typ := infos[0].Schema.Columns[1].Type.String(); typ != "string" {
		t.Fatalf("discovered v as %s, want the current layout's string", typ)
	}
	if _, err := s2.Start(ctx, capture.StartRequest{Resume: info.From}); err != nil {
		t.Fatal(err)
	}
	r := startStream(t, s2)
	old, barriers := nextWithBarriers(t, r)
	if barriers != 0 || old.Changes[0].After[1] != int32(1) || old.Changes[0].Schema.Columns[1].Type.String() != "int" {
		t.Fatalf("the event before the change: %d barriers, %v in layout %s; want v = int 1", barriers, old.Changes[0].After, old.Changes[0].Schema)
	}
	next, barriers := nextWithBarriers(t, r)
	if barriers != 1 || next.Changes[0].After[1] != "two" {
		t.Fatalf("the event after the change: %d barriers, %v in layout %s; want one barrier, then v = \"two\"", barriers, next.Changes[0].After, next.Changes[0].Schema)
	}
}

func TestResumePurged(t *testing.T) {
	e := newEnv(t)
	e.exec("CREATE TABLE t (id INT PRIMARY KEY)")
	cfg := e.config(e.db + `\.t`)
	s := e.source(cfg)
	ctx := testCtx(t)
	if _, err := s.Discover(ctx); err != nil {
		t.Fatal(err)
	}
	cur, err := s.CurrentPosition(ctx)
	if err != nil {
		t.Fatal(err)
	}
	old := asPosition(cur)
	if len(old.Maria) == 0 || old.Maria[0].Seq < 2 {
		t.Skipf("need some history, have %s", old)
	}
	// A position far behind the oldest binlog after a purge.
	// The server keeps a binlog until its binlog checkpoint moves on, so
	// flush and purge until the oldest file is gone.
	e.exec("INSERT INTO t VALUES (1)")
	purged := false
	for try := 0; try < 50 && !purged; try++ {
		e.exec("FLUSH BINARY LOGS", "INSERT INTO t VALUES (2) ON DUPLICATE KEY UPDATE id = id")
		var last string
		rows, err := e.root.Query("SHOW BINARY LOGS")
		if err != nil {
			t.Fatal(err)
		}
		var first string
		for rows.Next() {
			var name string
			var size any
			if err := rows.Scan(&name, &size); err != nil {
				t.Fatal(err)
			}
			if first == "" {
				first = name
			}
			last = name
		}
		rows.Close()
		if first != "binlog.000001" {
			purged = true
			break
		}
		e.exec("PURGE BINARY LOGS TO '" + last + "'")
		time.Sleep(100 * time.Millisecond)
	}
	if !purged {
		t.Fatal("could not purge the first binlog")
	}
	_, err = s.Start(ctx, capture.StartRequest{Resume: old})
	var pe *PurgedError
	if !errors.As(err, &pe) || !errors.Is(err, ErrBinlogPurged) || !strings.Contains(err.Error(), e.db+".t") ||
		!strings.Contains(err.Error(), "floe resnapshot --config FILE --table DATABASE.TABLE") {
		t.Fatalf("Start with a purged resume position: %v", err)
	}
}

func TestCheck(t *testing.T) {
	e := newEnv(t)
	e.exec("CREATE TABLE t (id INT PRIMARY KEY)", "CREATE TABLE nokey (v INT)")
	ctx := testCtx(t)
	if p := e.source(e.config(e.db + `\.t`)).Check(ctx); len(p) != 0 {
		t.Fatalf("Check on a good setup: %v", p)
	}
	cfg := e.config(e.db + `\.t`)
	cfg.Password = "wrong"
	if p := e.source(cfg).Check(ctx); len(p) != 1 || p[0].Field != "source.password" {
		t.Fatalf("wrong password: %v", p)
	}
	cfg = e.config(e.db+`\.missing`, e.db+`\.nokey`)
	cfg.RequireKey = true
	p := e.source(cfg).Check(ctx)
	if len(p) != 2 || !strings.Contains(p[0].Message, "matches no table") || !strings.Contains(p[1].Message, "no primary key") {
		t.Fatalf("missing table, no key: %v", p)
	}
	cfg = e.config(e.db + `\.t`)
	cfg.ServerID = 1 // the server's own
	if p := e.source(cfg).Check(ctx); len(p) != 1 || p[0].Field != "source.server-id" {
		t.Fatalf("server id clash: %v", p)
	}
	// A user without replication privileges.
	e.exec("CREATE USER 'norepl'@'127.0.0.1' IDENTIFIED BY 'pw'", fmt.Sprintf("GRANT SELECT ON `%s`.* TO 'norepl'@'127.0.0.1'", e.db))
	cfg = e.config(e.db + `\.t`)
	cfg.User, cfg.Password = "norepl", "pw"
	p = e.source(cfg).Check(ctx)
	if len(p) != 1 || !strings.Contains(p[0].Message, "REPLICATION SLAVE and REPLICATION CLIENT") {
		t.Fatalf("missing privileges: %v", p)
	}
}

func TestCheckBinlogOff(t *testing.T) {
	if testMaria == nil {
		t.Skip("integration test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	m := testdb.StartMariaDBForTest(ctx, t, testdb.MariaDBOptions{ExtraConf: []string{"skip-log-bin", "binlog_format=STATEMENT"}})
	if err := m.CreateDatabase(ctx, "shop", "floe", "pw"); err != nil {
		t.Fatal(err)
	}
	if err := m.Exec(ctx, "shop", "CREATE TABLE t (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{SourceConfig: capture.SourceConfig{Host: "127.0.0.1", Port: m.Port, User: "floe", Password: "pw", Tables: []*regexpT{mustRE(`shop\.t`)}}, ServerID: 77})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := s.Check(ctx)
	if len(p) != 1 || !strings.Contains(p[0].Message, "binary log is off") {
		t.Fatalf("binlog off: %v", p)
	}
}

// TestReadRowsAfterDropColumn: rows read by key after a column was
// dropped since discovery come in the table's layout now, returned with
// them (the discovered layout's select list named the dropped column).
func TestReadRowsAfterDropColumn(t *testing.T) {
	e := newEnv(t)
	e.exec("CREATE TABLE rd (id INT PRIMARY KEY, gone VARCHAR(5), big TEXT)", "INSERT INTO rd VALUES (1, 'g', 'b1'), (2, 'h', 'b2')")
	s := e.source(e.config(e.db + `\.rd`))
	ctx := testCtx(t)
	if _, err := s.Discover(ctx); err != nil {
		t.Fatal(err)
	}
	e.exec("ALTER TABLE rd DROP COLUMN gone")
	rows, layout, err := s.ReadRows(ctx, id(e.db, "rd"), []schemaRow{{int32(2)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(layout.Columns) != 2 || layout.Columns[1].Name != "big" || len(rows) != 1 || fmtRow(rows[0]) != fmtRow(schemaRow{int32(2), "b2"}) {
		t.Fatalf("ReadRows = %v in %v, want [2 b2] in (id, big)", rows, layout)
	}
}
