package checkpoint

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/transform"
)

// blocked reports whether fn is still waiting after a short while, and
// returns a channel that receives its error once it returns.
func blocked(fn func() error) (bool, chan error) {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		done <- err
		return false, done
	case <-time.After(100 * time.Millisecond):
		return true, done
	}
}

func TestChunkBudget(t *testing.T) {
	ctx := context.Background()
	b := newChunkBudget(100)
	a, c, d := &tableRun{}, &tableRun{}, &tableRun{}

	// The snapshot's first chunk reserves the whole budget: a second
	// reader waits until the first one's size is known.
	held, err := b.reserve(ctx, a, true)
	if err != nil || held != 100 {
		t.Fatalf("first reserve = %d, %v; want the whole budget", held, err)
	}
	var second int64
	wait, done := blocked(func() (err error) { second, err = b.reserve(ctx, c, true); return err })
	if !wait {
		t.Fatal("a second first chunk was reserved beside a whole-budget reservation")
	}
	// Read 30 bytes: the reservation shrinks to them. The other reader
	// asked for the whole budget, so it waits until they are applied.
	if held, err = b.settle(ctx, a, held, 30); err != nil || held != 30 {
		t.Fatalf("settle = %d, %v; want 30", held, err)
	}
	b.free(held) // applied
	if err := <-done; err != nil || second != 100 {
		t.Fatalf("second reserve = %d, %v; want 100 once the first chunk was applied", second, err)
	}
	// A chunk larger than the budget holds all of it, and is still read.
	if second, err = b.settle(ctx, c, second, 1_000); err != nil || second != 100 {
		t.Fatalf("settle of an oversize chunk = %d, %v; want the whole budget", second, err)
	}
	// Table a's next chunk guesses 30 bytes, and waits for them.
	var next int64
	wait, done = blocked(func() (err error) { next, err = b.reserve(ctx, a, false); return err })
	if !wait {
		t.Fatal("a chunk was reserved beside a chunk holding the whole budget")
	}
	b.free(second)
	if err := <-done; err != nil || next != 30 {
		t.Fatalf("next reserve of a = %d, %v; want 30 (its largest chunk)", next, err)
	}
	// Growing a reservation frees it first: two readers that each hold a
	// guess and need more do not wait on one another.
	other, err := b.reserve(ctx, a, false)
	if err != nil || other != 30 {
		t.Fatalf("reserve = %d, %v", other, err)
	}
	res := make(chan int64, 2)
	for _, h := range []int64{next, other} {
		go func() {
			n, err := b.settle(ctx, a, h, 80)
			if err != nil {
				t.Error(err)
			}
			res <- n
			time.Sleep(10 * time.Millisecond)
			b.free(n)
		}()
	}
	for range 2 {
		select {
		case n := <-res:
			if n != 80 {
				t.Errorf("grown reservation = %d, want 80", n)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("two readers growing their reservations wait on each other")
		}
	}
	// A cancelled wait holds nothing.
	held, _ = b.reserve(ctx, c, false) // 1000 seen: the whole budget
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := b.reserve(cctx, a, false); err == nil {
		t.Fatal("reserve with a cancelled context succeeded beside a whole-budget reservation")
	}
	b.free(held)
	if !b.sem.TryAcquire(100) {
		t.Fatal("the budget is not whole once every reservation is freed")
	}
	b.sem.Release(100)
	// A table none of whose chunks was read guesses the largest chunk read
	// of any table (c's 1,000 bytes, clamped to the budget).
	n, err := b.reserve(ctx, d, true)
	if err != nil || n != 100 {
		t.Fatalf("first reserve of a new table = %d, %v; want 100", n, err)
	}
	b.free(n)
	// The table's other chunks wait until the first one's size is known,
	// and then guess it.
	var later int64
	wait, done = blocked(func() (err error) { later, err = b.reserve(ctx, d, false); return err })
	if !wait {
		t.Fatal("a table's second chunk was reserved before its first one was read")
	}
	n, err = b.reserve(ctx, d, true) // stands for the first chunk: read 7 bytes
	require.NoError(t, err)
	n, err = b.settle(ctx, d, n, 7)
	require.NoError(t, err)
	if err := <-done; err != nil || later != 7 {
		t.Fatalf("second chunk's reserve = %d, %v; want the first one's 7 bytes", later, err)
	}
	b.free(n)
	b.free(later)
}

// TestSnapshotWithinChunkBudget runs a snapshot with four readers and a
// chunk budget of 2 bytes, smaller than any chunk: each chunk then holds
// the whole budget from before its read until it is applied, so no two
// chunks are read at once, and every table still ends with exactly its
// rows.
func TestSnapshotWithinChunkBudget(t *testing.T) {
	src, want := fakeTables(t)
	src.readDelay = 20 * time.Millisecond // reads that could overlap do
	cat, _ := openCatalog(t)
	c, err := New(Options{
		Pipeline: "p", Source: src, Catalog: cat, Router: transform.NewRouter("lake", nil), Mode: transform.Upsert,
		Config: Config{SnapshotMode: SnapshotInitialOnly, SnapshotParallelism: 4, SnapshotChunkRows: 40,
			MaxCheckpointChanges: 100, Interval: time.Hour, MemoryBudget: 1},
		SpillDir: t.TempDir(),
		Logger:   slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	require.NoError(t, c.Run(context.Background()))
	for name, rows := range want {
		checkTable(t, cat, src, name, rows)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	require.Equal(t, 1, src.maxInRead, "chunks read at once with a budget smaller than one chunk")
}
