package registry

import (
	"context"
	"database/sql"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/deploy/testdb"
)

// TestEmbeddedPostgres runs the embedded registry on a real PostgreSQL
// server (the SQL catalog's other database): two registries on one
// database register, refuse and share IDs as on SQLite.
func TestEmbeddedPostgres(t *testing.T) {
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

	open := func() *Embedded {
		db, err := sql.Open("pgx", dsn)
		require.NoError(t, err)
		t.Cleanup(func() { db.Close() })
		e, err := OpenEmbedded(ctx, db, Postgres, Backward)
		require.NoError(t, err)
		return e
	}
	a, b := open(), open()
	subject := "shop.orders-value"
	v1 := avroOf(t, col("id", long, false), col("qty", integer, false))
	r1, err := a.Register(ctx, subject, v1)
	require.NoError(t, err)
	require.Equal(t, Registered{ID: 1, Version: 1}, r1)
	again, err := b.Register(ctx, subject, v1)
	require.NoError(t, err)
	require.Equal(t, r1, again)

	_, err = b.Register(ctx, subject, avroOf(t, col("id", long, false), col("qty", text, false)))
	var ie *IncompatibleError
	require.ErrorAs(t, err, &ie)
	require.Equal(t, Backward, ie.Rule)

	r2, err := b.Register(ctx, subject, avroOf(t, col("id", long, false), col("qty", long, false)))
	require.NoError(t, err)
	require.Equal(t, Registered{ID: 2, Version: 2}, r2)
	other, err := a.Register(ctx, "other-value", v1)
	require.NoError(t, err)
	require.Equal(t, Registered{ID: 1, Version: 1}, other)
}
