package mysql

import (
	"context"
	"database/sql"
	sqldriver "database/sql/driver"
	"errors"
	"fmt"
	"time"

	driver "github.com/go-sql-driver/mysql"
)

// Watermark windows with binlog file positions (MySQL with gtid_mode OFF).
//
// A binlog offset read at any moment is no low watermark: it passes a
// transaction once its events are flushed, before InnoDB commits it
// (window.go). Read while the session holds LOCK TABLES t READ it is, for
// t: taking the lock waits until every transaction that wrote t has ended
// (each holds t's metadata lock until after its commit, in the binlog and
// in InnoDB alike), and no transaction writes t until the lock is
// released. So every change of t in the binlog at or before the offset L
// read under the lock is committed in InnoDB, and every change of t after
// the release is after L in the binlog. A consistent snapshot started
// (on another connection) while the lock is held sees exactly t's changes
// up to L: the chunk's rows are t's state at L, and the window closes at
// once (H = L). The stream places a change of t by the end of its row
// event, wholly before or wholly after L like its transaction.
//
// The lock is held for two statements (read the offset, start the
// snapshot): writers of t wait those milliseconds. Taking it waits at
// most lockWaitSeconds for a transaction still open on t (writers queue
// behind the waiting lock meanwhile), then is tried again after a pause.
//
// It needs the LOCK TABLES privilege on t's database (and SELECT, which
// reading needs anyway). Whether the user has it is probed once per
// database, the first time a table of it is asked about: without it the
// table is read before the stream, as it was before windows with file
// positions existed, and Floe logs the GRANT that would change that.

// lockWaitSeconds bounds one attempt to take a chunk's table lock
// (lock_wait_timeout): writers of the table queue behind the waiting lock
// request for as long.
const lockWaitSeconds = 1

// lockRetryPause is the pause between attempts to take a chunk's table
// lock when a transaction kept the table busy.
const lockRetryPause = 200 * time.Millisecond

// MySQL error numbers the table lock tells apart.
const (
	errDBAccessDenied    = 1044 // ER_DBACCESS_DENIED_ERROR: no LOCK TABLES on the database
	errTableAccessDenied = 1142 // ER_TABLEACCESS_DENIED_ERROR
	errLockWaitTimeout   = 1205 // ER_LOCK_WAIT_TIMEOUT
)

// errLockDenied is matched by the error of a table lock the user may not
// take.
var errLockDenied = errors.New("the LOCK TABLES privilege is missing")

// lockWindows reports whether t's chunks can be read in watermark windows
// with file positions: whether the user may lock t's tables (probed once
// per database, see the top of this file).
func (s *Source) lockWindows(t *table) bool {
	db := t.id.Schema
	s.mu.Lock()
	ok, known := s.lockable[db]
	s.mu.Unlock()
	if known {
		return ok
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.StallTimeout)
	defer cancel()
	err := s.probeLock(ctx, t)
	ok = err == nil
	switch {
	case errors.Is(err, errLockDenied):
		s.base.Log.Info("tables of this database are read before the stream when snapshotted while Floe runs: with gtid_mode OFF a chunk read beside the stream needs a brief table lock",
			"database", db, "fix", fmt.Sprintf("GRANT LOCK TABLES ON %s.* TO '%s'@'<host>'", quoteIdent(db), s.cfg.User))
	case err != nil:
		s.base.Log.Warn("could not tell whether Floe may lock the tables of this database; their snapshots while Floe runs are read before the stream", "database", db, "error", err)
	}
	s.mu.Lock()
	if s.lockable == nil {
		s.lockable = map[string]bool{}
	}
	s.lockable[db] = ok
	s.mu.Unlock()
	return ok
}

