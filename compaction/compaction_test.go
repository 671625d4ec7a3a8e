package compaction

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"iter"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
	"github.com/floe-cdc/floe/schema"
)

var update = flag.Bool("update", false, "rewrite golden files")

// lake is one SQLite catalog and local warehouse in a temp dir. open
// returns another Catalog on the same files, as a second process would
// have (its own commit locks).
type lake struct {
	dir string
}

func newLake(t *testing.T) lake { return lake{dir: t.TempDir()} }

func (l lake) open(t *testing.T) *lakewriter.Catalog {
	t.Helper()
	c, err := lakewriter.Open(context.Background(), lakewriter.Options{
		URI:       "sqlite://" + filepath.Join(l.dir, "catalog.db"),
		Warehouse: filepath.Join(l.dir, "warehouse"),
	})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// layout is (id long key, name string, qty int nullable).
func layout() *schema.Table {
	return &schema.Table{
		Columns: []schema.Column{
			{Name: "id", Type: iceberg.PrimitiveTypes.Int64},
			{Name: "name", Type: iceberg.PrimitiveTypes.String},
			{Name: "qty", Type: iceberg.PrimitiveTypes.Int32, Nullable: true},
		},
		Key: []int{0},
	}
}

func ensure(t *testing.T, c *lakewriter.Catalog) *lakewriter.Table {
	t.Helper()
	l := layout()
	tbl, err := c.EnsureTable(context.Background(), lakewriter.Ident{Namespace: "db", Name: "orders"}, l, l.Key)
	require.NoError(t, err)
	return tbl
}

func rows(rs []schema.Row) iter.Seq2[schema.Row, error] {
	return func(yield func(schema.Row, error) bool) {
		for _, r := range rs {
			if !yield(r, nil) {
				return
			}
		}
	}
}

// model is what the table must hold: id -> row.
type model map[int64]schema.Row

// ingest commits one upsert checkpoint of n random changes over keys
// [0, keys): each change replaces or deletes its key, as Floe's upsert
// commits do (equality delete of the key, plus the new image).
func ingest(t *testing.T, tbl *lakewriter.Table, m model, rng *rand.Rand, checkpoint, n, keys int) {
	t.Helper()
	touched := map[int64]bool{}
	for range n {
		id := rng.Int64N(int64(keys))
		touched[id] = true
		if rng.IntN(4) == 0 {
			delete(m, id)
		} else {
			m[id] = schema.Row{id, fmt.Sprintf("v%d-%d", checkpoint, rng.IntN(1000)), int32(rng.IntN(100))}
		}
	}
	var data, del []schema.Row
	for id := range touched {
		del = append(del, schema.Row{id})
		if r, ok := m[id]; ok {
			data = append(data, r)
		}
	}
	token := fmt.Sprint(checkpoint)
	_, err := tbl.Commit(context.Background(), lakewriter.Commit{
		Rows: rows(data), DeleteKeys: rows(del), Token: "floe.checkpoint",
		Props: map[string]string{"floe.pipeline": "p", "floe.checkpoint": token, "floe.version": "1"},
	})
	require.NoError(t, err)
}

// passCounts is what passesDuring saw.
type passCounts struct {
	rewrites, conflicts int
	err                 error // the first error other than ErrConflict
}

// passesDuring runs compaction passes on tbl back to back while work
// runs, and stops at the first pass error other than ErrConflict.
func passesDuring(tbl *lakewriter.Table, work func()) passCounts {
	var out passCounts
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			res, err := Compact(context.Background(), tbl, Options{MinInputFiles: 2})
			switch {
			case errors.Is(err, ErrConflict):
				out.conflicts++
			case err != nil:
				out.err = err
				return
			case res.SnapshotID != 0:
				out.rewrites++
			}
		}
	})
	work()
	close(stop)
	wg.Wait()
	return out
}

