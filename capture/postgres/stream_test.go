package postgres

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

func startNoSnapshot(t *testing.T, s *Source) capture.StartInfo {
	t.Helper()
	info, err := s.Start(testCtx(t), capture.StartRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func TestStreamChanges(t *testing.T) {
	e := newEnv(t)
	e.exec(`CREATE TABLE a (id int PRIMARY KEY, name text, n int)`, `CREATE TABLE b (k text PRIMARY KEY, v int)`)
	s := e.source(e.config(`public\.(a|b)`))
	info := startNoSnapshot(t, s)
	if info.Exact {
		t.Error("Exact without a snapshot")
	}
	r := startStream(t, s)
	A := capture.TableID{Schema: "public", Name: "a"}
	B := capture.TableID{Schema: "public", Name: "b"}

	type change struct {
		table   capture.TableID
		op      capture.Op
		before  schema.Row
		keyOnly bool
		after   schema.Row
	}
	steps := []struct {
		name string
		sql  []string
		want []change
	}{
		{"insert", []string{`INSERT INTO a VALUES (1, 'one', 10), (2, 'two', 20)`}, []change{
			{table: A, op: capture.OpInsert, after: schema.Row{int32(1), "one", int32(10)}},
			{table: A, op: capture.OpInsert, after: schema.Row{int32(2), "two", int32(20)}},
		}},
		{"update", []string{`UPDATE a SET n = 11 WHERE id = 1`}, []change{
			{table: A, op: capture.OpUpdate, after: schema.Row{int32(1), "one", int32(11)}},
		}},
		{"key change", []string{`UPDATE a SET id = 3 WHERE id = 2`}, []change{
			{table: A, op: capture.OpUpdate, before: schema.Row{int32(2), nil, nil}, keyOnly: true, after: schema.Row{int32(3), "two", int32(20)}},
		}},
		{"delete", []string{`DELETE FROM a WHERE id = 1`}, []change{
			{table: A, op: capture.OpDelete, before: schema.Row{int32(1), nil, nil}, keyOnly: true},
		}},
		{"multi-table transaction", []string{`BEGIN`, `INSERT INTO a VALUES (4, NULL, 40)`, `INSERT INTO b VALUES ('x', 1)`, `UPDATE b SET v = 2 WHERE k = 'x'`, `COMMIT`}, []change{
			{table: A, op: capture.OpInsert, after: schema.Row{int32(4), nil, int32(40)}},
			{table: B, op: capture.OpInsert, after: schema.Row{"x", int32(1)}},
			{table: B, op: capture.OpUpdate, after: schema.Row{"x", int32(2)}},
		}},
		{"truncate", []string{`TRUNCATE a, b`}, []change{
			{table: A, op: capture.OpTruncate},
			{table: B, op: capture.OpTruncate},
		}},
	}
	prev := info.From
	for _, st := range steps {
		t0 := time.Now()
		e.exec(st.sql...)
		b := r.Next()
		if b.More {
			t.Errorf("%s: More set on a small transaction", st.name)
		}
		if b.Position.Compare(prev) <= 0 {
			t.Errorf("%s: position %v not after %v", st.name, b.Position, prev)
		}
		prev = b.Position
		if b.CommitTime.Location() != time.UTC || b.CommitTime.Before(t0.Add(-time.Minute)) || b.CommitTime.After(time.Now().Add(time.Minute)) {
			t.Errorf("%s: CommitTime %v", st.name, b.CommitTime)
		}
		var got []change
		for _, ch := range b.Changes {
			if ch.Schema == nil || len(ch.Schema.Columns) != map[string]int{"a": 3, "b": 2}[ch.Table.Name] {
				t.Errorf("%s: change has schema %v", st.name, ch.Schema)
			}
			got = append(got, change{ch.Table, ch.Op, ch.Before, ch.BeforeKeyOnly, ch.After})
		}
		if !reflect.DeepEqual(got, st.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", st.name, got, st.want)
		}
	}
}

func TestStreamToast(t *testing.T) {
	e := newEnv(t)
	big := strings.Repeat("0123456789", 1000)
	for _, tb := range []string{"tdefault", "tfull"} {
		e.exec(fmt.Sprintf(`CREATE TABLE %s (id int PRIMARY KEY, big text, n int)`, tb),
			fmt.Sprintf(`ALTER TABLE %s ALTER COLUMN big SET STORAGE EXTERNAL`, tb),
			fmt.Sprintf(`INSERT INTO %s VALUES (1, '%s', 1)`, tb, big))
	}
	e.exec(`ALTER TABLE tfull REPLICA IDENTITY FULL`)
	s := e.source(e.config(`public\.t(default|full)`))
	startNoSnapshot(t, s)
	r := startStream(t, s)

	e.exec(`UPDATE tdefault SET n = 2 WHERE id = 1`)
	b := r.Next()
	ch := b.Changes[0]
	if ch.Op != capture.OpUpdate || ch.Before != nil || !schema.IsUnchanged(ch.After[1]) || ch.After[2] != int32(2) {
		t.Errorf("DEFAULT identity: change %v before %v after[1] unchanged=%v after[2]=%v; want update, no before, Unchanged big",
			ch.Op, ch.Before, schema.IsUnchanged(ch.After[1]), ch.After[2])
	}

	e.exec(`UPDATE tfull SET n = 2 WHERE id = 1`)
	b = r.Next()
	ch = b.Changes[0]
	if ch.Op != capture.OpUpdate || ch.BeforeKeyOnly || len(ch.Before) != 3 || ch.Before[2] != int32(1) {
		t.Fatalf("FULL identity: change %v keyOnly %v before %.40v", ch.Op, ch.BeforeKeyOnly, ch.Before)
	}
	if ch.After[1] != big || ch.After.HasUnchanged() {
		t.Errorf("FULL identity: big not filled from the old tuple (unchanged=%v)", schema.IsUnchanged(ch.After[1]))
	}
}

func TestStreamLargeTransactionSplit(t *testing.T) {
	e := newEnv(t)
	e.exec(`CREATE TABLE big (id int PRIMARY KEY, v text)`)
	cfg := e.config(`public\.big`)
	cfg.MaxBatchChanges = 10000
	s := e.source(cfg)
	info := startNoSnapshot(t, s)
	r := startStream(t, s)
	e.exec(`INSERT INTO big SELECT g, 'r' || g FROM generate_series(1, 50000) g`)

	var parts []capture.Batch
	next := 1
	for {
		b := r.Next()
		parts = append(parts, b)
		if len(b.Changes) > cfg.MaxBatchChanges {
			t.Fatalf("part %d has %d changes, max %d", len(parts), len(b.Changes), cfg.MaxBatchChanges)
		}
		for _, ch := range b.Changes {
			if ch.Op != capture.OpInsert || ch.After[0] != int32(next) {
				t.Fatalf("change %d: %v %v", next, ch.Op, ch.After)
			}
			next++
		}
		if !b.More {
			break
		}
	}
	if next != 50001 {
		t.Fatalf("got %d changes, want 50000", next-1)
	}
	if len(parts) != 5 {
		t.Fatalf("%d parts, want 5", len(parts))
	}
	final := parts[4].Position.(Position)
	for i, p := range parts[:4] {
		pos := p.Position.(Position)
		if pos != parts[0].Position.(Position) || pos.LSN >= final.LSN || pos.Compare(info.From) <= 0 {
			t.Errorf("part %d position %v (final %v, from %v)", i, pos, final, info.From)
		}
		if !p.CommitTime.Equal(parts[4].CommitTime) {
			t.Errorf("part %d commit time %v, final %v", i, p.CommitTime, parts[4].CommitTime)
		}
	}
}

// slotConfirmed reads the slot's confirmed_flush_lsn.
func slotConfirmed(t *testing.T, slot string) pglogrepl.LSN {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), testPG.AdminDSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var lsn pglogrepl.LSN
	if err := conn.QueryRow(context.Background(), `SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&lsn); err != nil {
		t.Fatal(err)
	}
	return lsn
}

// TestHeartbeatAckResume: an idle database yields heartbeat batches; Ack
// moves the slot's confirmed_flush_lsn to exactly the acknowledged
// position and no further; a new Source resumes from there.
func TestHeartbeatAckResume(t *testing.T) {
	e := newEnv(t)
	e.exec(`CREATE TABLE hb (id int PRIMARY KEY)`)
	cfg := e.config(`public\.hb`)
	cfg.HeartbeatInterval = 300 * time.Millisecond
	s := e.source(cfg)
	info := startNoSnapshot(t, s)
	created := slotConfirmed(t, e.slot)
	if created != info.From.(Position).LSN {
		t.Fatalf("slot confirmed %v, StartInfo.From %v", created, info.From)
	}
	r := startStream(t, s)

	var hb capture.Batch
	select {
	case hb = <-r.Out:
	case <-time.After(10 * time.Second):
		t.Fatal("no heartbeat batch within 10s on an idle database")
	}
	if len(hb.Changes) != 0 || hb.More || hb.Position.Compare(info.From) <= 0 {
		t.Fatalf("heartbeat batch %+v, want an empty batch after %v", hb, info.From)
	}
	time.Sleep(500 * time.Millisecond) // several status intervals without an ack
	if got := slotConfirmed(t, e.slot); got != created {
		t.Fatalf("confirmed_flush_lsn moved to %v before any ack", got)
	}
	s.Ack(hb.Position)
	want := hb.Position.(Position).LSN
	deadline := time.Now().Add(10 * time.Second)
	for slotConfirmed(t, e.slot) != want {
		if time.Now().After(deadline) {
			t.Fatalf("confirmed_flush_lsn = %v, want %v after Ack", slotConfirmed(t, e.slot), want)
		}
		time.Sleep(50 * time.Millisecond)
	}

	e.exec(`INSERT INTO hb VALUES (1)`)
	row1 := r.Next()
	time.Sleep(500 * time.Millisecond)
	if got := slotConfirmed(t, e.slot); got != want {
		t.Fatalf("confirmed_flush_lsn = %v, moved past the last ack %v", got, want)
	}
	r.Stop()

	// Same slot, no resume position: From = the confirmed position, not exact.
	s2 := e.source(cfg)
	info2, err := s2.Start(testCtx(t), capture.StartRequest{Snapshot: true})
	if err != nil {
		t.Fatal(err)
	}
	if info2.Exact || info2.From.(Position).LSN != want {
		t.Fatalf("restart: StartInfo %+v, want From %v, not exact", info2, want)
	}
	// A resume position after the slot's: From = resume; row 1 is not replayed.
	s3 := e.source(cfg)
	info3, err := s3.Start(testCtx(t), capture.StartRequest{Resume: row1.Position})
	if err != nil {
		t.Fatal(err)
	}
	if info3.From.Compare(row1.Position) != 0 {
		t.Fatalf("resume: From %v, want %v", info3.From, row1.Position)
	}
	r3 := startStream(t, s3)
	e.exec(`INSERT INTO hb VALUES (2)`)
	b := r3.Next()
	if b.Changes[0].After[0] != int32(2) {
		t.Fatalf("after resume the first change is %v, want row 2", b.Changes[0].After)
	}
}

// TestStoppedStreamReleasesSlot: once a Stream stopped by its context
// has returned, its walsender no longer holds the slot, so a Stream
// started at once is not refused it ("replication slot ... is active for
// PID"), which failed the conformance test ResumeAfterSplit on a busy
// machine. Stopped and started again five times, each stop checked.
func TestStoppedStreamReleasesSlot(t *testing.T) {
	e := newEnv(t)
	e.exec(`CREATE TABLE rel (id int PRIMARY KEY)`)
	cfg := e.config(`public\.rel`)
	var resume capture.Position
	for i := range 5 {
		s := e.source(cfg)
		info, err := s.Start(testCtx(t), capture.StartRequest{Resume: resume})
		if err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
		r := startStream(t, s)
		e.exec(fmt.Sprintf(`INSERT INTO rel VALUES (%d)`, i))
		b := r.Next()
		if len(b.Changes) != 1 || b.Changes[0].After[0] != int32(i) {
			t.Fatalf("run %d from %v: batch %+v, want row %d", i, info.From, b, i)
		}
		s.Ack(b.Position)
		resume = b.Position
		r.Stop()
		var active bool
		if err := e.connect().QueryRow(testCtx(t), `SELECT active FROM pg_replication_slots WHERE slot_name = $1`, e.slot).Scan(&active); err != nil {
			t.Fatal(err)
		}
		if active {
			t.Fatalf("run %d: the slot is still active after Stream returned", i)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestStartSlotMissing(t *testing.T) {
	e := newEnv(t)
	e.exec(`CREATE TABLE t1 (id int PRIMARY KEY)`)
	s := e.source(e.config(`public\.t1`))
	_, err := s.Start(testCtx(t), capture.StartRequest{Resume: Position{LSN: 0x1000000}})
	var sm *SlotMissingError
	if !errors.As(err, &sm) || sm.Slot != e.slot || sm.Resume != "pg.v1:0/1000000" {
		t.Fatalf("Start = %v, want *SlotMissingError for %s", err, e.slot)
	}
	if !strings.Contains(err.Error(), "can no longer be read") || !strings.Contains(err.Error(), "floe resnapshot --config FILE --table SCHEMA.TABLE") || !errors.Is(err, ErrSlotMissing) {
		t.Fatalf("error text %q", err)
	}
}
