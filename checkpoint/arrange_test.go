package checkpoint

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/transform"
)

// TestArrange applies a route's partition-by and sort-by to a table: what
// parses and fits becomes the table's spec and sort order; an entry that
// does not parse fails naming its own configuration field, one that does
// not fit the table names the fields applied, and neither changes the
// table.
func TestArrange(t *testing.T) {
	ctx := context.Background()
	tbl, err := newLake(t, transform.Upsert).cat.EnsureTable(ctx, lakewriter.Ident{Namespace: "lake", Name: "t"}, fakeLayout, fakeLayout.Key)
	require.NoError(t, err)
	arrangement := func(partitionBy, sortBy []string) transform.Arrangement {
		return transform.Arrangement{PartitionBy: partitionBy, SortBy: sortBy,
			PartitionField: "route[0].partition-by", SortField: "route[0].sort-by"}
	}
	spec := func() string {
		p := tbl.Partitioning()
		return fmt.Sprint(p.Fields, p.Sort)
	}

	require.NoError(t, arrange(ctx, tbl, arrangement([]string{"v", "bucket[4](id)"}, []string{"id desc", "v"})))
	require.Equal(t, "[identity(v) bucket[4](id)] [id desc v]", spec())

	for _, c := range []struct {
		partitionBy, sortBy []string
		want                string
	}{
		{[]string{"v", "day("}, nil, "route[0].partition-by: bad partition field"},
		{nil, []string{"id", "v sideways"}, "route[0].sort-by: bad sort field"},
		{[]string{"bucket[2](id)"}, []string{"nope"}, "route[0].partition-by / route[0].sort-by: "},
		{nil, []string{"nope"}, "route[0].sort-by: "},
	} {
		err := arrange(ctx, tbl, arrangement(c.partitionBy, c.sortBy))
		require.ErrorContains(t, err, c.want, "partition-by %q, sort-by %q", c.partitionBy, c.sortBy)
		require.Equal(t, "[identity(v) bucket[4](id)] [id desc v]", spec(), "after %v", err)
	}

	// A sort-by alone keeps the partitioning.
	require.NoError(t, arrange(ctx, tbl, arrangement(nil, []string{"v"})))
	require.Equal(t, "[identity(v) bucket[4](id)] [v]", spec())
}
