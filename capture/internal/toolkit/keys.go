package toolkit

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

// KeyBatchSize bounds the keys of one query of capture.RowReader.ReadRows.
const KeyBatchSize = 500

// KeyBatches checks the keys given to capture.RowReader.ReadRows for
// table id (key-only rows in layout's key order) and splits them into
// batches of at most KeyBatchSize keys, one query each. A table without a key, a key
// with the wrong number of values and a NULL key value are errors.
func KeyBatches(id capture.TableID, layout *schema.Table, keys []schema.Row) ([][]schema.Row, error) {
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

// A KeyReader reads the current rows of one batch of keys (see
// KeyBatches) and passes each to emit; keys with no row are left out.
type KeyReader func(batch []schema.Row, emit func(schema.Row) error) error

// ReadRows is the frame of capture.RowReader.ReadRows: it looks table id
// up (Lookup), checks and batches the keys (KeyBatches), then asks open
// for a reader of the table's rows (typically on a connection of its
// own, with the table described again there, so that the rows come in
// its layout now, returned as layout) and runs it on each batch in
// order, collecting the rows. open's errors are returned as they are,
// the reader's as "read rows of <table>: ..."; done, returned by open
// with the reader, is called when the reading ends.
func (r *Tables[T]) ReadRows(ctx context.Context, discover func(context.Context) ([]capture.TableInfo, error), id capture.TableID, keys []schema.Row,
	open func(t T) (read KeyReader, layout *schema.Table, done func(), err error)) ([]schema.Row, *schema.Table, error) {
	t, err := r.Lookup(ctx, discover, id)
	if err != nil {
		return nil, nil, err
	}
	batches, err := KeyBatches(id, t.Info().Schema, keys)
	if err != nil {
		return nil, nil, err
	}
	read, layout, done, err := open(t)
	if err != nil {
		return nil, nil, err
	}
	defer done()
	var out []schema.Row
	emit := func(row schema.Row) error {
		out = append(out, row)
		return nil
	}
	for _, batch := range batches {
		if err := read(batch, emit); err != nil {
			return nil, nil, fmt.Errorf("read rows of %s: %w", id, err)
		}
	}
	return out, layout, nil
}

// KeyCheck is what a source knows of a table that a capture.KeyOverride
// names, for Problems.
type KeyCheck struct {
	Table      capture.TableID
	Override   capture.KeyOverride
	PrimaryKey []string   // the table's primary key columns, nil if none
	Nullable   []string   // the table's columns that allow NULL
	Unique     [][]string // the key columns of each usable unique index (no predicate, no expression)
	FoldCase   bool       // column names compare case-insensitively (MySQL)
	Quote      func(string) string
	// SetNotNull is the statement that declares a column NOT NULL.
	SetNotNull func(column string) string
}

// Problems checks the override against the contract capture.KeyOverride
// states: a table with a primary key is keyed by it; otherwise the
// columns must be NOT NULL and a unique index must cover exactly them.
// nil when the override is usable.
func (k KeyCheck) Problems() []capture.Problem {
	same := func(a, b string) bool { return a == b || k.FoldCase && strings.EqualFold(a, b) }
	sameSet := func(a, b []string) bool {
		return len(a) == len(b) && !slices.ContainsFunc(a, func(x string) bool {
			return !slices.ContainsFunc(b, func(y string) bool { return same(x, y) })
		})
	}
	field, cols := k.Override.FieldOr(), k.Override.Columns
	if len(k.PrimaryKey) > 0 {
		if sameSet(cols, k.PrimaryKey) {
			return nil
		}
		return []capture.Problem{{Field: field,
			Message: fmt.Sprintf("table %s has a primary key (%s), which floe keys it by; the route's primary-key (%s) would be ignored",
				k.Table, strings.Join(k.PrimaryKey, ", "), strings.Join(cols, ", ")),
			Fix: "remove primary-key from the route (it is for tables without a primary key)"}}
	}
	var out []capture.Problem
	for _, c := range cols {
		if slices.ContainsFunc(k.Nullable, func(n string) bool { return same(n, c) }) {
			out = append(out, capture.Problem{Field: field,
				Message: fmt.Sprintf("key column %s of table %s allows NULL; rows with a NULL key cannot be told apart and would collapse into one Iceberg row", c, k.Table),
				Fix:     fmt.Sprintf("if it never holds NULL, declare it: %s; otherwise name NOT NULL columns of a unique index", k.SetNotNull(c))})
		}
	}
	if slices.ContainsFunc(k.Unique, func(idx []string) bool { return sameSet(idx, cols) }) {
		return out
	}
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = k.Quote(c)
	}
	have := "it has no unique index"
	if len(k.Unique) > 0 {
		lists := make([]string, len(k.Unique))
		for i, idx := range k.Unique {
			lists[i] = "(" + strings.Join(idx, ", ") + ")"
		}
		have = "its unique indexes are on " + strings.Join(lists, ", ")
	}
	return append(out, capture.Problem{Field: field,
		Message: fmt.Sprintf("no unique index of table %s covers exactly the key columns (%s), %s: two rows sharing a key value would collapse into one Iceberg row",
			k.Table, strings.Join(cols, ", "), have),
		Fix: fmt.Sprintf("if the columns are unique, declare it: ALTER TABLE %s ADD UNIQUE (%s); otherwise name the columns of a unique index, or remove the route's primary-key and use sink.mode: changelog, which needs no key",
			k.Quote(k.Table.Schema)+"."+k.Quote(k.Table.Name), strings.Join(quoted, ", "))})
}
