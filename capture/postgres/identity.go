package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/floe-cdc/floe/capture"
)

var _ capture.TableIdentifier = (*Source)(nil)

// identityQuery finds, for each captured table name, the table's OID and
// the OID of its row in the publication. pg_publication_rel rows are
// created when a table joins the publication and deleted when it leaves
// it or is dropped, so a table that left and re-joined, and a table
// dropped and created again under the same name, never show the same pair.
//
// A partitioned table's identity also names its leaf partitions (their
// OIDs in order, hashed): attaching or detaching one changes the table's
// rows without change events, so it must change the identity too (see
// partitions.go).
const identityQuery = `
	SELECT w.nsp, w.rel, c.oid, pr.oid,
	       CASE WHEN c.relkind = 'p' THEN
	         coalesce((SELECT string_agg(t.relid::oid::text, ',' ORDER BY t.relid::oid) FROM pg_partition_tree(c.oid) t WHERE t.isleaf), '')
	       END
	FROM unnest($2::text[], $3::text[]) AS w(nsp, rel)
	JOIN pg_namespace n ON n.nspname = w.nsp
	JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = w.rel
	JOIN pg_publication_rel pr ON pr.prrelid = c.oid
	JOIN pg_publication p ON p.oid = pr.prpubid AND p.pubname = $1`

// TableIdentities returns, for every captured table, "pg.v1:rel=R/pub=P"
// with R the table's OID and P the OID of its pg_publication_rel row, or
// "" when the table is not in the publication (or no longer exists); a
// partitioned table's is "pg.v1:rel=R/pub=P/leaves=H", H the first 16
// hex digits of the SHA-256 of its leaf partitions' OIDs, ascending and
// comma-separated. See capture.TableIdentifier. It opens a connection of
// its own for one query.
func (s *Source) TableIdentities(ctx context.Context) (map[capture.TableID]string, error) {
	if err := s.tables.Ensure(ctx, s.Discover); err != nil {
		return nil, err
	}
	tables := s.tables.List()
	out := make(map[capture.TableID]string, len(tables))
	nsps := make([]string, len(tables))
	rels := make([]string, len(tables))
	for i, t := range tables {
		out[t.id] = ""
		nsps[i], rels[i] = t.id.Schema, t.id.Name
	}
	conn, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, identityQuery, s.cfg.PublicationName, nsps, rels)
	if err != nil {
		return nil, fmt.Errorf("read the identities of the captured tables: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id       capture.TableID
			rel, pub uint32
			leaves   *string
		)
		if err := rows.Scan(&id.Schema, &id.Name, &rel, &pub, &leaves); err != nil {
			return nil, fmt.Errorf("read the identities of the captured tables: %w", err)
		}
		out[id] = tableIdentity(rel, pub, leaves)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the identities of the captured tables: %w", err)
	}
	return out, nil
}

// tableIdentity formats one identity (see TableIdentities); leaves is nil
// for a table that is not partitioned.
func tableIdentity(rel, pub uint32, leaves *string) string {
	id := fmt.Sprintf("pg.v1:rel=%d/pub=%d", rel, pub)
	if leaves != nil {
		sum := sha256.Sum256([]byte(*leaves))
		id += "/leaves=" + hex.EncodeToString(sum[:8])
	}
	return id
}
