package toolkit

import "github.com/floe-cdc/floe/capture"

// Part is the open part of a source transaction: the changes read since
// the transaction began or since its last part was emitted, and their
// size. The zero Part is empty.
type Part struct {
	Changes []capture.Change
	Bytes   int // sum of capture.Change.Size of Changes
}

// PartLimits bounds a Part (capture.Batch.More): a part is emitted before
// a change that would make it hold more than MaxChanges changes, and as
// soon as it holds MaxBytes bytes, so that a stream never holds the
// values of a large transaction while it reads the next event. Hint is
// the capacity of the first slice of a transaction (a source passes the
// size of its last transaction, bounded), so that the usual transaction
// appends without growing its slice.
type PartLimits struct {
	MaxChanges, MaxBytes, Hint int
}

// Add appends ch to p. When p already holds lim.MaxChanges changes, it
// first hands them to emit; when p reaches lim.MaxBytes with ch, it hands
// them to emit after appending ch. Before emit is called p is empty again
// (its next slice has room for as many changes as emit got, at most
// MaxChanges): emit owns the slice it gets. An error of emit is returned
// as it is.
//
// Add allocates only p's slices: a func literal passed as emit that does
// not escape stays on the caller's stack.
func (p *Part) Add(ch capture.Change, lim PartLimits, emit func([]capture.Change) error) error {
	if len(p.Changes) >= lim.MaxChanges {
		if err := emit(p.take(lim.MaxChanges)); err != nil {
			return err
		}
	}
	if p.Changes == nil {
		p.Changes = make([]capture.Change, 0, lim.Hint)
	}
	p.Changes = append(p.Changes, ch)
	p.Bytes += ch.Size()
	if p.Bytes >= lim.MaxBytes {
		return emit(p.take(lim.MaxChanges))
	}
	return nil
}

// take returns p's changes and empties p, its next slice with capacity
// for as many changes, at most maxChanges.
func (p *Part) take(maxChanges int) []capture.Change {
	changes := p.Changes
	p.Changes, p.Bytes = make([]capture.Change, 0, min(len(changes), maxChanges)), 0
	return changes
}
