package lakewriter

import (
	"context"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/schema"
)

func TestParsePartitionField(t *testing.T) {
	for in, want := range map[string]string{
		"region":             "identity(region)",
		" identity(region) ": "identity(region)",
		"day(created_at)":    "day(created_at)",
		"YEAR(created_at)":   "year(created_at)",
		"month( created_at)": "month(created_at)",
		"hour(ts)":           "hour(ts)",
		"bucket[16](id)":     "bucket[16](id)",
		"truncate[4](name)":  "truncate[4](name)",
	} {
		f, err := ParsePartitionField(in)
		require.NoError(t, err, in)
		require.Equal(t, want, f.String(), in)
	}
	for in, msg := range map[string]string{
		"":                 "bad partition field",
		"days(created_at)": `unknown transform "days"`,
		"bucket(id)":       `unknown transform "bucket"`,
		"bucket[0](id)":    "whole number of at least 1",
		"bucket[x](id)":    "whole number of at least 1",
		"truncate[0](s)":   "whole number of at least 1",
		"void(id)":         `unknown transform "void"`,
		"day(a, b)":        "name one column",
		"day(created_at":   "write transform(column)",
		"day()":            "name one column",
	} {
		_, err := ParsePartitionField(in)
		require.ErrorContains(t, err, msg, in)
	}
	s, err := ParseSortField("ts DESC")
	require.NoError(t, err)
	require.Equal(t, SortField{Column: "ts", Desc: true}, s)
	_, err = ParseSortField("ts sideways")
	require.ErrorContains(t, err, "asc or desc")
}

// partLayout is (id long key, name string, region string, ts timestamptz,
// d date, amount double).
func partLayout() *schema.Table {
	return &schema.Table{
		Columns: []schema.Column{
			{Name: "id", Type: iceberg.PrimitiveTypes.Int64},
			{Name: "name", Type: iceberg.PrimitiveTypes.String},
			{Name: "region", Type: iceberg.PrimitiveTypes.String, Nullable: true},
			{Name: "ts", Type: iceberg.PrimitiveTypes.TimestampTz, Nullable: true},
			{Name: "d", Type: iceberg.PrimitiveTypes.Date, Nullable: true},
			{Name: "amount", Type: iceberg.PrimitiveTypes.Float64, Nullable: true},
		},
		Key: []int{0},
	}
}

func mustParts(t *testing.T, fields ...string) Partitioning {
	t.Helper()
	var p Partitioning
	for _, s := range fields {
		f, err := ParsePartitionField(s)
		require.NoError(t, err)
		p.Fields = append(p.Fields, f)
	}
	return p
}

func TestPartitioningCheck(t *testing.T) {
	sc, err := icebergSchema(partLayout(), []int{0})
	require.NoError(t, err)
	require.NoError(t, mustParts(t, "region", "day(ts)", "bucket[8](id)", "truncate[2](name)", "month(d)").Check(sc))

	p := mustParts(t, "nope", "day(name)", "hour(d)", "truncate[2](amount)", "day(ts)", "month(ts)", "region", "identity(region)")
	p.Sort = []SortField{{Column: "missing"}, {Column: "ts"}, {Column: "ts", Desc: true}}
	err = p.Check(sc)
	require.Error(t, err)
	for _, want := range []string{
		`identity(nope): the table has no column "nope" (columns: id, name, region, ts, d, amount)`,
		"day(name): transform day does not apply to column name of type string (it takes date and timestamp columns)",
		"hour(d): transform hour does not apply to column d of type date (it takes timestamp columns)",
		"truncate[2](amount): transform truncate[2] does not apply to column amount of type double",
		"month(ts): column ts already has a time transform",
		"identity(region): listed twice",
		`missing: the table has no column "missing"`,
		"ts desc: column ts is sorted by twice",
	} {
		require.Contains(t, err.Error(), want)
	}
}

