package postgres

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"

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