// seeded opens a fresh lake and table and commits checkpoints 1..n of
// the given size over keys [0, keys), with a generator seeded by seed.
func seeded(t *testing.T, seed uint64, n, changes, keys int) (*lakewriter.Table, model, *rand.Rand) {
	t.Helper()
	tbl := ensure(t, newLake(t).open(t))
	m := model{}
	rng := rand.New(rand.NewPCG(seed, seed+1))
	for cp := 1; cp <= n; cp++ {
		ingest(t, tbl, m, rng, cp, changes, keys)
	}
	return tbl, m, rng
}

// requireEqual compares the table's live rows with m, row by row.
func requireEqual(t *testing.T, tbl *lakewriter.Table, m model) {
	t.Helper()
	got := map[int64]schema.Row{}
	require.NoError(t, tbl.Scan(context.Background(), func(r schema.Row) error {
		id := r[0].(int64)
		if _, dup := got[id]; dup {
			return fmt.Errorf("key %d appears twice", id)
		}
		got[id] = r
		return nil
	}))
	var missing, extra, differ []int64
	for id, want := range m {
		g, ok := got[id]
		switch {
		case !ok:
			missing = append(missing, id)
		case fmt.Sprint(g) != fmt.Sprint(want):
			differ = append(differ, id)
		}
	}
	for id := range got {
		if _, ok := m[id]; !ok {
			extra = append(extra, id)
		}
	}
	require.Empty(t, missing, "rows lost")
	require.Empty(t, extra, "rows resurrected or invented")
	require.Empty(t, differ, "rows with wrong values")
}

func TestCompactAppliesDeletesAndBinPacks(t *testing.T) {
	ctx := context.Background()
	tbl, m, rng := seeded(t, 1, 25, 40, 300)
	data, deletes, err := tbl.FileCounts(ctx)
	require.NoError(t, err)
	require.Greater(t, data, 20)
	require.Greater(t, deletes, 20)
	before, err := tbl.LatestProps(ctx, ledger.CommitOf("p"))
	require.NoError(t, err)

	res, err := Compact(ctx, tbl, Options{MinInputFiles: 2})
	require.NoError(t, err)
	require.NotZero(t, res.SnapshotID)
	require.Equal(t, data, res.RewrittenDataFiles)
	require.Equal(t, deletes, res.RemovedDeleteFiles)

	requireEqual(t, tbl, m)
	data, deletes, err = tbl.FileCounts(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, data, "a small table compacts into one file")
	require.Zero(t, deletes, "every delete was applied and dropped")

	// Recovery still finds the last ingestion commit's position.
	after, err := tbl.LatestProps(ctx, ledger.CommitOf("p"))
	require.NoError(t, err)
	require.Equal(t, before["floe.checkpoint"], after["floe.checkpoint"])

	// Ingestion goes on over the compacted table, and a second pass
	// over a clean table does nothing.
	ingest(t, tbl, m, rng, 26, 40, 300)
	requireEqual(t, tbl, m)
	res, err = Compact(ctx, tbl, Options{MinInputFiles: 3, DeleteFileThreshold: 5})
	require.NoError(t, err)
	require.Zero(t, res.SnapshotID, "one delete file is below the threshold of 5 and 2 small files do not reach 3")
	requireEqual(t, tbl, m)
}

// TestCompactBesideIngestionInProcess runs passes while the same process
// commits: the shared commit lock means no pass ever conflicts.
func TestCompactBesideIngestionInProcess(t *testing.T) {
	c := newLake(t).open(t)
	ingestTbl := ensure(t, c)
	compactTbl := ensure(t, c) // a second handle, as the background compactor has
	m := model{}
	rng := rand.New(rand.NewPCG(3, 4))
	ingest(t, ingestTbl, m, rng, 1, 50, 200)

	passes := passesDuring(compactTbl, func() {
		for cp := 2; cp <= 40; cp++ {
			ingest(t, ingestTbl, m, rng, cp, 30, 200)
		}
	})
	require.NoError(t, passes.err, "a pass in the committing process must never conflict")
	require.Zero(t, passes.conflicts)
	require.Positive(t, passes.rewrites, "some passes rewrote files")
	requireEqual(t, ingestTbl, m)
}

