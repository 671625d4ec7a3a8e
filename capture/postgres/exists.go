package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/floe-cdc/floe/capture"
)

var _ capture.TableLister = (*Source)(nil)

// TableExists implements capture.TableLister: whether a table (ordinary or
// partitioned) of that schema and name is in the catalog now.
func (s *Source) TableExists(ctx context.Context, id capture.TableID) (bool, error) {
	conn, err := s.connect(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	err = conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, pgx.Identifier{id.Schema, id.Name}.Sanitize()).Scan(&exists)
	if err != nil {
		return false, fmt.Errorf("look up table %s: %w", id, err)
	}
	return exists, nil
}
