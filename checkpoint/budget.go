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
// its table so far, or, for a table's first chunks, an equal share of the
// budget per reader (so that every reader can start, and a read that
// hangs does not hold up the others). A reservation is at most the whole
// budget, so a chunk larger than the budget is still read, alone, and
// nothing waits forever.
type chunkBudget struct {
	sem   *semaphore.Weighted
	max   int64
	share int64 // the guess for a table no chunk of which was read yet

	mu   sync.Mutex
	seen map[*tableRun]int64 // largest chunk read, by table
}

func newChunkBudget(bytes int64, readers int) *chunkBudget {
	bytes = max(bytes, 1)
	return &chunkBudget{sem: semaphore.NewWeighted(bytes), max: bytes, share: bytes / int64(max(readers, 1)),
		seen: map[*tableRun]int64{}}
}

// reserve waits for the guessed size of t's next chunk and returns what
// it reserved.
func (b *chunkBudget) reserve(ctx context.Context, t *tableRun) (int64, error) {
	b.mu.Lock()
	n, ok := b.seen[t]
	b.mu.Unlock()
	if !ok {
		n = b.share
	}
	n = b.clamp(n)
	if err := b.sem.Acquire(ctx, n); err != nil {
		return 0, err
	}
	return n, nil
}

// settle turns the reservation held for a chunk of t into one of its
// actual size, read bytes, and returns it. Growing it frees the guess
// and waits for the whole size: a reader never holds part of the budget
// while it waits for more, so readers cannot starve one another. On an
// error nothing is held.
func (b *chunkBudget) settle(ctx context.Context, t *tableRun, held int64, read int) (int64, error) {
	b.mu.Lock()
	b.seen[t] = max(b.seen[t], int64(read))
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

// free returns a reservation.
func (b *chunkBudget) free(n int64) {
	if n > 0 {
		b.sem.Release(n)
	}
}

// clamp keeps a reservation within 1 byte and the whole budget.
func (b *chunkBudget) clamp(n int64) int64 { return min(max(n, 1), b.max) }
