package toolkit

import (
	"testing"

	"github.com/floe-cdc/floe/schema"
)

// TestRowSlabRowsAreSeparate: rows from one slab do not overlap, an
// append to one cannot write into the next, and a slab that runs out is
// replaced.
func TestRowSlabRowsAreSeparate(t *testing.T) {
	var slab RowSlab
	var rows []schema.Row
	for i := range 2*slabRows + 3 {
		row := slab.Next(3)
		if len(row) != 3 || cap(row) != 3 {
			t.Fatalf("row %d: len %d cap %d, want 3 and 3", i, len(row), cap(row))
		}
		for k := range row {
			if row[k] != nil {
				t.Fatalf("row %d: value %d is %v, want nil", i, k, row[k])
			}
			row[k] = i*10 + k
		}
		rows = append(rows, row)
	}
	_ = append(rows[0], "appended") // must reallocate, not reach rows[1]
	for i, row := range rows {
		for k, v := range row {
			if v != i*10+k {
				t.Fatalf("row %d value %d: %v, want %d", i, k, v, i*10+k)
			}
		}
	}
}
