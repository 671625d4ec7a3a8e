package main

import (
	"context"
	"fmt"
	"iter"
	"time"
)

// execFunc runs one statement, with its arguments, on a source.
type execFunc func(q string, args ...any) error

// txnConn is one connection through which a source writes a pass of
// transactions: what differs between the sources, while applyTxns and
// applyBlobs are what does not.
type txnConn interface {
	// txn runs body in one transaction and commits it; an error of body
	// rolls the transaction back and is returned.
	txn(ctx context.Context, body func(exec execFunc) error) error
	// marker runs body as the pass's marker transaction (as txn) and
	// returns Marker: at or after the end of every transaction committed
	// before it, and before its own end.
	marker(ctx context.Context, body func(exec execFunc) error) (pos, error)
	// param writes a statement's n-th placeholder (from 1).
	param(n int) string
	close(ctx context.Context)
}

// execEach runs each statement of stmts with exec, in order, and stops at
// the first error, which names the statement (its first 80 bytes).
func execEach(stmts []string, exec execFunc) error {
	for _, q := range stmts {
		if err := exec(q); err != nil {
			return fmt.Errorf("%.80s: %w", q, err)
		}
	}
	return nil
}

// applyTxns runs the statements of each slice txns yields as one
// transaction of src, in order, then marker as one transaction, and Marker
// is inside that (after every transaction of txns). Changes counts
// statements (each changes one row), the marker's too; when ctx ends it
// returns ctx's error.
func applyTxns(ctx context.Context, src benchSource, txns iter.Seq[[]string], marker []string) (applyResult, error) {
	c, err := src.TxnConn(ctx)
	if err != nil {
		return applyResult{}, err
	}
	defer c.close(ctx)
	body := func(stmts []string) func(execFunc) error {
		return func(exec execFunc) error { return execEach(stmts, exec) }
	}
	var res applyResult
	start := time.Now()
	for stmts := range txns {
		if err := c.txn(ctx, body(stmts)); err != nil {
			return res, fmt.Errorf("transaction %d: %w", res.Txns, err)
		}
		res.committed(len(stmts))
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if res.Marker, err = c.marker(ctx, body(marker)); err != nil {
		return res, fmt.Errorf("marker transaction: %w", err)
	}
	res.committed(len(marker))
	res.Elapsed = time.Since(start)
	return res, nil
}

// applyBlobs runs each of txns as one transaction of src, in order, with
// fresh values from g for inserts and replacements; then, when markerID >
// 0, a marker transaction that sets the note of row markerID, and Marker
// is inside it (after every transaction of txns). Changes counts the
// marker too.
func applyBlobs(ctx context.Context, src benchSource, txns [][]blobOp, g *blobGen, markerID int64) (applyResult, error) {
	c, err := src.TxnConn(ctx)
	if err != nil {
		return applyResult{}, err
	}
	defer c.close(ctx)
	body := func(ops []blobOp) func(execFunc) error {
		return func(exec execFunc) error {
			for _, op := range ops {
				q, args := blobStmt(op, g, c.param)
				if err := exec(q, args...); err != nil {
					return err
				}
			}
			return nil
		}
	}
	start := time.Now()
	var res applyResult
	for i, ops := range txns {
		if err := c.txn(ctx, body(ops)); err != nil {
			return res, fmt.Errorf("large-value transaction %d: %w", i, err)
		}
		res.committed(len(ops))
	}
	if markerID > 0 {
		if res.Marker, err = c.marker(ctx, body([]blobOp{{blobNote, markerID}})); err != nil {
			return res, fmt.Errorf("marker transaction: %w", err)
		}
		res.committed(1)
	}
	res.Elapsed = time.Since(start)
	return res, nil
}
