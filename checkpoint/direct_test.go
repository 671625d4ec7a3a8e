package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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

var fakeLayout = &schema.Table{Columns: []schema.Column{
	{Name: "id", Type: iceberg.PrimitiveTypes.Int64},
	{Name: "v", Type: iceberg.PrimitiveTypes.String, Nullable: true},
}, Key: []int{0}}

// fakeSource is an exact snapshot source of in-memory tables keyed by an
// int64 id; a table may hold one id twice (a route key that is not
// unique), and reading one chunk may be made to fail.
type fakeSource struct {
	tables map[capture.TableID][]schema.Row // in key order
	order  []capture.TableID

	mu     sync.Mutex
	reads  map[string]int // "table/chunk" -> times read
	failOn string         // "table/chunk" whose read fails
}

var _ capture.Snapshotter = (*fakeSource)(nil)

func (s *fakeSource) Discover(context.Context) ([]capture.TableInfo, error) {
	var out []capture.TableInfo
	for _, id := range s.order {
		out = append(out, capture.TableInfo{ID: id, Schema: fakeLayout})
	}
	return out, nil
}

func (s *fakeSource) Start(context.Context, capture.StartRequest) (capture.StartInfo, error) {
	return capture.StartInfo{From: testPos(1), Exact: true}, nil
}

func (s *fakeSource) Stream(ctx context.Context, _ chan<- capture.Batch) error {
	<-ctx.Done()
	return ctx.Err()
}

func (s *fakeSource) Ack(capture.Position)                              {}
func (s *fakeSource) DecodePosition(p string) (capture.Position, error) { return decodeTestPos(p) }
func (s *fakeSource) Close() error                                      { return nil }
func (s *fakeSource) EndSnapshot(context.Context) error                 { return nil }

func (s *fakeSource) PlanChunks(_ context.Context, id capture.TableID, n int) ([]capture.Chunk, error) {
	var bounds [][]string
	rows := s.tables[id]
	for i := n - 1; i < len(rows); i += n {
		b := strconv.FormatInt(rows[i][0].(int64), 10)
		if len(bounds) == 0 || bounds[len(bounds)-1][0] != b {
			bounds = append(bounds, []string{b})
		}
	}
	return capture.ChunksFromBounds(bounds), nil
}

func (s *fakeSource) ReadChunk(_ context.Context, id capture.TableID, ch capture.Chunk) (capture.Batch, error) {
	name := fmt.Sprintf("%s/%d", id.Name, ch.Index)
	s.mu.Lock()
	s.reads[name]++
	fail := s.failOn == name
	s.mu.Unlock()
	if fail {
		return capture.Batch{}, errors.New("injected read failure")
	}
	bound := func(b []string) int64 {
		v, _ := strconv.ParseInt(b[0], 10, 64)
		return v
	}
	b := capture.Batch{Position: testPos(1), CommitTime: time.Unix(100, 0), Chunk: &capture.ChunkRef{Table: id, Index: ch.Index}}
	for _, r := range s.tables[id] {
		k := r[0].(int64)
		if (ch.Lower != nil && k <= bound(ch.Lower)) || (ch.Upper != nil && k > bound(ch.Upper)) {
			continue
		}
		b.Changes = append(b.Changes, capture.Change{Table: id, Op: capture.OpRead, Schema: fakeLayout, After: r})
	}
	return b, nil
}

func fakeTables() (*fakeSource, map[string][]schema.Row) {
	s := &fakeSource{tables: map[capture.TableID][]schema.Row{}, reads: map[string]int{}}
	want := map[string][]schema.Row{}
	add := func(name string, n int64, dup int64) {
		id := capture.TableID{Schema: "s", Name: name}
		var rows []schema.Row
		for k := int64(1); k <= n; k++ {
			rows = append(rows, schema.Row{k, name + strconv.FormatInt(k, 10)})
			if k == dup {
				rows = append(rows, schema.Row{k, "last image of " + strconv.FormatInt(k, 10)})
			}
		}
		s.tables[id] = rows
		s.order = append(s.order, id)
		for _, r := range rows {
			if len(want[name]) > 0 && want[name][len(want[name])-1][0] == r[0] {
				want[name][len(want[name])-1] = r // the buffer keeps a key's last image
				continue
			}
			want[name] = append(want[name], r)
		}
	}
	add("a", 230, 0)
	add("b", 170, 0)
	add("c", 60, 11) // id 11 twice: its chunk must go through the buffer
	return s, want
}

func runFake(t *testing.T, src *fakeSource, cat *lakewriter.Catalog, mode transform.Mode) error {
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
func checkTable(t *testing.T, cat *lakewriter.Catalog, src *fakeSource, name string, want []schema.Row) {
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
			src, want := fakeTables()
			if mode == transform.Changelog {
				src.tables[capture.TableID{Schema: "s", Name: "c"}] = want["c"] // no duplicate: a changelog keeps both
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
func TestSnapshotDirectResumesAfterFailure(t *testing.T) {
	ctx := context.Background()
	src, want := fakeTables()
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
	src.reads = map[string]int{}
	require.NoError(t, runFake(t, src, cat, transform.Upsert))
	for k := range src.reads {
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
	enc, err := es.get(tr)
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
	enc, err = es.get(other)
	require.NoError(t, err)
	require.Nil(t, enc)
}
