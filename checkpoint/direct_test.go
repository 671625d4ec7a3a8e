package checkpoint

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/transform"
)

// fakeLayout is the layout of the tables of a tableSource, for
// hand-made stream batches.
var fakeLayout = &schema.Table{Columns: []schema.Column{
	{Name: "id", Type: iceberg.PrimitiveTypes.Int64},
	{Name: "v", Type: iceberg.PrimitiveTypes.String, Nullable: true},
}, Key: []int{0}}

// fakeTables returns a tableSource of tables a, b and c (230, 170 and 60
// rows "<name><id>"; in c's chunks id 11 has a second, later image) and
// the rows each table must end with.
func fakeTables(t *testing.T) (*tableSource, map[string][]schema.Row) {
	s := newTableSource(t)
	want := map[string][]schema.Row{}
	for _, tb := range []struct {
		name string
		n    int64
	}{{"a", 230}, {"b", 170}, {"c", 60}} {
		s.addTable(tb.name, tb.n, "")
		for k := int64(1); k <= tb.n; k++ {
			want[tb.name] = append(want[tb.name], schema.Row{k, tb.name + strconv.FormatInt(k, 10)})
		}
	}
	s.dupKey = 11 // its chunk must go through the buffer, which keeps the last image
	want["c"][10] = schema.Row{int64(11), "last image of 11"}
	return s, want
}

