package checkpoint

import (
	"context"

	"golang.org/x/sync/semaphore"

	"github.com/floe-cdc/floe/capture"
)

// Queued stream batches. The source decodes ahead of the coordinator,
// which stops applying while a checkpoint commits; what it has decoded
// meanwhile waits in this queue. The queue holds at most queuedBatches
// batches and at most maxQueuedBytes of them (capture.Batch.Size), so that
// a run of batches with large values (a part of a split transaction is
// capture.DefaultMaxBatchBytes, a single 50 MB value is a part of its own)
// does not pile up in memory: the source waits instead.
const (
	queuedBatches  = 16
	maxQueuedBytes = 64 << 20
)

// batchQueue passes batches from a source's Stream (in) to the
// coordinator (out); the coordinator releases each batch once applied.
type batchQueue struct {
	in   chan capture.Batch
	out  chan queuedBatch
	sem  *semaphore.Weighted
	done chan struct{} // closed when the pump has stopped
}

type queuedBatch struct {
	capture.Batch
	size int64 // its share of maxQueuedBytes
}

// newBatchQueue starts the queue; it stops when ctx is done.
func newBatchQueue(ctx context.Context) *batchQueue {
	q := &batchQueue{
		in:   make(chan capture.Batch),
		out:  make(chan queuedBatch, queuedBatches),
		sem:  semaphore.NewWeighted(maxQueuedBytes),
		done: make(chan struct{}),
	}
	go q.pump(ctx)
	return q
}

func (q *batchQueue) pump(ctx context.Context) {
	defer close(q.done)
	for {
		var b capture.Batch
		select {
		case b = <-q.in:
		case <-ctx.Done():
			return
		}
		// A batch larger than the whole bound waits for the queue to
		// empty, then goes alone.
		n := min(int64(b.Size()), maxQueuedBytes)
		if err := q.sem.Acquire(ctx, n); err != nil {
			return
		}
		select {
		case q.out <- queuedBatch{Batch: b, size: n}:
		case <-ctx.Done():
			return
		}
	}
}

// release returns an applied batch's share of the bound.
func (q *batchQueue) release(b queuedBatch) { q.sem.Release(b.size) }
