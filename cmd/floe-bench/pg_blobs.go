package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ResetBlobs re-creates blobsTable as floe's user (the owner, so that
// floe can publish it).
func (p *pgSource) ResetBlobs(ctx context.Context) error {
	c, err := p.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	if _, err := c.Exec(ctx, resetBlobs("(id bigint PRIMARY KEY, body text, data bytea, note text)")); err != nil {
		return fmt.Errorf("create %s: %w", blobsTable, err)
	}
	return nil
}

// execBlob runs op in tx with fresh values from g.
func (p *pgSource) execBlob(ctx context.Context, tx pgx.Tx, op blobOp, g *blobGen) error {
	q, args := blobStmt(op, g, pgParam)
	_, err := tx.Exec(ctx, q, args...)
	return err
}

func (p *pgSource) ApplyBlobs(ctx context.Context, txns [][]blobOp, g *blobGen, markerID int64) (applyResult, error) {
	c, err := pgx.Connect(ctx, p.db.AdminDSN(pgDatabase))
	if err != nil {
		return applyResult{}, fmt.Errorf("connect: %w", err)
	}
	defer c.Close(context.WithoutCancel(ctx))
	start := time.Now()
	var res applyResult
	for i, txn := range txns {
		err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			for _, op := range txn {
				if err := p.execBlob(ctx, tx, op, g); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("large-value transaction %d: %w", i, err)
		}
		res.committed(len(txn))
	}
	if markerID > 0 {
		res.Marker, err = markerTxn(ctx, c, func(tx pgx.Tx) error {
			return p.execBlob(ctx, tx, blobOp{blobNote, markerID}, g)
		})
		if err != nil {
			return res, fmt.Errorf("marker transaction: %w", err)
		}
		res.committed(1)
	}
	res.Elapsed = time.Since(start)
	return res, nil
}