func runFake(t *testing.T, src *tableSource, cat *lakewriter.Catalog, mode transform.Mode) error {
	t.Helper()
	c, err := New(Options{
		Pipeline: "p", Source: src, Catalog: cat, Router: transform.NewRouter("lake", nil), Mode: mode,
		Config: Config{SnapshotMode: SnapshotInitialOnly, SnapshotParallelism: 2, SnapshotChunkRows: 40,
			MaxCheckpointChanges: 100, Interval: time.Hour},
		SpillDir: t.TempDir(),
		Logger:   slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	return c.Run(context.Background())
}

func openCatalog(t *testing.T) (*lakewriter.Catalog, string) {
	dir := t.TempDir()
	cat, err := lakewriter.Open(context.Background(), lakewriter.Options{
		URI: "sqlite://" + filepath.Join(dir, "catalog.db"), Warehouse: filepath.Join(dir, "warehouse"),
	})
	require.NoError(t, err)
	t.Cleanup(func() { cat.Close() })
	return cat, dir
}

// checkTable checks the table's rows and that every snapshot of its
// history holds exactly the rows of the chunks it records as done.
func checkTable(t *testing.T, cat *lakewriter.Catalog, src *tableSource, name string, want []schema.Row) {
	t.Helper()
	ctx := context.Background()
	tbl, err := cat.LoadTable(ctx, lakewriter.Ident{Namespace: "lake", Name: name})
	require.NoError(t, err)
	var got []schema.Row
	require.NoError(t, tbl.Scan(ctx, func(r schema.Row) error {
		got = append(got, r[:2])
		return nil
	}))
	require.ElementsMatch(t, want, got, "table %s", name)

	hist, err := tbl.History(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, hist)
	require.NotContains(t, hist[0].Props, ledger.PropSnapshot, "the last commit of %s still carries a snapshot plan", name)
	id := capture.TableID{Schema: "s", Name: name}
	prevDone := -1
	for i := len(hist) - 1; i >= 0; i-- {
		p := hist[i].Props
		if ledger.IsClaim(p) {
			continue
		}
		total, err := strconv.Atoi(p["total-records"])
		require.NoError(t, err)
		if p[ledger.PropSnapshot] == "" {
			require.Equal(t, len(want), total, "%s: complete snapshot", name)
			continue
		}
		plan, err := capture.DecodeSnapshotPlan(p[ledger.PropSnapshot])
		require.NoError(t, err)
		require.Greater(t, len(plan.Done), prevDone, "%s: plan progress must grow", name)
		prevDone = len(plan.Done)
		rows := 0
		for _, ch := range plan.Chunks {
			if plan.Done[ch.Index] {
				b, err := src.ReadChunk(ctx, id, ch)
				require.NoError(t, err)
				keys := map[int64]bool{}
				for _, c := range b.Changes {
					keys[c.After[0].(int64)] = true
				}
				rows += len(keys)
			}
		}
		require.Equal(t, rows, total, "%s snapshot %d: rows committed vs chunks done", name, hist[i].ID)
	}
}

// TestSnapshotDirectKeepsPlanProgress: chunks written straight to data
// files (and one that needs the buffer) are committed with their
// completion, table by table, over several checkpoints.
func TestSnapshotDirectKeepsPlanProgress(t *testing.T) {
	for _, mode := range []transform.Mode{transform.Upsert, transform.Changelog} {
		t.Run(mode.String(), func(t *testing.T) {
			src, want := fakeTables(t)
			if mode == transform.Changelog {
				src.dupKey = 0 // no second image: a changelog keeps both
				want["c"][10] = schema.Row{int64(11), "c11"}
			}
			cat, _ := openCatalog(t)
			require.NoError(t, runFake(t, src, cat, mode))
			for _, name := range []string{"a", "b", "c"} {
				checkTable(t, cat, src, name, want[name])
			}
		})
	}
}

// TestSnapshotDirectResumesAfterFailure: a run that fails mid-snapshot
// leaves what it committed committed; the next run reads only the chunks
// not done and ends with every row exactly once.
// TestFailedChunkReadStopsTheOtherReaders: a chunk read that fails ends
// the snapshot at once, also while another reader waits on a read of its
// own (a silent connection, until its read bound). Before, the failure
// reached the snapshot only when every reader had finished, so floe run
// restarted only after the slowest read ended. (The snapshot's first
// chunk is read alone, see chunkBudget, so the two reads are later ones.)
func TestFailedChunkReadStopsTheOtherReaders(t *testing.T) {
	src, _ := fakeTables(t)
	src.failOn, src.holdOn = "a/2", "a/1"
	cat, _ := openCatalog(t)
	done := make(chan error, 1)
	go func() { done <- runFake(t, src, cat, transform.Upsert) }()
	select {
	case err := <-done:
		require.ErrorContains(t, err, "injected read failure")
	case <-time.After(10 * time.Second):
		t.Fatal("the snapshot did not end after a chunk read failed: it waits for the other reader's read")
	}
}

func TestSnapshotDirectResumesAfterFailure(t *testing.T) {
	ctx := context.Background()
	src, want := fakeTables(t)
	src.failOn = "b/2"
	cat, dir := openCatalog(t)
	err := runFake(t, src, cat, transform.Upsert)
	require.ErrorContains(t, err, "injected read failure")

	// Chunks committed by the failed run.
	done := map[string]bool{}
	for _, name := range []string{"a", "b", "c"} {
		tbl, err := cat.LoadTable(ctx, lakewriter.Ident{Namespace: "lake", Name: name})
		require.NoError(t, err)
		props, err := tbl.LatestProps(ctx, ledger.CommitOf("p"))
		require.NoError(t, err)
		if props == nil {
			continue
		}
		if props[ledger.PropSnapshot] == "" { // the table's snapshot completed
			done[name+"/*"] = true
			continue
		}
		plan, err := capture.DecodeSnapshotPlan(props[ledger.PropSnapshot])
		require.NoError(t, err, "table %s", name)
		for i := range plan.Done {
			done[fmt.Sprintf("%s/%d", name, i)] = true
		}
	}
	require.NotEmpty(t, done, "the failed run committed nothing; the test needs an earlier checkpoint")

	src.failOn = ""
	src.resetReads()
	require.NoError(t, runFake(t, src, cat, transform.Upsert))
	for k := range src.chunkReads() {
		require.False(t, done[k] || done[k[:strings.Index(k, "/")]+"/*"], "chunk %s was read again after being committed", k)
	}
	for _, name := range []string{"a", "b", "c"} {
		checkTable(t, cat, src, name, want[name])
	}
	// Every data file on disk is referenced: the failed run removed the
	// files it had written but not committed.
	files := 0
	require.NoError(t, filepath.WalkDir(filepath.Join(dir, "warehouse"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".parquet") {
			files++
		}
		return err
	}))
	live := 0
	for _, name := range []string{"a", "b", "c"} {
		tbl, err := cat.LoadTable(ctx, lakewriter.Ident{Namespace: "lake", Name: name})
		require.NoError(t, err)
		n, _, err := tbl.FileCounts(ctx)
		require.NoError(t, err)
		live += n
	}
	require.Equal(t, live, files, "data files on disk vs referenced by the tables")
}

// TestChunkEncoderRoutes: chunks of reads with unique keys are encoded
// for the data writer; a chunk with a repeated key, and every chunk of a
// table whose sink key differs from its source key, go to the buffer.
func TestChunkEncoderRoutes(t *testing.T) {
	ctx := context.Background()
	cat, _ := openCatalog(t)
	layout := transform.SinkLayout(fakeLayout, transform.Upsert)
	tbl, err := cat.EnsureTable(ctx, lakewriter.Ident{Namespace: "lake", Name: "t"}, layout, layout.Key)
	require.NoError(t, err)
	tr := &tableRun{id: capture.TableID{Schema: "s", Name: "t"}, src: fakeLayout, layout: tbl.Layout(), table: tbl}
	es := chunkEncoders{mode: transform.Upsert, m: map[*tableRun]*chunkEncoder{}}
	defer es.release()
	enc, err := es.get(tr, nil)
	require.NoError(t, err)
	require.NotNil(t, enc)

	read := func(ids ...int64) capture.Batch {
		b := capture.Batch{Position: testPos(1), Chunk: &capture.ChunkRef{Table: tr.id}}
		for _, id := range ids {
			b.Changes = append(b.Changes, capture.Change{Table: tr.id, Op: capture.OpRead, Schema: fakeLayout, After: schema.Row{id, "x"}})
		}
		return b
	}
	rows, err := enc.encode(read(1, 2, 3))
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.Equal(t, int64(3), rows[0].Len())
	rows[0].Release()

	rows, err = enc.encode(read(4, 5, 4))
	require.NoError(t, err)
	require.Nil(t, rows, "a chunk with a repeated key must go through the buffer")

	rekeyed := &schema.Table{Columns: fakeLayout.Columns, Key: []int{1}}
	other := &tableRun{id: tr.id, src: rekeyed, layout: tbl.Layout(), table: tbl}
	require.False(t, directTable(other, transform.Upsert))
	require.True(t, directTable(other, transform.Changelog))
	enc, err = es.get(other, nil)
	require.NoError(t, err)
	require.Nil(t, enc)
}
