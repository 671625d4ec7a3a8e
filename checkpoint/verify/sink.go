package verify

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/iceberg-go"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/transform"
)

// columnDiffs reads the Iceberg rows of the given keys (source rows by
// encoded key) and names, per key, the columns whose values differ.
func columnDiffs(ctx context.Context, o Options, tbl *lakewriter.Table, src *schema.Table, project func(schema.Row) schema.Row, source map[string]schema.Row) ([]string, error) {
	sink := map[string]schema.Row{}
	layout := tbl.Layout()
	opCol, posCol, seqCol := layout.Index(transform.ColOp), layout.Index(transform.ColPos), layout.Index(transform.ColSeq)
	type latest struct {
		pos capture.Position
		seq int64
	}
	at := map[string]latest{}
	err := tbl.Scan(ctx, func(row schema.Row) error {
		p := project(row)
		key := string(schema.AppendKey(nil, src, p))
		if _, ok := source[key]; !ok {
			return nil
		}
		if o.Mode == transform.Upsert {
			sink[key] = p
			return nil
		}
		// Changelog: the newest non-delete image of the key (a key that
		// differs was not deleted last, or it would be missing).
		pos, err := o.Source.DecodePosition(asString(row[posCol]))
		if err != nil {
			return err
		}
		seq, _ := row[seqCol].(int64)
		if prev, ok := at[key]; ok && (pos.Compare(prev.pos) < 0 || (pos.Compare(prev.pos) == 0 && seq < prev.seq)) {
			return nil
		}
		at[key] = latest{pos: pos, seq: seq}
		if asString(row[opCol]) != string(capture.OpDelete) {
			sink[key] = p
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []string
	for key, srow := range source {
		irow := sink[key]
		var cols []string
		for i, c := range src.Columns {
			var iv any
			if irow != nil {
				iv = irow[i]
			}
			a, b := schema.FormatValue(srow[i], c.Type), schema.FormatValue(iv, c.Type)
			if a != b {
				cols = append(cols, fmt.Sprintf("%s: source %s, iceberg %s", c.Name, truncateValue(a), truncateValue(b)))
			}
		}
		if len(cols) == 0 {
			cols = append(cols, "the values format alike but hash differently")
		}
		out = append(out, keyLabel(src, srow)+" "+strings.Join(cols, "; "))
	}
	slices.Sort(out)
	return out, nil
}

// sinkDigests reads the Iceberg table's current rows. Upsert tables hold
// one row per key; changelog tables are folded to the newest image per key
// (a delete removes the key, a truncate everything before it).
func sinkDigests(ctx context.Context, o Options, tbl *lakewriter.Table, src *schema.Table, cols []int, project func(schema.Row) schema.Row) ([]rowDigest, error) {
	layout := tbl.Layout()
	if o.Mode == transform.Upsert {
		var out []rowDigest
		err := tbl.Scan(ctx, func(row schema.Row) error {
			row = project(row)
			out = append(out, rowDigest{key: string(schema.AppendKey(nil, src, row)), label: keyLabel(src, row), hash: schema.HashRow(src, row, cols)})
			return nil
		})
		return out, err
	}
	type event struct {
		pos   capture.Position
		seq   int64
		op    string
		key   string
		label string
		hash  uint64
	}
	opCol, posCol, seqCol := layout.Index(transform.ColOp), layout.Index(transform.ColPos), layout.Index(transform.ColSeq)
	var events []event
	err := tbl.Scan(ctx, func(row schema.Row) error {
		pos, err := o.Source.DecodePosition(asString(row[posCol]))
		if err != nil {
			return err
		}
		seq, _ := row[seqCol].(int64)
		e := event{pos: pos, seq: seq, op: asString(row[opCol])}
		row = project(row)
		if e.op != string(capture.OpTruncate) {
			e.key = string(schema.AppendKey(nil, src, row))
			e.hash = schema.HashRow(src, row, cols)
			e.label = keyLabel(src, row)
		}
		events = append(events, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(events, func(a, b event) int {
		if c := a.pos.Compare(b.pos); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	latest := map[string]rowDigest{}
	for _, e := range events {
		switch e.op {
		case string(capture.OpTruncate):
			clear(latest)
		case string(capture.OpDelete):
			delete(latest, e.key)
		default:
			latest[e.key] = rowDigest{key: e.key, label: e.label, hash: e.hash}
		}
	}
	out := make([]rowDigest, 0, len(latest))
	for _, d := range latest {
		out = append(out, d)
	}
	return out, nil
}

// sinkRowView compares source rows with rows of an Iceberg table that may
// have evolved past the source's layout.
type sinkRowView struct {
	// layout is the source layout with each column in the sink's type.
	layout *schema.Table
	cols   []int          // source ordinal -> sink ordinal
	wider  []iceberg.Type // source ordinal -> the sink's wider type, nil when the same
	from   []iceberg.Type // source ordinal -> the source's type
}

// sinkView matches the source's columns to the sink layout's by name.
func sinkView(sink, src *schema.Table) (*sinkRowView, error) {
	v := &sinkRowView{layout: &schema.Table{Columns: slices.Clone(src.Columns), Key: src.Key},
		cols: make([]int, len(src.Columns)), wider: make([]iceberg.Type, len(src.Columns)), from: make([]iceberg.Type, len(src.Columns))}
	for i, c := range src.Columns {
		j := sink.Index(c.Name)
		if j < 0 {
			return nil, fmt.Errorf("the iceberg table has no column %s: it has not followed the source's schema change yet (run floe until it has streamed past it)", c.Name)
		}
		v.cols[i] = j
		if st := sink.Columns[j].Type; !schema.SameType(st, c.Type) {
			if !schema.Promotable(c.Type, st) {
				return nil, fmt.Errorf("column %s is %s in the source but %s in the iceberg table", c.Name, c.Type, st)
			}
			v.wider[i], v.from[i] = st, c.Type
			v.layout.Columns[i].Type = st
		}
	}
	return v, nil
}

// project returns a sink row's values of the source's columns.
func (v *sinkRowView) project(row schema.Row) schema.Row {
	out := make(schema.Row, len(v.cols))
	for i, j := range v.cols {
		out[i] = row[j]
	}
	return out
}

// promote converts a source row's values to the sink's wider types, in place.
func (v *sinkRowView) promote(row schema.Row) {
	for i, t := range v.wider {
		if t != nil {
			row[i] = schema.Promote(row[i], v.from[i], t)
		}
	}
}

// asString returns v when it is a string (a metadata column's value), ""
// otherwise.
func asString(v any) string {
	s, _ := v.(string)
	return s
}
