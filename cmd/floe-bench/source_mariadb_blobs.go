package main

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// ResetBlobs re-creates blobsTable.
func (s *mariaSource) ResetBlobs(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, resetBlobs("(id BIGINT PRIMARY KEY, body LONGTEXT, data LONGBLOB, note VARCHAR(255)) ENGINE=InnoDB")); err != nil {
		return fmt.Errorf("create %s: %w", blobsTable, err)
	}
	return nil
}

// execBlob runs op in tx with fresh values from g (a statement larger
// than the driver's packet limit is sent as a prepared statement with
// long data).
func (s *mariaSource) execBlob(ctx context.Context, tx *sql.Tx, op blobOp, g *blobGen) error {
	q, args := blobStmt(op, g, myParam)
	_, err := tx.ExecContext(ctx, q, args...)
	return err
}

// ApplyBlobs writes each transaction; Marker is the marker transaction's
// GTID sequence minus one (see Apply).
func (s *mariaSource) ApplyBlobs(ctx context.Context, txns [][]blobOp, g *blobGen, markerID int64) (applyResult, error) {
	c, err := s.db.Conn(ctx)
	if err != nil {
		return applyResult{}, fmt.Errorf("connect: %w", err)
	}
	defer c.Close()
	txn := func(ops []blobOp) error {
		return myTxn(ctx, c, ops, func(tx *sql.Tx, op blobOp) error { return s.execBlob(ctx, tx, op, g) })
	}
	start := time.Now()
	var res applyResult
	for i, ops := range txns {
		if err := txn(ops); err != nil {
			return res, fmt.Errorf("large-value transaction %d: %w", i, err)
		}
		res.committed(len(ops))
	}
	if markerID > 0 {
		if err := res.mariaMarker(ctx, c, 1, func() error { return txn([]blobOp{{blobNote, markerID}}) }); err != nil {
			return res, err
		}
	}
	res.Elapsed = time.Since(start)
	return res, nil
}
