package mysql

import (
	"fmt"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/schema/mysqltype"
)

// unknownColumns reports the overridden columns table id's current
// layout lacks (at discovery; a layout rebuilt from an older binlog event
// may predate a column, so buildTable does not check).
func (s *Source) unknownColumns(id capture.TableID, layout *schema.Table) []Problem {
	return overrideProblems(s.base.ColumnTypes(id).Unknown(id.String(), layout))
}

// applyTypes applies the type choices for table id to layout (its Key
// set), returning the layout to capture or a Problem per override that
// cannot apply.
func (s *Source) applyTypes(id capture.TableID, layout *schema.Table) (*schema.Table, []Problem) {
	out, errs := mysqltype.ApplyTypes(id.String(), layout, s.base.ColumnTypes(id))
	return out, overrideProblems(errs)
}

func overrideProblems(errs []*schema.OverrideError) []Problem {
	var problems []Problem
	for _, e := range errs {
		problems = append(problems, Problem{Field: e.Field, Message: e.Message, Fix: e.Fix})
	}
	return problems
}

// withRowKey names the row's key in a value error of a row of table t;
// raw(i) is the text of column i (nil when NULL).
func withRowKey(t *table, err error, raw func(i int) []byte) error {
	vals := make([][]byte, len(t.layout.Key))
	for j, k := range t.layout.Key {
		vals[j] = raw(k)
	}
	return schema.WithRowKey(err, t.layout.KeyNames(), vals)
}

// binlogText renders a go-mysql row-event value for a message.
func binlogText(v any) []byte {
	switch x := v.(type) {
	case nil:
		return nil
	case []byte:
		return x
	case *string: // mysqltype.DecodeRowsEvent's strings
		return []byte(*x)
	}
	return fmt.Append(nil, v)
}

// rawBinlogRow is a row image of a rows event as the binlog holds it
// (capture.RawRow): each value as binlogText renders it, NULL as nil.
// nil when the image does not match t's layout.
func rawBinlogRow(t *table, vals []any) capture.RawRow {
	if len(vals) != len(t.layout.Columns) {
		return nil
	}
	raw := make(capture.RawRow, len(vals))
	for i, v := range vals {
		raw[i] = capture.RawValue{Column: t.layout.Columns[i].Name, Text: capture.NewRawText(binlogText(v))}
	}
	return raw
}
