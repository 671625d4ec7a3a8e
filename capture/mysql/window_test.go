package mysql

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/deploy/testdb"
	"github.com/floe-cdc/floe/schema"
)

// mysqlOnly skips t when the test server is MariaDB: t tests a mechanism
// only MySQL proper uses (why says which).
func mysqlOnly(t *testing.T, why string) {
	t.Helper()
	if testMaria != nil && testMaria.Flavor != testdb.FlavorMySQL {
		t.Skipf("MySQL only (the server is %s %s): %s", testMaria.Flavor, testMaria.Version, why)
	}
}

// besideRun is a stream consumed in the background into a besideModel
// while the test reads chunks: on MySQL a chunk read beside the stream
// waits for the stream to pass its high watermark.
type besideRun struct {
	t  *testing.T
	mu sync.Mutex
	m  *besideModel
}

func consumeBeside(t *testing.T, s *Source) *besideRun {
	run := startStream(t, s)
	r := &besideRun{t: t, m: &besideModel{rows: map[int64]string{}, changed: map[int64]capture.Position{}}}
	quit, stopped := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(quit); <-stopped }) // before run's cleanup stops Stream
	go func() {
		defer close(stopped)
		for {
			select {
			case <-quit:
				return
			case b := <-run.Out:
				r.mu.Lock()
				for _, ch := range b.Changes {
					if ch.Err != nil {
						t.Errorf("change of %s at %s: %v", ch.Table, b.Position, ch.Err)
						ch.Before, ch.After = nil, nil
					}
					if ch.Op == capture.OpTruncate && ch.Table.Name == "bp" {
						clear(r.m.rows) // the coordinator's truncate (its images are gone)
					}
				}
				r.m.stream(t, b)
				r.mu.Unlock()
			case err := <-run.Done:
				run.Returned()
				if err != context.Canceled {
					t.Errorf("stream ended: %v", err)
				}
				return
			}
		}
	}()
	return r
}

func (r *besideRun) chunk(b capture.Batch) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m.chunk(b)
}

