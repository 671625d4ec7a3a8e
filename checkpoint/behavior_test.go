package checkpoint

import (
	"context"
	"log/slog"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/transform"
)

// TestFollowRenames: under ignore, renames land in the sink column they
// started from, through a chain (b -> b2 -> b3); layouts of before the
// rename keep their names; a new column taking a renamed column's old
// name is a column of its own (left out), not the renamed one.
func TestFollowRenames(t *testing.T) {
	P := iceberg.PrimitiveTypes
	cat, _ := openCatalog(t)
	v1 := &schema.Table{Columns: []schema.Column{{Name: "id", Type: P.Int64}, {Name: "b", Type: P.String, Nullable: true}}, Key: []int{0}}
	layout := transform.SinkLayout(v1, transform.Upsert)
	tbl, err := cat.EnsureTable(context.Background(), lakewriter.Ident{Namespace: "lake", Name: "t"}, layout, layout.Key)
	require.NoError(t, err)
	c := &Coordinator{log: slog.New(slog.DiscardHandler)}
	tr := &tableRun{id: capture.TableID{Schema: "s", Name: "t"}, src: v1, layout: tbl.Layout(), table: tbl}
	names := func(s *schema.Table) []string {
		var out []string
		for _, col := range s.Columns {
			out = append(out, col.Name)
		}
		return out
	}
	renamed := func(from, to string) *schema.Table {
		return &schema.Table{Columns: []schema.Column{{Name: "id", Type: P.Int64}, {Name: to, Type: P.String, Nullable: true, RenamedFrom: from}}, Key: []int{0}}
	}

	v2 := renamed("b", "b2")
	c.followRenames(tr, v2)
	require.Equal(t, []string{"id", "b"}, names(tr.fit(v2)))
	require.Same(t, v1, tr.fit(v1), "a layout of before the rename is as it was")

	v3 := renamed("b2", "b3")
	c.followRenames(tr, v3)
	require.Equal(t, []string{"id", "b"}, names(tr.fit(v3)))
	require.Equal(t, []string{"id", "b"}, names(tr.fit(v2)), "changes of the previous layout still in the batch")

	// b2 comes back as a new column beside b3: it is not b.
	v4 := &schema.Table{Columns: append(v3.Columns, schema.Column{Name: "b2", Type: P.String, Nullable: true}), Key: []int{0}}
	v4.Columns[1].RenamedFrom = ""
	c.followRenames(tr, v4)
	require.Equal(t, []string{"id", "b", "b2"}, names(tr.fit(v4)))
	got, err := transform.PlanSinkChange(tbl.Layout(), tr.fit(v4), transform.Upsert, transform.Ignore, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"leave out column b2 (the source added it)"}, got.Skipped)

	// Renamed back to b, then b3 added as a new column: b holds b again.
	v5 := renamed("b3", "b")
	c.followRenames(tr, v5)
	require.Same(t, v5, tr.fit(v5))
	v6 := &schema.Table{Columns: append(v5.Columns, schema.Column{Name: "b3", Type: P.String, Nullable: true}), Key: []int{0}}
	v6.Columns[1].RenamedFrom = ""
	c.followRenames(tr, v6)
	require.Equal(t, []string{"id", "b", "b3"}, names(tr.fit(v6)))

	// A new column named like the sink column a renamed one lands in is
	// moved out of the way: its values are left out.
	tr2 := &tableRun{id: tr.id, src: v1, layout: tbl.Layout(), table: tbl}
	c.followRenames(tr2, v2)
	v7 := &schema.Table{Columns: append(v2.Columns, schema.Column{Name: "b", Type: P.String, Nullable: true}), Key: []int{0}}
	v7.Columns[1].RenamedFrom = ""
	c.followRenames(tr2, v7)
	require.Equal(t, []string{"id", "b", "b (added after a rename)"}, names(tr2.fit(v7)))
}
