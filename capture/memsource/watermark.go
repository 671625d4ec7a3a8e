package memsource

import (
	"context"
	"fmt"
	"time"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/internal/toolkit"
	"github.com/floe-cdc/floe/schema"
)

// Watermarking is a Source whose chunks are read at watermarks of their
// own (capture.Watermarker), as MariaDB's are: each chunk holds the
// table's rows as of the end of the log when it was read, and carries
// that position. Given the plans back (SetWatermarks), the stream leaves
// out a change of a key in a chunk's range at or before the chunk's
// watermark. Create it with WithWatermarks.
type Watermarking struct{ *Source }

var _ capture.Watermarker = Watermarking{}

// WithWatermarks returns s with the Watermarker ability.
func WithWatermarks(s *Source) Watermarking { return Watermarking{s} }

// Watermarked is true for every table.
func (Watermarking) Watermarked(capture.TableID) bool { return true }

// ReadChunk returns the chunk's current rows at the position they are
// exactly as of.
func (w Watermarking) ReadChunk(_ context.Context, id capture.TableID, ch capture.Chunk) (capture.Batch, error) {
	s := w.Source
	if s.cfg.OnReadChunk != nil {
		if err := s.cfg.OnReadChunk(id, ch); err != nil {
			return capture.Batch{}, fmt.Errorf("read chunk %d of %s: %w", ch.Index, id, err)
		}
	}
	tables, at := s.db.snapshotOf([]string{id.Name})
	t := tables[id.Name]
	if t == nil {
		return capture.Batch{}, fmt.Errorf("table %s does not exist", id)
	}
	b, add := toolkit.ChunkBatch(id, ch, t.layout)
	b.Position, b.CommitTime = at, time.Now().UTC()
	for _, r := range sortedRows(t) {
		in, err := inChunk(t.layout, r, ch)
		if err != nil {
			return capture.Batch{}, fmt.Errorf("read chunk %d of %s: %w", ch.Index, id, err)
		}
		if in {
			_ = add(r)
		}
	}
	return *b, nil
}

// SetWatermarks keeps the plans' watermarked chunks for the stream.
func (w Watermarking) SetWatermarks(_ context.Context, plans map[capture.TableID]*capture.SnapshotPlan) error {
	marks := map[string][]chunkMark{}
	for id, plan := range plans {
		for i, enc := range plan.Watermarks {
			ch, ok := plan.Chunk(i)
			if !ok {
				return fmt.Errorf("memsource: watermark of chunk %d of %s, which the plan lacks", i, id)
			}
			p, err := DecodePosition(enc)
			if err != nil {
				return fmt.Errorf("memsource: watermark of chunk %d of %s: %w", i, id, err)
			}
			marks[id.Name] = append(marks[id.Name], chunkMark{chunk: ch, at: p.(Pos)})
		}
	}
	w.mu.Lock()
	w.marks = marks
	w.mu.Unlock()
	return nil
}

// chunkMark is a chunk read at a watermark, as SetWatermarks got it.
type chunkMark struct {
	chunk capture.Chunk
	at    Pos
}

// marked reports whether a change at pos is in a chunk read at a
// watermark at or after it (the chunk's rows hold it).
func (s *Source) marked(ch capture.Change, pos Pos) bool {
	s.mu.Lock()
	marks := s.marks[ch.Table.Name]
	s.mu.Unlock()
	for _, m := range marks {
		if pos > m.at {
			continue
		}
		for _, row := range []schema.Row{ch.Before, ch.After} {
			if row == nil {
				continue
			}
			if in, err := inChunk(ch.Schema, row, m.chunk); err == nil && in {
				return true
			}
		}
	}
	return false
}

// inChunk reports whether row's key is in chunk's range.
func inChunk(l *schema.Table, row schema.Row, ch capture.Chunk) (bool, error) {
	lower, err := boundRow(l, ch.Lower)
	if err != nil {
		return false, err
	}
	upper, err := boundRow(l, ch.Upper)
	if err != nil {
		return false, err
	}
	return (lower == nil || compareKeys(l, row, lower) > 0) && (upper == nil || compareKeys(l, row, upper) <= 0), nil
}
