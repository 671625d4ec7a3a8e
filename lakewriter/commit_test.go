package lakewriter

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/schema"
)

func TestUpsertCommitShowsLatestImages(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalogMode(t, DeleteModeEquality) // pins the equality path; posdelete_test.go the position one
	tbl := ensureSimple(t, c, "upsert")

	_, err := tbl.Commit(ctx, Commit{
		Rows:  seqOf(simpleRow(1, "a"), simpleRow(2, "b"), simpleRow(3, "c"), simpleRow(4, "d")),
		Props: props("1"), Token: "floe.checkpoint",
	})
	require.NoError(t, err)

	// Update 2 and 3, delete 4, insert 5; deletes for keys never seen are harmless.
	res, err := tbl.Commit(ctx, Commit{
		Rows:       seqOf(simpleRow(2, "b2"), simpleRow(3, "c2"), simpleRow(5, "e")),
		DeleteKeys: keysOf(2, 3, 4, 99),
		Props:      props("2"), Token: "floe.checkpoint",
	})
	require.NoError(t, err)
	require.Equal(t, int64(3), res.Rows)
	require.Equal(t, int64(4), res.Deletes)
	require.Equal(t, 1, res.DeleteFiles)

	want := []schema.Row{simpleRow(1, "a"), simpleRow(2, "b2"), simpleRow(3, "c2"), simpleRow(5, "e")}
	require.Equal(t, want, scanAll(t, tbl))

	// Exactly one snapshot per commit.
	cur := tbl.current()
	s := cur.CurrentSnapshot()
	require.Equal(t, res.SnapshotID, s.SnapshotID)
	require.NotNil(t, s.ParentSnapshotID)
	parent := cur.SnapshotByID(*s.ParentSnapshotID)
	require.Nil(t, parent.ParentSnapshotID)
	require.Equal(t, "1", parent.Summary.Properties["floe.checkpoint"])

	// Update a row again: still one image per key.
	_, err = tbl.Commit(ctx, Commit{
		Rows: seqOf(simpleRow(2, "b3")), DeleteKeys: keysOf(2),
		Props: props("3"), Token: "floe.checkpoint",
	})
	require.NoError(t, err)
	want[1] = simpleRow(2, "b3")
	require.Equal(t, want, scanAll(t, tbl))

	// Only deletes, no data.
	_, err = tbl.Commit(ctx, Commit{DeleteKeys: keysOf(1, 5), Props: props("4"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	require.Equal(t, []schema.Row{simpleRow(2, "b3"), simpleRow(3, "c2")}, scanAll(t, tbl))
}

func TestDeleteAll(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	tbl := ensureSimple(t, c, "truncate")

	// Truncating an empty table is a plain commit.
	_, err := tbl.Commit(ctx, Commit{DeleteAll: true, Rows: seqOf(simpleRow(1, "a"), simpleRow(2, "b")), Props: props("1"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	_, err = tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(3, "c")), DeleteKeys: keysOf(1), Props: props("2"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	require.Equal(t, []schema.Row{simpleRow(2, "b"), simpleRow(3, "c")}, scanAll(t, tbl))

	// Truncate plus new rows in one snapshot; delete keys are moot.
	res, err := tbl.Commit(ctx, Commit{
		DeleteAll: true, Rows: seqOf(simpleRow(7, "g"), simpleRow(2, "new")), DeleteKeys: keysOf(2),
		Props: props("3"), Token: "floe.checkpoint",
	})
	require.NoError(t, err)
	require.Equal(t, []schema.Row{simpleRow(2, "new"), simpleRow(7, "g")}, scanAll(t, tbl))
	s := tbl.current().CurrentSnapshot()
	require.Equal(t, res.SnapshotID, s.SnapshotID)
	require.Equal(t, "3", s.Summary.Properties["floe.checkpoint"])
	require.Equal(t, "2", s.Summary.Properties["total-records"])
	require.Equal(t, "0", s.Summary.Properties["total-delete-files"])

	// Truncate alone empties the table.
	_, err = tbl.Commit(ctx, Commit{DeleteAll: true, Props: props("4"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	require.Empty(t, scanAll(t, tbl))

	// A table holding only a delete file truncates too.
	_, err = tbl.Commit(ctx, Commit{DeleteKeys: keysOf(1), Props: props("5"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	_, err = tbl.Commit(ctx, Commit{DeleteAll: true, Rows: seqOf(simpleRow(9, "i")), Props: props("6"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	require.Equal(t, []schema.Row{simpleRow(9, "i")}, scanAll(t, tbl))
	s = tbl.current().CurrentSnapshot()
	require.Equal(t, "0", s.Summary.Properties["total-delete-files"])
	require.Equal(t, "1", s.Summary.Properties["total-data-files"])
}

func TestLatestPropsAndEmptyCommit(t *testing.T) {
	ctx := context.Background()
	c, dir := openTestCatalog(t)
	tbl := ensureSimple(t, c, "props")
	isFloe := func(p map[string]string) bool { return p["floe.pipeline"] == "p1" }

	got, err := tbl.LatestProps(ctx, isFloe)
	require.NoError(t, err)
	require.Nil(t, got, "no snapshot yet")

	_, err = tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(1, "a")), Props: props("1"), Token: "floe.checkpoint"})
	require.NoError(t, err)

	// A commit with nothing to write still creates a snapshot with props.
	before := tbl.current().CurrentSnapshot().SnapshotID
	res, err := tbl.Commit(ctx, Commit{Rows: seqOf(), DeleteKeys: keysOf(), Props: props("2"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	require.NotEqual(t, before, res.SnapshotID)
	require.Equal(t, 0, res.DataFiles+res.DeleteFiles)

	got, err = tbl.LatestProps(ctx, isFloe)
	require.NoError(t, err)
	require.Equal(t, "2", got["floe.checkpoint"])
	require.Equal(t, "pg.v1:0/2", got["floe.position"])
	require.Equal(t, "1", got["total-records"])

	// Another writer's snapshot on top does not hide ours.
	_, err = tbl.Commit(ctx, Commit{Props: map[string]string{"other.tool": "x", "other.token": "t"}, Token: "other.token"})
	require.NoError(t, err)
	got, err = tbl.LatestProps(ctx, isFloe)
	require.NoError(t, err)
	require.Equal(t, "2", got["floe.checkpoint"])

	// Older matches are reachable through the ancestry.
	got, err = tbl.LatestProps(ctx, func(p map[string]string) bool { return p["floe.checkpoint"] == "1" })
	require.NoError(t, err)
	require.Equal(t, "pg.v1:0/1", got["floe.position"])

	got, err = tbl.LatestProps(ctx, func(map[string]string) bool { return false })
	require.NoError(t, err)
	require.Nil(t, got)

	// Props survive a reload through a fresh catalog handle.
	c2, err := Open(ctx, Options{URI: "sqlite:" + filepath.Join(dir, "catalog", "catalog.db"), Warehouse: "file://" + filepath.Join(dir, "warehouse")})
	require.NoError(t, err)
	defer c2.Close()
	t2, err := c2.LoadTable(ctx, tbl.Ident())
	require.NoError(t, err)
	got, err = t2.LatestProps(ctx, isFloe)
	require.NoError(t, err)
	require.Equal(t, "2", got["floe.checkpoint"])
}

func TestCommitValidation(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	tbl := ensureSimple(t, c, "validate")
	_, err := tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(1, "a")), Props: props("1"), Token: "floe.checkpoint"})
	require.NoError(t, err)

	cases := []struct {
		name string
		c    Commit
		want string
	}{
		{"null in required column", Commit{Rows: seqOf(simpleRow(2, "b"), schema.Row{int64(3), nil, int32(1)})}, "row 1: column name: NULL in a required column"},
		{"null key", Commit{Rows: seqOf(schema.Row{nil, "x", nil})}, "column id: NULL in a required column"},
		{"unchanged", Commit{Rows: seqOf(schema.Row{int64(3), schema.Unchanged, nil})}, "column name: unchanged (TOAST) value"},
		{"wrong go type", Commit{Rows: seqOf(schema.Row{int64(3), "x", int64(1)})}, "column qty: value of Go type int64 is not canonical for int"},
		{"short row", Commit{Rows: seqOf(schema.Row{int64(3)})}, "row has 1 values, want 3"},
		{"iterator error", Commit{Rows: func(yield func(schema.Row, error) bool) { yield(nil, errors.New("disk gone")) }}, "disk gone"},
		{"null delete key", Commit{DeleteKeys: seqOf(schema.Row{nil})}, "column id: NULL in a required column"},
		{"no token", Commit{Rows: seqOf(simpleRow(2, "b"))}, "commit token"},
		{"reserved prop", Commit{Props: map[string]string{"operation": "x", "t": "1"}, Token: "t"}, "reserved"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.c.Props == nil && tc.name != "no token" {
				tc.c.Props, tc.c.Token = props(fmt.Sprint("bad", i)), "floe.checkpoint"
			}
			_, err := tbl.Commit(ctx, tc.c)
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, "db.validate")
		})
	}
	// Nothing was committed by the failures.
	require.Equal(t, []schema.Row{simpleRow(1, "a")}, scanAll(t, tbl))
	got, err := tbl.LatestProps(ctx, func(map[string]string) bool { return true })
	require.NoError(t, err)
	require.Equal(t, "1", got["floe.checkpoint"])
}

// TestCommitConflictRetries provokes a real stale-base conflict: while
// handle A writes its files, handle B commits. A's first catalog commit
// fails; A must retry on the new base with the same files.
func TestCommitConflictRetries(t *testing.T) {
	ctx := context.Background()
	c, dir := openTestCatalog(t)
	a := ensureSimple(t, c, "conflict")
	// B writes through its own Catalog, as another process would: handles
	// from one Catalog share a commit lock and never race each other.
	other, err := Open(ctx, Options{
		URI:       "sqlite://" + filepath.Join(dir, "catalog", "catalog.db"),
		Warehouse: filepath.Join(dir, "warehouse"),
	})
	require.NoError(t, err)
	t.Cleanup(func() { other.Close() })
	b, err := other.LoadTable(ctx, a.Ident())
	require.NoError(t, err)
	_, err = a.Commit(ctx, Commit{Rows: seqOf(simpleRow(1, "a"), simpleRow(2, "b")), Props: props("0"), Token: "floe.checkpoint"})
	require.NoError(t, err)

	var bErr error
	rowsA := func(yield func(schema.Row, error) bool) {
		if !yield(simpleRow(10, "from-a"), nil) {
			return
		}
		// B commits while A is between loading its base and committing.
		_, bErr = b.Commit(ctx, Commit{Rows: seqOf(simpleRow(20, "from-b")), DeleteKeys: keysOf(1), Props: map[string]string{"floe.pipeline": "p2", "floe.checkpoint": "b1"}, Token: "floe.checkpoint"})
		yield(simpleRow(11, "from-a"), nil)
	}
	res, err := a.Commit(ctx, Commit{Rows: rowsA, DeleteKeys: keysOf(2), Props: props("1"), Token: "floe.checkpoint"})
	require.NoError(t, bErr)
	require.NoError(t, err)
	require.Equal(t, 2, res.Attempts, "first attempt must have hit the conflict")
	require.False(t, res.Recovered)

	want := []schema.Row{simpleRow(10, "from-a"), simpleRow(11, "from-a"), simpleRow(20, "from-b")}
	require.Equal(t, want, scanAll(t, a))
	require.Equal(t, want, scanAll(t, b))

	// History: base, B's snapshot, A's snapshot; each exactly once.
	cur := a.current()
	var tokens []string
	for s := range Ancestry(cur) {
		tokens = append(tokens, s.Summary.Properties["floe.checkpoint"])
	}
	require.Equal(t, []string{"1", "b1", "0"}, tokens)
}

// faultyCatalog fails the next `fails` commits, after applying them to
// the real catalog when apply is set.
type faultyCatalog struct {
	table.CatalogIO
	fails atomic.Int32
	apply bool
}

func (f *faultyCatalog) CommitTable(ctx context.Context, id table.Identifier, reqs []table.Requirement, ups []table.Update) (table.Metadata, string, error) {
	if f.fails.Add(-1) < 0 {
		return f.CatalogIO.CommitTable(ctx, id, reqs, ups)
	}
	if f.apply {
		if _, _, err := f.CatalogIO.CommitTable(ctx, id, reqs, ups); err != nil {
			return nil, "", err
		}
	}
	return nil, "", errors.New("read tcp: connection reset by peer")
}

func TestCommitLandedButReportedFailed(t *testing.T) {
	for _, apply := range []bool{true, false} {
		t.Run(fmt.Sprintf("applied=%v", apply), func(t *testing.T) {
			ctx := context.Background()
			c, _ := openTestCatalog(t)
			tbl := ensureSimple(t, c, "landed")
			fc := &faultyCatalog{CatalogIO: c.cat, apply: apply}
			fc.fails.Store(1)
			tbl.commitVia = func(base *table.Table) *table.Table {
				return table.New(base.Identifier(), base.Metadata(), base.MetadataLocation(), base.FS, fc)
			}
			res, err := tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(1, "a"), simpleRow(2, "b")), Props: props("1"), Token: "floe.checkpoint"})
			require.NoError(t, err)
			require.Equal(t, apply, res.Recovered)
			require.Equal(t, map[bool]int{true: 1, false: 2}[apply], res.Attempts)
			require.Equal(t, []schema.Row{simpleRow(1, "a"), simpleRow(2, "b")}, scanAll(t, tbl))
			cur := tbl.current()
			require.Equal(t, res.SnapshotID, cur.CurrentSnapshot().SnapshotID)
			require.Nil(t, cur.CurrentSnapshot().ParentSnapshotID, "exactly one snapshot")
		})
	}
}

// TestLandedCheck exercises the landing check directly on a table that
// holds a committed snapshot.
func TestLandedCheck(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	tbl := ensureSimple(t, c, "check")
	first, err := tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(1, "a")), Props: props("1"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	second, err := tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(2, "b")), Props: props("2"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	cur, err := tbl.refresh(ctx)
	require.NoError(t, err)

	cases := []struct {
		name   string
		base   *int64
		props  map[string]string
		want   int64
		landed bool
	}{
		{"own token above base", &first.SnapshotID, props("2"), second.SnapshotID, true},
		{"whole history", nil, props("1"), first.SnapshotID, true},
		{"token below base", &first.SnapshotID, props("1"), 0, false},
		{"other pipeline", nil, map[string]string{"floe.pipeline": "p9", "floe.checkpoint": "2"}, 0, false},
		{"unknown token", nil, props("3"), 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, ok := landed(cur, tc.base, tc.props)
			require.Equal(t, tc.landed, ok)
			require.Equal(t, tc.want, id)
		})
	}
}

func TestCommitHonoursContext(t *testing.T) {
	c, _ := openTestCatalog(t)
	tbl := ensureSimple(t, c, "ctx")
	fc := &faultyCatalog{CatalogIO: c.cat}
	fc.fails.Store(100)
	tbl.commitVia = func(base *table.Table) *table.Table {
		return table.New(base.Identifier(), base.Metadata(), base.MetadataLocation(), base.FS, fc)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(1, "a")), Props: props("1"), Token: "floe.checkpoint"})
	require.Error(t, err)
	require.Less(t, time.Since(start), 5*time.Second)
	require.Empty(t, scanAll(t, tbl))
}

// TestSchemaMismatch: EnsureTable refuses an existing table whose
// identifier fields differ from the layout's, and opens one that differs
// otherwise with the table's own layout (see TestEnsureTableOwnLayout).
func TestSchemaMismatch(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	ensureSimple(t, c, "mismatch")
	id := Ident{Namespace: "db", Name: "mismatch"}

	base := simpleLayout
	cases := []struct {
		name  string
		edit  func(l *schema.Table)
		ident []int
		want  string
	}{
		{"identifier added", func(l *schema.Table) {}, []int{0, 1}, "identifier fields are [id] in the table but [id name] in the layout"},
		{"identifier changed", func(l *schema.Table) {}, []int{1}, "identifier fields are [id] in the table but [name] in the layout"},
		{"identifier dropped", func(l *schema.Table) { l.Columns[2].Type = iceberg.PrimitiveTypes.Int64 }, nil, "identifier fields are [id] in the table but [] in the layout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := base()
			tc.edit(l)
			_, err := c.EnsureTable(ctx, id, l, tc.ident)
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, "table db.mismatch")
			require.ErrorContains(t, err, "floe resnapshot")
		})
	}
	// The same layout opens fine, with that very layout.
	l := base()
	tbl, err := c.EnsureTable(ctx, id, l, []int{0})
	require.NoError(t, err)
	require.Same(t, l, tbl.Layout())
}

func TestEnsureTableRejectsBadLayouts(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	cases := []struct {
		name   string
		layout *schema.Table
		ident  []int
		want   string
	}{
		{"nullable identifier", &schema.Table{Columns: []schema.Column{{Name: "a", Type: iceberg.PrimitiveTypes.Int64, Nullable: true}}}, []int{0}, "identifier column a is nullable"},
		{"float identifier", &schema.Table{Columns: []schema.Column{{Name: "a", Type: iceberg.PrimitiveTypes.Float64}}}, []int{0}, "cannot identify rows"},
		{"unsupported type", &schema.Table{Columns: []schema.Column{{Name: "a", Type: iceberg.PrimitiveTypes.TimestampNs}}}, nil, "not supported"},
		{"duplicate column", &schema.Table{Columns: []schema.Column{{Name: "a", Type: iceberg.PrimitiveTypes.Int64}, {Name: "a", Type: iceberg.PrimitiveTypes.Int64}}}, nil, "appears twice"},
		{"empty", &schema.Table{}, nil, "no columns"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.EnsureTable(ctx, Ident{Namespace: "db", Name: "bad" + strconv.Itoa(i)}, tc.layout, tc.ident)
			require.ErrorContains(t, err, tc.want)
		})
	}
	_, err := c.LoadTable(ctx, Ident{Namespace: "db", Name: "bad0"})
	require.ErrorIs(t, err, ErrNoSuchTable)
	_, err = c.LoadTable(ctx, Ident{Namespace: "nons", Name: "x"})
	require.ErrorIs(t, err, ErrNoSuchTable)
}

// TestLargeCommitMemory streams 300k rows through one commit and checks
// the heap stays bounded.
func TestLargeCommitMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("large commit")
	}
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	tbl := ensureSimple(t, c, "large")
	const n = 300_000
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	res, err := tbl.Commit(ctx, Commit{Rows: genRows(0, n), Props: props("1"), Token: "floe.checkpoint"})
	close(stop)
	<-done
	require.NoError(t, err)
	require.Equal(t, int64(n), res.Rows)
	t.Logf("300k-row commit: peak HeapInuse %.1f MiB, %d data files", float64(peak.Load())/(1<<20), res.DataFiles)
	require.Less(t, peak.Load(), uint64(512<<20))

	var count int64
	var sum int64
	require.NoError(t, tbl.Scan(ctx, func(r schema.Row) error {
		count++
		sum += r[0].(int64)
		return nil
	}))
	require.Equal(t, int64(n), count)
	require.Equal(t, int64(n)*(n-1)/2, sum)
}