// until waits until the model has applied the stream up to end, with no
// chunk held.
func (r *besideRun) until(end capture.Position) {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r.mu.Lock()
		done := r.m.last != nil && r.m.last.Compare(end) >= 0 && len(r.m.held) == 0
		r.mu.Unlock()
		if done {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("the stream did not reach %s (or chunks still wait) within 30s", end)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// equalTo compares the model with the table's rows now.
func (r *besideRun) equalTo(s *Source, tid capture.TableID) int {
	r.t.Helper()
	want := map[int64]string{}
	if err := s.ScanTable(testCtx(r.t), tid, func(row schema.Row) error {
		want[row[0].(int64)] = row[1].(string)
		return nil
	}, nil); err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, v := range want {
		if got, ok := r.m.rows[k]; !ok || got != v {
			r.t.Errorf("id %d = %q (present %v), the table has %q", k, got, ok, v)
		}
	}
	for k, v := range r.m.rows {
		if _, ok := want[k]; !ok {
			r.t.Errorf("id %d = %q, which the table does not have", k, v)
		}
	}
	return len(want)
}

// TestWindowLeavesChangedKeysToTheStream: on MySQL a chunk read beside
// the stream is read between a low and a high watermark. Changes of its
// keys committed after the low one, some before its consistent snapshot
// (the rows hold them) and some after it (they do not), are left to the
// stream: the chunk, at the high watermark, has no row of those keys and
// no delete of them, and applied as the coordinator applies it, stream
// and chunks end equal to the table. Without the window (the chunk's rows
// kept) the updates and deletes after the snapshot would be undone.
func TestWindowLeavesChangedKeysToTheStream(t *testing.T) {
	mysqlOnly(t, "MariaDB reads each chunk at its snapshot's exact binlog position")
	windowLeavesChangedKeys(t, newEnv(t))
}

// windowLeavesChangedKeys is the body of
// TestWindowLeavesChangedKeysToTheStream on e's MySQL server. With GTIDs
// the changes made at the "low" step are in the snapshot; with file
// positions (lockwindow.go) they are after it, since the snapshot was
// started under the table's lock; either way they are after L, and the
// same rows are left to the stream.
func windowLeavesChangedKeys(t *testing.T, e *testEnv) {
	e.exec(`CREATE TABLE bp (id BIGINT PRIMARY KEY, v VARCHAR(20) NOT NULL)`, `CREATE TABLE other (id BIGINT PRIMARY KEY)`)
	var vals []string
	for i := range 1000 {
		vals = append(vals, fmt.Sprintf("(%d, 's')", i*2))
	}
	e.exec("INSERT INTO bp VALUES " + strings.Join(vals, ","))
	s := startedSource(t, e, capture.StartRequest{Snapshot: true}, e.db+`\.bp`, e.db+`\.other`)
	ctx := testCtx(t)
	tid := id(e.db, "bp")
	if !s.ReadsAtWatermarks(tid) {
		t.Fatal("a BIGINT key is not read beside the stream")
	}
	chunks := planBeside(t, s, tid, 500)
	r := consumeBeside(t, s)
	// Emitted before the chunk is read: the window keeps its delete.
	e.exec("UPDATE bp SET v = 'early' WHERE id = 100", "INSERT INTO bp VALUES (101, 'early')", "DELETE FROM bp WHERE id = 102")
	r.until(current(t, s))
	e.exec("DELETE FROM bp WHERE id = 101") // before the read: the stream's or the chunk's delete
	var leftOut int
	s.onWindowStep = func(step string, n int) {
		switch step {
		case "low": // in the snapshot
			e.exec("UPDATE bp SET v = 'seen' WHERE id = 10", "DELETE FROM bp WHERE id = 20", "INSERT INTO bp VALUES (15, 'seen')")
			e.tx("DELETE FROM bp WHERE id = 30", "INSERT INTO bp VALUES (30, 'seen again')")
			e.exec("INSERT INTO other VALUES (1)")
		case "read": // after it
			e.exec("UPDATE bp SET v = 'unseen' WHERE id = 40", "DELETE FROM bp WHERE id = 50", "INSERT INTO bp VALUES (17, 'unseen')")
			e.tx("DELETE FROM bp WHERE id = 60", "INSERT INTO bp VALUES (60, 'unseen again')")
			e.exec("DELETE FROM bp WHERE id = 62", "INSERT INTO bp VALUES (62, 'back')")
		case "closed":
			leftOut = n
		}
	}
	b, err := s.ReadChunk(ctx, tid, chunks[0])
	if err != nil {
		t.Fatal(err)
	}
	s.onWindowStep = nil
	got := map[int64]capture.Op{}
	values := map[int64]string{}
	for _, ch := range b.Changes {
		switch {
		case ch.After != nil:
			got[ch.After[0].(int64)] = ch.Op
			values[ch.After[0].(int64)] = ch.After[1].(string)
		case ch.Before != nil:
			got[ch.Before[0].(int64)] = ch.Op
		}
	}
	if got[101] == capture.OpRead || got[100] != capture.OpRead {
		t.Errorf("the chunk has %v of id 101 and %v of id 100, want no row (deleted before the read) and a row (changed before it)", got[101], got[100])
	}
	if asPosition(b.Position).Kind == KindFile {
		// Exact at L = H: every row is as of L, and a key changed after
		// L has its row as of L or none; the stream may not have sent
		// the changes after L yet when the window closed (their keys'
		// rows are then kept, and the stream's changes applied after).
		for k, v := range values {
			if v != "s" && v != "early" {
				t.Errorf("the chunk has id %d = %q, a value written after its watermark", k, v)
			}
		}
		for _, k := range []int64{15, 17, 101, 102} {
			if _, ok := values[k]; ok {
				t.Errorf("the chunk has a row of id %d, which had none at its watermark", k)
			}
		}
		if leftOut > 7 {
			t.Errorf("the chunk left %d rows to the stream, at most 7 were changed after its watermark", leftOut)
		}
	} else {
		for _, k := range []int64{10, 15, 20, 30, 40, 17, 50, 60, 62} {
			if op, ok := got[k]; ok {
				t.Errorf("the chunk has a %v of id %d, changed in its window", op, k)
			}
		}
		// The rows of 10, 20 and 30 (changed in the snapshot) and of 40,
		// 50, 60 and 62 (changed after it).
		if leftOut != 7 {
			t.Errorf("the chunk left %d rows to the stream, want 7", leftOut)
		}
	}
	r.chunk(b)
	for _, c := range chunks[1:] {
		b, err := s.ReadChunk(ctx, tid, c)
		if err != nil {
			t.Fatal(err)
		}
		r.chunk(b)
	}
	end := current(t, s)
	r.until(end)
	n := r.equalTo(s, tid)
	t.Logf("chunk 0 at %s left %d rows to the stream; %d rows equal", b.Position, leftOut, n)
}

// TestWindowWithWriters: a table is read beside the stream while writers
// update, delete and re-insert keys of the chunks being read (and of
// another table), the window widened so that chunks see changes in it.
// Applied as the coordinator applies them, stream and chunks end equal to
// the table row by row. On MySQL some chunks must have left rows to the
// stream (their windows held changes of their keys).
func TestWindowWithWriters(t *testing.T) {
	windowWithWriters(t, newEnv(t), 3)
}

// TestWindowWithUnorderedCommits is TestWindowWithWriters on MySQL with
// binlog_order_commits=OFF and more writers: transactions of one binlog
// group commit in any order, so that gtid_executed, and the watermarks
// read from it, may hold a transaction without an earlier one (a hole).
// Stream and chunks must still end equal to the table. How many reads of
// gtid_executed had a hole is logged: the server decides whether any
// does, so the test cannot require one.
func TestWindowWithUnorderedCommits(t *testing.T) {
	mysqlOnly(t, "binlog_order_commits is MySQL's")
	e := newEnv(t)
	var was string
	if err := e.root.QueryRow("SELECT @@GLOBAL.binlog_order_commits").Scan(&was); err != nil {
		t.Fatal(err)
	}
	e.exec("SET GLOBAL binlog_order_commits = OFF")
	t.Cleanup(func() {
		e.exec("SET GLOBAL binlog_order_commits = " + map[bool]string{true: "ON", false: "OFF"}[was == "1" || was == "ON"])
	})
	stop := make(chan struct{})
	holes := make(chan int, 1)
	go func() {
		n := 0
		defer func() { holes <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			var set string
			if err := e.root.QueryRow("SELECT @@GLOBAL.gtid_executed").Scan(&set); err == nil && strings.Count(set, ":") > strings.Count(set, ",")+1 {
				n++ // a server's intervals beyond its first: a hole
			}
			time.Sleep(time.Millisecond)
		}
	}()
	windowWithWriters(t, e, 8)
	close(stop)
	t.Logf("%d reads of gtid_executed during the run had a hole", <-holes)
}

// windowWithWriters is the body of TestWindowWithWriters with writers
// writing goroutines on e's server.
func windowWithWriters(t *testing.T, e *testEnv, writers int) {
	e.exec(`CREATE TABLE bp (id BIGINT PRIMARY KEY, v VARCHAR(40) NOT NULL)`, `CREATE TABLE other (id BIGINT PRIMARY KEY, n INT NOT NULL)`)
	const keys = 3000
	var vals []string
	for i := range keys {
		vals = append(vals, fmt.Sprintf("(%d, 's')", i))
	}
	e.exec("INSERT INTO bp VALUES "+strings.Join(vals, ","), "INSERT INTO other VALUES (1, 0)")
	s := startedSource(t, e, capture.StartRequest{Snapshot: true}, e.db+`\.bp`, e.db+`\.other`)
	ctx := testCtx(t)
	tid := id(e.db, "bp")
	chunks := planBeside(t, s, tid, 100)
	r := consumeBeside(t, s)
	var (
		mu      sync.Mutex
		leftOut int
	)
	s.onWindowStep = func(step string, n int) {
		switch step {
		case "low", "read":
			time.Sleep(3 * time.Millisecond) // a window writers fall into
		case "closed":
			mu.Lock()
			leftOut += n
			mu.Unlock()
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writes sync.Map
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(w)))
			for i := 0; ; i++ {
				select {
				case <-stop:
					writes.Store(w, i)
					return
				default:
				}
				k := rng.IntN(keys + 100)
				var err error
				switch rng.IntN(5) {
				case 0, 1:
					_, err = e.root.Exec("UPDATE bp SET v = ? WHERE id = ?", fmt.Sprintf("w%d-%d", w, i), k)
				case 2:
					_, err = e.root.Exec("DELETE FROM bp WHERE id = ?", k)
				case 3:
					_, err = e.root.Exec("INSERT IGNORE INTO bp VALUES (?, ?)", k, fmt.Sprintf("re%d-%d", w, i))
				case 4:
					err = reinsert(e, k, fmt.Sprintf("again%d-%d", w, i))
				}
				if err == nil && i%10 == 0 {
					_, err = e.root.Exec("UPDATE other SET n = n + 1 WHERE id = 1")
				}
				if err != nil && !strings.Contains(err.Error(), "Deadlock") {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		}()
	}
	for _, c := range chunks {
		b, err := s.ReadChunk(ctx, tid, c)
		if err != nil {
			close(stop)
			wg.Wait()
			t.Fatal(err)
		}
		r.chunk(b)
	}
	close(stop)
	wg.Wait()
	s.onWindowStep = nil
	end := current(t, s)
	r.until(end)
	n := r.equalTo(s, tid)
	total := 0
	writes.Range(func(_, v any) bool { total += v.(int); return true })
	t.Logf("%d chunks read beside %d writes; %d rows left to the stream from their windows; %d rows equal", len(chunks), total, leftOut, n)
	if e.m.Flavor == testdb.FlavorMySQL && leftOut == 0 {
		t.Errorf("no chunk window held a change of its keys: the test did not test the window")
	}
}

// reinsert deletes key k and inserts it again with v in one transaction.
func reinsert(e *testEnv, k int, v string) error {
	tx, err := e.root.Begin()
	if err != nil {
		return err
	}
	if _, err := tx.Exec("DELETE FROM bp WHERE id = ?", k); err != nil {
		tx.Rollback()
		return err
	}
	if _, err := tx.Exec("INSERT INTO bp VALUES (?, ?)", k, v); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// current is the server's position now.
func current(t *testing.T, s *Source) capture.Position {
	t.Helper()
	p, err := s.CurrentPosition(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCollatedKeyChunksMySQL is TestCollatedKeyChunks for MySQL's
// collations (the window places the stream's changes in chunks too): the
// chunk the stream assigns a string key to, by weight strings, is the one
// the server's own comparison assigns it to, also for the UCA 9.0.0 NO
// PAD collations MySQL defaults to.
func TestCollatedKeyChunksMySQL(t *testing.T) {
	mysqlOnly(t, "MariaDB's collations are TestCollatedKeyChunks'")
	e := newEnv(t)
	probes := []string{"", " ", "a", "A", "a ", "a\t", "a  ", "ab", "aB", "a b", "ä", "Ä", "ß", "ss", "SS", "z", "é", "e", "E",
		"-", "_", "0", "9", "10", "ZZ", "o'x", "~", "😀", "Ω", "żółw", "ı", "i"}
	collations := []struct{ charset, name string }{
		{"utf8mb4", "utf8mb4_0900_ai_ci"}, {"utf8mb4", "utf8mb4_0900_as_cs"}, {"utf8mb4", "utf8mb4_0900_bin"},
		{"utf8mb4", "utf8mb4_general_ci"}, {"utf8mb4", "utf8mb4_unicode_ci"}, {"utf8mb4", "utf8mb4_bin"},
		{"latin1", "latin1_swedish_ci"}, {"latin1", "latin1_bin"},
	}
	ctx := testCtx(t)
	for n, c := range collations {
		name := fmt.Sprintf("c%d", n)
		e.exec(fmt.Sprintf("CREATE TABLE %s (k VARCHAR(12) CHARACTER SET %s COLLATE %s PRIMARY KEY)", name, c.charset, c.name))
		var usable []string
		for i, p := range probes {
			if c.charset == "latin1" && strings.ContainsFunc(p, func(r rune) bool { return r > 0xff }) {
				continue
			}
			usable = append(usable, p)
			if i%2 == 0 {
				if _, err := e.root.Exec(fmt.Sprintf("INSERT IGNORE INTO %s VALUES (?)", name), p); err != nil {
					t.Fatalf("%s: insert %q: %v", c.name, p, err)
				}
			}
		}
		s := e.source(e.config(e.db + `\.` + name))
		if _, err := s.Discover(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Start(ctx, capture.StartRequest{Snapshot: true}); err != nil {
			t.Fatal(err)
		}
		tid := id(e.db, name)
		tbl, err := s.tables.Get(tid)
		if err != nil {
			t.Fatal(err)
		}
		if !s.windowed(tbl) {
			t.Fatalf("%s: a VARCHAR key in %s is not read in watermark windows", name, c.name)
		}
		chunks, err := s.PlanChunks(ctx, tid, 1) // every row's key is a chunk bound
		if err != nil {
			t.Fatal(err)
		}
		plan := &capture.SnapshotPlan{Chunks: chunks}
		for _, ch := range chunks {
			plan.MarkDone(ch.Index, fmt.Sprintf("mysql.v1:gtid:3e11fa47-71ca-11e1-9e33-c80aa9429562:1-%d", ch.Index+1))
		}
		m, err := s.buildMarks(ctx, tbl, plan)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range usable {
			got, err := m.chunkOf(ctx, tbl.layout, schema.Row{p})
			if err != nil {
				t.Fatal(err)
			}
			var want int
			q := fmt.Sprintf("SELECT COUNT(*) FROM %s WHERE k < CONVERT(? USING %s) COLLATE %s", name, c.charset, c.name)
			if err := e.root.QueryRow(q, p).Scan(&want); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("%s: key %q is in chunk %d by weight strings, in chunk %d by the server", c.name, p, got, want)
			}
		}
		t.Logf("%s: %d chunks, %d probes agree with the server", c.name, len(chunks), len(usable))
	}
}

// TestWindowTruncate: a TRUNCATE of the table after a chunk's snapshot,
// inside its window, leaves every row of the chunk to the stream (they
// are older than the truncate the stream sends before the chunk is
// applied), and rows inserted after it come from the stream.
func TestWindowTruncate(t *testing.T) {
	mysqlOnly(t, "MariaDB reads each chunk at its snapshot's exact binlog position")
	e := newEnv(t)
	e.exec(`CREATE TABLE bp (id BIGINT PRIMARY KEY, v VARCHAR(20) NOT NULL)`)
	var vals []string
	for i := range 300 {
		vals = append(vals, fmt.Sprintf("(%d, 's')", i))
	}
	e.exec("INSERT INTO bp VALUES " + strings.Join(vals, ","))
	s := startedSource(t, e, capture.StartRequest{Snapshot: true}, e.db+`\.bp`)
	ctx := testCtx(t)
	tid := id(e.db, "bp")
	chunks := planBeside(t, s, tid, 100)
	r := consumeBeside(t, s)
	var leftOut int
	s.onWindowStep = func(step string, n int) {
		switch step {
		case "read":
			e.exec("TRUNCATE TABLE bp", "INSERT INTO bp VALUES (5, 'after'), (150, 'after')")
		case "closed":
			leftOut = n
		}
	}
	b, err := s.ReadChunk(ctx, tid, chunks[0])
	if err != nil {
		t.Fatal(err)
	}
	s.onWindowStep = nil
	if len(b.Changes) != 0 || leftOut != 100 {
		t.Errorf("the chunk read before a truncate in its window has %d changes and left %d rows to the stream, want none and 100", len(b.Changes), leftOut)
	}
	r.chunk(b)
	for _, c := range chunks[1:] {
		b, err := s.ReadChunk(ctx, tid, c)
		if err != nil {
			t.Fatal(err)
		}
		r.chunk(b)
	}
	r.until(current(t, s))
	n := r.equalTo(s, tid)
	t.Logf("%d rows equal after the truncate", n)
}

// TestStreamProgress: a window's wait ends once the stream has read past
// its high watermark, at once when it already has; when the stream stops
// it ends with the stream's cause, so that a stop (its context cancelled)
// reads as one (context.Canceled) and not as a failed chunk read.
func TestStreamProgress(t *testing.T) {
	gtid := func(n int) Position {
		p, err := DecodePosition(fmt.Sprintf("mysql.v1:gtid:3e11fa47-71ca-11e1-9e33-c80aa9429562:1-%d", n))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	ctx := context.Background()
	var p streamProgress
	p.advance(gtid(5))
	if err := p.wait(ctx, gtid(4)); err != nil {
		t.Fatalf("a wait the stream passed: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- p.wait(ctx, gtid(7)) }()
	p.advance(gtid(6))
	select {
	case err := <-done:
		t.Fatalf("the wait for 7 ended at 6: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	p.advance(gtid(7))
	if err := <-done; err != nil {
		t.Fatalf("the wait for 7 at 7: %v", err)
	}
	go func() { done <- p.wait(ctx, gtid(9)) }()
	time.Sleep(10 * time.Millisecond)
	p.end(context.Canceled)
	if err := <-done; !errors.Is(err, context.Canceled) || !errors.Is(err, errStreamEnded) {
		t.Fatalf("a wait when the stream is stopped ends with %v, want context.Canceled", err)
	}
	// A watermark with a hole (gtid_executed while an earlier
	// transaction was still committing) is passed once the stream has
	// read the transaction in the hole, not when it has read as many
	// transactions as the watermark holds.
	holed, err := DecodePosition("mysql.v1:gtid:3e11fa47-71ca-11e1-9e33-c80aa9429562:1-100:102")
	if err != nil {
		t.Fatal(err)
	}
	var hp streamProgress
	hp.advance(gtid(100))
	go func() { done <- hp.wait(ctx, holed) }()
	hp.advance(gtid(101))
	select {
	case err := <-done:
		t.Fatalf("the wait for %s ended at %s: %v", holed, gtid(101), err)
	case <-time.After(50 * time.Millisecond):
	}
	hp.advance(gtid(102))
	if err := <-done; err != nil {
		t.Fatalf("the wait for %s at %s: %v", holed, gtid(102), err)
	}
	if gtid(101).Compare(holed) < 0 {
		t.Fatalf("Compare no longer orders 1-101 at or past 1-100:102 by size: this test no longer shows why waits use containment")
	}
	var failed streamProgress
	failed.end(nil)
	if err := failed.wait(ctx, gtid(1)); !errors.Is(err, errStreamEnded) || errors.Is(err, context.Canceled) {
		t.Fatalf("a wait after the stream failed ends with %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	var idle streamProgress
	if err := idle.wait(cctx, gtid(1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled wait ends with %v", err)
	}
}
