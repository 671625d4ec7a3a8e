package lakewriter

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/schema"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// allTypesLayout has one column per canonical type (nullable unless said),
// plus lists, keyed by id.
func allTypesLayout() *schema.Table {
	return &schema.Table{
		Columns: []schema.Column{
			{Name: "id", Type: iceberg.PrimitiveTypes.Int64},
			{Name: "b", Type: iceberg.PrimitiveTypes.Bool, Nullable: true},
			{Name: "i", Type: iceberg.PrimitiveTypes.Int32, Nullable: true},
			{Name: "l", Type: iceberg.PrimitiveTypes.Int64, Nullable: true},
			{Name: "f", Type: iceberg.PrimitiveTypes.Float32, Nullable: true},
			{Name: "d", Type: iceberg.PrimitiveTypes.Float64, Nullable: true},
			{Name: "dec", Type: iceberg.DecimalTypeOf(38, 10), Nullable: true},
			{Name: "dec2", Type: iceberg.DecimalTypeOf(9, 2), Nullable: true},
			{Name: "s", Type: iceberg.PrimitiveTypes.String, Nullable: true},
			{Name: "bin", Type: iceberg.PrimitiveTypes.Binary, Nullable: true},
			{Name: "fx", Type: iceberg.FixedTypeOf(4), Nullable: true},
			{Name: "u", Type: iceberg.PrimitiveTypes.UUID, Nullable: true},
			{Name: "dt", Type: iceberg.PrimitiveTypes.Date, Nullable: true},
			{Name: "tm", Type: iceberg.PrimitiveTypes.Time, Nullable: true},
			{Name: "ts", Type: iceberg.PrimitiveTypes.Timestamp, Nullable: true},
			{Name: "tstz", Type: iceberg.PrimitiveTypes.TimestampTz, Nullable: true},
			{Name: "li", Type: &iceberg.ListType{Element: iceberg.PrimitiveTypes.Int32}, Nullable: true},
			{Name: "ls", Type: &iceberg.ListType{Element: iceberg.PrimitiveTypes.String}, Nullable: true},
			{Name: "ldec", Type: &iceberg.ListType{Element: iceberg.DecimalTypeOf(9, 2)}, Nullable: true},
			{Name: "lli", Type: &iceberg.ListType{Element: &iceberg.ListType{Element: iceberg.PrimitiveTypes.Int64}}, Nullable: true},
			{Name: "req", Type: iceberg.PrimitiveTypes.String},
			{Name: "_floe_ts", Type: iceberg.PrimitiveTypes.TimestampTz},
		},
		Key: []int{0},
	}
}

// ensureAllTypes creates the table db.<name> of allTypesLayout in c and
// returns it with its layout.
func ensureAllTypes(t testing.TB, c *Catalog, name string) (*Table, *schema.Table) {
	t.Helper()
	layout := allTypesLayout()
	tbl, err := c.EnsureTable(context.Background(), Ident{Namespace: "db", Name: name}, layout, layout.Key)
	require.NoError(t, err)
	return tbl, layout
}

// TestRoundTripAllTypes commits rows of every type and reads them back
// exactly, written by iceberg-go's writer and, with every batch taken for
// one of large values, by Floe's writer of large rows.
func TestRoundTripAllTypes(t *testing.T) {
	for _, large := range []bool{false, true} {
		t.Run(fmt.Sprintf("large=%v", large), func(t *testing.T) {
			if large {
				defer func(n int) { largeValueBytes = n }(largeValueBytes)
				largeValueBytes = 0
			}
			roundTripAllTypes(t, large)
		})
	}
}

