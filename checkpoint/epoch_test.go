package checkpoint

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/memsource"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
	"github.com/floe-cdc/floe/transform"
)

// otherMachine opens the lake's catalog again, as a run on another
// machine would: its commits are not serialised with the lake's.
func (l *lake) otherMachine() *lakewriter.Catalog {
	cat, err := lakewriter.Open(context.Background(), lakewriter.Options{
		URI: "sqlite://" + filepath.Join(l.dir, "catalog.db"), Warehouse: filepath.Join(l.dir, "warehouse"),
		Logger: slog.New(slog.NewTextHandler(&l.catalogLog, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	require.NoError(l.t, err)
	l.t.Cleanup(func() { cat.Close() })
	return cat
}

// epochs returns, oldest first, the epoch each of the table's commits of
// pipeline p records, and the epoch of each claim as its negative.
func (l *lake) epochs(name string) []int64 {
	l.t.Helper()
	hist, err := tableHistory(l.t, l.cat, name)
	require.NoError(l.t, err)
	var out []int64
	for i := len(hist) - 1; i >= 0; i-- {
		own, ok, err := ledger.EpochOf(hist[i].Props, "p")
		require.NoError(l.t, err)
		switch {
		case ok && own.Claim != nil:
			out = append(out, -own.Epoch)
		case ok:
			out = append(out, own.Epoch)
		}
	}
	return out
}

// requireFenced asserts that err is a FencedError of a run of epoch mine
// by the table's epoch theirs.
func requireFenced(t *testing.T, err error, mine, theirs int64) {
	t.Helper()
	var fe *lakewriter.FencedError
	require.ErrorAs(t, err, &fe)
	require.True(t, errors.Is(err, lakewriter.ErrFenced))
	require.Equal(t, mine, fe.Epoch, "the refused run's epoch")
	require.Equal(t, theirs, fe.TableEpoch, "the table's epoch")
}

// TestFencingOlderRunStops: a run held while it streams (a partitioned
// pod, SIGSTOPped here by holding its source at a transaction) while a
// second run of the pipeline, on another machine, claims the tables,
// recovers, streams and commits: once released, the first run stops with
// a FencedError at its next commit and commits nothing after the claim;
// the tables hold exactly the source's rows and no checkpoint twice.
func TestFencingOlderRunStops(t *testing.T) {
	t.Parallel()
	l := newLake(t, transform.Upsert, "a", "b")
	l.exec(append(inserts("a", "a0", 1, 2), inserts("b", "b0", 1, 2)...)...)
	l.snapshotAll() // epoch 1

	before := l.exec("UPDATE a SET v = 'a1' WHERE id = 1", "UPDATE b SET v = 'b1' WHERE id = 1")
	held := l.exec("UPDATE a SET v = 'held' WHERE id = 2", "INSERT INTO b VALUES (3, 'held')")
	holding, release := make(chan struct{}), make(chan struct{})
	srcA := l.source(memsource.Config{OnBatch: func(ctx context.Context, b capture.Batch) {
		if b.Position != nil && b.Position.Compare(held) == 0 {
			close(holding)
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
	}})
	first := NewFencing()
	a, err := New(Options{Pipeline: "p", Source: srcA, Catalog: l.cat, Router: transform.NewRouter("lake", nil), Mode: transform.Upsert,
		Config:   Config{SnapshotMode: SnapshotInitial, Interval: 20 * time.Millisecond, IdleCommitInterval: 10 * time.Millisecond},
		SpillDir: t.TempDir(), Fencing: first})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	doneA := make(chan error, 1)
	go func() { doneA <- a.Run(ctx) }()
	select {
	case <-holding:
	case err := <-doneA:
		t.Fatalf("the first run ended before the held transaction: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the first run did not reach the held transaction")
	}
	require.Eventually(t, func() bool { return l.committedAtLeast(before) }, 20*time.Second, 10*time.Millisecond)
	require.Equal(t, int64(2), first.Epoch())

	// The second run, on another machine, takes over while the first is
	// held, and streams past what the first holds.
	l.exec("UPDATE a SET v = 'second' WHERE id = 1", "DELETE FROM b WHERE id = 2")
	end := l.db.Sync()
	second := NewFencing()
	srcB := l.source(memsource.Config{})
	require.NoError(t, runCoordinator(t, srcB, l.otherMachine(), runOpts{mode: transform.Upsert, fencing: second, wantStream: true,
		until: func() bool { return l.committedAtLeast(end) && acked(srcB, end)() }}))
	require.Equal(t, int64(3), second.Epoch())
	claimed := map[string][]int64{}
	for _, name := range l.tables {
		claimed[name] = l.epochs(name)
	}

	// Released, the first run applies the held transaction and stops at
	// its next commit.
	l.exec("UPDATE a SET v = 'late' WHERE id = 2")
	close(release)
	select {
	case err := <-doneA:
		requireFenced(t, err, 2, 3)
	case <-time.After(20 * time.Second):
		t.Fatal("the first run was not stopped by the second's claim")
	}
	for _, name := range l.tables {
		require.Equal(t, claimed[name], l.epochs(name), "table %s: committed to after the first run was released", name)
		eps := claimed[name]
		require.Contains(t, eps, int64(-3), "table %s: the second run claimed it", name)
		for i, e := range eps {
			if e == -3 {
				for _, later := range eps[i:] {
					require.Contains(t, []int64{-3, 3}, later, "table %s: a commit of another epoch after the claim (%v)", name, eps)
				}
			}
		}
	}
	l.checkpointsGrow()

	// The next run takes over from the second and holds every change.
	last := l.exec("UPDATE b SET v = 'third' WHERE id = 1")
	src := l.source(memsource.Config{})
	require.NoError(t, runCoordinator(t, src, l.cat, runOpts{mode: transform.Upsert, wantStream: true,
		until: func() bool { return l.committedAtLeast(last) && acked(src, last)() }}))
	l.checkpointsGrow()
	require.Equal(t, "late", l.row("a", 2))
}

// TestFencingRetryKeepsEpoch: a later attempt of a run (after a lost
// connection) keeps the run's epoch and claims nothing again; once a newer
// run has claimed the tables, the older run's next attempt stops instead
// of taking them back.
func TestFencingRetryKeepsEpoch(t *testing.T) {
	t.Parallel()
	l := newLake(t, transform.Upsert, "a", "b")
	l.exec(append(inserts("a", "a0", 1), inserts("b", "b0", 1)...)...)
	first := NewFencing()
	attempt := func(f *Fencing, cat *lakewriter.Catalog) error {
		pos := l.db.Sync()
		src := l.source(memsource.Config{})
		return runCoordinator(t, src, cat, runOpts{mode: transform.Upsert, fencing: f,
			until: func() bool { return acked(src, pos)() }})
	}
	require.NoError(t, attempt(first, l.cat))
	l.exec("UPDATE a SET v = 'a1' WHERE id = 1")
	require.NoError(t, attempt(first, l.cat))
	for _, name := range l.tables {
		eps := l.epochs(name)
		require.Equal(t, int64(-1), eps[0], "table %s: %v", name, eps)
		require.NotContains(t, eps[1:], int64(-1), "table %s: claimed twice by one run (%v)", name, eps)
	}

	second := NewFencing()
	l.exec("UPDATE b SET v = 'b1' WHERE id = 1")
	require.NoError(t, attempt(second, l.otherMachine()))
	require.Equal(t, int64(2), second.Epoch())

	l.exec("UPDATE a SET v = 'a2' WHERE id = 1")
	err := attempt(first, l.cat)
	requireFenced(t, err, 1, 2)
	require.Contains(t, err.Error(), "run "+second.Run, "the error names the run that took the tables over")
	for _, name := range l.tables {
		eps := l.epochs(name)
		require.Equal(t, int64(2), abs(eps[len(eps)-1]), "table %s: the older run took it back (%v)", name, eps)
	}
	l.checkpointsGrow()
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}
