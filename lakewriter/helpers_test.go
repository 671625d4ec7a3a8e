package lakewriter

import (
	"bytes"
	"context"
	"iter"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/iceberg-go"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/schema"
)

// openTestCatalog opens a SQLite catalog with a warehouse in a temp dir.
func openTestCatalog(t testing.TB) (*Catalog, string) {
	t.Helper()
	return openTestCatalogMode(t, "")
}

// openTestCatalogMode is openTestCatalog with sink.delete-mode mode (""
// the default, auto); tests of equality deletes use DeleteModeEquality.
func openTestCatalogMode(t testing.TB, mode string) (*Catalog, string) {
	t.Helper()
	return openTestCatalogWith(t, Options{DeleteMode: mode})
}

// openTestCatalogWith opens a catalog with opts in a temporary directory
// (its URI, Warehouse and Logger set here).
func openTestCatalogWith(t testing.TB, opts Options) (*Catalog, string) {
	t.Helper()
	dir := t.TempDir()
	opts.URI = "sqlite://" + filepath.Join(dir, "catalog", "catalog.db")
	opts.Warehouse = filepath.Join(dir, "warehouse")
	opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := Open(context.Background(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c, dir
}

// testWriter sends log lines to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// simpleLayout is (id long key, name string, qty int nullable).
func simpleLayout() *schema.Table {
	return &schema.Table{
		Columns: []schema.Column{
			{Name: "id", Type: iceberg.PrimitiveTypes.Int64},
			{Name: "name", Type: iceberg.PrimitiveTypes.String},
			{Name: "qty", Type: iceberg.PrimitiveTypes.Int32, Nullable: true},
		},
		Key: []int{0},
	}
}

func ensureSimple(t testing.TB, c *Catalog, name string) *Table {
	t.Helper()
	l := simpleLayout()
	tbl, err := c.EnsureTable(context.Background(), Ident{Namespace: "db", Name: name}, l, l.Key)
	require.NoError(t, err)
	return tbl
}

func seqOf(rows ...schema.Row) iter.Seq2[schema.Row, error] {
	return func(yield func(schema.Row, error) bool) {
		for _, r := range rows {
			if !yield(r, nil) {
				return
			}
		}
	}
}

func keysOf(ids ...int64) iter.Seq2[schema.Row, error] {
	rows := make([]schema.Row, len(ids))
	for i, id := range ids {
		rows[i] = schema.Row{id}
	}
	return seqOf(rows...)
}

func simpleRow(id int64, name string) schema.Row {
	return schema.Row{id, name, int32(id * 10)}
}

func props(token string) map[string]string {
	return map[string]string{"floe.pipeline": "p1", "floe.checkpoint": token, "floe.position": "pg.v1:0/" + token}
}

// scanAll returns every live row sorted by the key bytes.
func scanAll(t testing.TB, tbl *Table) []schema.Row {
	t.Helper()
	var rows []schema.Row
	require.NoError(t, tbl.Scan(context.Background(), func(r schema.Row) error {
		rows = append(rows, r)
		return nil
	}))
	l := tbl.Layout()
	slices.SortFunc(rows, func(a, b schema.Row) int {
		return bytes.Compare(schema.AppendKey(nil, l, a), schema.AppendKey(nil, l, b))
	})
	return rows
}

func mustDecimal(t testing.TB, s string, prec, scale int32) decimal128.Num {
	t.Helper()
	n, err := decimal128.FromString(s, prec, scale)
	require.NoError(t, err)
	return n
}
