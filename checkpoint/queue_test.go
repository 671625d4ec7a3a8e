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

// TestBatchQueueBoundedByBytes: batches of 10 MiB fill the queue up to
// maxQueuedBytes (six of them), then the source waits until the
// coordinator releases one; a batch larger than the bound waits until the
// queue is empty and then passes alone.
func TestBatchQueueBoundedByBytes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q := newBatchQueue(ctx)
	defer func() { cancel(); <-q.done }()

	sent := make(chan int, 100)
	go func() {
		for i := range 8 {
			select {
			case q.in <- bigBatch(10 << 20):
				sent <- i
			case <-ctx.Done():
				return
			}
		}
		select {
		case q.in <- bigBatch(100 << 20):
			sent <- 8
		case <-ctx.Done():
		}
	}()
	// Six are queued, a seventh is held by the pump, the eighth waits.
	waitFor := func(n int) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for len(sent) < n {
			select {
			case <-deadline:
				t.Fatalf("%d batches handed over, want %d", len(sent), n)
			case <-time.After(time.Millisecond):
			}
		}
		time.Sleep(50 * time.Millisecond)
		if len(sent) != n {
			t.Fatalf("%d batches handed over, want %d: the queue holds more than %d bytes", len(sent), n, maxQueuedBytes)
		}
	}
	waitFor(7)
	if len(q.out) != 6 {
		t.Fatalf("%d batches queued, want 6", len(q.out))
	}
	// Applying one lets the held one in and the next one be handed over
	// (and held).
	q.release(<-q.out)
	waitFor(8)
	if len(q.out) != 6 {
		t.Fatalf("%d batches queued, want 6", len(q.out))
	}
	// Applying six lets the last 10 MiB one through; the 100 MiB one is
	// then taken from the source but waits while that one is queued.
	for range 6 {
		q.release(<-q.out)
	}
	last := <-q.out
	waitFor(9)
	select {
	case <-q.out:
		t.Fatal("a batch larger than the bound passed while another was queued")
	case <-time.After(50 * time.Millisecond):
	}
	q.release(last)
	select {
	case b := <-q.out:
		if b.size != maxQueuedBytes {
			t.Fatalf("large batch holds %d of the bound, want all %d", b.size, maxQueuedBytes)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the large batch never passed")
	}
}
