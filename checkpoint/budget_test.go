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
	if n, err := newChunkBudget(100, 4).reserve(ctx, &tableRun{}); err != nil || n != 25 {
		t.Fatalf("first reserve with 4 readers = %d, %v; want a reader's share, 25", n, err)
	}
	b := newChunkBudget(100, 1)
	a, c := &tableRun{}, &tableRun{}

	// A table's first chunk reserves a reader's share, here the whole
	// budget: a second reader waits until the first one's size is known.
	held, err := b.reserve(ctx, a)
	if err != nil || held != 100 {
		t.Fatalf("first reserve = %d, %v; want the whole budget", held, err)
	}
	var second int64
	wait, done := blocked(func() (err error) { second, err = b.reserve(ctx, c); return err })
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
	wait, done = blocked(func() (err error) { next, err = b.reserve(ctx, a); return err })
	if !wait {
		t.Fatal("a chunk was reserved beside a chunk holding the whole budget")
	}
	b.free(second)
	if err := <-done; err != nil || next != 30 {
		t.Fatalf("next reserve of a = %d, %v; want 30 (its largest chunk)", next, err)
	}
	// Growing a reservation frees it first: two readers that each hold a
	// guess and need more do not wait on one another.
	other, err := b.reserve(ctx, a)
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
	held, _ = b.reserve(ctx, c) // 1000 seen: the whole budget
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := b.reserve(cctx, a); err == nil {
		t.Fatal("reserve with a cancelled context succeeded beside a whole-budget reservation")
	}
	b.free(held)
	if !b.sem.TryAcquire(100) {
		t.Fatal("the budget is not whole once every reservation is freed")
	}
}

// TestSnapshotWithinChunkBudget runs a snapshot with four readers and a
// chunk budget of 2 bytes, smaller than any chunk: a table's first chunks
// reserve a reader's share (1 byte, the least), later ones the whole
// budget from before their read until they are applied, so never more
// than two chunks are read at once, and every table still ends with
// exactly its rows.
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
	require.LessOrEqual(t, src.maxInRead, 2, "chunks read at once with a budget of 2 bytes")
}
