package postgres

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/floe-cdc/floe/capture"
)

func TestHeartbeatContent(t *testing.T) {
	at := time.Unix(1700000000, 123456789)
	msg := &pglogrepl.LogicalDecodingMessage{Prefix: heartbeatPrefix, Content: []byte(heartbeatContent("floe_shop", at))}
	if got, ok := parseHeartbeat("floe_shop", msg); !ok || !got.Equal(at) {
		t.Fatalf("parseHeartbeat = %v %v, want %v", got, ok, at)
	}
	for _, m := range []*pglogrepl.LogicalDecodingMessage{
		{Prefix: heartbeatPrefix, Content: []byte(heartbeatContent("floe_other", at))}, // another pipeline's
		{Prefix: heartbeatPrefix, Content: nil},                                        // an old, empty heartbeat
		{Prefix: "floe.demo", Content: []byte(heartbeatContent("floe_shop", at))},
		{Prefix: heartbeatPrefix, Content: []byte("v2 floe_shop 1")},
		{Prefix: heartbeatPrefix, Content: []byte("v1 floe_shop x")},
	} {
		if _, ok := parseHeartbeat("floe_shop", m); ok {
			t.Errorf("%q %q taken for this pipeline's heartbeat", m.Prefix, m.Content)
		}
	}
}

func TestAdvancing(t *testing.T) {
	lsn := func(v uint64) *pglogrepl.LSN { l := pglogrepl.LSN(v); return &l }
	for _, c := range []struct {
		name          string
		first, second walsender
		working       bool
		detail        string
	}{
		{"sent_lsn moved", walsender{sent: lsn(10)}, walsender{sent: lsn(20), waitEvent: "WalSenderWaitForWAL"}, true, "sent_lsn advanced to 0/14"},
		{"sent_lsn stood", walsender{sent: lsn(10)}, walsender{sent: lsn(10), waitEvent: "WALRead"}, false, "stayed at sent_lsn 0/A"},
		{"busy on CPU", walsender{}, walsender{}, true, `is busy (wait event "")`},
		{"reading WAL", walsender{}, walsender{waitEvent: "WALRead"}, true, "is busy"},
		{"spilling", walsender{}, walsender{waitEvent: "ReorderBufferWrite"}, true, "is busy"},
		{"waiting for WAL it has", walsender{}, walsender{waitEvent: "WalSenderWaitForWAL"}, false, "stayed in wait event WalSenderWaitForWAL (grant the role pg_read_all_stats"},
		{"blocked sending to floe", walsender{}, walsender{waitEvent: "WalSenderWriteData"}, false, "WalSenderWriteData"},
		{"gone", walsender{}, walsender{err: errNoWalsender}, false, "could not be checked: the server lists no such walsender"},
		{"server did not answer at first", walsender{err: errors.New("timeout")}, walsender{sent: lsn(20)}, false, "could not be checked: timeout"},
	} {
		working, detail := advancing(c.first, c.second)
		if working != c.working || !strings.Contains(detail, c.detail) {
			t.Errorf("%s: advancing = %v %q, want %v %q", c.name, working, detail, c.working, c.detail)
		}
	}
}

func TestStallTimeoutNeedsMessages(t *testing.T) {
	cfg := Config{SourceConfig: capture.SourceConfig{StallTimeout: 30 * time.Second}}
	if stallTimeout(cfg, true) != 30*time.Second || stallTimeout(cfg, false) != 0 {
		t.Fatal("stall detection must be off without logical messages (PostgreSQL before 14)")
	}
}

