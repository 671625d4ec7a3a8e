package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/floe-cdc/floe/capture"
)

var _ capture.TableLister = (*Source)(nil)

// TableExists implements capture.TableLister: whether a table (ordinary or
// partitioned) of that schema and name is in the catalog now.
func (s *Source) TableExists(ctx context.Context, id capture.TableID) (bool, error) {
	var exists bool
	if err := s.queryRow(ctx, "look up table "+id.String(), `SELECT to_regclass($1) IS NOT NULL`,
		[]any{pgx.Identifier{id.Schema, id.Name}.Sanitize()}, &exists); err != nil {
		return false, err
	}
	return exists, nil
}