func ensurePart(t *testing.T, c *Catalog, name string) *Table {
	t.Helper()
	l := partLayout()
	tbl, err := c.EnsureTable(context.Background(), Ident{Namespace: "db", Name: name}, l, l.Key)
	require.NoError(t, err)
	return tbl
}

func partRow(id int64, name, region string, day int32) schema.Row {
	return schema.Row{id, name, region, int64(day) * 86_400_000_000, day, float64(id)}
}

// TestPartitionedUpsertRowMovesBetweenPartitions writes a table
// partitioned by region and day, then moves rows to other partitions
// with an upsert whose delete carries only the key (the old row's
// partition values unknown, as with PostgreSQL's default replica
// identity). The old versions must not survive in their old partitions:
// the equality deletes are written in the unpartitioned spec. Writing
// them in the partitioned spec (deleteView returning tbl as is) leaves
// the moved rows twice.
func TestPartitionedUpsertRowMovesBetweenPartitions(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalogMode(t, DeleteModeEquality) // TestPositionDeletesPartitioned: by position
	tbl := ensurePart(t, c, "moves")
	p := mustParts(t, "region", "day(ts)")
	p.Sort = []SortField{{Column: "ts", Desc: true}}
	changed, err := tbl.SetPartitioning(ctx, p)
	require.NoError(t, err)
	require.True(t, changed)
	changed, err = tbl.SetPartitioning(ctx, p)
	require.NoError(t, err)
	require.False(t, changed, "the same partitioning again changes nothing")
	require.Equal(t, p, tbl.Partitioning())

	_, err = tbl.Commit(ctx, Commit{
		Rows:  seqOf(partRow(1, "a", "eu", 100), partRow(2, "b", "eu", 100), partRow(3, "c", "us", 101), partRow(4, "d", "us", 102)),
		Props: props("1"), Token: "floe.checkpoint",
	})
	require.NoError(t, err)
	files := liveDataFiles(t, tbl)
	require.Len(t, files, 3, "one data file per partition")
	first := tbl.current().Spec()
	for _, f := range files {
		require.Equal(t, int32(first.ID()), f.SpecID())
	}

	// 1 moves eu -> us, 3 moves day 101 -> 200, 2 is deleted, 5 is new.
	res, err := tbl.Commit(ctx, Commit{
		Rows:       seqOf(partRow(1, "a2", "us", 100), partRow(3, "c2", "us", 200), partRow(5, "e", "apac", 100)),
		DeleteKeys: keysOf(1, 2, 3),
		Props:      props("2"), Token: "floe.checkpoint",
	})
	require.NoError(t, err)
	require.Equal(t, 1, res.DeleteFiles, "one global delete file, not one per partition")
	want := []schema.Row{partRow(1, "a2", "us", 100), partRow(3, "c2", "us", 200), partRow(4, "d", "us", 102), partRow(5, "e", "apac", 100)}
	require.Equal(t, want, scanAll(t, tbl))
	_, dels, err := liveFiles(ctx, tbl.current())
	require.NoError(t, err)
	require.Len(t, dels, 1)
	require.Equal(t, int32(0), dels[0].SpecID(), "equality deletes are in the unpartitioned spec 0")

	// Evolving the spec: new files use it, old files keep theirs, deletes
	// still reach both.
	changed, err = tbl.SetPartitioning(ctx, mustParts(t, "bucket[4](id)"))
	require.NoError(t, err)
	require.True(t, changed)
	spec := tbl.current().Spec()
	require.Equal(t, "bucket[4](id)", tbl.Partitioning().Fields[0].String())
	require.Empty(t, tbl.Partitioning().Sort, "sort order reset to unsorted")
	_, err = tbl.Commit(ctx, Commit{
		Rows:       seqOf(partRow(4, "d2", "eu", 300), partRow(6, "f", "eu", 300)),
		DeleteKeys: keysOf(4, 5),
		Props:      props("3"), Token: "floe.checkpoint",
	})
	require.NoError(t, err)
	want = []schema.Row{partRow(1, "a2", "us", 100), partRow(3, "c2", "us", 200), partRow(4, "d2", "eu", 300), partRow(6, "f", "eu", 300)}
	require.Equal(t, want, scanAll(t, tbl))
	specs := map[int32]int{}
	for _, f := range liveDataFiles(t, tbl) {
		specs[f.SpecID()]++
	}
	require.Positive(t, specs[int32(spec.ID())], "new files use the evolved spec")
	require.Len(t, specs, 2)

	// Back to unpartitioned reuses spec 0.
	_, err = tbl.SetPartitioning(ctx, Partitioning{})
	require.NoError(t, err)
	last := tbl.current().Spec()
	require.Equal(t, 0, last.ID())
}

