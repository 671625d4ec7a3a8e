package mysql

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

// besideModel applies a stream and chunks read beside it as the
// coordinator does (checkpoint/beside.go, upsert mode): a chunk waits
// until the stream has applied its watermark; then a row of a key the
// stream changed after the watermark is left out, and a delete is kept
// only for a key the stream changed at or before it.
type besideModel struct {
	rows    map[int64]string
	changed map[int64]capture.Position
	last    capture.Position // the last complete transaction applied
	held    []capture.Batch
	deletes int // chunk deletes applied
}

func (m *besideModel) stream(t *testing.T, b capture.Batch) {
	t.Helper()
	for _, ch := range b.Changes {
		if ch.Err != nil {
			t.Fatalf("change of %s at %s: %v (the stream passed it before every chunk was read after it)", ch.Table, b.Position, ch.Err)
		}
		if ch.Table.Name != "bp" {
			continue
		}
		if ch.Before != nil {
			k := ch.Before[0].(int64)
			delete(m.rows, k)
			m.changed[k] = b.Position
		}
		if ch.After != nil {
			k := ch.After[0].(int64)
			m.rows[k] = ch.After[1].(string)
			m.changed[k] = b.Position
		}
	}
	if !b.More {
		m.last = b.Position
		m.applyHeld()
	}
}

func (m *besideModel) chunk(b capture.Batch) {
	m.held = append(m.held, b)
	m.applyHeld()
}

func (m *besideModel) applyHeld() {
	kept := m.held[:0]
	for _, b := range m.held {
		if m.last == nil || b.Position.Compare(m.last) > 0 {
			kept = append(kept, b)
			continue
		}
		for _, ch := range b.Changes {
			if ch.Op == capture.OpDelete {
				k := ch.Before[0].(int64)
				if at, ok := m.changed[k]; ok && at.Compare(b.Position) <= 0 {
					delete(m.rows, k)
					m.deletes++
				}
				continue
			}
			k := ch.After[0].(int64)
			if at, ok := m.changed[k]; ok && at.Compare(b.Position) > 0 {
				continue
			}
			m.rows[k] = ch.After[1].(string)
		}
	}
	m.held = kept
}

