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
	if a.PartitionBy != nil {
		p.Fields = p.Fields[:0]
		for _, s := range a.PartitionBy {
			f, err := lakewriter.ParsePartitionField(s)
			if err != nil {
				return fmt.Errorf("%s: %w", a.PartitionField, err)
			}
			p.Fields = append(p.Fields, f)
		}
	}
	if a.SortBy != nil {
		if a.PartitionBy == nil {
			field = a.SortField
		} else if a.SortField != a.PartitionField {
			field += " / " + a.SortField
		}
		p.Sort = p.Sort[:0]
		for _, s := range a.SortBy {
			f, err := lakewriter.ParseSortField(s)
			if err != nil {
				return fmt.Errorf("%s: %w", a.SortField, err)
			}
			p.Sort = append(p.Sort, f)
		}
	}
	if _, err := tbl.SetPartitioning(ctx, p); err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	return nil
}
