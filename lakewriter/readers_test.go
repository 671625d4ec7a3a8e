package lakewriter

import (
	"context"
	"slices"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/schema"
)

// uuidLayout is (id uuid key, ref uuid nullable, n long, s string).
func uuidLayout() *schema.Table {
	P := iceberg.PrimitiveTypes
	return &schema.Table{Columns: []schema.Column{
		{Name: "id", Type: P.UUID},
		{Name: "ref", Type: P.UUID, Nullable: true},
		{Name: "n", Type: P.Int64},
		{Name: "s", Type: P.String},
	}, Key: []int{0}}
}

// uuidOf is a uuid whose first byte is b (both sides of 0x80 in one file
// is what Java readers misorder).
func uuidOf(b byte, i int) [16]byte {
	var u [16]byte
	u[0], u[15] = b, byte(i)
	return u
}

func uuidRows(from, to int) []schema.Row {
	var rows []schema.Row
	for i := from; i < to; i++ {
		rows = append(rows, schema.Row{uuidOf(byte(i*37), i), uuidOf(byte(255-i*37), i), int64(i), "s"})
	}
	return rows
}

func uuidKeys(from, to int) []schema.Row {
	var keys []schema.Row
	for i := from; i < to; i++ {
		keys = append(keys, schema.Row{uuidOf(byte(i*37), i)})
	}
	return keys
}

// fileBounds lists, for every live file of tbl, which of fields have a
// lower or upper bound and which have a value count.
type fileBounds struct {
	content          iceberg.ManifestEntryContent
	bounded, counted map[int]bool
}

func liveBounds(t *testing.T, tbl *Table, fields ...int) []fileBounds {
	t.Helper()
	cur, err := tbl.refresh(context.Background())
	require.NoError(t, err)
	data, deletes, err := liveFiles(context.Background(), cur)
	require.NoError(t, err)
	var out []fileBounds
	for _, f := range append(data, deletes...) {
		fb := fileBounds{content: f.ContentType(), bounded: map[int]bool{}, counted: map[int]bool{}}
		for _, id := range fields {
			_, lo := f.LowerBoundValues()[id]
			_, hi := f.UpperBoundValues()[id]
			_, n := f.ValueCounts()[id]
			fb.bounded[id], fb.counted[id] = lo || hi, n
		}
		out = append(out, fb)
	}
	return out
}

// requireNoUUIDBounds checks that every live file has counts but no bounds
// for the uuid fields, and bounds for the long field n (so the manifests
// do carry bounds where they should).
func requireNoUUIDBounds(t *testing.T, tbl *Table, uuidFields []int, longField int) (data, deletes int) {
	t.Helper()
	for _, fb := range liveBounds(t, tbl, append(uuidFields, longField)...) {
		for _, id := range uuidFields {
			if fb.content == iceberg.EntryContentEqDeletes && id != 1 {
				continue // a delete file holds the key column only
			}
			require.False(t, fb.bounded[id], "%v file has bounds for uuid field %d", fb.content, id)
			require.True(t, fb.counted[id], "%v file has no value count for uuid field %d", fb.content, id)
		}
		switch fb.content {
		case iceberg.EntryContentData:
			data++
			require.True(t, fb.bounded[longField], "data file lacks bounds for field %d: the manifest read is wrong", longField)
		case iceberg.EntryContentEqDeletes:
			deletes++
		}
	}
	return data, deletes
}

