package capturetest

import (
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/capture"
)

// start builds a source for tables, discovers and starts it.
func start(t *testing.T, e Env, opts Options, req capture.StartRequest, tables ...string) (capture.Source, capture.StartInfo) {
	t.Helper()
	src := e.NewSource(opts, tables...)
	ctx := Context(t)
	if _, err := src.Discover(ctx); err != nil {
		t.Fatalf("Discover: %v", err)
	}
	info, err := src.Start(ctx, req)
	if err != nil {
		t.Fatalf("Start(%+v): %v", req, err)
	}
	if info.From == nil {
		t.Fatal("Start returned no From position")
	}
	return src, info
}

// stream runs Source.Stream in the background and checks the invariants
// of every batch it emits (see the package doc).
type stream struct {
	*Running
	t        *testing.T
	captured map[capture.TableID]bool

	lastComplete capture.Position // last batch without More, or From
	partMax      capture.Position // highest part of the open split transaction
	parts        []capture.Position
}

// startStream starts src's Stream; from is StartInfo.From and tables the
// captured tables. The stream is stopped at cleanup.
func startStream(t *testing.T, e Env, src capture.Source, from capture.Position, tables ...string) *stream {
	s := &stream{Running: StartStream(t, src), t: t, captured: map[capture.TableID]bool{}, lastComplete: from}
	for _, name := range tables {
		s.captured[e.Table(name)] = true
	}
	return s
}

// receive returns the next batch of any kind, after checking it.
func (s *stream) receive(timeout time.Duration) (capture.Batch, bool) {
	s.t.Helper()
	select {
	case b := <-s.Out:
		s.check(b)
		return b, true
	case err := <-s.Done:
		s.Returned()
		s.t.Fatalf("Stream ended early: %v", err)
	case <-time.After(timeout):
	}
	return capture.Batch{}, false
}

// next returns the next batch with changes, or the one ending a split
// transaction (which may have none); other empty batches are checked and
// skipped.
func (s *stream) next() capture.Batch {
	s.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		open := s.partMax != nil
		b, ok := s.receive(time.Until(deadline))
		if !ok {
			s.t.Fatalf("no batch with changes within %s", waitTimeout)
		}
		if len(b.Changes) > 0 || b.More || b.Barrier || open {
			return b
		}
	}
}

// nextTxn reads the parts of the next transaction with changes until one
// without More, and returns them joined into one batch at the final
// position, with the number of parts.
func (s *stream) nextTxn(maxPart int) (capture.Batch, int) {
	s.t.Helper()
	var all capture.Batch
	for n := 1; ; n++ {
		b := s.next()
		if maxPart > 0 && len(b.Changes) > maxPart {
			s.t.Fatalf("part %d at %s holds %d changes, more than MaxBatchChanges %d", n, b.Position, len(b.Changes), maxPart)
		}
		all.Changes = append(all.Changes, b.Changes...)
		if !b.More {
			all.Position, all.CommitTime = b.Position, b.CommitTime
			return all, n
		}
	}
}

// nextEmpty waits up to timeout for an empty batch at or after min (nil:
// any); batches with changes fail the test.
func (s *stream) nextEmpty(timeout time.Duration, min capture.Position) (capture.Batch, bool) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		b, ok := s.receive(time.Until(deadline))
		if !ok {
			break
		}
		if len(b.Changes) > 0 || b.More {
			s.t.Fatalf("unexpected batch with %d changes at %s while waiting for a heartbeat: first %s", len(b.Changes), b.Position, fmtChange(b.Changes[0]))
		}
		if min == nil || b.Position.Compare(min) >= 0 {
			return b, true
		}
	}
	return capture.Batch{}, false
}

// expect reads the next batch with changes and checks it holds exactly ws.
func (s *stream) expect(e Env, ws ...want) capture.Batch {
	s.t.Helper()
	b := s.next()
	if b.More {
		s.t.Fatalf("batch at %s has More set; want one complete transaction of %d changes", b.Position, len(ws))
	}
	matchBatch(s.t, e, b, ws)
	return b
}

