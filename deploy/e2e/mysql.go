package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/mysql"
	"github.com/floe-cdc/floe/deploy/testdb"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
)

// MySQLPosition returns the server's current GTID position in the form
// floe records it (mysql.v1:mariadb:... on MariaDB, mysql.v1:gtid:... on
// MySQL): every transaction committed before the call is at or before it.
func MySQLPosition(db *sql.DB, flavor string) (capture.Position, error) {
	query, form := "SELECT @@GLOBAL.gtid_binlog_pos", "mysql.v1:mariadb:"
	if flavor == testdb.FlavorMySQL {
		var mode string
		if err := db.QueryRow("SELECT @@GLOBAL.gtid_mode").Scan(&mode); err != nil {
			return nil, fmt.Errorf("read gtid_mode: %w", err)
		}
		if !strings.EqualFold(mode, "ON") {
			return mysqlFilePosition(db)
		}
		query, form = "SELECT REPLACE(@@GLOBAL.gtid_executed, '\n', '')", "mysql.v1:gtid:"
	}
	var gtid string
	if err := db.QueryRow(query).Scan(&gtid); err != nil {
		return nil, fmt.Errorf("read the server's GTID position: %w", err)
	}
	return mysql.DecodePosition(form + gtid)
}

// mysqlFilePosition is the binlog file and offset MySQL (gtid_mode OFF)
// writes at.
func mysqlFilePosition(db *sql.DB) (capture.Position, error) {
	rows, err := db.Query("SHOW BINARY LOG STATUS")
	if err != nil {
		return nil, fmt.Errorf("read the server's binlog position: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	if !rows.Next() {
		return nil, fmt.Errorf("SHOW BINARY LOG STATUS returned no row (is log_bin on?): %w", rows.Err())
	}
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	return mysql.DecodePosition(fmt.Sprintf("mysql.v1:file:%s:%s", vals[0], vals[1]))
}

// WaitCommitted waits until Iceberg table table has a commit of pipeline
// whose floe.position (a MySQL position) is at or after target, or any
// commit when target is nil. It fails when run, if not nil, exits first.
// A table read beside the stream commits positions past target while its
// chunks are still being read: wait for its snapshot to complete first.
// timeout bounds the wait for progress, not the catch-up: progress, when
// not nil, counts what floe has done so far (for example the checkpoint
// commits in its log); while it grows the wait goes on, and a floe that
// makes none for timeout is stuck. Without progress timeout bounds the
// whole wait.
func WaitCommitted(ctx context.Context, cat *lakewriter.Catalog, table lakewriter.Ident, pipeline string, target capture.Position, timeout time.Duration, run *testdb.Process, progress func() int) error {
	var exited <-chan struct{}
	if run != nil {
		exited = run.Exited
	}
	deadline, done := time.Now().Add(timeout), -1
	for {
		if progress != nil {
			if n := progress(); n != done {
				deadline, done = time.Now().Add(timeout), n
			}
		}
		tbl, err := cat.LoadTable(ctx, table)
		if err == nil {
			// What floe committed: on the re-snapshot branch while the
			// table has one (main keeps the old rows until it is complete).
			props, err := tbl.LatestPropsOn(ctx, lakewriter.ResnapshotBranch, ledger.CommitOf(pipeline))
			if err == nil && props != nil {
				if p, err := mysql.DecodePosition(props[ledger.PropPosition]); err == nil && (target == nil || p.Compare(target) >= 0) {
					return nil
				}
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("floe run exited while catching up: %v", run.Err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("floe did not commit %v to %s, and made no progress for %v", target, table, timeout)
		}
	}
}
