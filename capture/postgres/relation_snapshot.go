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
// with capture.ErrLayoutChanged when the rows it read are not rows of
// table t as discovered:
//   - the table was altered after it was discovered and before the
//     snapshot was taken: the rows are in the new layout, which the
//     discovered decoders would read wrong (a float4 widened to float8
//     parsed as float4 loses digits) or incompletely (a column added and
//     filled). pg_attribute read in the snapshot's transaction is the
//     catalog as of the snapshot, the layout the rows are in, and must
//     be the discovered one;
//   - the table was rewritten after the snapshot by an ALTER TABLE
//     (ALTER COLUMN ... TYPE int8 and other rewriting forms are not
//     MVCC-safe: under a snapshot taken before the rewrite the table reads
//     as empty). The read's ACCESS SHARE lock is still held, so pg_class
//     as of the snapshot (relfilenode) is compared with the relation's
//     current file (pg_relation_filenode); a new file whose columns are
//     still the discovered ones (read on a connection of its own, outside
//     the snapshot) is a TRUNCATE, whose effect the stream carries, or a
//     VACUUM FULL or CLUSTER, which keep rows visible to older snapshots;
//   - a column the snapshot reads is gone (the read failed with
//     undefined_column).
//
// An added column needs nothing: the read names its columns and returns
// the old layout's rows as of the snapshot. floe run starts again at once
// on capture.ErrLayoutChanged, discovering the new layout; the stream's
// Relation messages follow the change itself.
func (s *Source) checkChunkLayout(ctx context.Context, c *pgx.Conn, t *table, readErr error) error {
	if readErr != nil {
		var pgErr *pgconn.PgError
		if errors.As(readErr, &pgErr) && pgErr.Code == "42703" { // undefined_column
			return fmt.Errorf("%w (%s was altered: %v)", capture.ErrLayoutChanged, t.id, readErr)
		}
		return readErr
	}
	asOfSnapshot, err := readAtts(ctx, c, t.oid)
	if err != nil {
		return fmt.Errorf("check the layout of %s: %w", t.id, err)
	}
	if !sameAtts(asOfSnapshot, t) {
		return fmt.Errorf("%w (%s was altered after it was discovered and before the snapshot was taken; its rows are in the new layout)", capture.ErrLayoutChanged, t.id)
	}
	var rewritten bool
	err = c.QueryRow(ctx, `SELECT relfilenode IS DISTINCT FROM pg_relation_filenode(oid) FROM pg_class WHERE oid = $1`, t.oid).Scan(&rewritten)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%w (%s was dropped or replaced after it was discovered)", capture.ErrLayoutChanged, t.id)
	case err != nil:
		return fmt.Errorf("check the layout of %s: %w", t.id, err)
	case !rewritten:
		return nil
	}
	same, err := s.sameCatalogLayout(ctx, t)
	if err != nil {
		return fmt.Errorf("check the layout of %s: %w", t.id, err)
	}
	if !same {
		return fmt.Errorf("%w (%s was rewritten by an ALTER TABLE after the snapshot was taken, and a rewritten table reads as empty under an older snapshot)", capture.ErrLayoutChanged, t.id)
	}
	return nil
}

// sameCatalogLayout reports whether t's columns in the catalog now are
// the discovered ones: names, types and modifiers, in order.
func (s *Source) sameCatalogLayout(ctx context.Context, t *table) (bool, error) {
	conn, err := s.connect(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.Background())
	atts, err := readAtts(ctx, conn, t.oid)
	if err != nil {
		return false, err
	}
	return sameAtts(atts, t), nil
}

// sameAtts reports whether the catalog rows atts hold t's discovered
// columns: names, types and modifiers, in order (dropped and generated
// columns, which are not captured, left out). No rows (the relation is
// not in that catalog) is not the same.
func sameAtts(atts []catalogAtt, t *table) bool {
	i := 0
	for _, a := range atts {
		if a.dropped || a.generated {
			continue
		}
		if i >= len(t.attTypes) || a.name != t.layout.Columns[i].Name || a.typ != t.attTypes[i] || a.mod != t.attMods[i] {
			return false
		}
		i++
	}
	return i == len(t.attTypes)
}
