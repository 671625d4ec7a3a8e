package checkpoint

import (
	"context"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema/bytebound"
)

// Queued stream batches. The source decodes ahead of the coordinator,
// which stops applying while a checkpoint commits; what it has decoded
// meanwhile waits in this queue. The queue takes a batch from the source
// only while the batches queued and not yet applied hold less than
// maxQueuedBytes (capture.Batch.Size), and at most queuedBatches of them:
// otherwise the source waits, holding the one batch it decoded, and
// decodes no further. Queued bytes therefore stay under maxQueuedBytes
// plus one batch, so that a run of batches with large values (a part of a
// split transaction is capture.DefaultMaxBatchBytes, a single 50 MB value
// is a part of its own) does not pile up in memory.
const (
	queuedBatches  = 16
	maxQueuedBytes = 64 << 20
)

// batchQueue passes batches from a source's Stream (in) to the
// coordinator (out), in order; the coordinator releases each batch once
// applied.
type batchQueue struct {
	in   chan capture.Batch
	out  chan queuedBatch
	done chan struct{} // closed when the pump has stopped

	bound *bytebound.Bound // bytes of the batches taken and not yet released
}

type queuedBatch struct {
	capture.Batch
	size int64 // its Size, held in bound until released
}

// newBatchQueue starts the queue; it stops when ctx is done.
func newBatchQueue(ctx context.Context) *batchQueue {
	q := &batchQueue{
		in:    make(chan capture.Batch),
		out:   make(chan queuedBatch, queuedBatches),
		done:  make(chan struct{}),
		bound: bytebound.New(maxQueuedBytes),
	}
	go q.pump(ctx)
	return q
}

func (q *batchQueue) pump(ctx context.Context) {
	defer close(q.done)
	for {
		if !q.bound.Wait(ctx.Done()) {
			return
		}
		var b capture.Batch
		select {
		case b = <-q.in:
		case <-ctx.Done():
			return
		}
		n := int64(b.Size())
		q.bound.Add(n)
		select {
		case q.out <- queuedBatch{Batch: b, size: n}:
		case <-ctx.Done():
			return
		}
	}
}

// release returns an applied batch's bytes to the bound.
func (q *batchQueue) release(b queuedBatch) {
	q.bound.Release(b.size)
}
