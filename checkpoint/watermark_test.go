package checkpoint

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/memsource"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/transform"
)

// watermarkSource reads chunk i at its own position 10+i and records what
// the coordinator tells it before streaming; its stream sends the given
// batches and then waits.
type watermarkSource struct {
	*tableSource
	stream []capture.Batch
	marks  chan map[capture.TableID]*capture.SnapshotPlan
}

var _ capture.Watermarker = (*watermarkSource)(nil)

func (s *watermarkSource) ReadChunk(ctx context.Context, id capture.TableID, ch capture.Chunk) (capture.Batch, error) {
	b, err := s.tableSource.ReadChunk(ctx, id, ch)
	b.Position = memsource.Pos(10 + ch.Index)
	return b, err
}

func (s *watermarkSource) SetWatermarks(_ context.Context, plans map[capture.TableID]*capture.SnapshotPlan) error {
	s.marks <- plans
	return nil
}

func (s *watermarkSource) Stream(ctx context.Context, out chan<- capture.Batch) error {
	for _, b := range s.stream {
		select {
		case out <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	<-ctx.Done()
	return ctx.Err()
}

// runWatermarked runs a streaming coordinator over src until until
// reports true, and returns the watermarks it handed the source.
func runWatermarked(t *testing.T, src *watermarkSource, cat *lakewriter.Catalog, until func() bool) map[capture.TableID]*capture.SnapshotPlan {
	t.Helper()
	return runWatermarkedIdle(t, src, cat, time.Millisecond, until)
}

// runWatermarkedIdle is runWatermarked with quiet tables advanced after
// idle.
func runWatermarkedIdle(t *testing.T, src *watermarkSource, cat *lakewriter.Catalog, idle time.Duration, until func() bool) map[capture.TableID]*capture.SnapshotPlan {
	t.Helper()
	src.marks = make(chan map[capture.TableID]*capture.SnapshotPlan, 1)
	c, err := New(Options{
		Pipeline: "p", Source: src, Catalog: cat, Router: transform.NewRouter("lake", nil), Mode: transform.Upsert,
		Config: Config{SnapshotMode: SnapshotInitial, SnapshotParallelism: 2, SnapshotChunkRows: 40,
			MaxCheckpointChanges: 100, Interval: 50 * time.Millisecond, IdleCommitInterval: idle},
		SpillDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var marks map[capture.TableID]*capture.SnapshotPlan
	select {
	case marks = <-src.marks:
	case err := <-done:
		cancel()
		t.Fatalf("run ended before streaming: %v", err)
	}
	require.Eventually(t, until, 10*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	return marks
}

func latestProps(t *testing.T, cat *lakewriter.Catalog, name string) map[string]string {
	t.Helper()
	ctx := context.Background()
	tbl, err := cat.LoadTable(ctx, lakewriter.Ident{Namespace: "lake", Name: name})
	require.NoError(t, err)
	ref, err := resnapshotBranch(ctx, tbl) // the ledger recovery reads
	require.NoError(t, err)
	props, err := tbl.LatestPropsOn(ctx, ref, ledger.CommitOf("p"))
	require.NoError(t, err)
	return props
}

// TestWatermarksKeptUntilPassed: chunks read at positions of their own
// are recorded with them; the source gets them before it streams, in this
// run and after a restart (from the tables' history alone), and a table
// forgets them once its committed position passes the latest.
func TestWatermarksKeptUntilPassed(t *testing.T) {
	fake, _ := fakeTables(t)
	src := &watermarkSource{tableSource: fake}
	from := fake.db.Position() // where the stream starts
	cat, _ := openCatalog(t)
	names := []string{"a", "b", "c"} // 6, 5 and 2 chunks of 40 rows: watermarks 10-15, 10-14, 10-11

	// Run 1: snapshot, then an idle stream at From.
	marks := runWatermarked(t, src, cat, func() bool { return true })
	require.Len(t, marks, 3)
	for _, name := range names {
		plan := marks[capture.TableID{Schema: "s", Name: name}]
		require.NotNil(t, plan, name)
		require.True(t, plan.Complete(), name)
		for _, ch := range plan.Chunks {
			require.Equal(t, memsource.Pos(10+ch.Index).String(), plan.Watermarks[ch.Index], "%s chunk %d", name, ch.Index)
		}
		props := latestProps(t, cat, name)
		require.Equal(t, from.String(), props[ledger.PropPosition], name)
		committed, err := capture.DecodeSnapshotPlan(props[ledger.PropSnapshot])
		require.NoError(t, err, name)
		require.Equal(t, plan.Watermarks, committed.Watermarks, name)
	}

	// Run 2, with no local state: the plans come back from history. The
	// stream reaches 15, past every table's latest watermark (a 15, b 14,
	// c 11); b changes at 13 only, c at 15, and quiet tables advance.
	src.stream = []capture.Batch{
		{Position: memsource.Pos(13), CommitTime: time.Now(), Changes: []capture.Change{
			{Table: capture.TableID{Schema: "s", Name: "b"}, Op: capture.OpUpdate, Schema: fakeLayout, After: schema.Row{int64(1), "b1 later"}}}},
		{Position: memsource.Pos(15), CommitTime: time.Now(), Changes: []capture.Change{
			{Table: capture.TableID{Schema: "s", Name: "a"}, Op: capture.OpUpdate, Schema: fakeLayout, After: schema.Row{int64(1), "a1 later"}},
			{Table: capture.TableID{Schema: "s", Name: "c"}, Op: capture.OpUpdate, Schema: fakeLayout, After: schema.Row{int64(1), "c1 later"}}}},
	}
	for fake.db.Position() < 15 { // the log reaches the stream's positions
		fake.db.Heartbeat()
	}
	src.resetReads()
	marks = runWatermarked(t, src, cat, func() bool {
		for _, name := range names {
			if latestProps(t, cat, name)[ledger.PropPosition] != memsource.Pos(15).String() {
				return false
			}
		}
		return true
	})
	require.Empty(t, src.chunkReads(), "a complete snapshot was read again")
	require.Len(t, marks, 3, "restored from history")
	for _, name := range names {
		require.NotContains(t, latestProps(t, cat, name), ledger.PropSnapshot, "%s passed its watermarks", name)
	}

	// Run 3: nothing left to reconcile.
	src.stream = nil
	marks = runWatermarked(t, src, cat, func() bool { return true })
	require.Empty(t, marks)
}

// TestPassedWindowAdvancesAtOnce: when every change of a table inside
// its snapshot window was held by its chunks (the source dropped them),
// the stream brings nothing for it but positions; once they pass its
// latest chunk watermark, the table's position moves up at the next
// checkpoint, not after the idle interval. Before that rule, a MariaDB
// run whose snapshot had been slowed down (latency on the source) kept
// such tables at the snapshot's start for the 5-minute idle interval: a
// marker written during the snapshot, read by the last chunk, never
// showed up as committed, and TestFaults/mariadb-source waited for it in
// vain while the server sent heartbeats.
func TestPassedWindowAdvancesAtOnce(t *testing.T) {
	fake, _ := fakeTables(t)
	src := &watermarkSource{tableSource: fake}
	cat, _ := openCatalog(t)
	names := []string{"a", "b", "c"} // latest watermarks 15, 14 and 11
	runWatermarked(t, src, cat, func() bool { return true })

	// The stream passes every watermark with nothing but positions.
	src.stream = []capture.Batch{{Position: memsource.Pos(16), CommitTime: time.Now()}}
	for fake.db.Position() < 16 { // the log reaches the stream's position
		fake.db.Heartbeat()
	}
	src.resetReads()
	runWatermarkedIdle(t, src, cat, time.Hour, func() bool {
		for _, name := range names {
			if latestProps(t, cat, name)[ledger.PropPosition] != memsource.Pos(16).String() {
				return false
			}
		}
		return true
	})
	for _, name := range names {
		require.NotContains(t, latestProps(t, cat, name), ledger.PropSnapshot, "%s passed its watermarks", name)
	}
}
