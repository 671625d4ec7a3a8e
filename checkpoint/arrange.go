package checkpoint

import (
	"context"
	"fmt"

	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/transform"
)

// arrange gives tbl the partition spec and sort order a asks for (the
// route's partition-by and sort-by); what a leaves nil stays as the table
// has it, except that a partitioned table always gets an unpartitioned
// spec among its specs (lakewriter writes equality deletes in it). A change evolves the table in place: files written from now on
// use the new spec. An entry that does not fit the table (an unknown
// column, a transform the column's type does not take) fails with the
// configuration field to fix.
func arrange(ctx context.Context, tbl *lakewriter.Table, a transform.Arrangement) error {
	if a.IsZero() {
		if tbl.NeedsDeleteSpec() {
			// A table partitioned by another tool: keep its spec, and add
			// the unpartitioned one equality deletes are written in.
			if _, err := tbl.SetPartitioning(ctx, tbl.Partitioning()); err != nil {
				return fmt.Errorf("add an unpartitioned spec for equality deletes: %w", err)
			}
		}
		return nil
	}
	p := tbl.Partitioning()
	field := a.PartitionField
	var err error
	if a.PartitionBy != nil {
		if p.Fields, err = parseEach(p.Fields, a.PartitionBy, a.PartitionField, lakewriter.ParsePartitionField); err != nil {
			return err
		}
	}
	if a.SortBy != nil {
		if a.PartitionBy == nil {
			field = a.SortField
		} else if a.SortField != a.PartitionField {
			field += " / " + a.SortField
		}
		if p.Sort, err = parseEach(p.Sort, a.SortBy, a.SortField, lakewriter.ParseSortField); err != nil {
			return err
		}
	}
	if _, err = tbl.SetPartitioning(ctx, p); err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	return nil
}

// parseEach parses every entry of list with parse into dst[:0] (reusing
// its array) and returns the result; the first entry that does not parse
// fails naming field, the configuration field that lists it.
func parseEach[F any](dst []F, list []string, field string, parse func(string) (F, error)) ([]F, error) {
	dst = dst[:0]
	for _, s := range list {
		f, err := parse(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		dst = append(dst, f)
	}
	return dst, nil
}
