package interop

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"sort"
	"strconv"
	"sync"
	"testing"

	"github.com/apache/iceberg-go"
	icetable "github.com/apache/iceberg-go/table"

	"github.com/floe-cdc/floe/compaction"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/schema"
)

// TestReadersAfterRewritesBesideCommits: compaction passes run back to
// back while the same process commits upserts and deletes (passes rewrite
// outside the commit lock, and their files keep the data sequence number
// of the snapshot they read, so equality deletes committed meanwhile
// still apply to the rewritten rows), and convert the deletes of the
// settled data files into position deletes in place. Trino and
// PyIceberg must then read the table equal to the model, row by row.
// The test also requires that some pass converted deletes, and that some
// pass committed files older, by data sequence number, than the snapshot
// it landed on, i.e. that commits did land during a rewrite.
//
// It runs on the SQL (JDBC) catalog and on Apache Iceberg's REST catalog,
// whose commits of a pass's two snapshots (converted deletes, then the
// rewrite) go through the REST protocol's table-update requirements.
func TestReadersAfterRewritesBesideCommits(t *testing.T) {
	needServers(t)
	for _, kind := range []string{"sql", "rest"} {
		t.Run(kind, func(t *testing.T) { readersAfterRewritesBesideCommits(t, kind) })
	}
}

