package lakewriter

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/deploy/testdb"
	"github.com/floe-cdc/floe/schema"
)

// TestPostgresCatalog runs the catalog on a real PostgreSQL server.
func TestPostgresCatalog(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg, err := testdb.StartPostgres(ctx, testdb.PostgresOptions{WALLevel: "replica"})
	require.NoError(t, err)
	t.Cleanup(func() { pg.Stop() })
	dsn, err := pg.CreateDatabase(ctx, "iceberg_catalog", "floe_catalog", "s3cret")
	require.NoError(t, err)

	warehouse := filepath.Join(t.TempDir(), "warehouse")
	opts := Options{CatalogName: "floe_pg", URI: dsn, Warehouse: warehouse}
	c, err := Open(ctx, opts)
	require.NoError(t, err)
	defer c.Close()

	a := ensureSimple(t, c, "pg_table")
	_, err = a.Commit(ctx, Commit{Rows: seqOf(simpleRow(1, "a"), simpleRow(2, "b")), Props: props("1"), Token: "floe.checkpoint"})
	require.NoError(t, err)

	// A second catalog handle (another process in production) commits
	// while the first is writing: the conflict is resolved by retrying.
	c2, err := Open(ctx, opts)
	require.NoError(t, err)
	defer c2.Close()
	b, err := c2.LoadTable(ctx, a.Ident())
	require.NoError(t, err)
	var bErr error
	rowsA := func(yield func(schema.Row, error) bool) {
		_, bErr = b.Commit(ctx, Commit{Rows: seqOf(simpleRow(3, "c")), Props: map[string]string{"floe.pipeline": "p2", "floe.checkpoint": "x"}, Token: "floe.checkpoint"})
		yield(simpleRow(2, "b2"), nil)
	}
	res, err := a.Commit(ctx, Commit{Rows: rowsA, DeleteKeys: keysOf(2), Props: props("2"), Token: "floe.checkpoint"})
	require.NoError(t, bErr)
	require.NoError(t, err)
	require.Equal(t, 2, res.Attempts)

	want := []schema.Row{simpleRow(1, "a"), simpleRow(2, "b2"), simpleRow(3, "c")}
	require.Equal(t, want, scanAll(t, b))
	got, err := b.LatestProps(ctx, func(p map[string]string) bool { return p["floe.pipeline"] == "p1" })
	require.NoError(t, err)
	require.Equal(t, "2", got["floe.checkpoint"])

	// The catalog rows are in PostgreSQL in the JDBC catalog layout.
	require.NoError(t, pg.Exec(ctx, "iceberg_catalog",
		`DO $$ BEGIN
		   IF (SELECT count(*) FROM iceberg_tables WHERE catalog_name = 'floe_pg' AND table_namespace = 'db' AND table_name = 'pg_table') <> 1
		   THEN RAISE EXCEPTION 'catalog row missing'; END IF;
		 END $$`))
}
