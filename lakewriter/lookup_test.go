package lakewriter

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/schema"
)

func TestLookupByKeyType(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	cases := []struct {
		name string
		typ  iceberg.Type
		vals [3]any // two looked up (the first and third), one not
	}{
		{"int", iceberg.PrimitiveTypes.Int32, [3]any{int32(-1), int32(2), int32(3)}},
		{"long", iceberg.PrimitiveTypes.Int64, [3]any{int64(-1 << 40), int64(2), int64(3)}},
		{"bool", iceberg.PrimitiveTypes.Bool, [3]any{true, false, true}},
		{"string", iceberg.PrimitiveTypes.String, [3]any{"a", "b", "ç"}},
		{"binary", iceberg.PrimitiveTypes.Binary, [3]any{[]byte{0}, []byte{1}, []byte{}}},
		{"fixed", iceberg.FixedTypeOf(2), [3]any{[]byte{0, 1}, []byte{1, 1}, []byte{2, 1}}},
		{"decimal", iceberg.DecimalTypeOf(12, 3), [3]any{mustDecimal(t, "-1.5", 12, 3), mustDecimal(t, "2", 12, 3), mustDecimal(t, "123456789.999", 12, 3)}},
		{"uuid", iceberg.PrimitiveTypes.UUID, [3]any{[16]byte{1}, [16]byte{2}, [16]byte{15: 3}}},
		{"date", iceberg.PrimitiveTypes.Date, [3]any{int32(-5), int32(0), int32(20000)}},
		{"time", iceberg.PrimitiveTypes.Time, [3]any{int64(1), int64(2), int64(86399999999)}},
		{"timestamp", iceberg.PrimitiveTypes.Timestamp, [3]any{int64(-1), int64(0), int64(1700000000000001)}},
		{"timestamptz", iceberg.PrimitiveTypes.TimestampTz, [3]any{int64(-1), int64(0), int64(1700000000000001)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			layout := &schema.Table{
				Columns: []schema.Column{
					{Name: "v", Type: iceberg.PrimitiveTypes.String, Nullable: true},
					{Name: "k", Type: tc.typ},
				},
				Key: []int{1},
			}
			tbl, err := c.EnsureTable(ctx, Ident{Namespace: "lk", Name: tc.name}, layout, layout.Key)
			require.NoError(t, err)
			rows := []schema.Row{{"r0", tc.vals[0]}, {"r1", tc.vals[1]}}
			if tc.name != "bool" {
				rows = append(rows, schema.Row{"r2", tc.vals[2]})
			}
			_, err = tbl.Commit(ctx, Commit{Rows: seqOf(rows...), Props: props("1"), Token: "floe.checkpoint"})
			require.NoError(t, err)

			keys := []schema.Row{{tc.vals[0]}, {tc.vals[2]}}
			got, err := tbl.Lookup(ctx, keys, nil)
			require.NoError(t, err)
			want := map[string]schema.Row{string(schema.AppendKeyOf(nil, layout, keys[0])): rows[0]}
			if tc.name != "bool" {
				want[string(schema.AppendKeyOf(nil, layout, keys[1]))] = rows[2]
			}
			require.Equal(t, want, got)
		})
	}
}