// matchBatch checks that b holds exactly the changes ws, in order.
func matchBatch(t *testing.T, e Env, b capture.Batch, ws []want) {
	t.Helper()
	if len(b.Changes) != len(ws) {
		var got, exp []string
		for _, c := range b.Changes {
			got = append(got, fmtChange(c))
		}
		for _, w := range ws {
			exp = append(exp, w.String())
		}
		t.Fatalf("batch at %s has %d changes, want %d:\n got %s\nwant %s", b.Position, len(b.Changes), len(ws),
			strings.Join(got, "\n     "), strings.Join(exp, "\n     "))
	}
	for i, w := range ws {
		if d := matchChange(e, b.Changes[i], w); d != "" {
			t.Fatalf("batch at %s, change %d: %s\n got %s\nwant %s", b.Position, i, d, fmtChange(b.Changes[i]), w)
		}
	}
}

// check asserts the per-batch invariants of a stream.
func (s *stream) check(b capture.Batch) {
	t := s.t
	t.Helper()
	if b.Position == nil {
		t.Fatalf("stream batch without a position (%d changes)", len(b.Changes))
	}
	if b.Chunk != nil {
		t.Fatalf("stream batch at %s carries a snapshot chunk %+v", b.Position, *b.Chunk)
	}
	if b.CommitTime.IsZero() || b.CommitTime.Location() != time.UTC {
		t.Errorf("batch at %s: commit time %v, want a UTC time", b.Position, b.CommitTime)
	}
	if b.More && len(b.Changes) == 0 {
		t.Fatalf("batch at %s has More set and no changes", b.Position)
	}
	if b.Position.Compare(s.lastComplete) <= 0 {
		t.Fatalf("batch at %s (more=%v, %d changes) is not after the previous complete batch at %s", b.Position, b.More, len(b.Changes), s.lastComplete)
	}
	if s.partMax != nil && b.Position.Compare(s.partMax) < 0 {
		t.Fatalf("batch at %s (more=%v) is before an earlier part of its transaction at %s", b.Position, b.More, s.partMax)
	}
	if b.More {
		s.partMax = b.Position
		s.parts = append(s.parts, b.Position)
	} else {
		for _, p := range s.parts {
			if p.Compare(b.Position) > 0 {
				t.Fatalf("part position %s is after its transaction's final position %s", p, b.Position)
			}
		}
		s.partMax, s.parts, s.lastComplete = nil, nil, b.Position
	}
	for i, c := range b.Changes {
		if !s.captured[c.Table] {
			t.Fatalf("batch at %s, change %d is for %s, which is not captured", b.Position, i, c.Table)
		}
		if c.Op == capture.OpUnreadable || c.Err != nil {
			// Unreadable, or a value the source could not decode (a dead
			// letter, with the row as sent in Raw): no images.
			if c.Err == nil || c.Before != nil || c.After != nil {
				t.Fatalf("batch at %s, change %d of %s is unreadable with images or without an error: %s", b.Position, i, c.Table, fmtChange(c))
			}
			continue
		}
		if c.Schema == nil {
			t.Fatalf("batch at %s, change %d of %s has no layout", b.Position, i, c.Table)
		}
		n := len(c.Schema.Columns)
		ok := true
		switch c.Op {
		case capture.OpInsert:
			ok = len(c.After) == n && c.Before == nil
		case capture.OpUpdate:
			ok = len(c.After) == n && (c.Before == nil || len(c.Before) == n)
		case capture.OpDelete:
			ok = c.After == nil && len(c.Before) == n
		case capture.OpTruncate:
			ok = c.After == nil && c.Before == nil
		default:
			ok = false
		}
		if !ok {
			t.Fatalf("batch at %s, change %d has images that do not fit its op (layout of %d columns): %s", b.Position, i, n, fmtChange(c))
		}
	}
}
