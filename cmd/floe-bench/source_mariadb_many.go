package main

import (
	"context"
	"fmt"
	"iter"
	"time"
)

// ExecOwned runs stmts one by one (as the admin: MariaDB grants floe's
// user what it captures by database, not by owner).
func (s *mariaSource) ExecOwned(ctx context.Context, stmts []string) error {
	for _, q := range stmts {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%.80s: %w", q, err)
		}
	}
	return nil
}

// ApplyTxns runs each transaction of txns, then marker; Marker is the
// marker transaction's GTID sequence minus one (see Apply).
func (s *mariaSource) ApplyTxns(ctx context.Context, txns iter.Seq[[]string], marker []string) (applyResult, error) {
	c, err := s.db.Conn(ctx)
	if err != nil {
		return applyResult{}, fmt.Errorf("connect: %w", err)
	}
	defer c.Close()
	run := func(stmts []string) error {
		tx, err := c.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		for _, q := range stmts {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				_ = tx.Rollback()
				return fmt.Errorf("%.80s: %w", q, err)
			}
		}
		return tx.Commit()
	}
	var res applyResult
	start := time.Now()
	for stmts := range txns {
		if err := run(stmts); err != nil {
			return res, fmt.Errorf("transaction %d: %w", res.Txns, err)
		}
		res.Changes += int64(len(stmts))
		res.Txns++
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if err := run(marker); err != nil {
		return res, fmt.Errorf("marker transaction: %w", err)
	}
	seq, err := lastSeq(ctx, c)
	if err != nil {
		return res, fmt.Errorf("marker transaction: %w", err)
	}
	res.Marker = seq - 1
	res.Changes += int64(len(marker))
	res.Txns++
	res.Elapsed = time.Since(start)
	return res, nil
}