// TestCompactBesideIngestionElsewhere runs passes through a second
// catalog handle (another process's view, its own locks) while the first
// commits updates and deletes. A pass that overlaps a commit must fail
// with ErrConflict, never commit over the new deletes: the table stays
// equal to the model after every step.
func TestCompactBesideIngestionElsewhere(t *testing.T) {
	l := newLake(t)
	ingestTbl := ensure(t, l.open(t))
	compactTbl := ensure(t, l.open(t))
	m := model{}
	rng := rand.New(rand.NewPCG(5, 6))
	ingest(t, ingestTbl, m, rng, 1, 50, 200)

	passes := passesDuring(compactTbl, func() {
		for cp := 2; cp <= 40; cp++ {
			ingest(t, ingestTbl, m, rng, cp, 30, 200)
			time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
		}
	})
	require.NoError(t, passes.err)
	t.Logf("passes: %d rewrites, %d conflicts", passes.rewrites, passes.conflicts)
	requireEqual(t, ingestTbl, m)

	// Quiet now (after one more commit to give it work): a pass from the
	// other handle succeeds and changes nothing a reader sees.
	ingest(t, ingestTbl, m, rng, 41, 30, 200)
	res, err := Compact(context.Background(), compactTbl, Options{MinInputFiles: 2})
	require.NoError(t, err)
	require.NotZero(t, res.SnapshotID)
	requireEqual(t, ingestTbl, m)
	_, deletes, err := ingestTbl.FileCounts(context.Background())
	require.NoError(t, err)
	require.Zero(t, deletes)
}

func TestExpireKeepsTheNewestIngestionSnapshot(t *testing.T) {
	ctx := context.Background()
	tbl, m, _ := seeded(t, 7, 8, 20, 100)
	oldFiles := dataFilesOnDisk(t, tbl)
	// The rewrite is newer than the last ingestion commit; expiring
	// everything older than a millisecond with RetainLast 1 would drop
	// that commit, and with it the table's committed position.
	time.Sleep(5 * time.Millisecond)
	res, err := Compact(ctx, tbl, Options{MinInputFiles: 2, ExpireOlderThan: time.Millisecond, RetainLast: 1})
	require.NoError(t, err)
	require.NotZero(t, res.SnapshotID)
	require.Equal(t, 7, res.ExpiredSnapshots, "9 snapshots, keeping the last ingestion commit and the rewrite")

	hist, err := tbl.History(ctx)
	require.NoError(t, err)
	require.Len(t, hist, 2)
	require.Equal(t, "8", hist[1].Props["floe.checkpoint"])
	props, err := tbl.LatestProps(ctx, ledger.CommitOf("p"))
	require.NoError(t, err)
	require.Equal(t, "8", props["floe.checkpoint"])
	requireEqual(t, tbl, m)
	// The kept ingestion commit still references every data file the
	// rewrite replaced: none may be deleted (TestExpireBeyondMaxSnapshots
	// sees files go).
	require.Equal(t, len(oldFiles)+1, len(dataFilesOnDisk(t, tbl)), "the old files and the rewrite's")
}

func TestExpireWithNothingOldEnough(t *testing.T) {
	// More snapshots than RetainLast, none older than ExpireOlderThan: the
	// pass expires nothing and that is not a failure (a crash test's final
	// `floe compact` ran into this as "commit snapshot expiry: <nil>").
	ctx := context.Background()
	tbl, m, _ := seeded(t, 7, 8, 20, 100)
	before, err := tbl.History(ctx)
	require.NoError(t, err)
	res, err := Compact(ctx, tbl, Options{MinInputFiles: 2, ExpireOlderThan: time.Hour, RetainLast: 1})
	require.NoError(t, err)
	require.Zero(t, res.ExpiredSnapshots)
	after, err := tbl.History(ctx)
	require.NoError(t, err)
	require.Len(t, after, len(before)+1, "every snapshot kept, plus the rewrite")
	requireEqual(t, tbl, m)
}

