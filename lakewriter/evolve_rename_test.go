package lakewriter

import (
	"context"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/schema"
)

// TestEvolveRename: a layout column whose RenamedFrom names a table
// column renames it in place: the field keeps its id (so rows written
// before read back under the new name), an identifier field stays the
// identifier (rows written before are still deleted by key), and other
// changes of the same evolution (a widening of the renamed column, a
// column added after it) address it correctly.
func TestEvolveRename(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	id := Ident{Namespace: "db", Name: "rename"}
	v1 := evoV1()
	tbl, err := c.EnsureTable(ctx, id, v1, v1.Key)
	require.NoError(t, err)
	_, err = tbl.Commit(ctx, Commit{
		Rows:  seqOf(schema.Row{int64(1), int32(10), "x", "t1"}, schema.Row{int64(2), int32(-20), "y", "t2"}),
		Props: props("1"), Token: "floe.checkpoint",
	})
	require.NoError(t, err)
	before := map[string]int{}
	for _, f := range tbl.current().Schema().Fields() {
		before[f.Name] = f.ID
	}

	P := iceberg.PrimitiveTypes
	v2 := &schema.Table{Columns: []schema.Column{
		{Name: "key", Type: P.Int64, RenamedFrom: "id"},
		{Name: "a2", Type: P.Int64, RenamedFrom: "a"}, // renamed and widened
		{Name: "c", Type: P.String, Nullable: true},   // added after a renamed column
		{Name: "b", Type: P.String},
		{Name: "t", Type: P.String},
	}, Key: []int{0}}
	require.NoError(t, tbl.Evolve(ctx, v2))

	sc := tbl.current().Schema()
	ids := map[string]int{}
	var names []string
	for _, f := range sc.Fields() {
		ids[f.Name] = f.ID
		names = append(names, f.Name)
	}
	require.Equal(t, []string{"key", "a2", "c", "b", "t"}, names)
	require.Equal(t, before["id"], ids["key"], "renamed key keeps its field id")
	require.Equal(t, before["a"], ids["a2"], "renamed column keeps its field id")
	require.Equal(t, []int{before["id"]}, sc.IdentifierFieldIDs)
	widened, _ := sc.FindFieldByName("a2")
	require.True(t, widened.Type.Equals(P.Int64))

	// Key 2 updated through the renamed key: its v1 row is deleted.
	_, err = tbl.Commit(ctx, Commit{
		Rows:       seqOf(schema.Row{int64(2), int64(21), "c2", "y2", "t3"}),
		DeleteKeys: keysOf(2),
		Props:      props("2"), Token: "floe.checkpoint",
	})
	require.NoError(t, err)
	require.Equal(t, []schema.Row{
		{int64(1), int64(10), nil, "x", "t1"}, // written before: read under the new names
		{int64(2), int64(21), "c2", "y2", "t3"},
	}, scanAll(t, tbl))

	// Evolving to the same layout again is a no-op.
	state, schemas := metadataState(t, tbl)
	require.NoError(t, tbl.Evolve(ctx, v2))
	s2, n2 := metadataState(t, tbl)
	require.Equal(t, state, s2)
	require.Equal(t, schemas, n2)
}

// TestPlanEvolutionRenameNeedsRenamedFrom: without RenamedFrom a layout
// that lacks a table column drops it (refused for a pinned column); a RenamedFrom
// whose old name the layout still has is no rename.
func TestPlanEvolutionRenameNeedsRenamedFrom(t *testing.T) {
	have, err := icebergSchema(evoV1(), nil)
	require.NoError(t, err)
	P := iceberg.PrimitiveTypes
	l := evoV1()
	l.Columns[2] = schema.Column{Name: "b2", Type: P.String, Nullable: true}
	_, err = planEvolution(have, l, []string{"b"})
	require.ErrorContains(t, err, "the layout drops column b")
	e, err := planEvolution(have, l, nil)
	require.NoError(t, err)
	require.Equal(t, "add b2 string, drop b", e.String())

	l.Columns[2].RenamedFrom = "b"
	l.Columns[2].Nullable = false
	e, err = planEvolution(have, l, nil)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"b": "b2"}, e.renamed)
	require.Equal(t, "rename b to b2", e.String())

	l = evoV1()
	l.Columns = append(l.Columns, schema.Column{Name: "b2", Type: P.String, Nullable: true, RenamedFrom: "b"})
	e, err = planEvolution(have, l, nil)
	require.NoError(t, err)
	require.Empty(t, e.renamed)
	require.Len(t, e.adds, 1)
}