// TestLookupChangelog looks up keys in a table holding several versions
// per key (no identifier fields) and keeps the newest per newer.
func TestLookupChangelog(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	layout := &schema.Table{
		Columns: []schema.Column{
			{Name: "tenant", Type: iceberg.PrimitiveTypes.String},
			{Name: "id", Type: iceberg.PrimitiveTypes.Int64},
			{Name: "val", Type: iceberg.PrimitiveTypes.String, Nullable: true},
			{Name: "_floe_op", Type: iceberg.PrimitiveTypes.String},
			{Name: "_floe_seq", Type: iceberg.PrimitiveTypes.Int64},
		},
		Key: []int{1, 0}, // key order differs from column order
	}
	tbl, err := c.EnsureTable(ctx, Ident{Namespace: "db", Name: "changelog"}, layout, nil)
	require.NoError(t, err)
	_, err = tbl.Commit(ctx, Commit{Rows: seqOf(
		schema.Row{"t1", int64(1), "v1", "c", int64(0)},
		schema.Row{"t1", int64(1), "v2", "u", int64(1)},
		schema.Row{"t2", int64(1), "other", "c", int64(2)},
		schema.Row{"t1", int64(2), "x", "c", int64(3)},
	), Props: props("1"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	_, err = tbl.Commit(ctx, Commit{Rows: seqOf(
		schema.Row{"t1", int64(1), nil, "d", int64(10)},
		schema.Row{"t1", int64(2), "y", "u", int64(4)},
	), Props: props("2"), Token: "floe.checkpoint"})
	require.NoError(t, err)

	newer := func(a, b schema.Row) bool { return a[4].(int64) > b[4].(int64) }
	keys := []schema.Row{{int64(1), "t1"}, {int64(2), "t1"}, {int64(3), "t1"}}
	got, err := tbl.Lookup(ctx, keys, newer)
	require.NoError(t, err)
	require.Equal(t, map[string]schema.Row{
		string(schema.AppendKeyOf(nil, layout, keys[0])): {"t1", int64(1), nil, "d", int64(10)},
		string(schema.AppendKeyOf(nil, layout, keys[1])): {"t1", int64(2), "y", "u", int64(4)},
	}, got)

	// Deleting by key is possible on a key without identifier fields too,
	// and the scan applies it.
	_, err = tbl.Commit(ctx, Commit{DeleteKeys: seqOf(schema.Row{int64(1), "t1"}), Props: props("3"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	rows := scanAll(t, tbl)
	require.Len(t, rows, 3)
	got, err = tbl.Lookup(ctx, keys, newer)
	require.NoError(t, err)
	require.Len(t, got, 1)

	_, err = tbl.Lookup(ctx, []schema.Row{{int64(1)}}, newer)
	require.ErrorContains(t, err, "key has 1 values, want 2")
}

func TestOpenOptions(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		opts Options
		want string // "" = success
	}{
		{"sqlite absolute", Options{URI: "sqlite://" + filepath.Join(dir, "a", "c.db"), Warehouse: filepath.Join(dir, "w1")}, ""},
		{"sqlite opaque absolute", Options{URI: "sqlite:" + filepath.Join(dir, "b.db"), Warehouse: "file://" + filepath.Join(dir, "w2")}, ""},
		{"explicit sql type", Options{CatalogType: "sql", CatalogName: "x", URI: "sqlite:" + filepath.Join(dir, "c.db"), Warehouse: dir}, ""},
		{"rest not http", Options{CatalogType: "rest", URI: "thrift://x:9083", Warehouse: dir}, "is not an http:// or https:// URL"},
		{"rest unreachable", Options{CatalogType: "rest", URI: "http://127.0.0.1:1", Warehouse: dir}, "connect to rest catalog"},
		{"rest credential in uri", Options{CatalogType: "rest", URI: "http://u:secret@127.0.0.1:1"}, "the URI carries credentials"},
		{"rest credential and token", Options{CatalogType: "rest", URI: "http://127.0.0.1:1", Credential: "a:secret", Token: "t"}, "credential and token are both set"},
		{"glue local warehouse", Options{CatalogType: "glue", Warehouse: dir}, "the glue catalog needs an s3:// warehouse"},
		{"hive", Options{CatalogType: "hive", Warehouse: dir}, `sink.catalog.type: unknown value "hive"`},
		{"s3 warehouse", Options{URI: "sqlite:" + filepath.Join(dir, "d.db"), Warehouse: "s3://bucket/wh/"}, ""},
		{"s3 without bucket", Options{URI: "sqlite:" + filepath.Join(dir, "d.db"), Warehouse: "s3:///wh"}, "bad S3 warehouse"},
		{"s3 half key pair", Options{URI: "sqlite:" + filepath.Join(dir, "d.db"), Warehouse: "s3://b/wh", S3: S3Options{AccessKeyID: "k"}}, "both access-key-id and secret-access-key"},
		{"s3 bad endpoint", Options{URI: "sqlite:" + filepath.Join(dir, "d.db"), Warehouse: "s3://b/wh", S3: S3Options{Endpoint: "127.0.0.1:9000"}}, "sink.s3.endpoint"},
		{"gs warehouse", Options{URI: "sqlite:" + filepath.Join(dir, "d.db"), Warehouse: "gs://bucket/wh"}, "sink.warehouse: gs:// warehouses are not supported yet"},
		{"empty warehouse", Options{URI: "sqlite:" + filepath.Join(dir, "d.db")}, "sink.warehouse: required"},
		{"empty uri", Options{Warehouse: dir}, "sink.catalog.uri: required"},
		{"mysql uri", Options{URI: "mysql://u:secret@h/db", Warehouse: dir}, "unsupported catalog URI"},
		{"sqlite host", Options{URI: "sqlite://host/x.db", Warehouse: dir}, "is not a SQLite file path"},
		{"bad postgres", Options{URI: "postgres://u:secret@127.0.0.1:1/db?connect_timeout=2", Warehouse: dir}, "connect to catalog database"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Open(context.Background(), tc.opts)
			if tc.want == "" {
				require.NoError(t, err)
				require.NoError(t, c.Close())
				return
			}
			require.ErrorContains(t, err, tc.want)
			require.False(t, strings.Contains(err.Error(), ":secret"), "password leaked: %v", err)
		})
	}
}

func TestCatalogDSNRelative(t *testing.T) {
	t.Chdir(t.TempDir())
	driver, dsn, _, err := catalogDSN("sqlite:sub/rel.db")
	require.NoError(t, err)
	require.Equal(t, "sqlite", driver)
	require.True(t, strings.HasPrefix(dsn, "file:/"), dsn)
	require.Contains(t, dsn, "/sub/rel.db?")
	require.Contains(t, dsn, "journal_mode(WAL)")
	require.Contains(t, dsn, "busy_timeout(")
	require.DirExists(t, "sub")
}
