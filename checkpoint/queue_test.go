package checkpoint

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

// bigBatch is a batch of one change whose Size is about n bytes.
func bigBatch(n int) capture.Batch {
	return capture.Batch{Changes: []capture.Change{{Op: capture.OpInsert, After: schema.Row{strings.Repeat("x", n)}}}}
}

// TestBatchQueueBoundedByBytes: batches of 10 MiB are taken from the
// source until the queue holds maxQueuedBytes (seven of them, the seventh
// crossing the bound); then the source waits, holding its next batch,
// until the coordinator releases one. A batch larger than the bound is
// taken once the queue is under it again, and nothing more until it has
// been released.
func TestBatchQueueBoundedByBytes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q := newBatchQueue(ctx)
	defer func() { cancel(); <-q.done }()

	sizes := []int{10 << 20, 10 << 20, 10 << 20, 10 << 20, 10 << 20, 10 << 20, 10 << 20, 10 << 20, 100 << 20, 1 << 20}
	sent := make(chan int, 100)
	go func() {
		for i, n := range sizes {
			select {
			case q.in <- bigBatch(n):
				sent <- i
			case <-ctx.Done():
				return
			}
		}
	}()
	// waitFor checks that exactly n batches have been taken from the
	// source, and stay so.
	waitFor := func(n int) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for len(sent) < n {
			select {
			case <-deadline:
				t.Fatalf("%d batches taken, want %d", len(sent), n)
			case <-time.After(time.Millisecond):
			}
		}
		time.Sleep(50 * time.Millisecond)
		if len(sent) != n {
			t.Fatalf("%d batches taken, want %d: the queue holds more than %d bytes", len(sent), n, maxQueuedBytes)
		}
	}
	waitFor(7)
	if len(q.out) != 7 {
		t.Fatalf("%d batches queued, want 7", len(q.out))
	}
	// Applying one lets the next one in.
	q.release(<-q.out)
	waitFor(8)
	// Applying two brings the queue under the bound: the 100 MiB batch
	// is taken, and then nothing until enough is released.
	q.release(<-q.out)
	q.release(<-q.out)
	waitFor(9)
	for range 5 {
		q.release(<-q.out)
	}
	waitFor(9)
	big := <-q.out
	if big.size < 100<<20 {
		t.Fatalf("the large batch counts %d bytes, want its size", big.size)
	}
	q.release(big)
	waitFor(10)
}
