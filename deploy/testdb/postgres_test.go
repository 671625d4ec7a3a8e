package testdb

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestStartPostgresLogical(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pg, err := StartPostgres(ctx, PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Stop() })
	spec := postgresSpec("")
	t.Logf("%s: %s", spec, pg.Version)
	major, _, _ := strings.Cut(spec.Version, ".")
	if major == "" {
		major = debianPostgresMajor
	}
	if !strings.HasPrefix(pg.Version, major+".") {
		t.Errorf("asked for %s, got server_version %s", spec, pg.Version)
	}
	dsn, err := pg.CreateDatabase(ctx, "shop", "floe", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var level string
	if err := conn.QueryRow(ctx, "SHOW wal_level").Scan(&level); err != nil {
		t.Fatal(err)
	}
	if level != "logical" {
		t.Fatalf("wal_level = %q, want logical", level)
	}
	if _, err := pgx.Connect(ctx, pg.DSN("shop", "floe", "wrong")); err == nil {
		t.Fatal("wrong password was accepted; password auth is not enforced")
	}
}
