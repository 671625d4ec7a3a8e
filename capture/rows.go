package capture

import (
	"fmt"

	"github.com/floe-cdc/floe/schema"
)

// KeyBatchSize bounds the keys of one query of RowReader.ReadRows.
const KeyBatchSize = 500

// KeyBatches checks the keys given to RowReader.ReadRows for table id
// (key-only rows in layout's key order) and splits them into batches of at
// most KeyBatchSize keys, one query each. A table without a key, a key
// with the wrong number of values and a NULL key value are errors.
func KeyBatches(id TableID, layout *schema.Table, keys []schema.Row) ([][]schema.Row, error) {
	nkey := len(layout.Key)
	if nkey == 0 {
		return nil, fmt.Errorf("read rows of %s: the table has no key", id)
	}
	for _, key := range keys {
		if len(key) != nkey {
			return nil, fmt.Errorf("read rows of %s: key has %d values, the table's key %d columns", id, len(key), nkey)
		}
		for i, v := range key {
			if v == nil {
				return nil, fmt.Errorf("read rows of %s: key column %s is NULL", id, layout.Columns[layout.Key[i]].Name)
			}
		}
	}
	var batches [][]schema.Row
	for start := 0; start < len(keys); start += KeyBatchSize {
		batches = append(batches, keys[start:min(start+KeyBatchSize, len(keys))])
	}
	return batches, nil
}
