package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/internal/toolkit"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/schema/pgtype"
)

// ReadRows reads the current rows of the given keys (key-only rows in the
// table's key order), decoded exactly as the snapshot and the stream do,
// in the table's layout now: it is described again from the catalog on
// the reading connection, since a column dropped since discovery cannot
// be selected. Keys with no row are left out. The coordinator uses it to
// fill values that a change replayed over a resumed snapshot cannot take
// from Iceberg.
func (s *Source) ReadRows(ctx context.Context, id capture.TableID, keys []schema.Row) ([]schema.Row, *schema.Table, error) {
	return s.tables.ReadRows(ctx, s.Discover, id, keys, func(t *table) (toolkit.KeyReader, *schema.Table, func(), error) {
		c, err := s.connect(ctx)
		if err != nil {
			return nil, nil, nil, err
		}
		done := func() { c.Close(context.WithoutCancel(ctx)) }
		now := &table{id: t.id, oid: t.oid, replIdent: t.replIdent, partitioned: t.partitioned}
		problems, err := s.describe(ctx, c, &typeResolver{conn: c, cache: map[uint32]pgtype.CatalogType{}}, now)
		if err == nil && len(problems) > 0 {
			err = capture.Problems(problems)
		}
		if err != nil {
			done()
			return nil, nil, nil, fmt.Errorf("describe %s again to read its rows: %w", id, err)
		}
		return keyReader(ctx, c.PgConn(), now), now.layout, done, nil
	})
}

// keyReader reads batches of keys of t on c, one query per batch, each
// key value a text parameter typed by its column's OID.
func keyReader(ctx context.Context, c *pgconn.PgConn, t *table) toolkit.KeyReader {
	return func(batch []schema.Row, emit func(schema.Row) error) error {
		var (
			tuples []string
			params [][]byte
			oids   []uint32
		)
		for _, key := range batch {
			ph := make([]string, len(key))
			for i, v := range key {
				params = append(params, []byte(schema.FormatValue(v, t.layout.Columns[t.layout.Key[i]].Type)))
				oids = append(oids, t.keyOIDs[i])
				ph[i] = "$" + strconv.Itoa(len(params))
			}
			tuples = append(tuples, "("+strings.Join(ph, ", ")+")")
		}
		sql := fmt.Sprintf("SELECT %s FROM %s WHERE (%s) IN (%s)", t.selectList, t.qname, t.keyList, strings.Join(tuples, ", "))
		return readRows(ctx, c, t, sql, params, oids, emit, nil)
	}
}

// CurrentPosition returns the source's current WAL insert position: every
// transaction that committed before the call is at or before it.
func (s *Source) CurrentPosition(ctx context.Context) (capture.Position, error) {
	var lsn string
	if err := s.queryRow(ctx, "read current wal position", "SELECT pg_current_wal_insert_lsn()::text", nil, &lsn); err != nil {
		return nil, err
	}
	return DecodePosition("pg.v1:" + lsn)
}
