package lakewriter

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/schema"
)

// TestEvolveDropsColumn: a layout without a table column deletes it; rows
// written before read back without it, later rows are in the new layout;
// a column a partition field or the sort order uses, or an identifier
// field, is pinned and its drop refused, committing nothing.
func TestEvolveDropsColumn(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	v2 := evoV2()
	tbl, err := c.EnsureTable(ctx, Ident{Namespace: "db", Name: "drop"}, v2, v2.Key)
	require.NoError(t, err)
	_, err = tbl.Commit(ctx, Commit{Rows: seqOf(schema.Row{int64(1), int64(1), "x", 1.5, "t"}), Props: props("1"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	parts := mustParts(t, "bucket[4](a)")
	parts.Sort = []SortField{{Column: "t"}}
	_, err = tbl.SetPartitioning(ctx, parts)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"id", "a", "t"}, tbl.PinnedColumns())

	for _, pinned := range []int{1, 4} {
		loc, n := metadataState(t, tbl)
		l := evoV2()
		l.Columns = slices.Delete(l.Columns, pinned, pinned+1)
		err := tbl.Evolve(ctx, l)
		require.ErrorContains(t, err, "drops column "+v2.Columns[pinned].Name)
		loc2, n2 := metadataState(t, tbl)
		require.Equal(t, loc, loc2, "nothing committed")
		require.Equal(t, n, n2)
	}

	v3 := evoV2()
	v3.Columns = slices.Delete(v3.Columns, 2, 3) // b
	require.NoError(t, tbl.Evolve(ctx, v3))
	require.Equal(t, columnsOf(v3), columnsOf(tbl.Layout()))
	_, err = tbl.Commit(ctx, Commit{Rows: seqOf(schema.Row{int64(2), int64(2), 2.5, "u"}), Props: props("2"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	require.ElementsMatch(t, []schema.Row{{int64(1), int64(1), 1.5, "t"}, {int64(2), int64(2), 2.5, "u"}}, scanAll(t, tbl))
}
