package verify

import (
	"context"
	"fmt"
	"iter"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/transform"
)

// pos is a minimal capture.Position: "test.v1:<n>".
type pos int

func (p pos) String() string { return "test.v1:" + strconv.Itoa(int(p)) }
func (p pos) Compare(o capture.Position) int {
	return int(p) - int(o.(pos))
}

// scanSource is a source of in-memory tables that can scan them.
type scanSource struct {
	tables []capture.TableInfo
	rows   map[capture.TableID][]schema.Row
}

func (s *scanSource) Discover(context.Context) ([]capture.TableInfo, error) { return s.tables, nil }
func (s *scanSource) Start(context.Context, capture.StartRequest) (capture.StartInfo, error) {
	return capture.StartInfo{}, nil
}
func (s *scanSource) Stream(ctx context.Context, _ chan<- capture.Batch) error { return nil }
func (s *scanSource) Ack(capture.Position)                                     {}
func (s *scanSource) Close() error                                             { return nil }
func (s *scanSource) DecodePosition(p string) (capture.Position, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(p, "test.v1:"))
	return pos(n), err
}

// ScanTable hands every row to fn, except that with bad set a row whose v
// starts with "bad" is one it cannot decode: its key goes to bad. (With
// bad nil such a row is handed to fn as it is, so that a comparison of
// it can be seen to fail.)
func (s *scanSource) ScanTable(_ context.Context, id capture.TableID, fn func(schema.Row) error, bad func(schema.Row, error) error) error {
	for _, r := range s.rows[id] {
		if v, _ := r[1].(string); bad != nil && strings.HasPrefix(v, "bad") {
			if err := bad(schema.Row{r[0], nil}, schema.NewValueError("v", "text", []byte(v), "poisoned")); err != nil {
				return err
			}
			continue
		}
		if err := fn(append(schema.Row(nil), r...)); err != nil {
			return err
		}
	}
	return nil
}

// noScan is a source that cannot read whole tables.
type noScan struct{ capture.Source }

var layout = &schema.Table{Columns: []schema.Column{
	{Name: "id", Type: iceberg.PrimitiveTypes.Int64},
	{Name: "v", Type: iceberg.PrimitiveTypes.String, Nullable: true},
}, Key: []int{0}}

func seq(rows ...schema.Row) iter.Seq2[schema.Row, error] {
	return func(yield func(schema.Row, error) bool) {
		for _, r := range rows {
			if !yield(r, nil) {
				return
			}
		}
	}
}

// lake opens a local catalog and commits rows (in the table's sink
// layout for mode) as pipeline p's checkpoint 1 at test.v1:7.
func lake(t *testing.T, mode transform.Mode, name string, rows ...schema.Row) *lakewriter.Catalog {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	cat, err := lakewriter.Open(ctx, lakewriter.Options{
		URI: "sqlite://" + filepath.Join(dir, "catalog.db"), Warehouse: filepath.Join(dir, "warehouse"),
	})
	require.NoError(t, err)
	t.Cleanup(func() { cat.Close() })
	var identifier []int
	if mode == transform.Upsert {
		identifier = layout.Key
	}
	tbl, err := cat.EnsureTable(ctx, lakewriter.Ident{Namespace: "lake", Name: name}, transform.SinkLayout(layout, mode), identifier)
	require.NoError(t, err)
	_, err = tbl.Commit(ctx, lakewriter.Commit{Rows: seq(rows...), Token: ledger.PropCheckpoint,
		Props: ledger.Commit{Pipeline: "p", Checkpoint: 1, Position: pos(7).String()}.Props()})
	require.NoError(t, err)
	return cat
}

// upsertRow is a row of the upsert sink layout.
func upsertRow(id int64, v string) schema.Row {
	return schema.Row{id, v, "c", int64(0), "test.v1:1", int64(0)}
}

// change is a row of the changelog sink layout.
func change(op string, at int, s int64, id int64, v any) schema.Row {
	return schema.Row{id, v, op, int64(0), pos(at).String(), s}
}

func run(t *testing.T, src capture.Source, cat *lakewriter.Catalog, mode transform.Mode) []TableReport {
	t.Helper()
	reports, err := Run(context.Background(), Options{Pipeline: "p", Source: src, Catalog: cat,
		Router: transform.NewRouter("lake", nil), Mode: mode})
	require.NoError(t, err)
	return reports
}