func readersAfterRewritesBesideCommits(t *testing.T, kind string) {
	ctx := context.Background()
	name := "rwbeside_" + kind
	l := newSink(t, name)
	pathStyle := true
	s3 := lakewriter.S3Options{Endpoint: sharedS3.Endpoint, Region: sharedS3.Region, PathStyle: &pathStyle,
		AccessKeyID: sharedS3.AccessKey, SecretAccessKey: sharedS3.SecretKey}
	opts := lakewriter.Options{CatalogType: "sql", URI: l.catalogDSN(), Warehouse: l.warehouse, S3: s3}
	trinoProps, pyProps := l.trinoJDBCCatalog(), l.pySQLCatalog()
	if kind == "rest" {
		rc := startRESTFor(t, l)
		opts = lakewriter.Options{CatalogType: "rest", URI: rc.URL, Warehouse: l.warehouse, S3: s3}
		trinoProps, pyProps = trinoS3Props(), pyS3Props()
		trinoProps["iceberg.catalog.type"], trinoProps["iceberg.rest-catalog.uri"] = "rest", rc.URL
		pyProps["type"], pyProps["uri"] = "rest", rc.URL
	}
	cat, err := lakewriter.Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	layout := &schema.Table{Columns: []schema.Column{
		{Name: "id", Type: iceberg.PrimitiveTypes.Int64},
		{Name: "name", Type: iceberg.PrimitiveTypes.String},
		{Name: "qty", Type: iceberg.PrimitiveTypes.Int64},
	}, Key: []int{0}}
	ident := lakewriter.Ident{Namespace: "lake", Name: "beside"}
	ingestTbl, err := cat.EnsureTable(ctx, ident, layout, layout.Key)
	if err != nil {
		t.Fatal(err)
	}
	compactTbl, err := cat.EnsureTable(ctx, ident, layout, layout.Key)
	if err != nil {
		t.Fatal(err)
	}

	model := map[int64]schema.Row{}
	commit := func(cp int, set []int64, del []int64) error {
		var data, keys []schema.Row
		for _, id := range set {
			model[id] = schema.Row{id, fmt.Sprint("v", cp), id + int64(cp)}
			data, keys = append(data, model[id]), append(keys, schema.Row{id})
		}
		for _, id := range del {
			delete(model, id)
			keys = append(keys, schema.Row{id})
		}
		_, err := ingestTbl.Commit(ctx, lakewriter.Commit{Rows: rowSeq(data), DeleteKeys: rowSeq(keys), Token: "floe.checkpoint",
			Props: map[string]string{"floe.pipeline": "p", "floe.checkpoint": strconv.Itoa(cp), "floe.version": "1"}})
		return err
	}
	// 20,000 rows in one data file, which the passes' target size makes
	// settled and not undersized: bin-packing never picks it, and the 80
	// checkpoints delete under a fifth of its rows, so passes merge its
	// position-delete files instead (compaction.positionDeletesToMerge),
	// or convert them when equality deletes apply to it too. (With
	// 2,000 rows and a fixed 64 KiB target, whether a pass converted
	// depended on how the passes fell between the checkpoints.)
	initial := make([]int64, 20_000)
	for i := range initial {
		initial[i] = int64(i)
	}
	if err := commit(0, initial, nil); err != nil {
		t.Fatal(err)
	}
	target := dataFileSizes(t, ctx, compactTbl)[0]

	var (
		wg               sync.WaitGroup
		stop             = make(chan struct{})
		passErr          error
		passes, conflict int
		converted        int
	)
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			res, err := compaction.Compact(ctx, compactTbl, compaction.Options{TargetFileSize: target, MinInputFiles: 2, DeleteFileThreshold: 1})
			switch {
			case errors.Is(err, compaction.ErrConflict):
				conflict++
			case err != nil:
				passErr = err
				return
			case res.SnapshotID != 0:
				passes++
				converted += res.ConvertedDataFiles
			}
		}
	})
	rng := rand.New(rand.NewPCG(11, 12))
	next := int64(len(initial))
	for cp := 1; cp <= 80; cp++ {
		var set, del []int64
		for range 30 {
			if id := rng.Int64N(next); !contains(set, id) { // one row per key and commit, as Floe's buffer writes
				set = append(set, id)
			}
		}
		for range 5 {
			set = append(set, next)
			next++
		}
		for range 10 {
			if id := rng.Int64N(next); !contains(set, id) {
				del = append(del, id)
			}
		}
		if err := commit(cp, set, del); err != nil {
			close(stop)
			wg.Wait()
			t.Fatalf("checkpoint %d: %v", cp, err)
		}
	}
	close(stop)
	wg.Wait()
	if passErr != nil {
		t.Fatalf("compaction pass: %v", passErr)
	}
	if conflict > 0 {
		t.Errorf("%d passes conflicted; in the committing process none may", conflict)
	}
	overlapped := rewritesOverCommits(t, ctx, compactTbl)
	t.Logf("%d passes committed, %d of them over commits that landed while they rewrote; %d data files had their deletes converted in place",
		passes, overlapped, converted)
	if converted == 0 {
		t.Fatal("no pass converted deletes to position deletes; the readers did not read what the test is for")
	}
	if overlapped == 0 {
		t.Fatal("no pass had a commit land while it rewrote; the test did not exercise what it checks")
	}

	want := map[string]string{}
	for id, r := range model {
		want[strconv.FormatInt(id, 10)] = fmt.Sprint(r[1], " ", r[2])
	}
	got := map[string]string{}
	n := 0
	if err := ingestTbl.Scan(ctx, func(r schema.Row) error {
		got[fmt.Sprint(r[0])], n = fmt.Sprint(r[1], " ", r[2]), n+1
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	compareKeyed(t, "floe (iceberg-go)", want, got, n)
	tr := trino(t)
	if err := tr.CreateCatalog(ctx, name, trinoProps); err != nil {
		t.Fatal(err)
	}
	res, err := tr.Query(ctx, "SELECT id, name, qty FROM "+name+".lake.beside")
	if err != nil {
		t.Fatal(err)
	}
	got = map[string]string{}
	for _, r := range res.Rows {
		got[fmt.Sprint(r[0])] = fmt.Sprint(r[1], " ", r[2])
	}
	compareKeyed(t, "trino", want, got, len(res.Rows))

	py := readPython(t, pyProps, "lake.beside")["lake.beside"]
	got = map[string]string{}
	for _, r := range py.Rows {
		got[*r[0]] = *r[1] + " " + *r[2]
	}
	compareKeyed(t, "pyiceberg ("+py.Reader+")", want, got, len(py.Rows))
}

func rowSeq(rs []schema.Row) iter.Seq2[schema.Row, error] {
	return func(yield func(schema.Row, error) bool) {
		for _, r := range rs {
			if !yield(r, nil) {
				return
			}
		}
	}
}

func contains(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// compareKeyed fails unless got (n rows read) holds exactly want's rows.
func compareKeyed(t *testing.T, reader string, want, got map[string]string, n int) {
	t.Helper()
	var bad []string
	for k, w := range want {
		if g, ok := got[k]; !ok {
			bad = append(bad, "key "+k+": missing")
		} else if g != w {
			bad = append(bad, fmt.Sprintf("key %s: want %q, got %q", k, w, g))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			bad = append(bad, "key "+k+": extra row")
		}
	}
	if n != len(got) {
		bad = append(bad, fmt.Sprintf("%d rows read for %d keys: a key twice", n, len(got)))
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("%s reads %d differences from the model, e.g. %v", reader, len(bad), bad[:min(len(bad), 10)])
		return
	}
	t.Logf("%s reads the %d rows of the model", reader, len(want))
}

// rewritesOverCommits counts the rewrite snapshots in tbl's main history
// whose added data files carry a data sequence number below their
// parent's: the pass read an older snapshot, and commits landed between
// it and the pass's commit.
func rewritesOverCommits(t *testing.T, ctx context.Context, tbl *lakewriter.Table) int {
	t.Helper()
	var cur *icetable.Table
	if err := tbl.Maintain(ctx, func(_ context.Context, head *icetable.Table) (*icetable.Table, error) {
		cur = head
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	fs, err := cur.FS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for s := range lakewriter.Ancestry(cur) {
		if s.Summary == nil || s.Summary.Operation != icetable.OpReplace || s.ParentSnapshotID == nil {
			continue
		}
		parent := cur.Metadata().SnapshotByID(*s.ParentSnapshotID)
		if parent == nil {
			continue
		}
		manifests, err := s.Manifests(fs)
		if err != nil {
			t.Fatal(err)
		}
		older := false
		for _, m := range manifests {
			if m.SnapshotID() != s.SnapshotID || m.ManifestContent() != iceberg.ManifestContentData {
				continue
			}
			for e, err := range m.Entries(fs, true) {
				if err != nil {
					t.Fatal(err)
				}
				if e.Status() == iceberg.EntryStatusADDED && e.SequenceNum() < parent.SequenceNumber {
					older = true
				}
			}
		}
		if older {
			n++
		}
	}
	return n
}

// dataFileSizes returns the sizes of tbl's live data files.
func dataFileSizes(t *testing.T, ctx context.Context, tbl *lakewriter.Table) []int64 {
	t.Helper()
	var sizes []int64
	err := tbl.Inspect(ctx, func(ctx context.Context, it *icetable.Table) error {
		tasks, err := it.Scan().PlanFiles(ctx)
		for _, task := range tasks {
			sizes = append(sizes, task.File.FileSizeBytes())
		}
		return err
	})
	if err != nil || len(sizes) == 0 {
		t.Fatalf("data files of %s: %v (%d files)", tbl.Ident(), err, len(sizes))
	}
	return sizes
}