func TestUUIDColumnsCarryNoBounds(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalogMode(t, DeleteModeEquality) // equality-delete files carry key bounds
	l := uuidLayout()
	tbl, err := c.EnsureTable(ctx, Ident{Namespace: "db", Name: "uuids"}, l, l.Key)
	require.NoError(t, err)
	_, err = tbl.Commit(ctx, Commit{Rows: seqOf(uuidRows(0, 10)...), Props: props("1"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	_, err = tbl.Commit(ctx, Commit{Rows: seqOf(uuidRows(2, 4)...), DeleteKeys: seqOf(uuidKeys(2, 6)...), Props: props("2"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	data, deletes := requireNoUUIDBounds(t, tbl, []int{1, 2}, 3)
	require.Equal(t, 2, data)
	require.Equal(t, 1, deletes)
	require.Len(t, scanAll(t, tbl), 8)
	require.Equal(t, "counts", tbl.current().Properties()[metricsModeKey("id")])
	require.Equal(t, "counts", tbl.current().Properties()[metricsModeKey("ref")])
	_, ok := tbl.current().Properties()[metricsModeKey("n")]
	require.False(t, ok, "a long column keeps the default metrics mode")

	// A compaction-style rewrite through Maintain writes no bounds either.
	err = tbl.Maintain(ctx, func(ctx context.Context, tb *table.Table) (*table.Table, error) {
		return rewriteAll(ctx, t, tb)
	})
	require.NoError(t, err)
	data, deletes = requireNoUUIDBounds(t, tbl, []int{1, 2}, 3)
	require.Equal(t, 1, data)
	require.Equal(t, 0, deletes)
	require.Len(t, scanAll(t, tbl), 8)
}

// rewriteAll rewrites every data file of tb with the deletes applied and
// drops the delete files, through iceberg-go's RewriteDataFiles as
// compaction does.
func rewriteAll(ctx context.Context, t *testing.T, tb *table.Table) (*table.Table, error) {
	t.Helper()
	tasks, err := tb.Scan().PlanFiles(ctx)
	if err != nil {
		return nil, err
	}
	_, deletes, err := liveFiles(ctx, tb)
	if err != nil {
		return nil, err
	}
	g := table.CompactionTaskGroup{Tasks: tasks}
	for _, task := range tasks {
		g.TotalSizeBytes += task.File.FileSizeBytes()
	}
	tx := tb.NewTransaction()
	if _, err := tx.RewriteDataFiles(ctx, []table.CompactionTaskGroup{g}, table.RewriteDataFilesOptions{ExtraDeleteFilesToRemove: deletes}); err != nil {
		return nil, err
	}
	return tx.Commit(ctx)
}

// TestExistingTableGetsNoUUIDBounds opens a table written without the
// metrics modes (created before Floe set them): EnsureTable sets them, so
// files written from then on carry no uuid bounds, and so does Maintain for
// a table only compaction opens.
func TestExistingTableGetsNoUUIDBounds(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	l := uuidLayout()
	id := Ident{Namespace: "db", Name: "old_uuids"}
	tbl, err := c.EnsureTable(ctx, id, l, l.Key)
	require.NoError(t, err)
	dropModes := func() {
		t.Helper()
		cur, err := tbl.refresh(ctx)
		require.NoError(t, err)
		tx := cur.NewTransaction()
		require.NoError(t, tx.RemoveProperties([]string{metricsModeKey("id"), metricsModeKey("ref")}))
		_, err = tx.Commit(ctx)
		require.NoError(t, err)
	}
	dropModes()
	_, err = tbl.Commit(ctx, Commit{Rows: seqOf(uuidRows(0, 10)...), Props: props("1"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	old := liveBounds(t, tbl, 1, 2)
	require.Len(t, old, 1)
	require.True(t, old[0].bounded[1] && old[0].bounded[2], "without the metrics modes iceberg-go writes uuid bounds")

	reopened, err := c.EnsureTable(ctx, id, l, l.Key)
	require.NoError(t, err)
	require.Equal(t, "counts", reopened.current().Properties()[metricsModeKey("id")])
	_, err = reopened.Commit(ctx, Commit{Rows: seqOf(uuidRows(3, 4)...), DeleteKeys: seqOf(uuidKeys(3, 5)...), Props: props("2"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	var fresh int
	for _, fb := range liveBounds(t, reopened, 1) {
		if !fb.bounded[1] {
			fresh++
		}
	}
	require.Equal(t, 2, fresh, "the data and delete file written after reopening carry no uuid bounds")

	// A table that only compaction opens (LoadTable, Maintain).
	dropModes()
	loaded, err := c.LoadTable(ctx, id)
	require.NoError(t, err)
	require.NoError(t, loaded.Maintain(ctx, func(ctx context.Context, tb *table.Table) (*table.Table, error) {
		return rewriteAll(ctx, t, tb)
	}))
	data, deletes := requireNoUUIDBounds(t, loaded, []int{1, 2}, 3)
	require.Equal(t, 1, data)
	require.Equal(t, 0, deletes)
	require.Len(t, scanAll(t, loaded), 9)
}

// TestEvolveAddedUUIDColumnGetsNoBounds adds a uuid column by schema
// evolution: its metrics mode lands in the same commit.
func TestEvolveAddedUUIDColumnGetsNoBounds(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	tbl := ensureSimple(t, c, "gains_uuid")
	base, err := tbl.refresh(ctx)
	require.NoError(t, err)
	l := simpleLayout()
	l.Columns = append(l.Columns, schema.Column{Name: "u", Type: iceberg.PrimitiveTypes.UUID, Nullable: true})
	require.NoError(t, tbl.Evolve(ctx, l))
	cur, err := tbl.refresh(ctx)
	require.NoError(t, err)
	require.Equal(t, "counts", cur.Properties()[metricsModeKey("u")])
	// One metadata commit: the schema change and the property together.
	require.Equal(t, len(slices.Collect(base.Metadata().PreviousFiles()))+1, len(slices.Collect(cur.Metadata().PreviousFiles())))

	_, err = tbl.Commit(ctx, Commit{Rows: seqOf(
		schema.Row{int64(1), "a", int32(1), uuidOf(0x10, 1)},
		schema.Row{int64(2), "b", int32(2), uuidOf(0xf0, 2)},
	), Props: props("1"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	u, ok := cur.Schema().FindFieldByName("u")
	require.True(t, ok)
	for _, fb := range liveBounds(t, tbl, u.ID, 1) {
		require.False(t, fb.bounded[u.ID], "bounds for the added uuid column")
		require.True(t, fb.bounded[1], "no bounds for the long key: the manifest read is wrong")
	}
}

func TestReaderSafeProps(t *testing.T) {
	l := uuidLayout()
	sc, err := icebergSchema(l, l.Key)
	require.NoError(t, err)
	all := iceberg.Properties{metricsModeKey("id"): "counts", metricsModeKey("ref"): "counts"}
	for _, tc := range []struct {
		name string
		have iceberg.Properties
		want iceberg.Properties
	}{
		{"new table", nil, all},
		{"set already", all, iceberg.Properties{}},
		{"none writes no bounds either", iceberg.Properties{metricsModeKey("id"): "none", metricsModeKey("ref"): "NONE"}, iceberg.Properties{}},
		{"full is replaced", iceberg.Properties{metricsModeKey("id"): "full"}, all},
		{"truncate is replaced", iceberg.Properties{metricsModeKey("id"): "counts", metricsModeKey("ref"): "truncate(16)"},
			iceberg.Properties{metricsModeKey("ref"): "counts"}},
		{"a default without bounds", iceberg.Properties{table.DefaultWriteMetricsModeKey: "counts"}, iceberg.Properties{}},
		{"a default with bounds", iceberg.Properties{table.DefaultWriteMetricsModeKey: "full"}, all},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, readerSafeProps(sc, tc.have))
		})
	}
}
