package postgres

import (
	"context"
	"fmt"

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
