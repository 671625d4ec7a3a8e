package postgres

import (
	"slices"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/schema/pgtype"
)

// applyTypes applies the type choices for table id to layout (its Key
// set), returning the layout to capture or a Problem per override that
// cannot apply.
func (s *Source) applyTypes(id capture.TableID, layout *schema.Table) (*schema.Table, []Problem) {
	out, errs := pgtype.ApplyTypes(id.String(), layout, s.base.ColumnTypes(id))
	var problems []Problem
	for _, e := range errs {
		problems = append(problems, Problem{Field: e.Field, Message: e.Message, Fix: e.Fix})
	}
	return out, problems
}

// overrideColumn applies the type choice for column col of table cur, as
// a Relation message maps it; j is its ordinal in cur's layout (-1 for a
// new column).
func (s *Source) overrideColumn(cur *table, col schema.Column, j int) (schema.Column, error) {
	key := j >= 0 && slices.Contains(cur.layout.Key, j)
	c, err := pgtype.OverrideColumn(cur.id.String(), col, key, s.base.ColumnTypes(cur.id))
	if err != nil {
		return col, err
	}
	return c, nil
}

// withRowKey names the row's key in a value error of a row of table t;
// raw(i) is the text of column i (nil when NULL or not sent).
func withRowKey(t *table, err error, raw func(i int) []byte) error {
	vals := make([][]byte, len(t.layout.Key))
	for j, k := range t.layout.Key {
		vals[j] = raw(k)
	}
	return schema.WithRowKey(err, t.layout.KeyNames(), vals)
}
