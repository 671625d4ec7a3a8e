package checkpoint

import (
	"context"
	"sync"

	"golang.org/x/sync/semaphore"
)

// chunkBudget bounds the bytes of snapshot rows that have been read and
// not yet applied: rows being read, encoded, waiting for the apply stage
// and being applied. A reader reserves a chunk's bytes before it reads it
// (reserve), corrects the reservation to what it read (settle) and the
// apply stage frees it once the rows are in the table's buffer or data
// writer (free). Sizes are capture.Batch.Size, the decoded values.
//
// Before a chunk is read its size is a guess: the largest chunk read of
// its table so far. A table's first chunk in this run (the feed stage
// marks it) is read before the table's others, which wait until its size
// is known; its guess is the largest chunk read of any table, or for the
// snapshot's first chunk the whole budget: so a table of huge rows never
// has a chunk per reader in flight before its size is known. A
// reservation is at most the whole budget, so a chunk larger than the
// budget is still read, alone, and nothing waits forever.
type chunkBudget struct {
	sem *semaphore.Weighted
	max int64

	mu      sync.Mutex
	seen    map[*tableRun]int64         // largest chunk read, by table
	first   map[*tableRun]chan struct{} // closed once a chunk of the table is read
	largest int64                       // largest chunk read; -1: none yet
}

func newChunkBudget(bytes int64) *chunkBudget {
	bytes = max(bytes, 1)
	return &chunkBudget{sem: semaphore.NewWeighted(bytes), max: bytes, seen: map[*tableRun]int64{},
		first: map[*tableRun]chan struct{}{}, largest: -1}
}

// reserve waits for the guessed size of a chunk of t and returns what it
// reserved; first marks t's first chunk in this run.
func (b *chunkBudget) reserve(ctx context.Context, t *tableRun, first bool) (int64, error) {
	n, err := b.guess(ctx, t, first)
	if err != nil {
		return 0, err
	}
	n = b.clamp(n)
	if err := b.sem.Acquire(ctx, n); err != nil {
		return 0, err
	}
	return n, nil
}

// guess returns the guessed size of a chunk of t: for t's first chunk
// at once, for the others once the first one's size is known.
func (b *chunkBudget) guess(ctx context.Context, t *tableRun, first bool) (int64, error) {
	b.mu.Lock()
	read, ok := b.first[t]
	if !ok {
		read = make(chan struct{})
		b.first[t] = read
	}
	if first {
		n := b.largest
		b.mu.Unlock()
		if n < 0 {
			n = b.max
		}
		return n, nil
	}
	b.mu.Unlock()
	select {
	case <-read:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.seen[t], nil
}

// settle turns the reservation held for a chunk of t into one of its
// actual size, read bytes, and returns it. Growing it frees the guess
// and waits for the whole size: a reader never holds part of the budget
// while it waits for more, so readers cannot starve one another. On an
// error nothing is held.
func (b *chunkBudget) settle(ctx context.Context, t *tableRun, held int64, read int) (int64, error) {
	b.mu.Lock()
	b.seen[t] = max(b.seen[t], int64(read))
	b.largest = max(b.largest, int64(read))
	known, ok := b.first[t]
	if !ok {
		b.first[t] = closed
	} else if known != closed {
		close(known)
		b.first[t] = closed
	}
	b.mu.Unlock()
	n := b.clamp(int64(read))
	switch {
	case n == held:
		return held, nil
	case n < held:
		b.sem.Release(held - n)
		return n, nil
	}
	b.sem.Release(held)
	if err := b.sem.Acquire(ctx, n); err != nil {
		return 0, err
	}
	return n, nil
}

// closed is the closed channel of a table a chunk of which was read.
var closed = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// free returns a reservation.
func (b *chunkBudget) free(n int64) {
	if n > 0 {
		b.sem.Release(n)
	}
}

// clamp keeps a reservation within 1 byte and the whole budget.
func (b *chunkBudget) clamp(n int64) int64 { return min(max(n, 1), b.max) }
