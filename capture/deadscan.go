package capture

import (
	"context"

	"github.com/floe-cdc/floe/schema"
)

// UndecodableScanner is implemented by TableScanners that can go on past
// a row with a value they cannot decode (a *schema.ValueError): such a
// row goes to bad with its key decoded (a row of the table's layout with
// only the key columns set) and the error, every other row to fn, as
// ScanTable does. A row whose key itself cannot be decoded ends the scan
// with its error.
//
// Used by floe verify (checkpoint/verify), which leaves such rows out of
// the comparison: their changes are in the dead-letter table, not the
// Iceberg table.
type UndecodableScanner interface {
	ScanTableUndecodable(ctx context.Context, id TableID, fn func(schema.Row) error, bad func(key schema.Row, err error) error) error
}