// TestExpireBeyondMaxSnapshots: a table holding more than MaxSnapshots
// snapshots, none older than ExpireOlderThan, keeps only the newest
// MaxSnapshots (each snapshot adds to the metadata file every commit
// writes), never the newest ingestion commit, and the files only the
// expired ones referenced are deleted.
func TestExpireBeyondMaxSnapshots(t *testing.T) {
	ctx := context.Background()
	tbl, m, rng := seeded(t, 7, 8, 20, 100)
	oldFiles := dataFilesOnDisk(t, tbl)
	res, err := Compact(ctx, tbl, Options{MinInputFiles: 2})
	require.NoError(t, err)
	require.NotZero(t, res.SnapshotID, "the first pass rewrites, and expires nothing")
	for cp := 9; cp <= 12; cp++ {
		ingest(t, tbl, m, rng, cp, 20, 100)
	}
	before, err := tbl.History(ctx)
	require.NoError(t, err)
	res, err = Compact(ctx, tbl, Options{MinInputFiles: 100, ExpireOlderThan: time.Hour, RetainLast: 1, MaxSnapshots: 3})
	require.NoError(t, err)
	require.GreaterOrEqual(t, res.ExpiredSnapshots, len(before)-3, "3 of the %d in main's history kept", len(before))
	hist, err := tbl.History(ctx)
	require.NoError(t, err)
	require.Len(t, hist, 3)
	props, err := tbl.LatestProps(ctx, ledger.CommitOf("p"))
	require.NoError(t, err)
	require.Equal(t, "12", props["floe.checkpoint"])
	requireEqual(t, tbl, m)
	// The data files the rewrite replaced were referenced only by the
	// expired commits: deleted.
	onDisk := dataFilesOnDisk(t, tbl)
	for f := range oldFiles {
		require.False(t, onDisk[f], "file of an expired snapshot still on disk: %s", f)
	}

	// Within the bound and with nothing old enough, nothing expires.
	res, err = Compact(ctx, tbl, Options{MinInputFiles: 2, ExpireOlderThan: time.Hour, RetainLast: 1, MaxSnapshots: 3})
	require.NoError(t, err)
	require.Zero(t, res.ExpiredSnapshots)
}

func TestRemoveOrphansOnlyOldUnreferencedFiles(t *testing.T) {
	ctx := context.Background()
	tbl, m, _ := seeded(t, 9, 3, 20, 100)
	dataDir := filepath.Join(localPath(t, tbl.Location()), "data")
	oldOrphan := filepath.Join(dataDir, "orphan-old.parquet")
	newOrphan := filepath.Join(dataDir, "orphan-new.parquet")
	past := time.Now().Add(-2 * time.Hour)
	// Referenced files as old as the orphan must survive.
	referenced := dataFilesOnDisk(t, tbl)
	for f := range referenced {
		require.NoError(t, os.Chtimes(f, past, past))
	}
	require.NoError(t, os.WriteFile(oldOrphan, []byte("x"), 0o644))
	require.NoError(t, os.WriteFile(newOrphan, []byte("x"), 0o644))
	require.NoError(t, os.Chtimes(oldOrphan, past, past))

	res, err := Compact(ctx, tbl, Options{MinInputFiles: 1000, DeleteFileThreshold: 1000, OrphansOlderThan: time.Hour})
	require.NoError(t, err)
	require.Zero(t, res.SnapshotID)
	require.Equal(t, 1, res.RemovedOrphans)
	require.NoFileExists(t, oldOrphan)
	require.FileExists(t, newOrphan)
	for f := range referenced {
		require.FileExists(t, f)
	}
	requireEqual(t, tbl, m)
}

