package main

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floe-cdc/floe/checkpoint"
	"github.com/floe-cdc/floe/deploy/testdb"
)

// TestMySQLSnapshotBesideWriters: a table created while floe run streams
// is read beside the stream while writers update, delete and re-insert
// its rows (also in one transaction) and another table's, all through
// its snapshot and a SIGKILL in the middle of it (a write lock on the new
// table holds its reads from just before the kill, so that the kill lands
// inside the snapshot however fast it goes). The other table commits
// a change made while the new table is read, before its snapshot is
// complete; on MySQL proper some chunks' watermark windows provably held
// changes of their own keys (the debug log's rows_left_to_stream); and at
// the end both tables hold exactly the source's rows (floe verify, and in
// upsert mode the harness comparison). Both sink modes.
func TestMySQLSnapshotBesideWriters(t *testing.T) {
	for _, mode := range []string{"upsert", "changelog"} {
		t.Run(mode, func(t *testing.T) { snapshotBesideWriters(t, testdb.MariaDBOptions{}, mode) })
	}
}

// TestMySQLSnapshotBesideWritersFilePositions is
// TestMySQLSnapshotBesideWriters (upsert) on MySQL with gtid_mode OFF,
// whose positions are binlog files and offsets: each chunk's low
// watermark is read under the table's lock (capture/mysql lockwindow.go).
func TestMySQLSnapshotBesideWritersFilePositions(t *testing.T) {
	snapshotBesideWriters(t, testdb.MariaDBOptions{Server: "mysql-9.7", ExtraConf: []string{"gtid_mode=OFF", "enforce_gtid_consistency=OFF"}}, "upsert")
}

// besideWriters change rows of t_new (ids up to keys, and a few past
// them) and of t_old until stopped.
type besideWriters struct {
	stop   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	writes int
	err    error
}

func startBesideWriters(db *sql.DB, keys int) *besideWriters {
	w := &besideWriters{stop: make(chan struct{})}
	for n := range 3 {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(n)))
			for i := 0; ; i++ {
				select {
				case <-w.stop:
					return
				default:
				}
				if err := besideWrite(db, rng, keys, fmt.Sprintf("w%d-%d", n, i)); err != nil {
					w.mu.Lock()
					w.err = err
					w.mu.Unlock()
					return
				}
				w.mu.Lock()
				w.writes++
				w.mu.Unlock()
			}
		}()
	}
	return w
}

// besideWrite makes one random change; a deadlock between two writers
// (the delete and re-insert) is no error.
func besideWrite(db *sql.DB, rng *rand.Rand, keys int, v string) error {
	k := 1 + rng.IntN(keys+keys/100)
	var err error
	switch rng.IntN(6) {
	case 0, 1:
		_, err = db.Exec("UPDATE t_new SET v = ? WHERE id = ?", v, k)
	case 2:
		_, err = db.Exec("DELETE FROM t_new WHERE id = ?", k)
	case 3:
		_, err = db.Exec("INSERT IGNORE INTO t_new VALUES (?, ?)", k, v)
	case 4:
		var tx *sql.Tx
		if tx, err = db.Begin(); err != nil {
			return err
		}
		if _, err = tx.Exec("DELETE FROM t_new WHERE id = ?", k); err == nil {
			_, err = tx.Exec("INSERT INTO t_new VALUES (?, ?)", k, "again "+v)
		}
		if err != nil {
			_ = tx.Rollback()
		} else {
			err = tx.Commit()
		}
	case 5:
		_, err = db.Exec("UPDATE t_old SET v = ? WHERE id = ?", v, 1+rng.IntN(600))
	}
	if err != nil && strings.Contains(err.Error(), "Deadlock") {
		return nil
	}
	return err
}

// halt stops the writers, waits for them and returns the first error
// one of them met; it may be called more than once.
func (w *besideWriters) halt() error {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	w.wg.Wait()
	return w.err
}

// end stops the writers and returns how many changes they made.
func (w *besideWriters) end(t *testing.T) int {
	t.Helper()
	if err := w.halt(); err != nil {
		t.Fatalf("writer: %v", err)
	}
	return w.writes
}

