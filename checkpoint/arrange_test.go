package checkpoint

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/transform"
)

// TestArrange applies a route's partition-by and sort-by to a table: what
// parses and fits becomes the table's spec and sort order; an entry that
// does not parse fails naming its own configuration field, one that does
// not fit the table names the fields applied, and neither changes the
// table.
func TestArrange(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cat, err := lakewriter.Open(ctx, lakewriter.Options{
		URI: "sqlite://" + filepath.Join(dir, "catalog.db"), Warehouse: filepath.Join(dir, "warehouse"),
	})
	require.NoError(t, err)
	t.Cleanup(func() { cat.Close() })
	layout := &schema.Table{Columns: []schema.Column{
		{Name: "id", Type: iceberg.PrimitiveTypes.Int64},
		{Name: "region", Type: iceberg.PrimitiveTypes.String},
	}, Key: []int{0}}
	tbl, err := cat.EnsureTable(ctx, lakewriter.Ident{Namespace: "lake", Name: "t"}, layout, layout.Key)
	require.NoError(t, err)
	arrangement := func(partitionBy, sortBy []string) transform.Arrangement {
		return transform.Arrangement{PartitionBy: partitionBy, SortBy: sortBy,
			PartitionField: "route[0].partition-by", SortField: "route[0].sort-by"}
	}
	spec := func() string {
		p := tbl.Partitioning()
		return fmt.Sprint(p.Fields, p.Sort)
	}

	require.NoError(t, arrange(ctx, tbl, arrangement([]string{"region", "bucket[4](id)"}, []string{"id desc", "region"})))
	require.Equal(t, "[identity(region) bucket[4](id)] [id desc region]", spec())

	for _, c := range []struct {
		partitionBy, sortBy []string
		want                string
	}{
		{[]string{"region", "day("}, nil, "route[0].partition-by: bad partition field"},
		{nil, []string{"id", "region sideways"}, "route[0].sort-by: bad sort field"},
		{[]string{"bucket[2](id)"}, []string{"nope"}, "route[0].partition-by / route[0].sort-by: "},
		{nil, []string{"nope"}, "route[0].sort-by: "},
	} {
		err := arrange(ctx, tbl, arrangement(c.partitionBy, c.sortBy))
		require.ErrorContains(t, err, c.want, "partition-by %q, sort-by %q", c.partitionBy, c.sortBy)
		require.Equal(t, "[identity(region) bucket[4](id)] [id desc region]", spec(), "after %v", err)
	}

	// A sort-by alone keeps the partitioning.
	require.NoError(t, arrange(ctx, tbl, arrangement(nil, []string{"region"})))
	require.Equal(t, "[identity(region) bucket[4](id)] [region]", spec())
}
