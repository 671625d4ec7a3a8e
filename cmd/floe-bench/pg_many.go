package main

import (
	"context"
	"fmt"
	"iter"
	"time"

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
	for _, q := range stmts {
		if _, err := c.Exec(ctx, q); err != nil {
			return fmt.Errorf("%.80s: %w", q, err)
		}
	}
	return nil
}

// ApplyTxns runs each transaction of txns, then marker, whose
// transaction holds Marker (markerTxn).
func (p *pgSource) ApplyTxns(ctx context.Context, txns iter.Seq[[]string], marker []string) (applyResult, error) {
	c, err := pgx.Connect(ctx, p.db.AdminDSN(pgDatabase))
	if err != nil {
		return applyResult{}, fmt.Errorf("connect: %w", err)
	}
	defer c.Close(context.WithoutCancel(ctx))
	body := func(stmts []string) func(pgx.Tx) error {
		return func(tx pgx.Tx) error {
			for _, q := range stmts {
				if _, err := tx.Exec(ctx, q); err != nil {
					return fmt.Errorf("%.80s: %w", q, err)
				}
			}
			return nil
		}
	}
	var res applyResult
	start := time.Now()
	for stmts := range txns {
		if err := pgx.BeginFunc(ctx, c, body(stmts)); err != nil {
			return res, fmt.Errorf("transaction %d: %w", res.Txns, err)
		}
		res.committed(len(stmts))
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if res.Marker, err = markerTxn(ctx, c, body(marker)); err != nil {
		return res, fmt.Errorf("marker transaction: %w", err)
	}
	res.committed(len(marker))
	res.Elapsed = time.Since(start)
	return res, nil
}
