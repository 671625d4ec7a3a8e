package main

import (
	"context"
	"fmt"
)

// ResetBlobs re-creates blobsTable.
func (s *mariaSource) ResetBlobs(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, resetBlobs("(id BIGINT PRIMARY KEY, body LONGTEXT, data LONGBLOB, note VARCHAR(255)) ENGINE=InnoDB")); err != nil {
		return fmt.Errorf("create %s: %w", blobsTable, err)
	}
	return nil
}
