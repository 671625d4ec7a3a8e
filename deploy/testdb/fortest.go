package testdb

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/go-sql-driver/mysql" // database/sql driver "mysql"
	"github.com/jackc/pgx/v5"
)

// This file is the test-facing side of the servers: each helper fails the
// test instead of returning an error and releases what it made at the
// test's cleanup, so that every test sets a server up the same way.

// StartMariaDBForTest starts a MariaDB (or the server FLOE_TEST_MYSQL
// names) for test t within ctx (StartMariaDB); the server is stopped at
// t's cleanup.
func StartMariaDBForTest(ctx context.Context, t testing.TB, opts MariaDBOptions) *MariaDB {
	t.Helper()
	m, err := StartMariaDB(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			logServerTail(t, "MariaDB", filepath.Join(m.Dir, "server.log"))
		}
		_ = m.Stop()
	})
	return m
}

// logServerTail logs the last lines of a failed test's server log before
// the server's directory is removed: a connection the server closed (the
// driver's "unexpected EOF") is explained there, or nowhere.
func logServerTail(t testing.TB, server, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Logf("%s server log %s: %v", server, path, err)
		return
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	t.Logf("%s server log, last %d lines of %s:\n%s", server, min(len(lines), 40), path, strings.Join(lines[max(0, len(lines)-40):], "\n"))
}

// DatabaseForTest creates database db and its CDC user (CreateDatabase:
// the grants a binlog reader needs) and returns a connection to db as
// root, closed at t's cleanup. params, when not empty, are added to the
// DSN ("time_zone=%27%2B00%3A00%27&charset=utf8mb4").
func (m *MariaDB) DatabaseForTest(t testing.TB, db, user, password, params string) *sql.DB {
	t.Helper()
	if err := m.CreateDatabase(context.Background(), db, user, password); err != nil {
		t.Fatal(err)
	}
	dsn := m.RootDSN(db)
	if params != "" {
		dsn += "?" + params
	}
	root, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return root
}

// DatabaseForTest creates database db owned by a new LOGIN REPLICATION
// role user (CreateDatabase) and returns the role's DSN. At t's cleanup
// the replication slot slot (when not "") is dropped unless a walsender
// still holds it, so that the shared cluster does not retain WAL for a
// finished test; then the database and the role are dropped (best
// effort: a slot still held keeps the database), so that the same test
// can run again on the cluster (go test -count).
func (p *Postgres) DatabaseForTest(t testing.TB, db, user, password, slot string) string {
	t.Helper()
	dsn, err := p.CreateDatabase(context.Background(), db, user, password)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.Exec(context.Background(), "postgres",
			fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", pgx.Identifier{db}.Sanitize()),
			fmt.Sprintf("DROP ROLE IF EXISTS %s", pgx.Identifier{user}.Sanitize()))
	})
	if slot != "" {
		t.Cleanup(func() { _ = p.DropSlot(context.Background(), slot) })
	}
	return dsn
}

// DropSlot drops replication slot slot unless a walsender holds it; a
// missing slot is no error.
func (p *Postgres) DropSlot(ctx context.Context, slot string) error {
	return p.Exec(ctx, "postgres", fmt.Sprintf(
		"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '%s' AND NOT active", slot))
}