// genRows yields rows with ids from..to-1 lazily.
func genRows(from, to int64) iter.Seq2[schema.Row, error] {
	return func(yield func(schema.Row, error) bool) {
		for i := from; i < to; i++ {
			if !yield(schema.Row{i, "name-" + strconv.FormatInt(i, 10) + "-padding-padding", int32(i % 1000)}, nil) {
				return
			}
		}
	}
}

// TestScanAppliesPositionDeletes deletes a row with iceberg-go's
// merge-on-read delete (position deletes, as another engine might write)
// and checks Scan and Lookup honour it.
func TestScanAppliesPositionDeletes(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	tbl := ensureSimple(t, c, "posdel")
	_, err := tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(1, "a"), simpleRow(2, "b"), simpleRow(3, "c")), Props: props("1"), Token: "floe.checkpoint"})
	require.NoError(t, err)

	tx := tbl.current().NewTransaction()
	require.NoError(t, tx.SetProperties(iceberg.Properties{table.WriteDeleteModeKey: table.WriteModeMergeOnRead}))
	require.NoError(t, tx.Delete(ctx, iceberg.EqualTo(iceberg.Reference("id"), int64(2)), nil))
	after, err := tx.Commit(ctx)
	require.NoError(t, err)
	require.Equal(t, "1", after.CurrentSnapshot().Summary.Properties["added-position-deletes"])

	require.Equal(t, []schema.Row{simpleRow(1, "a"), simpleRow(3, "c")}, scanAll(t, tbl))
	got, err := tbl.Lookup(ctx, []schema.Row{{int64(2)}, {int64(3)}}, nil)
	require.NoError(t, err)
	require.Len(t, got, 1)

	// Floe's own commits continue on top.
	_, err = tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(3, "c2")), DeleteKeys: keysOf(3), Props: props("2"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	require.Equal(t, []schema.Row{simpleRow(1, "a"), simpleRow(3, "c2")}, scanAll(t, tbl))
}
