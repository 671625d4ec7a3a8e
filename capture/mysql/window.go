package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"sync"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/jitter"
	"github.com/floe-cdc/floe/schema"
)

// Chunks read beside the stream in a watermark window (MySQL proper).
//
// MySQL reports no binlog position for a consistent snapshot, so a chunk
// read beside the stream is read between two watermarks, as Netflix's
// DBLog does. Before the chunk's consistent-snapshot transaction starts,
// the low watermark L is read: @@GLOBAL.gtid_executed. The server adds a
// transaction's GTID to it only after the storage engine committed the
// whole commit group (MYSQL_BIN_LOG::process_commit_stage_queue), so
// every transaction in L is visible to the snapshot started after it. A
// binlog file offset (SHOW BINARY LOG STATUS) would not do: it passes a
// transaction once its events are flushed, before InnoDB commits it,
// unless it is read under the table's lock: with file positions (gtid_mode
// OFF) the low watermark is read so, and the snapshot started, under
// LOCK TABLES ... READ (lockwindow.go); then H = L. With GTIDs, after the
// SELECT the high watermark H is read (gtid_executed again). The chunk's
// rows hold every change at or before L and may hold some after it.
//
// Once the read is done, the chunk is registered with L: from then on the
// stream drops the chunk's changes at or before L (the rows hold them) and
// keeps the later ones, noting their keys. ReadChunk then waits until the
// stream has passed H (streamProgress), and, under the plan's lock, makes
// the chunk exact as of H for the keys it keeps:
//   - a row of a key the stream sent a change of after L is left out:
//     the rows may or may not hold that change, and the stream's changes
//     (full images) give the key's state; every such change at or before
//     H the stream has passed, and the coordinator applies each before
//     the chunk (the chunk's Position is H);
//   - after a truncate past L, every row is left out;
//   - a delete (key-only) is added for each key the stream sent before
//     the registration, at or before L, with a row, that the rows lack,
//     as on MariaDB; a key changed after L gets none (its last change,
//     kept, says).
//
// Rows of keys changed after H are newer than H in the rows or not: the
// stream keeps those changes too and the coordinator applies them after
// the chunk, or leaves the chunk's row out when it applied them first.
//
// The window costs two reads of gtid_executed (or a table lock) per
// chunk, a chunk reader held until the stream passes H (while the stream
// catches up with a backlog, reads beside it wait for it), the keys of
// the changes in the window kept in memory until then, and those keys'
// rows read for nothing.

// windowed reports whether t's chunks, when read beside the stream, are
// read in a watermark window: MySQL with GTIDs, or with file positions
// and the right to lock t (lockwindow.go), and a key Go orders as the
// server does.
func (s *Source) windowed(t *table) bool {
	s.mu.Lock()
	flavor, gtid := s.flavor, s.gtidMode
	s.mu.Unlock()
	return flavor == FlavorMySQL && s.orderableKey(t) == nil && (gtid || s.lockWindows(t))
}

// besideWindow returns t's plan read beside the stream when its chunks
// are read in watermark windows, nil otherwise (a plan read before the
// stream: its chunks carry From and converge by replay).
func (s *Source) besideWindow(t *table) *chunkMarks {
	if !s.windowed(t) {
		return nil
	}
	s.mu.Lock()
	m := s.marks[t.id]
	s.mu.Unlock()
	if m == nil || m.beside == nil {
		return nil
	}
	return m
}

// readChunkInWindow reads a chunk of the plan m beside the stream in a
// watermark window into b (see the top of this file) and gives it
// Position H.
func (s *Source) readChunkInWindow(ctx context.Context, m *chunkMarks, t *table, chunk capture.Chunk, q string, args []any,
	b *capture.Batch, add func(schema.Row) error, bad func(error, capture.RawRow) error) error {
	c, err := s.conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	s.mu.Lock()
	gtid := s.gtidMode
	s.mu.Unlock()
	var low, high Position
	if gtid {
		if low, err = s.currentPosition(ctx, c); err != nil {
			return fmt.Errorf("low watermark: %w", err)
		}
		if low.Kind != KindGTID {
			return fmt.Errorf("low watermark %s is not a GTID set (was gtid_mode changed?)", low)
		}
		s.windowStep("low", 0)
		jitter.At(jitter.Watermark)
		if err := beginConsistent(ctx, c); err != nil {
			return err
		}
	} else {
		if low, err = s.snapshotUnderLock(ctx, c, t); err != nil { // lockwindow.go
			return err
		}
		s.windowStep("low", 0)
		jitter.At(jitter.Watermark)
	}
	if err := s.readInConsistent(ctx, c, t, q, args, add, bad); err != nil {
		return err
	}
	s.windowStep("read", 0)
	high = low // exact at L
	if gtid {
		if high, err = s.currentPosition(ctx, c); err != nil {
			return fmt.Errorf("high watermark: %w", err)
		}
		if high.Kind != KindGTID {
			return fmt.Errorf("high watermark %s is not a GTID set (was gtid_mode changed?)", high)
		}
	}
	i, ok := m.registerWindow(chunk, low)
	if !ok {
		return fmt.Errorf("chunk %d is not in the plan read beside the stream", chunk.Index)
	}
	s.wakeAt(high)
	if err := s.progress.wait(ctx, high); err != nil {
		return fmt.Errorf("wait for the stream to pass the chunk's high watermark %s: %w", high, err)
	}
	leftOut, deletes := m.closeWindow(t, i, low, b)
	s.base.Log.Debug("chunk read in a watermark window", "table", t.id.String(), "chunk", chunk.Index,
		"low", low.String(), "high", high.String(), "rows_left_to_stream", leftOut, "deletes", deletes)
	s.windowStep("closed", leftOut)
	b.Position = high
	return nil
}

