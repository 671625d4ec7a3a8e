package mysql

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/deploy/testdb"
)

// TestWindowsWithFilePositions runs the watermark-window tests on a MySQL
// server with gtid_mode OFF, where positions are binlog files and offsets
// and a chunk's low watermark is read under the table's lock
// (lockwindow.go): chunks are read beside the stream and, applied as the
// coordinator applies them, end equal to the table row by row, also with
// writers changing the chunks' keys throughout. A user without the LOCK
// TABLES privilege has the table read before the stream instead. A
// transaction emitted in parts carries file positions in every part.
func TestWindowsWithFilePositions(t *testing.T) {
	if testMaria == nil {
		t.Skip("integration test (needs MySQL; not run with -short)")
	}
	m := testdb.StartMariaDBForTest(context.Background(), t, testdb.MariaDBOptions{Server: "mysql-9.7",
		ExtraConf: []string{"gtid_mode=OFF", "enforce_gtid_consistency=OFF"}})
	t.Run("LeavesChangedKeysToTheStream", func(t *testing.T) {
		e := newEnvOn(t, m)
		windowLeavesChangedKeys(t, e)
	})
	t.Run("WithWriters", func(t *testing.T) {
		windowWithWriters(t, newEnvOn(t, m), 3)
	})
	t.Run("WaitsForAnOpenTransaction", func(t *testing.T) {
		e := newEnvOn(t, m)
		e.exec(`CREATE TABLE bp (id BIGINT PRIMARY KEY, v VARCHAR(20) NOT NULL)`, "INSERT INTO bp VALUES (1, 's'), (2, 's'), (3, 's')")
		s := startedSource(t, e, capture.StartRequest{Snapshot: true}, e.db+`\.bp`)
		ctx := testCtx(t)
		tid := id(e.db, "bp")
		chunks := planBeside(t, s, tid, 100)
		r := consumeBeside(t, s)
		tx, err := e.root.Begin()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec("UPDATE bp SET v = 'held' WHERE id = 2"); err != nil {
			t.Fatal(err)
		}
		type read struct {
			b   capture.Batch
			err error
		}
		done := make(chan read, 1)
		go func() {
			b, err := s.ReadChunk(ctx, tid, chunks[0])
			done <- read{b, err}
		}()
		select {
		case got := <-done:
			tx.Rollback()
			t.Fatalf("the chunk was read while a transaction that changed the table was open: %+v, %v", got.b.Changes, got.err)
		case <-time.After(3 * lockWaitSeconds * time.Second):
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		got := <-done
		if got.err != nil {
			t.Fatal(got.err)
		}
		rows := map[int64]string{}
		for _, ch := range got.b.Changes {
			if ch.After != nil {
				rows[ch.After[0].(int64)] = ch.After[1].(string)
			}
		}
		// Committed before the lock was taken: in the snapshot, at or
		// before L, so the chunk holds it (not left to the stream).
		if len(rows) != 3 || rows[2] != "held" {
			t.Errorf("the chunk read after the transaction committed has %v, want ids 1-3 with id 2 = held", rows)
		}
		r.chunk(got.b)
		r.until(current(t, s))
		r.equalTo(s, tid)
	})
	t.Run("WatermarksOfACompletePlan", func(t *testing.T) {
		// A restart hands the stream the plan of a snapshot whose
		// watermarks (here: file positions, H = L) a table has not
		// committed past yet; the stream drops what its chunks hold.
		e := newEnvOn(t, m)
		e.exec(`CREATE TABLE bp (id BIGINT PRIMARY KEY, v VARCHAR(20) NOT NULL)`, "INSERT INTO bp VALUES (1, 's'), (2, 's')")
		s := startedSource(t, e, capture.StartRequest{}, e.db+`\.bp`)
		tid := id(e.db, "bp")
		chunks, err := s.PlanChunks(testCtx(t), tid, 100)
		if err != nil {
			t.Fatal(err)
		}
		e.exec("UPDATE bp SET v = 'held' WHERE id = 1")
		mark := asPosition(current(t, s))
		e.exec("UPDATE bp SET v = 'after' WHERE id = 2")
		plan := &capture.SnapshotPlan{Chunks: chunks, Done: map[int]bool{chunks[0].Index: true},
			Watermarks: map[int]string{chunks[0].Index: mark.String()}}
		if err := s.SetWatermarks(testCtx(t), map[capture.TableID]*capture.SnapshotPlan{tid: plan}); err != nil {
			t.Fatalf("SetWatermarks with a file-position watermark: %v", err)
		}
		run := startStream(t, s)
		b := run.Next()
		if len(b.Changes) != 1 || b.Changes[0].After[0] != int64(2) {
			t.Errorf("the stream sent %+v, want only the update of id 2 (id 1's is in the chunk, at or before %s)", b.Changes, mark)
		}
	})
	t.Run("WithoutLockPrivilege", func(t *testing.T) {
		e := newEnvOn(t, m)
		e.exec(`CREATE TABLE bp (id BIGINT PRIMARY KEY, v VARCHAR(20) NOT NULL)`)
		user := e.user + "nolock"
		e.exec(fmt.Sprintf("CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s'", user, testPassword),
			fmt.Sprintf("GRANT SELECT ON %s.* TO '%s'@'127.0.0.1'", quoteIdent(e.db), user),
			fmt.Sprintf("GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '%s'@'127.0.0.1'", user))
		t.Cleanup(func() { _, _ = e.root.Exec(fmt.Sprintf("DROP USER '%s'@'127.0.0.1'", user)) })
		for _, c := range []struct {
			user   string
			beside bool
		}{{user, false}, {e.user, true}} {
			cfg := e.config(e.db + `\.bp`)
			cfg.User = c.user
			s := e.source(cfg)
			ctx := testCtx(t)
			if _, err := s.Discover(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Start(ctx, capture.StartRequest{Snapshot: true}); err != nil {
				t.Fatal(err)
			}
			if got := s.ReadsAtWatermarks(id(e.db, "bp")); got != c.beside {
				t.Errorf("user %s: ReadsAtWatermarks = %v, want %v", c.user, got, c.beside)
			}
		}
	})
	t.Run("PartsOfALargeTransaction", func(t *testing.T) {
		e := newEnvOn(t, m)
		e.exec(`CREATE TABLE big (id BIGINT PRIMARY KEY, v VARCHAR(20) NOT NULL)`)
		cfg := e.config(e.db + `\.big`)
		cfg.MaxBatchChanges = 100
		s := e.source(cfg)
		ctx := testCtx(t)
		if _, err := s.Discover(ctx); err != nil {
			t.Fatal(err)
		}
		start, err := s.Start(ctx, capture.StartRequest{})
		if err != nil {
			t.Fatal(err)
		}
		run := startStream(t, s)
		var vals []string
		for i := range 1000 {
			vals = append(vals, fmt.Sprintf("(%d, 'x')", i))
		}
		e.exec("INSERT INTO big VALUES " + strings.Join(vals, ","))
		prev, changes, parts := start.From, 0, 0
		for deadline := time.After(30 * time.Second); changes < 1000; {
			select {
			case b := <-run.Out:
				pos := asPosition(b.Position)
				if pos.Kind != KindFile {
					t.Fatalf("a batch at %s, a %s position, in a stream of file positions", pos, pos.kindName())
				}
				if pos.Compare(prev) < 0 {
					t.Fatalf("batch at %s after one at %s", pos, prev)
				}
				prev, changes = pos, changes+len(b.Changes)
				if b.More {
					parts++
				}
			case <-deadline:
				t.Fatalf("%d of 1000 changes within 30s", changes)
			}
		}
		if parts < 9 {
			t.Errorf("1000 changes came in %d parts with More, want at least 9 (MaxBatchChanges 100)", parts)
		}
	})
}
