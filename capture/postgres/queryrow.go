package postgres

import (
	"context"
	"fmt"
)

// queryRow runs query with args on a connection of its own, closed
// before it returns, and scans its one row into dest: a one-off catalog
// or status read. A failed connect is returned as connect returns it; a
// failed query or scan (pgx.ErrNoRows included, for errors.Is) as
// "<what>: <error>".
func (s *Source) queryRow(ctx context.Context, what, query string, args []any, dest ...any) error {
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := conn.QueryRow(ctx, query, args...).Scan(dest...); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
