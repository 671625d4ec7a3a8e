package mysql

import (
	"errors"
	"testing"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/capturetest"
	"github.com/floe-cdc/floe/deploy/testdb"
)

// TestReaderWithOurServerID: a binlog reader already registered with our
// server id (a live one, or the dump thread of a reader killed a moment
// ago, which the server keeps until its next write fails) is what Check
// reports only where the two readers would disconnect each other:
//   - MariaDB ends the older reader's dump when another registers with its
//     server id: Check reports a source.server-id problem (when the user
//     may list the replicas: SHOW SLAVE HOSTS needs REPLICATION MASTER
//     ADMIN), and indeed the first stream fails, naming source.server-id,
//     once the second starts;
//   - MySQL tells dump threads apart by replica UUID (go-mysql gives each
//     connection its own): Check reports nothing, and both streams
//     receive the same transaction. Refusing there made `floe run` exit
//     when it restarted right after a crash.
func TestReaderWithOurServerID(t *testing.T) {
	e := newEnv(t)
	e.exec("CREATE TABLE t (id INT PRIMARY KEY)")
	ctx := testCtx(t)
	start := func() (*Source, *capturetest.Running) {
		t.Helper()
		s := e.source(e.config(e.db + `\.t`))
		if _, err := s.Start(ctx, capture.StartRequest{}); err != nil {
			t.Fatal(err)
		}
		return s, startStream(t, s)
	}
	_, first := start()
	e.exec("INSERT INTO t VALUES (1)")
	if b := first.Next(); len(b.Changes) != 1 {
		t.Fatalf("first stream: %d changes, want 1", len(b.Changes))
	}
	// The first reader is registered now (it received a transaction).
	if e.m.Flavor == testdb.FlavorMariaDB {
		e.exec("GRANT REPLICATION MASTER ADMIN ON *.* TO '" + e.user + "'@'127.0.0.1'")
	}
	problems := e.source(e.config(e.db + `\.t`)).Check(ctx)
	if e.m.Flavor == testdb.FlavorMySQL {
		if len(problems) != 0 {
			t.Fatalf("MySQL: Check with a reader of the same server id registered: %v, want no problem", problems)
		}
	} else if len(problems) != 1 || problems[0].Field != "source.server-id" {
		t.Fatalf("MariaDB: Check with a reader of the same server id registered: %v, want one source.server-id problem", problems)
	}

	_, second := start()
	e.exec("INSERT INTO t VALUES (2)")
	if b := second.Next(); len(b.Changes) != 1 {
		t.Fatalf("second stream: %d changes, want 1", len(b.Changes))
	}
	if e.m.Flavor == testdb.FlavorMySQL {
		if b := first.Next(); len(b.Changes) != 1 {
			t.Fatalf("first stream after the second started: %d changes, want 1", len(b.Changes))
		}
		return
	}
	var p Problem
	if err := first.Err(); !errors.As(err, &p) || p.Field != "source.server-id" {
		t.Fatalf("MariaDB: the first stream after a second reader registered with its server id: %v, want a source.server-id problem", err)
	}
}