// beginConsistent starts on c the transaction a chunk is read in:
// WITH CONSISTENT SNAPSHOT (its read view is taken at once, not at the
// first read), REPEATABLE READ and READ ONLY.
func beginConsistent(ctx context.Context, c *sql.Conn) error {
	if _, err := c.ExecContext(ctx, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
		return fmt.Errorf("set isolation level: %w", err)
	}
	if _, err := c.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
		return fmt.Errorf("start consistent snapshot: %w", err)
	}
	return nil
}

// readInConsistent reads a chunk's rows with q on c, inside the
// transaction beginConsistent started, and ends it.
func (s *Source) readInConsistent(ctx context.Context, c *sql.Conn, t *table, q string, args []any, add func(schema.Row) error,
	bad func(error, capture.RawRow) error) error {
	if err := s.readChunkRows(ctx, c, t, q, args, add, bad); err != nil {
		_, _ = c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		return err
	}
	if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("end snapshot transaction: %w", err)
	}
	return nil
}

// windowStep is a test hook between the steps of a window read: "low"
// after the low watermark is read, "read" after the rows are, "closed"
// with the number of rows left to the stream.
func (s *Source) windowStep(step string, n int) {
	if s.onWindowStep != nil {
		s.onWindowStep(step, n)
	}
}

// registerWindow gives the chunk of the plan m its low watermark: from
// now on the stream drops the chunk's changes at or before low and keeps
// noting the later ones. It returns the chunk's place in chunk order.
func (m *chunkMarks) registerWindow(chunk capture.Chunk, low Position) (int, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i, ok := m.beside.order[chunk.Index]
	if !ok || m.marks[i] != nil || m.beside.seen[i] == nil {
		return 0, false
	}
	m.marks[i] = &low
	m.end = withWatermark(m.end, low)
	return i, true
}

// closeWindow makes the chunk at place i, read into b with low watermark
// low, exact for the keys it keeps once the stream has passed its high
// watermark (see the top of this file), and stops noting its keys.
// It returns the number of rows left out and of deletes added.
func (m *chunkMarks) closeWindow(t *table, i int, low Position, b *capture.Batch) (leftOut, deletes int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	bm := m.beside
	seen := bm.seen[i]
	bm.seen[i] = nil
	bm.pending--
	truncated := bm.truncatedAt != nil && !notAfter(*bm.truncatedAt, low)
	rows := make(map[string]bool, len(b.Changes))
	kept := b.Changes[:0]
	var key []byte
	for _, ch := range b.Changes {
		if ch.After != nil {
			key = schema.AppendKey(key[:0], t.layout, ch.After)
			if sk, ok := seen[string(key)]; truncated || (ok && !notAfter(sk.at, low)) {
				leftOut++
				continue // the stream's changes give its state
			}
			rows[string(key)] = true
		}
		kept = append(kept, ch)
	}
	clear(b.Changes[len(kept):])
	b.Changes = kept
	if truncated {
		return leftOut, 0
	}
	var gone []string
	for k, sk := range seen {
		if sk.present && notAfter(sk.at, low) && !rows[k] {
			gone = append(gone, k)
		}
	}
	sort.Strings(gone)
	for _, k := range gone {
		b.Changes = append(b.Changes, keyDelete(t, seen[k].key))
	}
	return leftOut, len(gone)
}