// TestOwedBeats: delivering a heartbeat settles it and every older one;
// one delivered before its writer recorded it is never owed.
func TestOwedBeats(t *testing.T) {
	base := time.Unix(1700000000, 0)
	at := func(s int) time.Time { return base.Add(time.Duration(s) * time.Second) }
	var o owedBeats
	if _, ok := o.oldest(); ok {
		t.Fatal("a fresh owedBeats owes a heartbeat")
	}
	o.written(at(1), 100)
	o.written(at(2), 200)
	o.written(at(3), 300)
	if end, ok := o.oldest(); !ok || end != 100 {
		t.Fatalf("oldest = %v %v, want 0/64", end, ok)
	}
	o.deliver(at(2))
	if end, ok := o.oldest(); !ok || end != 300 {
		t.Fatalf("after delivering the second: oldest = %v %v, want 0/12C", end, ok)
	}
	o.deliver(at(4)) // delivered before written() recorded it
	o.written(at(4), 400)
	if end, ok := o.oldest(); ok {
		t.Fatalf("a heartbeat already delivered is owed: oldest = %v", end)
	}
	for i := range maxOwedBeats + 10 {
		o.written(at(10+i), pglogrepl.LSN(1000+i))
	}
	if len(o.beats) != maxOwedBeats {
		t.Fatalf("%d heartbeats owed, want at most %d", len(o.beats), maxOwedBeats)
	}
}

func TestUnflushed(t *testing.T) {
	for _, c := range []struct {
		name string
		beat pglogrepl.LSN
		ws   walsender
		want bool
	}{
		{"heartbeat beyond the flush", 200, walsender{waitEvent: "WalSenderWaitForWAL", flushed: 100}, true},
		{"heartbeat flushed", 100, walsender{waitEvent: "WalSenderWaitForWAL", flushed: 100}, false},
		{"walsender blocked sending", 200, walsender{waitEvent: "WalSenderWriteData", flushed: 100}, false},
		{"flush unknown", 200, walsender{waitEvent: "WalSenderWaitForWAL"}, false},
		{"server did not answer", 200, walsender{waitEvent: "WalSenderWaitForWAL", flushed: 100, err: errNoWalsender}, false},
	} {
		if got := unflushed(c.beat, c.ws); got != c.want {
			t.Errorf("%s: unflushed = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestStallCheckReadsWhatArrivedDuringTheLooks: the stall check's looks
// at the walsender take time on a loaded machine, and a walsender that
// sends what it has during them is found waiting for WAL again: the
// looks say stuck while the message waits unread on the connection. A
// row inserted during the second look (which then reports the walsender
// waiting, as the server would) is read and delivered; the stream does
// not fail, and it was silent for the stall timeout before the insert.
func TestStallCheckReadsWhatArrivedDuringTheLooks(t *testing.T) {
	e := newEnv(t)
	e.exec(`CREATE TABLE rel (id int PRIMARY KEY)`)
	cfg := e.config(`public\.rel`)
	// Silence: heartbeats are hourly, and no status update wakes the
	// walsender (each would make it send a keepalive).
	cfg.StatusInterval = time.Hour
	s := e.source(cfg)
	s.cfg.StallTimeout = time.Second
	var looks atomic.Int32
	admin, err := pgx.Connect(testCtx(t), e.pg.AdminDSN(e.db)) // pg_stat_replication shows sent_lsn to a superuser
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	s.inspect = func(ctx context.Context, pid uint32) walsender {
		if looks.Add(1) == 2 {
			// The row is written, and the look returns once the walsender
			// has sent it (its sent_lsn is past the row's commit).
			var end string
			if err := admin.QueryRow(ctx, `INSERT INTO rel VALUES (1) RETURNING pg_current_wal_insert_lsn()::text`).Scan(&end); err != nil {
				t.Errorf("insert during the look: %v", err)
				return walsender{err: err}
			}
			for sent := false; !sent; time.Sleep(10 * time.Millisecond) {
				err := admin.QueryRow(ctx, `SELECT coalesce(sent_lsn >= $1::pg_lsn, false) FROM pg_stat_replication WHERE pid = $2`, end, int(pid)).Scan(&sent)
				if err != nil {
					t.Errorf("walsender's sent_lsn: %v", err)
					return walsender{err: err}
				}
			}
		}
		return walsender{waitEvent: "WalSenderWaitForWAL"}
	}
	if _, err := s.Start(testCtx(t), capture.StartRequest{}); err != nil {
		t.Fatal(err)
	}
	r := startStream(t, s)
	b := r.Next()
	if len(b.Changes) != 1 || b.Changes[0].After[0] != int32(1) {
		t.Fatalf("batch %+v, want row 1", b)
	}
	if n := looks.Load(); n < 2 {
		t.Fatalf("the walsender was looked at %d times: the stream was never silent for the stall timeout", n)
	}
}
