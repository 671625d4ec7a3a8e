package main

import (
	"context"
	"database/sql"
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
		return myTxn(ctx, c, stmts, func(tx *sql.Tx, q string) error {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("%.80s: %w", q, err)
			}
			return nil
		})
	}
	var res applyResult
	start := time.Now()
	for stmts := range txns {
		if err := run(stmts); err != nil {
			return res, fmt.Errorf("transaction %d: %w", res.Txns, err)
		}
		res.committed(len(stmts))
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if err := res.mariaMarker(ctx, c, len(marker), func() error { return run(marker) }); err != nil {
		return res, err
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// myTxn runs exec on each item, in order, in one transaction on c; the
// first error rolls the transaction back and is returned.
func myTxn[T any](ctx context.Context, c *sql.Conn, items []T, exec func(tx *sql.Tx, item T) error) error {
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	for _, item := range items {
		if err := exec(tx, item); err != nil {
			_ = tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

// mariaMarker ends a MariaDB apply on c with its marker transaction: run
// commits it (changes row changes); Marker becomes its GTID sequence minus
// one, so that every transaction before it is at or before Marker and the
// marker after it, and it is counted.
func (res *applyResult) mariaMarker(ctx context.Context, c *sql.Conn, changes int, run func() error) error {
	if err := run(); err != nil {
		return fmt.Errorf("marker transaction: %w", err)
	}
	seq, err := lastSeq(ctx, c)
	if err != nil {
		return fmt.Errorf("marker transaction: %w", err)
	}
	res.Marker = seq - 1
	res.committed(changes)
	return nil
}
