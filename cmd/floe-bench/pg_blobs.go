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
	_, err = c.Exec(ctx, "DROP TABLE IF EXISTS "+blobsTable+"; CREATE TABLE "+blobsTable+
		" (id bigint PRIMARY KEY, body text, data bytea, note text)")
	if err != nil {
		return fmt.Errorf("create %s: %w", blobsTable, err)
	}
	return nil
}

// execBlob runs op in tx with fresh values from g.
func (p *pgSource) execBlob(ctx context.Context, tx pgx.Tx, op blobOp, g *blobGen) error {
	var err error
	switch op.Kind {
	case blobInsert:
		text, bin := g.values(op.ID)
		_, err = tx.Exec(ctx, "INSERT INTO "+blobsTable+" VALUES ($1, $2, $3, $4)", op.ID, text, bin, fmt.Sprintf("n%d", op.ID))
	case blobNote:
		_, err = tx.Exec(ctx, "UPDATE "+blobsTable+" SET note = note || '+' WHERE id = $1", op.ID)
	case blobReplace:
		text, bin := g.values(op.ID)
		_, err = tx.Exec(ctx, "UPDATE "+blobsTable+" SET body = $1, data = $2 WHERE id = $3", text, bin, op.ID)
	default:
		_, err = tx.Exec(ctx, "DELETE FROM "+blobsTable+" WHERE id = $1", op.ID)
	}
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
		res.Changes += int64(len(txn))
		res.Txns++
	}
	if markerID > 0 {
		err = pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			if err := p.execBlob(ctx, tx, blobOp{blobNote, markerID}, g); err != nil {
				return err
			}
			var lsn string
			if err := tx.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&lsn); err != nil {
				return err
			}
			res.Marker, err = parseLSN(lsn)
			return err
		})
		if err != nil {
			return res, fmt.Errorf("marker transaction: %w", err)
		}
		res.Changes++
		res.Txns++
	}
	res.Elapsed = time.Since(start)
	return res, nil
}
