package checkpoint

import (
	"context"
	"fmt"

	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/transform"
)

// arrange gives tbl the partition spec and sort order a asks for (the
// route's partition-by and sort-by); what a leaves nil stays as the table
// has it. A change evolves the table in place: files written from now on
// use the new spec. An entry that does not fit the table (an unknown
// column, a transform the column's type does not take) fails with the
// configuration field to fix.
func arrange(ctx context.Context, tbl *lakewriter.Table, a transform.Arrangement) error {
	if a.IsZero() {
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
