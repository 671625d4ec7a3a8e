package main

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ExecOwned runs stmts one by one as floe's user, so that it owns the
// tables it creates and can publish them.
func (p *pgSource) ExecOwned(ctx context.Context, stmts []string) error {
	c, err := p.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	return execEach(stmts, func(q string, args ...any) error {
		_, err := c.Exec(ctx, q, args...)
		return err
	})
}

// pgTxnConn is PostgreSQL's txnConn, an admin connection.
type pgTxnConn struct{ c *pgx.Conn }

func (p *pgSource) TxnConn(ctx context.Context) (txnConn, error) {
	c, err := pgx.Connect(ctx, p.db.AdminDSN(pgDatabase))
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return pgTxnConn{c}, nil
}

func (t pgTxnConn) txn(ctx context.Context, body func(execFunc) error) error {
	return pgx.BeginFunc(ctx, t.c, func(tx pgx.Tx) error { return body(pgTxExec(ctx, tx)) })
}

// marker runs body in markerTxn: Marker is the WAL insert position read
// inside the transaction after body.
func (t pgTxnConn) marker(ctx context.Context, body func(execFunc) error) (pos, error) {
	return markerTxn(ctx, t.c, func(tx pgx.Tx) error { return body(pgTxExec(ctx, tx)) })
}

func (t pgTxnConn) param(n int) string { return pgParam(n) }

func (t pgTxnConn) close(ctx context.Context) { _ = t.c.Close(context.WithoutCancel(ctx)) }

// pgTxExec runs statements in tx.
func pgTxExec(ctx context.Context, tx pgx.Tx) execFunc {
	return func(q string, args ...any) error {
		_, err := tx.Exec(ctx, q, args...)
		return err
	}
}
