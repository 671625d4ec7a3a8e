package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/floe-cdc/floe/capture"
)

// DroppedTables returns the captured tables whose relation (by the OID
// discovery found) no longer exists: dropped since. pgoutput sends
// nothing for a DROP TABLE, and the table leaves the publication with
// it, so TableIdentities reports it as not carried; unlike a table taken
// out of the publication, a dropped one has no changes after its drop,
// and every change before it is still to come from the slot (decoded
// with the catalog as it was). A table created again under the name has
// another OID and counts as dropped. It opens a connection of its own
// for one query.
func (s *Source) DroppedTables(ctx context.Context) (map[capture.TableID]bool, error) {
	if err := s.tables.Ensure(ctx, s.Discover); err != nil {
		return nil, err
	}
	tables := s.tables.List()
	oids := make([]uint32, len(tables))
	for i, t := range tables {
		oids[i] = t.oid
	}
	conn, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, `SELECT x FROM unnest($1::oid[]) AS x WHERE NOT EXISTS (SELECT 1 FROM pg_class WHERE oid = x)`, oids)
	if err != nil {
		return nil, fmt.Errorf("find dropped captured tables: %w", err)
	}
	defer rows.Close()
	gone := map[uint32]bool{}
	for rows.Next() {
		var oid uint32
		if err := rows.Scan(&oid); err != nil {
			return nil, fmt.Errorf("find dropped captured tables: %w", err)
		}
		gone[oid] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find dropped captured tables: %w", err)
	}
	out := map[capture.TableID]bool{}
	for _, t := range tables {
		if gone[t.oid] {
			out[t.id] = true
		}
	}
	return out, nil
}

// NewTables returns the tables Config.Tables matches that this source
// does not capture (created since its Discover), sorted, without
// describing or installing them: a new attempt's Discover does that (and
// its Start adds them to the publication). It opens a connection of its
// own for one catalog query.
func (s *Source) NewTables(ctx context.Context) ([]capture.TableID, error) {
	if err := s.tables.Ensure(ctx, s.Discover); err != nil {
		return nil, err
	}
	known := map[capture.TableID]bool{}
	for _, t := range s.tables.List() {
		known[t.id] = true
	}
	conn, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tables, err := s.listMatching(ctx, conn, s.base.Patterns.Matcher())
	if err != nil {
		return nil, err
	}
	var out []capture.TableID
	for _, t := range tables {
		if !known[t.id] {
			out = append(out, t.id)
		}
	}
	slices.SortFunc(out, func(a, b capture.TableID) int { return strings.Compare(a.String(), b.String()) })
	return out, nil
}
