package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/floe-cdc/floe/capture"
)

// checkChunkLayout is called with the result of a chunk read, on the
// connection and in the transaction that read it, and refuses the read
// with capture.ErrLayoutChanged when table t changed under the snapshot
// in a way the read cannot show:
//   - the table was rewritten after the snapshot (ALTER TABLE ... TYPE
//     int8 and other rewriting forms, which are not MVCC-safe: under a
//     snapshot taken before the rewrite the table reads as empty). The
//     read's ACCESS SHARE lock is still held, so pg_class as of the
//     snapshot (relfilenode) is compared with the relation's current
//     file (pg_relation_filenode);
//   - a column the snapshot reads is gone (the read failed with
//     undefined_column).
//
// An added column needs nothing: the read names its columns and returns
// the old layout's rows as of the snapshot. floe run starts again at once
// on capture.ErrLayoutChanged, discovering the new layout; the stream's
// Relation messages follow the change itself.
func checkChunkLayout(ctx context.Context, c *pgx.Conn, t *table, readErr error) error {
	if readErr != nil {
		var pgErr *pgconn.PgError
		if errors.As(readErr, &pgErr) && pgErr.Code == "42703" { // undefined_column
			return fmt.Errorf("%w (%s was altered: %v)", capture.ErrLayoutChanged, t.id, readErr)
		}
		return readErr
	}
	var rewritten bool
	err := c.QueryRow(ctx, `SELECT relfilenode IS DISTINCT FROM pg_relation_filenode(oid) FROM pg_class WHERE oid = $1`, t.oid).Scan(&rewritten)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%w (%s was dropped or replaced after it was discovered)", capture.ErrLayoutChanged, t.id)
	case err != nil:
		return fmt.Errorf("check the layout of %s: %w", t.id, err)
	case rewritten:
		return fmt.Errorf("%w (%s was rewritten after the snapshot was taken (ALTER TABLE ... TYPE, TRUNCATE, VACUUM FULL or CLUSTER), and a rewritten table can read as empty under an older snapshot)", capture.ErrLayoutChanged, t.id)
	}
	return nil
}