// keyDelete is a key-only delete of key (values in key order) in t.
func keyDelete(t *table, key schema.Row) capture.Change {
	row := make(schema.Row, len(t.layout.Columns))
	for j, c := range t.layout.Key {
		row[c] = key[j]
	}
	return capture.Change{Table: t.id, Op: capture.OpDelete, Schema: t.layout, Before: row, BeforeKeyOnly: true}
}

// notAfter reports whether the transaction pos (txnState.own: for MySQL
// the GTID set of its GTID alone) is at or before the watermark w, so
// that a chunk read at w holds its effect. For MySQL GTID sets that is
// containment (w holds its GTID), never the size order Compare falls
// back on for sets that do not contain each other: a transaction not in
// gtid_executed when w was read may not be committed yet, and w may hold
// a transaction without every one before it (a hole, see reached).
func notAfter(pos, w Position) bool {
	if pos.Kind == KindGTID && w.Kind == KindGTID {
		empty := gomysql.NewMysqlGTIDSet()
		a, b := pos.GTIDs, w.GTIDs
		if a == nil {
			a = &empty
		}
		if b == nil {
			b = &empty
		}
		return b.Contain(a)
	}
	return pos.Compare(w) <= 0
}

// reached reports whether the stream, having read every transaction up
// to pos, has read every transaction of the watermark w. For MySQL GTID
// sets that is containment (pos holds every GTID of w). A watermark read
// from gtid_executed may have a hole, a transaction committed after later
// ones (binlog_order_commits=OFF, or a replica applying in parallel
// without replica_preserve_commit_order); Compare orders sets that do not
// contain each other by their size, which would call the stream past w
// while the transaction in the hole is still to come.
func reached(pos, w Position) bool {
	if pos.Kind == KindGTID && w.Kind == KindGTID {
		return notAfter(w, pos)
	}
	return pos.Compare(w) >= 0
}

// withWatermark returns end, the transactions of a table's watermarks so
// far (Kind 0: none), with those of watermark w: for MySQL GTID sets their
// union, which holds every watermark even when they have holes that make
// them not contain each other; otherwise the later of the two. The stream
// drops a table's watermarks once it has read all of end before a
// transaction (reconcile): no later transaction is in any of them.
func withWatermark(end, w Position) Position {
	switch {
	case end.Kind == 0:
		return w
	case end.Kind == KindGTID && w.Kind == KindGTID && end.GTIDs != nil && w.GTIDs != nil:
		union := end.GTIDs.Clone().(*gomysql.MysqlGTIDSet)
		if err := union.Update(w.GTIDs.String()); err != nil {
			panic(fmt.Sprintf("mysql: merge GTID sets %s and %s: %v", end.GTIDs, w.GTIDs, err)) // both parsed as GTID sets
		}
		return Position{Kind: KindGTID, GTIDs: union}
	case w.Compare(end) > 0:
		return w
	}
	return end
}

// errStreamEnded ends a wait for the stream that stopped.
var errStreamEnded = errors.New("the stream stopped")

// streamProgress is how far the stream has read, for the chunks read in
// watermark windows that wait for it to pass their high watermarks.
type streamProgress struct {
	mu    sync.Mutex
	at    *Position // after the stream's last transaction; nil before Stream
	ended error     // why the stream ended; nil while it runs
	waits []progressWait
}

type progressWait struct {
	until Position
	done  chan struct{}
}

// advance records that the stream has read every transaction up to pos,
// and releases the waits it passed.
func (p *streamProgress) advance(pos Position) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.at = &pos
	kept := p.waits[:0]
	for _, w := range p.waits {
		if reached(pos, w.until) {
			close(w.done)
			continue
		}
		kept = append(kept, w)
	}
	clear(p.waits[len(kept):])
	p.waits = kept
}

// end releases every wait: the stream stopped, cancelled when cause is
// its context's error (the waits then end with it: a stop, not a
// failure), else for an error of its own.
func (p *streamProgress) end(cause error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ended = errStreamEnded
	if cause != nil {
		p.ended = fmt.Errorf("%w: %w", errStreamEnded, cause)
	}
	for _, w := range p.waits {
		close(w.done)
	}
	p.waits = nil
}

// wait returns once the stream has read every transaction up to pos, or
// with an error when ctx ends or the stream stopped first.
func (p *streamProgress) wait(ctx context.Context, pos Position) error {
	p.mu.Lock()
	if p.at != nil && reached(*p.at, pos) {
		p.mu.Unlock()
		return nil
	}
	if p.ended != nil {
		err := p.ended
		p.mu.Unlock()
		return err
	}
	w := progressWait{until: pos, done: make(chan struct{})}
	p.waits = append(p.waits, w)
	p.mu.Unlock()
	select {
	case <-w.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.at != nil && reached(*p.at, pos) {
		return nil
	}
	return p.ended
}
