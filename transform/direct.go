package transform

import (
	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

// Projector turns the rows of one snapshot chunk into sink rows without
// keyed state, for chunks that need none (see Direct). The rows it yields
// are the ones a Buffer would yield from Rows after the same changes were
// applied with the same Meta (Seq = index in the chunk): same values, same
// metadata columns, same order.
//
// A Projector is not safe for concurrent use; use one per goroutine.
type Projector struct {
	b    *Buffer // mapping, projection and metadata; never holds a row
	keys map[uint64]struct{}
	cols map[*schema.Table][]int // change layout -> its ordinals of the sink key
}

// NewProjector returns a Projector for the sink layout and mode of o (the
// memory budget and spill directory are not used).
func NewProjector(o BufferOptions) (*Projector, error) {
	b, err := NewBuffer(o)
	if err != nil {
		return nil, err
	}
	return &Projector{b: b, keys: map[uint64]struct{}{}, cols: map[*schema.Table][]int{}}, nil
}

// Direct reports whether the changes of one snapshot chunk may skip the
// Buffer and be written as Rows yields them. That holds when every change
// is an OpRead with a full new image (no schema.Unchanged value, so
// nothing is filled from state, Iceberg or the source) and, in Upsert
// mode, no two of them share a key (so no image replaces another) and no
// key column's values need promoting to a wider sink type (values of
// other narrower columns are promoted by Rows as by a Buffer). Chunks
// of one table cover disjoint key ranges, so keys of different chunks
// never meet either; that is the caller's to ensure (the sink key must be
// the key the chunks were planned on). A false answer only means the
// chunk must go through a Buffer; an error means the Buffer would fail on
// it too.
func (p *Projector) Direct(changes []capture.Change) (bool, error) {
	keyed := p.b.o.Mode == Upsert
	if keyed {
		clear(p.keys)
	}
	for i := range changes {
		ch := &changes[i]
		if ch.Op != capture.OpRead || ch.After == nil || ch.After.HasUnchanged() {
			return false, nil
		}
		if !keyed {
			continue
		}
		cols, err := p.keyCols(ch.Schema)
		if err != nil {
			return false, err
		}
		if cols == nil {
			// A key value is promoted to the sink's type: the hash of the
			// change's value would not equal that of an equal key in
			// another layout. Rare (changes captured before a widening),
			// so the Buffer handles it.
			return false, nil
		}
		if len(ch.After) != len(ch.Schema.Columns) {
			return false, p.b.errf("row has %d values, its layout %d columns", len(ch.After), len(ch.Schema.Columns))
		}
		// Equal keys hash equally; a collision of different keys only
		// sends the chunk through the Buffer.
		h := schema.HashRow(ch.Schema, ch.After, cols)
		if _, dup := p.keys[h]; dup {
			return false, nil
		}
		p.keys[h] = struct{}{}
	}
	return true, nil
}

// keyCols returns the ordinals, in change layout s, of the sink key
// columns, or nil when a key column of s has a narrower type than the
// sink's (its values are promoted when projected).
func (p *Projector) keyCols(s *schema.Table) ([]int, error) {
	if cols, ok := p.cols[s]; ok {
		return cols, nil
	}
	cm, err := p.b.mapping(s)
	if err != nil {
		return nil, err
	}
	cols := make([]int, len(p.b.layout.Key))
	for i, k := range p.b.layout.Key {
		if cm.promotes(k) {
			cols = nil
			break
		}
		cols[i] = cm.src[k] // key columns are never absent (mapping checks)
	}
	p.cols[s] = cols
	return cols, nil
}

// Rows calls fn with the sink row of each change (for changes Direct
// accepted), in order, with m's position and commit time and Seq set to
// the change's index. The row passed to fn is reused by the next call.
func (p *Projector) Rows(changes []capture.Change, m Meta, fn func(schema.Row) error) error {
	b := p.b
	row := b.row
	// The metadata values every row of the chunk shares, boxed once (as
	// setMeta would set them).
	op, ts, pos := any(capture.OpRead.String()), any(m.CommitMicros), any(m.Pos)
	var (
		layout *schema.Table
		cm     *colMap
	)
	for i := range changes {
		ch := &changes[i]
		if ch.Op != capture.OpRead || ch.After == nil {
			return b.errf("%s change in a chunk written without a buffer", ch.Op)
		}
		if ch.Schema != layout || cm == nil {
			var err error
			if cm, err = b.mapping(ch.Schema); err != nil {
				return err
			}
			layout = ch.Schema
		}
		if err := b.project(row, cm, ch.After); err != nil {
			return err
		}
		row[b.n], row[b.n+1], row[b.n+2], row[b.n+3] = op, ts, pos, int64(i)
		if err := fn(row); err != nil {
			return err
		}
	}
	return nil
}
