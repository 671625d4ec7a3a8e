package mysql

import (
	"fmt"
	"strings"
	"testing"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/deploy/testdb"
)

// TestTaggedGTIDs: MySQL 8.4+ transactions may carry a tagged GTID
// (uuid:tag:n, SET gtid_next = 'AUTOMATIC:tag'). Their positions include
// the tag, decode from their stored form, resume exactly after them, and
// equal the server's gtid_executed once the stream has caught up.
func TestTaggedGTIDs(t *testing.T) {
	e := newEnv(t)
	if e.m.Flavor != testdb.FlavorMySQL {
		t.Skipf("MySQL only (the server is %s %s): MariaDB has no tagged GTIDs", e.m.Flavor, e.m.Version)
	}
	e.exec("CREATE TABLE t (id INT PRIMARY KEY)")
	cfg := e.config(e.db + `\.t`)
	s := e.source(cfg)
	ctx := testCtx(t)
	if _, err := s.Start(ctx, capture.StartRequest{}); err != nil {
		t.Fatal(err)
	}
	r := startStream(t, s)
	conn, err := e.root.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i, next := range []string{"AUTOMATIC:floe_tag", "AUTOMATIC", "AUTOMATIC:floe_tag", "AUTOMATIC:other"} {
		for _, q := range []string{"SET gtid_next = '" + next + "'", fmt.Sprintf("INSERT INTO t VALUES (%d)", i+1)} {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	var pos []capture.Position
	for i := range 4 {
		b := r.Next()
		if got := b.Changes[0].After[0]; got != int32(i+1) {
			t.Fatalf("batch %d holds id %v", i, got)
		}
		if i > 0 && b.Position.Compare(pos[i-1]) <= 0 {
			t.Fatalf("batch %d position %s not after %s", i, b.Position, pos[i-1])
		}
		pos = append(pos, b.Position)
	}
	if p := pos[3].String(); !strings.Contains(p, ":floe_tag:") || !strings.Contains(p, ":other:") {
		t.Fatalf("position %s lacks the tags", p)
	}
	cur, err := s.CurrentPosition(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cur.Compare(pos[3]) != 0 {
		t.Fatalf("gtid_executed %s differs from the stream's position %s", cur, pos[3])
	}
	r.Stop()

	resume, err := s.DecodePosition(pos[0].String())
	if err != nil {
		t.Fatal(err)
	}
	s2 := e.source(cfg)
	if _, err := s2.Start(ctx, capture.StartRequest{Resume: resume}); err != nil {
		t.Fatal(err)
	}
	r2 := startStream(t, s2)
	for i := 1; i < 4; i++ {
		b := r2.Next()
		if got := b.Changes[0].After[0]; got != int32(i+1) || b.Position.Compare(pos[i]) != 0 {
			t.Fatalf("after resume: batch holds id %v at %s, want id %d at %s", got, b.Position, i+1, pos[i])
		}
	}
}

// TestCompressedTransactions: with binlog_transaction_compression (MySQL
// 8.0.20+) a transaction's events arrive inside one compressed
// TRANSACTION_PAYLOAD event; they decode as usual, a large one split into
// parts.
func TestCompressedTransactions(t *testing.T) {
	e := newEnv(t)
	if e.m.Flavor != testdb.FlavorMySQL {
		t.Skipf("MySQL only (the server is %s %s): MariaDB does not compress transactions this way", e.m.Flavor, e.m.Version)
	}
	e.exec("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(100))")
	cfg := e.config(e.db + `\.t`)
	cfg.MaxBatchChanges = 100
	s := e.source(cfg)
	ctx := testCtx(t)
	if _, err := s.Start(ctx, capture.StartRequest{}); err != nil {
		t.Fatal(err)
	}
	r := startStream(t, s)
	conn, err := e.root.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stmts := []string{"SET SESSION binlog_transaction_compression = ON",
		"INSERT INTO t VALUES (1, REPEAT('a', 100))",
		"INSERT INTO t SELECT seq, REPEAT('b', 100) FROM " + e.m.Seq(2, 251),
		"UPDATE t SET v = 'c' WHERE id = 1"}
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// The transactions did travel compressed.
	status, err := e.m.Query(ctx, "", "SHOW BINARY LOG STATUS")
	if err != nil || len(status) != 1 {
		t.Fatalf("SHOW BINARY LOG STATUS: %v %v", status, err)
	}
	events, err := e.m.Query(ctx, "", "SHOW BINLOG EVENTS IN '"+status[0][0]+"'")
	if err != nil {
		t.Fatal(err)
	}
	payloads := 0
	for _, ev := range events {
		if len(ev) > 2 && ev[2] == "Transaction_payload" {
			payloads++
		}
	}
	if payloads < 3 {
		t.Fatalf("the binlog holds %d Transaction_payload events, want 3 (compression is off?)", payloads)
	}
	if b := r.Next(); len(b.Changes) != 1 || b.Changes[0].After[1] != strings.Repeat("a", 100) {
		t.Fatalf("first transaction: %+v", b)
	}
	n := 0
	for n < 250 {
		b := r.Next()
		if n+len(b.Changes) < 250 != b.More {
			t.Fatalf("part ending at change %d: More = %v", n+len(b.Changes), b.More)
		}
		n += len(b.Changes)
	}
	if n != 250 {
		t.Fatalf("the large transaction has %d changes, want 250", n)
	}
	if b := r.Next(); len(b.Changes) != 1 || b.Changes[0].Op != capture.OpUpdate || b.Changes[0].After[1] != "c" || b.Changes[0].Before[1] != strings.Repeat("a", 100) {
		t.Fatalf("update: %+v", b)
	}
}
