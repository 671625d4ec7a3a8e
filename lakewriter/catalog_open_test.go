package lakewriter

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
)

// sqliteBusyError returns a real SQLITE_BUSY error: a write on a
// connection without busy_timeout while another holds the write lock.
func sqliteBusyError(t *testing.T) error {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "busy.db")
	holder, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Close() })
	holder.SetMaxOpenConns(1)
	if _, err := holder.ExecContext(ctx, `CREATE TABLE x (v int)`); err != nil {
		t.Fatal(err)
	}
	if _, err := holder.ExecContext(ctx, `BEGIN EXCLUSIVE`); err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, err = other.ExecContext(ctx, `INSERT INTO x VALUES (1)`)
	if err == nil {
		t.Fatal("a write beside an exclusive lock succeeded")
	}
	return err
}

// TestPingCatalogWaitsWhileBusy: the catalog's first connection is tried
// again while SQLite answers SQLITE_BUSY (two floe runs opening one new
// catalog file at once stopped one with "database is locked (5)
// (SQLITE_BUSY)"); any other error returns at once.
func TestPingCatalogWaitsWhileBusy(t *testing.T) {
	busy := sqliteBusyError(t)
	calls := 0
	err := pingCatalog(context.Background(), func(context.Context) error {
		calls++
		if calls < 3 {
			return busy
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("pingCatalog = %v after %d pings, want nil after 3 (busy twice)", err, calls)
	}
	other := errors.New("unable to open database file")
	calls = 0
	err = pingCatalog(context.Background(), func(context.Context) error { calls++; return other })
	if !errors.Is(err, other) || calls != 1 {
		t.Fatalf("pingCatalog = %v after %d pings, want the error after 1", err, calls)
	}
}