// TestSetPartitioningRefusesBadFields: nothing changes when a field does
// not fit the table.
func TestSetPartitioningRefusesBadFields(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	tbl := ensurePart(t, c, "bad")
	_, err := tbl.SetPartitioning(ctx, mustParts(t, "day(name)"))
	require.ErrorContains(t, err, "day(name): transform day does not apply to column name of type string")
	require.True(t, tbl.current().Spec().IsUnpartitioned())
}

func liveDataFiles(t *testing.T, tbl *Table) []iceberg.DataFile {
	t.Helper()
	data, _, err := liveFiles(context.Background(), tbl.current())
	require.NoError(t, err)
	return data
}

// TestForeignPartitionedTable: a table another tool created partitioned
// has no unpartitioned spec. SetPartitioning with its own spec adds one
// (not as the default), and upserts then write their deletes in it, so
// rows that move between partitions lose their old versions.
func TestForeignPartitionedTable(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalogMode(t, DeleteModeEquality)
	l := partLayout()
	sc, err := icebergSchema(l, l.Key)
	require.NoError(t, err)
	id := Ident{Namespace: "db", Name: "foreign"}
	require.NoError(t, c.ensureNamespace(ctx, id))
	spec := iceberg.NewPartitionSpec(iceberg.PartitionField{SourceIDs: []int{3}, FieldID: 1000, Name: "region", Transform: iceberg.IdentityTransform{}})
	_, err = c.cat.CreateTable(ctx, id.iceberg(), sc, catalog.WithPartitionSpec(&spec), catalog.WithProperties(tableProperties()))
	require.NoError(t, err)
	tbl, err := c.EnsureTable(ctx, id, l, l.Key)
	require.NoError(t, err)
	require.True(t, tbl.NeedsDeleteSpec())
	_, err = tbl.Commit(ctx, Commit{Rows: seqOf(partRow(1, "a", "eu", 1)), DeleteKeys: keysOf(1), Props: props("0"), Token: "floe.checkpoint"})
	require.ErrorContains(t, err, "no unpartitioned spec")

	changed, err := tbl.SetPartitioning(ctx, tbl.Partitioning())
	require.NoError(t, err)
	require.True(t, changed)
	require.False(t, tbl.NeedsDeleteSpec())
	cur := tbl.current().Spec()
	require.Equal(t, 0, cur.ID(), "the table's own spec stays the default")
	global := globalSpecID(tbl.current().Metadata())
	require.Positive(t, global)

	_, err = tbl.Commit(ctx, Commit{Rows: seqOf(partRow(1, "a", "eu", 1), partRow(2, "b", "us", 1)), Props: props("1"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	_, err = tbl.Commit(ctx, Commit{Rows: seqOf(partRow(1, "a2", "us", 1)), DeleteKeys: keysOf(1, 2), Props: props("2"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	require.Equal(t, []schema.Row{partRow(1, "a2", "us", 1)}, scanAll(t, tbl))
	_, dels, err := liveFiles(ctx, tbl.current())
	require.NoError(t, err)
	require.Len(t, dels, 1)
	require.Equal(t, int32(global), dels[0].SpecID())
}