func TestUpsertEqual(t *testing.T) {
	id := capture.TableID{Schema: "s", Name: "t"}
	src := &scanSource{tables: []capture.TableInfo{{ID: id, Schema: layout}},
		rows: map[capture.TableID][]schema.Row{id: {{int64(1), "a"}, {int64(2), "b"}}}}
	cat := lake(t, transform.Upsert, "t", upsertRow(2, "b"), upsertRow(1, "a"))
	reports := run(t, src, cat, transform.Upsert)
	require.Len(t, reports, 1)
	r := reports[0]
	require.True(t, r.OK(), r.String())
	require.Equal(t, 2, r.SourceRows)
	require.Equal(t, r.SourceHash, r.SinkHash)
	require.Equal(t, fmt.Sprintf("OK       s.t -> lake.t: source 2 rows (hash %016x), iceberg 2 rows (hash %016x) at test.v1:7", r.SourceHash, r.SinkHash), r.String())
}

// TestUpsertMismatch: a missing, an extra and a differing key are each
// counted, listed as examples, and the differing one's column named.
func TestUpsertMismatch(t *testing.T) {
	id := capture.TableID{Schema: "s", Name: "t"}
	src := &scanSource{tables: []capture.TableInfo{{ID: id, Schema: layout}},
		rows: map[capture.TableID][]schema.Row{id: {{int64(1), "a"}, {int64(2), "b"}, {int64(3), "c"}}}}
	cat := lake(t, transform.Upsert, "t", upsertRow(1, "a"), upsertRow(2, "x"), upsertRow(4, "d"))
	r := run(t, src, cat, transform.Upsert)[0]
	require.False(t, r.OK())
	require.Equal(t, [3]int{1, 1, 1}, [3]int{r.Missing, r.Extra, r.Differ})
	require.Equal(t, []string{"(id=2) differs", "(id=3) missing in iceberg", "(id=4) only in iceberg"}, r.Examples)
	require.Equal(t, []string{"(id=2) v: source b, iceberg x"}, r.Diffs)
	require.Equal(t, fmt.Sprintf("MISMATCH s.t -> lake.t: source 3 rows (hash %016x), iceberg 3 rows (hash %016x) at test.v1:7; "+
		"1 missing, 1 extra, 1 differ; e.g. (id=2) differs, (id=3) missing in iceberg, (id=4) only in iceberg\n"+
		"         (id=2) v: source b, iceberg x", r.SourceHash, r.SinkHash), r.String())
}

// TestChangelogFolded: a changelog table is folded to the newest image per
// key by position and sequence; deletes remove a key, a truncate all
// before it.
func TestChangelogFolded(t *testing.T) {
	id := capture.TableID{Schema: "s", Name: "log"}
	src := &scanSource{tables: []capture.TableInfo{{ID: id, Schema: layout}},
		rows: map[capture.TableID][]schema.Row{id: {{int64(2), "b2"}, {int64(3), "c"}}}}
	cat := lake(t, transform.Changelog, "log",
		change("c", 5, 1, 3, "c"), // after the truncate
		change("u", 4, 1, 2, "b2"),
		change("c", 4, 0, 2, "b1"),
		change("t", 3, 0, 0, nil),
		change("c", 2, 0, 9, "gone"), // before the truncate
		change("c", 5, 0, 1, "a"),
		change("d", 5, 2, 1, nil), // the same position, later in the transaction
	)
	r := run(t, src, cat, transform.Changelog)[0]
	require.True(t, r.OK(), r.String())
	require.Equal(t, 2, r.SinkRows)

	// The same log with the delete of key 1 lost: a differing table.
	cat = lake(t, transform.Changelog, "log", change("c", 4, 0, 2, "b2"), change("c", 5, 0, 3, "c"), change("c", 5, 0, 1, "a"))
	r = run(t, src, cat, transform.Changelog)[0]
	require.False(t, r.OK())
	require.Equal(t, []string{"(id=1) only in iceberg"}, r.Examples)
}

func TestSkippedAndRefused(t *testing.T) {
	id := capture.TableID{Schema: "s", Name: "nokey"}
	keyless := &schema.Table{Columns: layout.Columns}
	src := &scanSource{tables: []capture.TableInfo{{ID: id, Schema: keyless}}}
	r := run(t, src, lake(t, transform.Upsert, "other"), transform.Upsert)[0]
	require.True(t, r.OK())
	require.Equal(t, "SKIPPED  s.nokey -> lake.nokey: the table has no key, and a changelog without one cannot be folded to the table's rows", r.String())

	_, err := Run(context.Background(), Options{Pipeline: "p", Source: noScan{src}, Router: transform.NewRouter("lake", nil)})
	require.ErrorContains(t, err, "this source cannot be verified: it cannot scan tables")
}
