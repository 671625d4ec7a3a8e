package postgres

import (
	"slices"

	"github.com/floe-cdc/floe/capture"
)

// Partitioned tables (PostgreSQL declarative partitioning).
//
// A partitioned table that source.tables matches is captured as one
// table: its snapshot reads it through the parent (all its partitions),
// and the publication is created or set WITH (publish_via_partition_root
// = true), so that its partitions' changes arrive as changes of the
// parent, including an UPDATE that moves a row to another partition.
// A partition whose partitioned ancestor is also captured is left out
// (its rows are the ancestor's); a pattern that matches partitions and
// not their parent captures them leaf by leaf, each as its own table.
//
// Attaching or detaching a partition changes the parent's rows without
// a change event (the attached partition's rows appear, the detached
// one's disappear). The parent's identity (TableIdentities) therefore
// includes its set of leaf partitions: the check before every commit
// sees the set change, the run stops before committing past it, and the
// next run snapshots the table anew online (checkpoint's continuity
// rules) while the other tables resume. A TRUNCATE of one partition
// directly is not published under publish_via_partition_root (a
// TRUNCATE of the parent is); the README says so.

// listTablesQuery lists the ordinary and partitioned tables with their
// kind and, for a partition, the OIDs of its partitioned ancestors.
const listTablesQuery = `
	SELECT c.oid, n.nspname, c.relname, c.relkind::text, c.relreplident::text,
	       CASE WHEN c.relispartition THEN
	         ARRAY(SELECT a.relid::oid FROM pg_partition_ancestors(c.oid) a WHERE a.relid <> c.oid)
	       ELSE '{}'::oid[] END
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'p'
	  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
	  AND n.nspname !~ '^pg_(toast|temp_)'
	ORDER BY n.nspname, c.relname`

// dropCapturedPartitions leaves out every table one of whose partitioned
// ancestors is captured too: its rows and changes are the ancestor's.
func (s *Source) dropCapturedPartitions(tables []*table, ancestors map[*table][]uint32) []*table {
	captured := map[uint32]capture.TableID{}
	for _, t := range tables {
		captured[t.oid] = t.id
	}
	return slices.DeleteFunc(tables, func(t *table) bool {
		for _, a := range ancestors[t] {
			if parent, ok := captured[a]; ok {
				s.base.Log.Debug("partition captured through its partitioned table", "partition", t.id.String(), "table", parent.String())
				return true
			}
		}
		return false
	})
}

// anyPartitioned reports whether a partitioned table is among tables.
func anyPartitioned(tables []*table) bool {
	return slices.ContainsFunc(tables, func(t *table) bool { return t.partitioned })
}
