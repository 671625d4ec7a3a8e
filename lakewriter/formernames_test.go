package lakewriter

import (
	"context"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/schema"
)

// TestFormerNames: a table never renamed has no former names; after two
// renames of one column and one of the key, FormerNames lists every
// earlier name of each renamed column, sorted, under its current name,
// and a table loaded afresh from the catalog says the same.
func TestFormerNames(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	id := Ident{Namespace: "db", Name: "former"}
	v1 := evoV1()
	tbl, err := c.EnsureTable(ctx, id, v1, v1.Key)
	require.NoError(t, err)
	require.Empty(t, tbl.FormerNames())

	P := iceberg.PrimitiveTypes
	v2 := &schema.Table{Columns: []schema.Column{
		{Name: "key", Type: P.Int64, RenamedFrom: "id"},
		{Name: "a2", Type: P.Int32, RenamedFrom: "a"},
		{Name: "b", Type: P.String},
		{Name: "t", Type: P.String},
	}, Key: []int{0}}
	require.NoError(t, tbl.Evolve(ctx, v2))
	v3 := &schema.Table{Columns: []schema.Column{
		{Name: "key", Type: P.Int64},
		{Name: "a0", Type: P.Int32, RenamedFrom: "a2"},
		{Name: "b", Type: P.String},
		{Name: "t", Type: P.String},
	}, Key: []int{0}}
	require.NoError(t, tbl.Evolve(ctx, v3))

	want := map[string][]string{"key": {"id"}, "a0": {"a", "a2"}}
	require.Equal(t, want, tbl.FormerNames())
	loaded, err := c.LoadTable(ctx, id)
	require.NoError(t, err)
	require.Equal(t, want, loaded.FormerNames())
}
