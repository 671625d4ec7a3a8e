package main

import (
	"context"
	"database/sql"
	"fmt"
)

// ExecOwned runs stmts one by one (as the admin: MariaDB grants floe's
// user what it captures by database, not by owner).
func (s *mariaSource) ExecOwned(ctx context.Context, stmts []string) error {
	return execEach(stmts, func(q string, args ...any) error {
		_, err := s.db.ExecContext(ctx, q, args...)
		return err
	})
}

// myTxnConn is MariaDB's txnConn, a connection of the root pool.
type myTxnConn struct{ c *sql.Conn }

func (s *mariaSource) TxnConn(ctx context.Context) (txnConn, error) {
	c, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return myTxnConn{c}, nil
}

func (t myTxnConn) txn(ctx context.Context, body func(execFunc) error) error {
	tx, err := t.c.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	// A statement larger than the driver's packet limit is sent as a
	// prepared statement with long data.
	err = body(func(q string, args ...any) error {
		_, err := tx.ExecContext(ctx, q, args...)
		return err
	})
	if err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// marker runs body as txn does; Marker is the transaction's GTID
// sequence minus one (markerSeq).
func (t myTxnConn) marker(ctx context.Context, body func(execFunc) error) (pos, error) {
	if err := t.txn(ctx, body); err != nil {
		return 0, err
	}
	return markerSeq(ctx, t.c)
}

func (t myTxnConn) param(n int) string { return myParam(n) }

func (t myTxnConn) close(context.Context) { _ = t.c.Close() }

// markerSeq is Marker for the marker transaction just committed on c: its
// GTID sequence minus one, so that every transaction before it is at or
// before Marker, and the marker after it.
func markerSeq(ctx context.Context, c *sql.Conn) (pos, error) {
	seq, err := lastSeq(ctx, c)
	if err != nil {
		return 0, err
	}
	return seq - 1, nil
}