// TestCompactionPropsGolden pins the summary properties of a rewrite
// snapshot (a persisted format).
func TestCompactionPropsGolden(t *testing.T) {
	ctx := context.Background()
	tbl, _, _ := seeded(t, 11, 3, 20, 100)
	res, err := Compact(ctx, tbl, Options{MinInputFiles: 2})
	require.NoError(t, err)
	hist, err := tbl.History(ctx)
	require.NoError(t, err)
	require.Equal(t, res.SnapshotID, hist[0].ID)
	var lines []string
	for k, v := range hist[0].Props {
		if !strings.HasPrefix(k, "floe.") {
			continue
		}
		if k == ledger.PropCompaction {
			require.Regexp(t, regexp.MustCompile(`^[0-9a-f]{16}$`), v)
			v = "<16 hex digits>"
		}
		lines = append(lines, k+"="+v)
	}
	sort.Strings(lines)
	got := strings.Join(lines, "\n") + "\n"
	golden := filepath.Join("testdata", "rewrite-props.golden")
	if *update {
		require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.Equal(t, string(want), got, "the rewrite snapshot's properties changed: bump ledger.CompactionVersion and rerun with -update")
}

// dataFilesOnDisk lists the Parquet files under the table's data dir.
func dataFilesOnDisk(t *testing.T, tbl *lakewriter.Table) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	root := filepath.Join(localPath(t, tbl.Location()), "data")
	require.NoError(t, filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".parquet") {
			out[p] = true
		}
		return err
	}))
	return out
}

func localPath(t *testing.T, loc string) string {
	t.Helper()
	u, err := url.Parse(loc)
	require.NoError(t, err)
	if u.Scheme == "" {
		return loc
	}
	require.Equal(t, "file", u.Scheme)
	return u.Path
}

// TestRepeatedRewriteAndExpiry expires, pass after pass, snapshots whose
// files earlier passes already rewrote and removed: no pass may fail on
// the files that are gone, and the rows stay.
func TestRepeatedRewriteAndExpiry(t *testing.T) {
	ctx := context.Background()
	c := newLake(t).open(t)
	tbl := ensure(t, c)
	m := model{}
	rng := rand.New(rand.NewPCG(13, 14))
	cp := 0
	for pass := range 4 {
		for range 3 {
			cp++
			ingest(t, tbl, m, rng, cp, 20, 100)
		}
		time.Sleep(2 * time.Millisecond)
		res, err := Compact(ctx, tbl, Options{MinInputFiles: 2, ExpireOlderThan: time.Millisecond, RetainLast: 1})
		require.NoError(t, err, "pass %d", pass)
		require.NotZero(t, res.SnapshotID, "pass %d", pass)
		requireEqual(t, tbl, m)
	}
}

// TestMaxRewriteBytes rewrites a bounded part of the table per pass: the
// deletes of the files left for later keep applying, and pass after pass
// the table ends compacted, equal to the model throughout.
func TestMaxRewriteBytes(t *testing.T) {
	ctx := context.Background()
	tbl, m, _ := seeded(t, 15, 12, 30, 400)
	data, _, err := tbl.FileCounts(ctx)
	require.NoError(t, err)
	// Tiny targets make one bin per two files; the budget lets one bin in.
	opts := Options{TargetFileSize: 4 << 10, MinInputFiles: 2, MaxRewriteBytes: 1}
	passes := 0
	for ; passes < 3*data; passes++ {
		res, err := Compact(ctx, tbl, opts)
		require.NoError(t, err)
		requireEqual(t, tbl, m)
		if res.SnapshotID == 0 {
			break
		}
		require.Less(t, res.RewrittenDataFiles, data, "a pass within the budget rewrote every file")
	}
	require.Greater(t, passes, 1, "the budget split the work over passes")
	_, deletes, err := tbl.FileCounts(ctx)
	require.NoError(t, err)
	require.Zero(t, deletes, "once every file was rewritten, every delete was dropped")
}