// TestChunksBesideStream: a MariaDB table's chunks read while its stream
// runs (capture.BesideWatermarker) get their watermarks as they are read.
// The stream emits changes of chunks not read yet; a delete, an update
// and a DROP PARTITION committed before the reads but reached by the
// stream only after them are dropped (the chunks hold them), and the
// chunks carry deletes of the keys they removed whose inserts the stream
// had emitted, so that applied as the coordinator applies them, the
// stream and the chunks end equal to the table. Without those deletes
// (the control) the dropped partition's emitted keys would stay.
func TestChunksBesideStream(t *testing.T) {
	mariaDBOnly(t, "the stream is held while the chunks are read, and a MySQL chunk's window waits for the stream (see TestWindowLeavesChangedKeysToTheStream)")
	e := newEnv(t)
	e.exec(`CREATE TABLE bp (id BIGINT PRIMARY KEY, v VARCHAR(20) NOT NULL) PARTITION BY RANGE (id) (
		PARTITION p0 VALUES LESS THAN (2000), PARTITION p1 VALUES LESS THAN (4000), PARTITION p2 VALUES LESS THAN MAXVALUE)`,
		`CREATE TABLE filler (id BIGINT PRIMARY KEY)`)
	var vals []string
	for i := range 3000 {
		vals = append(vals, fmt.Sprintf("(%d, 's')", i*2))
	}
	e.exec("INSERT INTO bp VALUES " + strings.Join(vals, ","))
	s := startedSource(t, e, capture.StartRequest{Snapshot: true}, e.db+`\.bp`, e.db+`\.filler`)
	ctx := testCtx(t)
	tid := id(e.db, "bp")
	if !s.ReadsAtWatermarks(tid) {
		t.Fatal("a BIGINT key is not read at watermarks")
	}
	chunks := planBeside(t, s, tid, 500)
	run := startStream(t, s)
	m := &besideModel{rows: map[int64]string{}, changed: map[int64]capture.Position{}}
	until := func(end capture.Position) {
		t.Helper()
		for {
			select {
			case b := <-run.Out:
				m.stream(t, b)
				if !b.More && b.Position.Compare(end) >= 0 {
					return
				}
			case err := <-run.Done:
				run.Returned()
				t.Fatalf("stream ended: %v", err)
			case <-time.After(30 * time.Second):
				t.Fatal("the stream did not reach the position after the writes")
			}
		}
	}
	current := func() capture.Position {
		t.Helper()
		p, err := s.CurrentPosition(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	// Emitted before any chunk is read: inserts in p1, and in chunk 0.
	var odd []string
	for k := 2001; k < 2200; k += 2 {
		odd = append(odd, fmt.Sprintf("(%d, 'a')", k))
	}
	e.exec("INSERT INTO bp VALUES "+strings.Join(odd, ","), "UPDATE bp SET v = 'a' WHERE id = 10", "INSERT INTO bp VALUES (5, 'a')")
	until(current())

	// The stream is held (its channel full) while more is committed,
	// then every chunk is read: the stream reaches these after the reads.
	for i := range 100 {
		e.exec(fmt.Sprintf("INSERT INTO filler VALUES (%d)", i))
	}
	e.exec("ALTER TABLE bp DROP PARTITION p1", "DELETE FROM bp WHERE id = 5", "UPDATE bp SET v = 'b' WHERE id = 10")
	deletes := 0
	for _, c := range chunks {
		b, err := s.ReadChunk(ctx, tid, c)
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range b.Changes {
			if ch.Op == capture.OpDelete {
				deletes++
			}
		}
		m.chunk(b)
	}
	// After the reads: changes the stream emits as usual.
	e.exec("UPDATE bp SET v = 'c' WHERE id = 12", "INSERT INTO bp VALUES (7, 'c')")
	end := current()
	until(end)
	if len(m.held) > 0 {
		t.Fatalf("%d chunks still wait for their watermarks at the end", len(m.held))
	}
	want := map[int64]string{}
	if err := s.ScanTable(ctx, tid, func(r schema.Row) error {
		want[r[0].(int64)] = r[1].(string)
		return nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	endStable(t, s, end)
	if deletes != 101 || m.deletes != 101 {
		t.Errorf("the chunks carry %d deletes and %d apply, want 101 each: the 100 emitted inserts in the dropped partition and id 5", deletes, m.deletes)
	}
	for k, v := range want {
		if m.rows[k] != v {
			t.Errorf("id %d = %q, the table has %q", k, m.rows[k], v)
		}
	}
	for k, v := range m.rows {
		if _, ok := want[k]; !ok {
			t.Errorf("id %d = %q, which the table does not have", k, v)
		}
	}
	t.Logf("%d chunks read beside the stream, %d deletes of keys gone at their watermarks; %d rows equal", len(chunks), deletes, len(want))
}

// TestBesideWakesTheStream: once a chunk read beside the stream has its
// watermark, the stream emits a batch at the first transaction past it
// even when that transaction changes no captured table (the coordinator
// applies the chunk only once the stream has applied its watermark), long
// before HeartbeatInterval (an hour here).
func TestBesideWakesTheStream(t *testing.T) {
	e := newEnv(t)
	e.exec(`CREATE TABLE bw (id BIGINT PRIMARY KEY)`, `CREATE TABLE other (id BIGINT PRIMARY KEY)`, `INSERT INTO bw VALUES (1), (2)`)
	s := startedSource(t, e, capture.StartRequest{Snapshot: true}, e.db+`\.bw`)
	ctx := testCtx(t)
	tid := id(e.db, "bw")
	chunks := planBeside(t, s, tid, 100)
	run := startStream(t, s)
	e.exec("INSERT INTO other VALUES (1)")
	b, err := s.ReadChunk(ctx, tid, chunks[0])
	if err != nil {
		t.Fatal(err)
	}
	e.exec("INSERT INTO other VALUES (2)")
	deadline := time.After(10 * time.Second)
	for {
		select {
		case got := <-run.Out:
			if !got.More && got.Position.Compare(b.Position) >= 0 {
				t.Logf("the stream emitted %s (%d changes), at or past the chunk's watermark %s", got.Position, len(got.Changes), b.Position)
				return
			}
		case err := <-run.Done:
			run.Returned()
			t.Fatalf("stream ended: %v", err)
		case <-deadline:
			t.Fatalf("no batch at or past the chunk's watermark %s within 10s", b.Position)
		}
	}
}

// planBeside plans tid in chunks of rows and gives the plan to the
// source as one read beside the stream (Streamed, nothing done yet).
func planBeside(t *testing.T, s *Source, tid capture.TableID, rows int) []capture.Chunk {
	t.Helper()
	ctx := context.Background()
	chunks, err := s.PlanChunks(ctx, tid, rows)
	if err != nil {
		t.Fatal(err)
	}
	plan := &capture.SnapshotPlan{Chunks: chunks, Done: map[int]bool{}, Streamed: true}
	if err := s.SetWatermarks(ctx, map[capture.TableID]*capture.SnapshotPlan{tid: plan}); err != nil {
		t.Fatal(err)
	}
	return chunks
}