func snapshotBesideWriters(t *testing.T, server testdb.MariaDBOptions, mode string) {
	const ddl = "(id BIGINT PRIMARY KEY, v VARCHAR(100) NOT NULL)"
	const keys = 80_000
	e := newTablesOnlineEnvOn(t, server, "my_bwrite", mode, "CREATE TABLE t_old "+ddl)
	rewriteConfig(t, e.pipelineEnv, "snapshot.chunk-rows: 100", "snapshot.chunk-rows: 200")
	e.sql(fmt.Sprintf("INSERT INTO t_old SELECT seq, CONCAT('seed ', seq) FROM %s", e.m.Seq(1, 600)))
	r := e.start()
	e.waitStreaming(r)
	e.sql("CREATE TABLE stage_new "+ddl, fmt.Sprintf("INSERT INTO stage_new SELECT seq, CONCAT('new ', seq) FROM %s", e.m.Seq(1, keys)))
	e.sql("RENAME TABLE stage_new TO t_new")
	w := startBesideWriters(e.root, keys)
	// A cleanup, not a defer: the writers may wait on the test's write
	// lock below, whose release is a cleanup registered later, so run
	// earlier (a defer would run first and wait for them forever).
	t.Cleanup(func() {
		if err := w.halt(); err != nil {
			t.Errorf("writer: %v", err)
		}
	})
	const planned = `table=my_bwrite.t_new chunks=`
	const complete = `msg="snapshot complete" pipeline=my_bwrite table=my_bwrite.t_new`
	e.waitLogCount(r, planned, 1, time.Minute)
	if l := logLine(e.tail(100000), planned); !strings.Contains(l, "beside_stream=true") {
		t.Fatalf("t_new is not read beside the stream: %s", l)
	}
	// t_old commits a change made while t_new is read.
	e.sql("UPDATE t_old SET v = 'during the snapshot' WHERE id = 7")
	e.waitTablesCommitted(r, "t_old")
	// The kill must land inside t_new's snapshot, however fast the
	// machine reads it: a write lock on t_new holds its next chunk read
	// (and the writers) until the kill.
	unlock := lockTableWrite(t, e.root, "t_new")
	if strings.Contains(e.tail(100000), complete) {
		unlock()
		t.Fatalf("t_new's snapshot was complete before t_old committed: nothing was shown; log:\n%s", e.tail(40))
	}
	// Killed in the snapshot: the next run empties t_new and reads it
	// again beside the stream, the writers going on meanwhile.
	time.Sleep(time.Duration(rand.IntN(1500)) * time.Millisecond)
	stillRunning(t, e.pipelineEnv, r)
	if strings.Contains(e.tail(100000), complete) {
		unlock()
		t.Fatalf("t_new's snapshot was complete under the test's write lock; log:\n%s", e.tail(40))
	}
	e.kill(r)
	unlock()
	r = e.start()
	e.waitLogCount(r, planned, 2, time.Minute)
	e.waitLogCount(r, complete, 1, 5*time.Minute)
	writes := w.end(t)
	e.waitCaughtUp(r, 3*time.Minute)
	e.waitTablesCommitted(r, "t_old", "t_new")
	e.stop(r)
	log, err := os.ReadFile(e.logPath)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(log), "cause="+checkpoint.CauseBesideInterrupted) {
		t.Logf("the kill reset t_new (cause %s)", checkpoint.CauseBesideInterrupted)
	} else {
		t.Logf("the kill came before t_new's first commit: nothing to reset")
	}
	leftOut := 0
	for _, m := range regexp.MustCompile(`rows_left_to_stream=(\d+)`).FindAllStringSubmatch(string(log), -1) {
		n, _ := strconv.Atoi(m[1])
		leftOut += n
	}
	t.Logf("%d writes beside the snapshot; chunk windows left %d rows to the stream", writes, leftOut)
	if e.m.Flavor == testdb.FlavorMySQL && leftOut == 0 {
		t.Fatalf("no chunk's watermark window held a change of its keys: the window was not tested")
	}
	if mode == "upsert" {
		for _, table := range []string{"t_new", "t_old"} {
			if got, want := icebergRows(t, e.pipelineEnv, table), sourceRows(t, e.root, table); !maps.Equal(got, want) {
				t.Fatalf("%s in iceberg (%d rows) differs from the source (%d rows)", table, len(got), len(want))
			}
		}
	}
	t.Logf("floe verify:\n%s", e.mustVerify(3))
}

// logLine returns the first line of log that holds text.
func logLine(log, text string) string {
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, text) {
			return l
		}
	}
	return ""
}

// lockTableWrite takes LOCK TABLES name WRITE on a connection of its own
// of db, which holds every other session's reads and writes of the table
// until the returned function releases it. The lock is awaited for at
// most a minute (an open transaction on the table delays it).
func lockTableWrite(t *testing.T, db *sql.DB, name string) (unlock func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{"SET SESSION lock_wait_timeout = 60", "LOCK TABLES " + name + " WRITE"} {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			_ = conn.Close()
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	var once sync.Once
	unlock = func() {
		once.Do(func() {
			if _, err := conn.ExecContext(ctx, "UNLOCK TABLES"); err != nil {
				t.Errorf("UNLOCK TABLES: %v", err)
			}
			_ = conn.Close()
		})
	}
	t.Cleanup(unlock)
	return unlock
}