// allTypesRows are rows of allTypesLayout: typical values, NULLs and
// each type's extremes.
func allTypesRows(t testing.TB) []schema.Row {
	u := [16]byte{0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00}
	return []schema.Row{
		{ // typical values
			int64(1), true, int32(42), int64(-7), float32(1.5), 2.25,
			mustDecimal(t, "12345.6789012345", 38, 10), mustDecimal(t, "-0.05", 9, 2),
			"héllo ☃", []byte{0, 1, 2, 0xff}, []byte("abcd"), u,
			int32(19723), int64(45296789012), int64(1700000000123456), int64(1700000000654321),
			[]any{int32(1), nil, int32(3)}, []any{"a", "", nil}, []any{mustDecimal(t, "1.10", 9, 2)},
			[]any{[]any{int64(1), int64(2)}, nil, []any{}},
			"x", int64(0),
		},
		{ // every nullable column NULL
			int64(2), nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil,
			nil, nil, nil, nil, nil, nil, nil, nil, "", int64(-1),
		},
		{ // extremes
			int64(math.MaxInt64), false, int32(math.MinInt32), int64(math.MinInt64),
			float32(math.MaxFloat32), math.Inf(-1),
			mustDecimal(t, "9999999999999999999999999999.9999999999", 38, 10),
			mustDecimal(t, "-9999999.99", 9, 2),
			"", []byte{}, []byte{0, 0, 0, 0}, [16]byte{},
			int32(-719162), int64(86399999999), int64(-62135596800000000), int64(253402300799999999),
			[]any{}, []any{}, []any{nil}, []any{},
			"y", int64(math.MaxInt64),
		},
		{
			int64(math.MinInt64), true, int32(math.MaxInt32), int64(math.MaxInt64),
			float32(-math.SmallestNonzeroFloat32), math.Copysign(0, -1),
			mustDecimal(t, "-9999999999999999999999999999.9999999999", 38, 10),
			mustDecimal(t, "0", 9, 2),
			string([]byte{0xe2, 0x98, 0x83}), []byte("\x00"), []byte{0xff, 0xff, 0xff, 0xff}, [16]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
			int32(2932896), int64(0), int64(0), int64(-1),
			[]any{int32(math.MinInt32)}, []any{"z"}, []any{}, []any{[]any{nil}},
			"z", int64(math.MinInt64),
		},
	}
}

func roundTripAllTypes(t *testing.T, large bool) {
	ctx := context.Background()
	c, dir := openTestCatalog(t)
	tbl, layout := ensureAllTypes(t, c, "all_types")

	rows := allTypesRows(t)
	res, err := tbl.Commit(ctx, Commit{Rows: seqOf(rows...), Props: props("1"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	require.Equal(t, int64(len(rows)), res.Rows)
	require.Equal(t, 1, res.Attempts)
	largeFiles, _ := filepath.Glob(filepath.Join(dir, "warehouse", "db.db", "all_types", "data", "floe-large-*.parquet"))
	require.Equal(t, large, len(largeFiles) == 1, "files of large rows: %v", largeFiles)

	got := scanAll(t, tbl)
	want := slices.Clone(rows)
	slices.SortFunc(want, func(a, b schema.Row) int {
		return bytes.Compare(schema.AppendKey(nil, layout, a), schema.AppendKey(nil, layout, b))
	})
	require.Len(t, got, len(want))
	for i := range want {
		require.Equal(t, len(want[i]), len(got[i]))
		for j := range want[i] {
			require.Equal(t, want[i][j], got[i][j], "row id=%v column %s", want[i][0], layout.Columns[j].Name)
		}
	}

	// A second handle loaded without a layout derives the same layout.
	loaded, err := c.LoadTable(ctx, Ident{Namespace: "db", Name: "all_types"})
	require.NoError(t, err)
	require.Equal(t, len(layout.Columns), len(loaded.Layout().Columns))
	for i, col := range loaded.Layout().Columns {
		require.Equal(t, layout.Columns[i].Name, col.Name)
		require.Equal(t, layout.Columns[i].Nullable, col.Nullable)
		require.True(t, schema.SameType(layout.Columns[i].Type, col.Type), "column %s", col.Name)
	}
	require.Equal(t, []int{0}, loaded.Layout().Key)
	require.Equal(t, want, scanAll(t, loaded))
}

// TestTableFormatGolden pins the schema and properties of a table Floe
// creates (a persisted format). Regenerate with -update.
func TestTableFormatGolden(t *testing.T) {
	c, _ := openTestCatalog(t)
	tbl, _ := ensureAllTypes(t, c, "golden")
	meta := tbl.current().Metadata()
	props := map[string]string{}
	for k, v := range meta.Properties() {
		if k != "schema.name-mapping.default" {
			props[k] = v
		}
	}
	got, err := json.MarshalIndent(map[string]any{
		"format-version": meta.Version(),
		"schema":         tbl.current().Schema(),
		"properties":     props,
		"partitioned":    !meta.PartitionSpec().IsUnpartitioned(),
	}, "", "  ")
	require.NoError(t, err)
	got = append(got, '\n')
	path := filepath.Join("testdata", "table.golden")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -run TestTableFormatGolden -update to create it")
	require.Equal(t, string(want), string(got))
}
