package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/internal/toolkit"
	"github.com/floe-cdc/floe/schema"
)

// ReadRows reads the current rows of the given keys (key-only rows in the
// table's key order), decoded exactly as the snapshot and the stream do.
// Keys with no row are left out. The coordinator uses it to fill values
// that a change replayed over a resumed snapshot cannot take from Iceberg.
func (s *Source) ReadRows(ctx context.Context, id capture.TableID, keys []schema.Row) ([]schema.Row, error) {
	t, err := s.tables.Lookup(ctx, s.Discover, id)
	if err != nil {
		return nil, err
	}
	batches, err := toolkit.KeyBatches(id, t.layout, keys)
	if err != nil {
		return nil, err
	}
	c, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close(context.WithoutCancel(ctx))
	var out []schema.Row
	for _, batch := range batches {
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
		err := readRows(ctx, c.PgConn(), t, sql, params, oids, func(r schema.Row) error {
			out = append(out, r)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read rows of %s: %w", id, err)
		}
	}
	return out, nil
}

// CurrentPosition returns the source's current WAL insert position: every
// transaction that committed before the call is at or before it.
func (s *Source) CurrentPosition(ctx context.Context) (capture.Position, error) {
	c, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close(context.WithoutCancel(ctx))
	var lsn string
	if err := c.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&lsn); err != nil {
		return nil, fmt.Errorf("read current wal position: %w", err)
	}
	return DecodePosition("pg.v1:" + lsn)
}