// probeLock takes t's read lock and releases it: nil when the user may,
// errLockDenied when not. A lock that waited out lockWaitSeconds for a
// busy table was allowed: the privilege is checked before the wait.
func (s *Source) probeLock(ctx context.Context, t *table) error {
	c, err := s.conn(ctx)
	if err != nil {
		return err
	}
	defer discardConn(c)
	err = lockTableRead(ctx, c, t)
	if err == nil {
		return unlockTables(ctx, c)
	}
	if isLockTimeout(err) {
		return nil
	}
	return err
}

// lockTableRead takes LOCK TABLES t READ on c, waiting at most
// lockWaitSeconds.
func lockTableRead(ctx context.Context, c *sql.Conn, t *table) error {
	if _, err := c.ExecContext(ctx, fmt.Sprintf("SET SESSION lock_wait_timeout = %d", lockWaitSeconds)); err != nil {
		return fmt.Errorf("set lock_wait_timeout: %w", err)
	}
	_, err := c.ExecContext(ctx, fmt.Sprintf("LOCK TABLES %s.%s READ", quoteIdent(t.id.Schema), quoteIdent(t.id.Name)))
	var me *driver.MySQLError
	if errors.As(err, &me) && (me.Number == errDBAccessDenied || me.Number == errTableAccessDenied) {
		return fmt.Errorf("lock %s: %w: %w", t.id, errLockDenied, err)
	}
	if err != nil {
		return fmt.Errorf("lock %s: %w", t.id, err)
	}
	return nil
}

func isLockTimeout(err error) bool {
	var me *driver.MySQLError
	return errors.As(err, &me) && me.Number == errLockWaitTimeout
}

// discardConn closes c without returning it to the pool: lockTableRead
// set its session's lock_wait_timeout to lockWaitSeconds, and a pooled
// connection keeping it would give any later statement on it (a chunk's
// read waiting for a table's metadata lock behind a DDL, say) one second
// before failing with ER_LOCK_WAIT_TIMEOUT. A fresh-clone run failed so
// on 2026-12-05: "read chunk 50 of my_bwrite.t_new: Error 1205".
func discardConn(c *sql.Conn) {
	_ = c.Raw(func(any) error { return sqldriver.ErrBadConn })
	_ = c.Close()
}

// unlockTables releases c's table locks. When that fails, c is discarded
// rather than returned to the pool still holding them.
func unlockTables(ctx context.Context, c *sql.Conn) error {
	if _, err := c.ExecContext(context.WithoutCancel(ctx), "UNLOCK TABLES"); err != nil {
		_ = c.Raw(func(any) error { return sqldriver.ErrBadConn })
		return fmt.Errorf("unlock tables: %w", err)
	}
	return nil
}

// snapshotUnderLock starts, on c, the consistent snapshot a chunk of t is
// read in, and returns the binlog position it is exact at (see the top
// of this file): under t's read lock, taken on a connection of its own,
// it reads the position and starts the snapshot, then releases the lock.
func (s *Source) snapshotUnderLock(ctx context.Context, c *sql.Conn, t *table) (Position, error) {
	lc, err := s.conn(ctx)
	if err != nil {
		return Position{}, err
	}
	defer discardConn(lc)
	for {
		err := lockTableRead(ctx, lc, t)
		if err == nil {
			break
		}
		if !isLockTimeout(err) {
			return Position{}, err
		}
		s.base.Log.Debug("a transaction keeps the table busy; the chunk's lock is tried again", "table", t.id.String())
		select {
		case <-ctx.Done():
			return Position{}, ctx.Err()
		case <-time.After(lockRetryPause):
		}
	}
	low, err := s.currentPosition(ctx, lc)
	if err == nil && low.Kind != KindFile {
		err = fmt.Errorf("the server reports a %s position (was gtid_mode changed?)", low.kindName())
	}
	if err == nil {
		err = beginConsistent(ctx, c)
	}
	if uerr := unlockTables(ctx, lc); err == nil && uerr != nil {
		_, _ = c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		err = uerr
	}
	if err != nil {
		return Position{}, fmt.Errorf("watermark under the lock of %s: %w", t.id, err)
	}
	return low, nil
}