// TestExpireKeepsEachPipelinesDeadLetterMarks: on a table that pipelines
// share for their dead letters, expiry keeps the newest dead-letters
// commit of every pipeline (their marks and counts), not only the newest
// commit, however many rewrites and commits came after it.
func TestExpireKeepsEachPipelinesDeadLetterMarks(t *testing.T) {
	ctx := context.Background()
	tbl := ensure(t, newLake(t).open(t))
	m := model{}
	commitMarks := func(pipeline string, checkpoint int64, count int64) {
		t.Helper()
		id := int64(len(m))
		m[id] = schema.Row{id, pipeline, int32(checkpoint)}
		d := ledger.DeadLetters{Pipeline: pipeline, Tables: map[string]ledger.DeadLetterMark{
			"s.t": {Position: fmt.Sprint(checkpoint), Checkpoint: checkpoint, Count: count}}}
		_, err := tbl.Commit(ctx, lakewriter.Commit{Rows: rows([]schema.Row{m[id]}), Props: d.Props(1, checkpoint),
			Token: ledger.PropDeadLettersCommit})
		require.NoError(t, err)
	}
	commitMarks("p1", 1, 3)
	commitMarks("p2", 1, 5) // p2's newest
	for cp := int64(2); cp <= 6; cp++ {
		commitMarks("p1", cp, 3+cp)
	}
	time.Sleep(5 * time.Millisecond)
	res, err := Compact(ctx, tbl, Options{MinInputFiles: 2, ExpireOlderThan: time.Millisecond, RetainLast: 1})
	require.NoError(t, err)
	require.NotZero(t, res.SnapshotID, "the pass rewrote the table")
	require.Equal(t, 1, res.ExpiredSnapshots, "8 snapshots: only p1's first commit is older than p2's newest")
	for pipeline, want := range map[string]int64{"p1": 9, "p2": 5} {
		props, err := tbl.LatestProps(ctx, ledger.DeadLettersOf(pipeline))
		require.NoError(t, err)
		require.NotNil(t, props, "%s's marks were expired", pipeline)
		d, err := ledger.ParseDeadLetters(props[ledger.PropDeadLetters])
		require.NoError(t, err)
		require.Equal(t, want, d.Tables["s.t"].Count, pipeline)
	}
	requireEqual(t, tbl, m)
}

// TestCompactLeavesTheResnapshotBranch: while a table is re-snapshotted
// on lakewriter.ResnapshotBranch, a pass with expiry and orphan removal
// as aggressive as they go rewrites nothing, main keeps its rows, and the
// branch keeps its rows and its newest commit, so that the fast-forward
// then makes them main's.
func TestCompactLeavesTheResnapshotBranch(t *testing.T) {
	ctx := context.Background()
	tbl, m, _ := seeded(t, 3, 6, 20, 100)
	next := model{}
	for cp := int64(100); cp < 103; cp++ {
		var batch []schema.Row
		for id := (cp - 100) * 10; id < (cp-99)*10; id++ {
			r := schema.Row{id, fmt.Sprintf("branch %d", cp), int32(cp)}
			batch = append(batch, r)
			next[id] = r
		}
		_, err := tbl.Commit(ctx, lakewriter.Commit{Rows: rows(batch), DeleteAll: cp == 100, Branch: lakewriter.ResnapshotBranch,
			Props: ledger.Commit{Pipeline: "p", Checkpoint: cp}.Props(), Token: ledger.PropCheckpoint})
		require.NoError(t, err)
	}
	time.Sleep(5 * time.Millisecond)
	res, err := Compact(ctx, tbl, Options{MinInputFiles: 2, ExpireOlderThan: time.Millisecond, RetainLast: 1, OrphansOlderThan: time.Millisecond})
	require.NoError(t, err)
	require.Zero(t, res.SnapshotID, "nothing rewritten while the branch exists")
	requireEqual(t, tbl, m)
	props, err := tbl.LatestPropsOn(ctx, lakewriter.ResnapshotBranch, ledger.CommitOf("p"))
	require.NoError(t, err)
	require.Equal(t, "102", props[ledger.PropCheckpoint])

	moved, err := tbl.FastForward(ctx, lakewriter.ResnapshotBranch, nil)
	require.NoError(t, err)
	require.True(t, moved)
	requireEqual(t, tbl, next)
}
