package mysql

import (
	"context"
	"fmt"

	"github.com/floe-cdc/floe/capture"
)

var _ capture.TableLister = (*Source)(nil)

// TableExists implements capture.TableLister: whether a base table of
// that database and name is in information_schema now.
func (s *Source) TableExists(ctx context.Context, id capture.TableID) (bool, error) {
	c, err := s.conn(ctx)
	if err != nil {
		return false, err
	}
	defer c.Close()
	var n int
	err = c.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND TABLE_TYPE = 'BASE TABLE'`,
		id.Schema, id.Name).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look up table %s: %w", id, err)
	}
	return n > 0, nil
}
