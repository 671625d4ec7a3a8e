package main

import (
	"context"
	"fmt"
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
