package mysql

import (
	"context"
	"sort"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

// Chunks read at watermarks beside the stream (capture.BesideWatermarker).
//
// A plan SetWatermarks gets with Streamed set and no chunk done is read
// while Stream runs. Its chunks start without watermarks: the stream
// emits every change of the table, and notes, for each chunk still
// unread, the keys of the changes it emitted, with the position of the
// last one and whether that change left the key present (besideMarks).
// When ReadChunk has read a chunk at watermark W, it registers W under
// the table's chunkMarks lock, the one the stream holds while it
// reconciles and notes a change: from then on the stream drops the
// chunk's changes at or before W, as for any chunk with a watermark. In
// the same step it appends to the chunk's batch a delete of every noted
// key of the chunk left present at or before W that the chunk's rows
// lack, and forgets the chunk's notes: such a key was removed at or
// before W, by a change the stream dropped or by none at all (ALTER
// TABLE ... DROP PARTITION), and nothing else would remove the image the
// emitted change wrote. A noted change after W is newer than the chunk
// and needs nothing.
//
// The notes cost one entry per distinct key changed in an unread chunk.

// besideMarks is the state of a plan read beside the stream.
type besideMarks struct {
	layout  *schema.Table // the discovered layout: the chunks' rows and deletes
	order   map[int]int   // chunk Index -> place in chunk order
	pending int           // chunks unread (MariaDB) or with their window open (MySQL)
	// seen holds, per chunk in chunk order, the keys (schema.AppendKeyOf
	// in layout, equal to schema.AppendKey of a row) the stream emitted
	// changes of: nil once the chunk is
	// read (MariaDB), or once its watermark window is closed (MySQL, see
	// window.go).
	seen []map[string]seenKey
	// truncatedAt is the transaction (txnState.own) of the last truncate
	// of the table the stream emitted (window.go).
	truncatedAt *Position
}

// seenKey is the last change of a key the stream emitted.
type seenKey struct {
	key     schema.Row // key values in key order
	at      Position
	present bool // the change left the key with a row
}

func newBesideMarks(t *table, chunks []capture.Chunk) *besideMarks {
	b := &besideMarks{layout: t.layout, order: map[int]int{}, pending: len(chunks), seen: make([]map[string]seenKey, len(chunks))}
	for i, ch := range chunks {
		b.order[ch.Index] = i
		b.seen[i] = map[string]seenKey{}
	}
	return b
}

// ReadsAtWatermarks implements capture.BesideWatermarker: MariaDB reads
// every chunk of a table whose key Go orders as the server does at a
// watermark (see watermark.go); MySQL (with GTIDs, or with file
// positions and the LOCK TABLES privilege) reads each chunk of such
// a table read beside the stream in a watermark window, and gives it its
// high watermark (see window.go).
func (s *Source) ReadsAtWatermarks(id capture.TableID) bool {
	t, err := s.tables.Get(id)
	return err == nil && (s.watermarked(t) || s.windowed(t))
}

// noteBeside notes ch, a change the stream emits at pos, for the chunks
// of a plan read beside the stream that are unread or in their watermark
// window (window.go). The caller holds m.mu.
func (m *chunkMarks) noteBeside(ctx context.Context, pos Position, ch capture.Change) error {
	b := m.beside
	switch {
	case b == nil || b.pending == 0 || ch.Err != nil:
		return nil
	case ch.Op == capture.OpTruncate:
		// Every image emitted before is gone with it.
		for _, seen := range b.seen {
			clear(seen)
		}
		b.truncatedAt = &pos
		return nil
	}
	note := func(row schema.Row, present bool) error {
		if row == nil || ch.Schema == nil {
			return nil
		}
		key, err := m.keyOf(ch.Schema, row)
		if err != nil {
			return err
		}
		i, err := m.chunkOfKey(ctx, key)
		if err != nil || i == len(m.uppers) || b.seen[i] == nil {
			return err
		}
		b.seen[i][string(schema.AppendKeyOf(nil, b.layout, key))] = seenKey{key: key, at: pos, present: present}
		return nil
	}
	// The old key first: an update that keeps its key leaves it present.
	if err := note(ch.Before, false); err != nil {
		return err
	}
	return note(ch.After, true)
}

// registerBeside gives the chunk of a plan read beside the stream its
// watermark w, once ReadChunk has read it into b, and appends to b the
// deletes of the keys removed at or before w (see the top of this file).
// Nothing happens for a chunk of any other plan.
func (s *Source) registerBeside(t *table, chunk capture.Chunk, w Position, b *capture.Batch) {
	s.mu.Lock()
	m := s.marks[t.id]
	s.mu.Unlock()
	if m == nil || m.beside == nil {
		return
	}
	rows := make(map[string]bool, len(b.Changes))
	for _, ch := range b.Changes {
		if ch.After != nil {
			rows[string(schema.AppendKey(nil, t.layout, ch.After))] = true
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	i, ok := m.beside.order[chunk.Index]
	if !ok || m.marks[i] != nil {
		return
	}
	m.marks[i] = &w
	m.beside.pending--
	s.wakeAt(w)
	m.end = withWatermark(m.end, w)
	var gone []string
	for k, seen := range m.beside.seen[i] {
		if seen.present && notAfter(seen.at, w) && !rows[k] {
			gone = append(gone, k)
		}
	}
	sort.Strings(gone)
	for _, k := range gone {
		key := m.beside.seen[i][k].key
		row := make(schema.Row, len(t.layout.Columns))
		for j, c := range t.layout.Key {
			row[c] = key[j]
		}
		b.Changes = append(b.Changes, capture.Change{Table: t.id, Op: capture.OpDelete, Schema: t.layout, Before: row, BeforeKeyOnly: true})
	}
	m.beside.seen[i] = nil
}

// besidePending reports whether a plan of marks is still read beside the
// stream (its chunks need the snapshot after Stream starts).
func besidePending(marks map[capture.TableID]*chunkMarks) bool {
	for _, m := range marks {
		if m.beside != nil {
			return true
		}
	}
	return false
}

// reconcileBeside is reconcile, and for a plan read beside the stream
// also noteBeside of the change kept, both in one hold of the plan's
// lock, so that ReadChunk's registration of a chunk falls wholly before
// or after them.
func (st *streamer) reconcileBeside(ctx context.Context, pos Position, ch capture.Change) (capture.Change, bool, error) {
	m := st.marks[ch.Table]
	if m.beside == nil {
		return st.reconcile(ctx, pos, ch)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ch, keep, err := st.reconcile(ctx, pos, ch)
	if err != nil || !keep {
		return ch, keep, err
	}
	return ch, true, m.noteBeside(ctx, pos, ch)
}

// wakeAt asks the stream to emit a batch, empty if need be, at the first
// transaction at or past w: the coordinator applies a chunk read beside
// the stream only once the stream has applied its watermark, and a
// stream of transactions that change no captured table emits nothing for
// HeartbeatInterval otherwise.
func (s *Source) wakeAt(w Position) {
	for {
		cur := s.besideWake.Load()
		if cur != nil && cur.Kind == w.Kind && reached(*cur, w) {
			return
		}
		if s.besideWake.CompareAndSwap(cur, &w) {
			return
		}
	}
}

// woken reports whether a batch at pos is to be emitted for wakeAt, and
// forgets the request it answers.
func (s *Source) woken(pos Position) bool {
	w := s.besideWake.Load()
	if w == nil || w.Kind != pos.Kind || !reached(pos, *w) {
		return false
	}
	s.besideWake.CompareAndSwap(w, nil) // a later request stays
	return true
}
