package lakewriter

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"
	"github.com/stretchr/testify/require"
)

// metadataFiles is the number of metadata files the table's history has
// had: one a catalog commit.
func metadataFiles(t *testing.T, tbl *Table) int {
	t.Helper()
	cur, err := tbl.refresh(context.Background())
	require.NoError(t, err)
	n := 1
	for range cur.Metadata().PreviousFiles() {
		n++
	}
	return n
}

// TestEnsureTableProps: a created table has the properties from its
// create commit; an existing one gets changed values in one commit, and
// matching ones commit nothing.
func TestEnsureTableProps(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	id := Ident{Namespace: "db", Name: "props"}
	v1 := evoV1()
	p1 := map[string]string{"floe.registry.subject": "s-value", "floe.registry.version": "1"}
	tbl, err := c.EnsureTableProps(ctx, id, v1, v1.Key, p1)
	require.NoError(t, err)
	require.Equal(t, 1, metadataFiles(t, tbl), "created with the properties, in one commit")
	require.Subset(t, tbl.Properties(), p1)
	require.Equal(t, "1", tbl.Properties()["floe.table-version"])

	tbl, err = c.EnsureTableProps(ctx, id, v1, v1.Key, p1)
	require.NoError(t, err)
	require.Equal(t, 1, metadataFiles(t, tbl), "matching properties commit nothing")

	p2 := map[string]string{"floe.registry.subject": "s-value", "floe.registry.version": "2"}
	tbl, err = c.EnsureTableProps(ctx, id, v1, v1.Key, p2)
	require.NoError(t, err)
	require.Equal(t, 2, metadataFiles(t, tbl))
	require.Subset(t, tbl.Properties(), p2)
}

// TestEvolveProps: the properties are set in the catalog commit of the
// schema change; with the schema already evolved, only changed values
// are committed, and nothing when they match.
func TestEvolveProps(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	id := Ident{Namespace: "db", Name: "evolveprops"}
	v1 := evoV1()
	tbl, err := c.EnsureTable(ctx, id, v1, v1.Key)
	require.NoError(t, err)
	before := metadataFiles(t, tbl)

	p := map[string]string{"floe.registry.subject": "s-value", "floe.registry.version": "2"}
	require.NoError(t, tbl.EvolveProps(ctx, evoV2(), p))
	require.Equal(t, before+1, metadataFiles(t, tbl), "schema and properties in one commit")
	cur, err := tbl.refresh(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, cur.Schema().ID)
	require.Subset(t, map[string]string(cur.Properties()), p)

	require.NoError(t, tbl.EvolveProps(ctx, evoV2(), p))
	require.Equal(t, before+1, metadataFiles(t, tbl), "nothing to change, nothing committed")

	p["floe.registry.version"] = "3"
	require.NoError(t, tbl.EvolveProps(ctx, evoV2(), p))
	require.Equal(t, before+2, metadataFiles(t, tbl))
	require.Equal(t, "3", tbl.Properties()["floe.registry.version"])
	require.NoError(t, tbl.SetProperties(ctx, p))
	require.Equal(t, before+2, metadataFiles(t, tbl), "SetProperties is idempotent")
}

// TestMetadataFilesBounded: each commit deletes the table's metadata
// files beyond the newest write.metadata.previous-versions-max (here 3):
// without write.metadata.delete-after-commit.enabled every commit, one a
// checkpoint, left its metadata.json behind until orphan removal. A table
// created without the property (an older Floe, another tool) gets it when
// Floe opens it.
func TestMetadataFilesBounded(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	l := simpleLayout()
	sc, err := icebergSchema(l, l.Key)
	require.NoError(t, err)
	id := Ident{Namespace: "db", Name: "meta"}
	require.NoError(t, c.ensureNamespace(ctx, id))
	created := tableProperties()
	delete(created, table.MetadataDeleteAfterCommitEnabledKey)
	created[table.MetadataPreviousVersionsMaxKey] = "3"
	_, err = c.cat.CreateTable(ctx, id.iceberg(), sc, catalog.WithProperties(created))
	require.NoError(t, err)
	tbl, err := c.EnsureTable(ctx, id, l, l.Key)
	require.NoError(t, err)
	require.Equal(t, "true", tbl.Properties()[table.MetadataDeleteAfterCommitEnabledKey])
	for i := range 8 {
		_, err := tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(int64(i), "a")), Props: props(fmt.Sprint(i)), Token: "floe.checkpoint"})
		require.NoError(t, err)
	}
	u, err := url.Parse(tbl.Location())
	require.NoError(t, err)
	files, err := filepath.Glob(filepath.Join(u.Path, "metadata", "*.metadata.json"))
	require.NoError(t, err)
	require.Len(t, files, 4, "the current metadata file and the 3 before it; 10 commits wrote one each")
	require.Len(t, scanAll(t, tbl), 8)
}

// TestMetadataLocation: the metadata location read from the SQLite
// catalog's database is the table's, and moves with each commit.
func TestMetadataLocation(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	tbl := ensureSimple(t, c, "loc")
	id := Ident{Namespace: "db", Name: "loc"}
	before, err := c.MetadataLocation(ctx, id)
	require.NoError(t, err)
	cur, err := tbl.refresh(ctx)
	require.NoError(t, err)
	require.Equal(t, cur.MetadataLocation(), before)
	_, err = tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(1, "a")), Props: props("1"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	after, err := c.MetadataLocation(ctx, id)
	require.NoError(t, err)
	require.NotEqual(t, before, after)
	cur, err = tbl.refresh(ctx)
	require.NoError(t, err)
	require.Equal(t, cur.MetadataLocation(), after)
	_, err = c.MetadataLocation(ctx, Ident{Namespace: "db", Name: "none"})
	require.ErrorIs(t, err, ErrNoSuchTable)
}
