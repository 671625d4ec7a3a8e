package checkpoint

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

// TableScanner is the optional source ability verify needs (declared
// with the other abilities in capture).
type TableScanner = capture.TableScanner

// VerifyOptions configures Verify.
type VerifyOptions struct {
	Pipeline string
	Source   capture.Source // must also implement TableScanner
	Catalog  *lakewriter.Catalog
	Router   *transform.Router
	Mode     transform.Mode
	// MaxExamples bounds the differing keys listed per table (default 5).
	MaxExamples int
}

// TableReport is the outcome of verifying one table.
type TableReport struct {
	Table      capture.TableID
	Sink       string
	SourceRows int
	SinkRows   int
	// SourceHash and SinkHash are order-independent: the sum of one hash
	// per row over all source columns.
	SourceHash, SinkHash uint64
	// Missing rows are in the source only, Extra in Iceberg only, Differ
	// in both with different values.
	Missing, Extra, Differ int
	Examples               []string
	// Diffs shows, for up to MaxExamples differing keys, each column
	// whose values differ: "(id=5) amount: source 1.5, iceberg 2.5".
	Diffs []string
	// SinkPosition is the position the Iceberg table has committed.
	SinkPosition string
	// Skipped says why the table was not compared (a keyless changelog
	// table cannot be folded to its current rows).
	Skipped string
	Err     error
}

// OK reports whether source and Iceberg hold the same rows (or the table
// was skipped for a stated reason).
func (r TableReport) OK() bool {
	if r.Skipped != "" {
		return r.Err == nil
	}
	return r.Err == nil && r.Missing == 0 && r.Extra == 0 && r.Differ == 0 &&
		r.SourceRows == r.SinkRows && r.SourceHash == r.SinkHash
}

// String renders the report as one line.
func (r TableReport) String() string {
	if r.Err != nil {
		return fmt.Sprintf("ERROR    %s -> %s: %v", r.Table, r.Sink, r.Err)
	}
	if r.Skipped != "" {
		return fmt.Sprintf("SKIPPED  %s -> %s: %s", r.Table, r.Sink, r.Skipped)
	}
	status := "OK"
	if !r.OK() {
		status = "MISMATCH"
	}
	line := fmt.Sprintf("%-8s %s -> %s: source %d rows (hash %016x), iceberg %d rows (hash %016x) at %s",
		status, r.Table, r.Sink, r.SourceRows, r.SourceHash, r.SinkRows, r.SinkHash, r.SinkPosition)
	if !r.OK() {
		line += fmt.Sprintf("; %d missing, %d extra, %d differ; e.g. %s",
			r.Missing, r.Extra, r.Differ, strings.Join(r.Examples, ", "))
		for _, d := range r.Diffs {
			line += "\n         " + d
		}
	}
	return line
}

// Verify compares every captured source table with its Iceberg table, key
// by key. It returns one report per table; err is set only when the tables
// cannot be listed at all.
func Verify(ctx context.Context, o VerifyOptions) ([]TableReport, error) {
	scanner, ok := o.Source.(TableScanner)
	if !ok {
		return nil, fmt.Errorf("this source cannot be verified: it cannot scan tables")
	}
	if o.MaxExamples <= 0 {
		o.MaxExamples = 5
	}
	infos, err := o.Source.Discover(ctx)
	if err != nil {
		return nil, fmt.Errorf("discover tables: %w", err)
	}
	reports := make([]TableReport, 0, len(infos))
	for _, ti := range infos {
		target := o.Router.Target(ti.ID)
		r := TableReport{Table: ti.ID, Sink: target.Namespace + "." + target.Name}
		r.Err = verifyTable(ctx, o, scanner, ti, target, &r)
		reports = append(reports, r)
	}
	return reports, nil
}

// rowDigest is what verify keeps of a row: its key and a hash of its values.
type rowDigest struct {
	key   string
	label string
	hash  uint64
}

func verifyTable(ctx context.Context, o VerifyOptions, scanner TableScanner, ti capture.TableInfo, target transform.Target, r *TableReport) error {
	src := ti.Schema
	if len(src.Key) == 0 {
		r.Skipped = "the table has no key, and a changelog without one cannot be folded to the table's rows"
		return nil
	}
	tbl, err := o.Catalog.LoadTable(ctx, lakewriter.Ident{Namespace: target.Namespace, Name: target.Name})
	if err != nil {
		return fmt.Errorf("load iceberg table: %w", err)
	}
	props, err := tbl.LatestProps(ctx, func(p map[string]string) bool { return p[PropPipeline] == o.Pipeline })
	if err != nil {
		return fmt.Errorf("read iceberg history: %w", err)
	}
	r.SinkPosition = props[PropPosition]
	if r.SinkPosition == "" {
		r.SinkPosition = "no commit"
	}
	cols := make([]int, len(src.Columns))
	for i := range cols {
		cols[i] = i
	}
	// The Iceberg table may have evolved past the source's columns (it
	// keeps columns the source dropped, and wider types): rows are
	// compared on the source's columns, by name, in the sink's types.
	view, err := sinkView(tbl.Layout(), src)
	if err != nil {
		return err
	}
	src = view.layout

	sink, err := sinkDigests(ctx, o, tbl, src, cols, view.project)
	if err != nil {
		return fmt.Errorf("scan iceberg: %w", err)
	}
	type sinkKey struct {
		hash  uint64
		label string
		count int
		seen  bool
	}
	byKey := make(map[string]*sinkKey, len(sink))
	for _, d := range sink {
		r.SinkRows++
		r.SinkHash += d.hash
		if k := byKey[d.key]; k != nil {
			k.count++
			continue
		}
		byKey[d.key] = &sinkKey{hash: d.hash, label: d.label, count: 1}
	}
	differing := map[string]schema.Row{} // source rows of differing example keys
	err = scanner.ScanTable(ctx, ti.ID, func(row schema.Row) error {
		view.promote(row)
		key := schema.AppendKey(nil, src, row)
		h := schema.HashRow(src, row, cols)
		r.SourceRows++
		r.SourceHash += h
		k := byKey[string(key)]
		switch {
		case k == nil:
			r.Missing++
			r.example(o, keyLabel(src, row), "missing in iceberg")
		case k.hash != h:
			k.seen = true
			r.Differ++
			r.example(o, k.label, "differs")
			if len(differing) < o.MaxExamples {
				differing[string(key)] = slices.Clone(row)
			}
		default:
			k.seen = true
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("scan source: %w", err)
	}
	for _, k := range byKey {
		if !k.seen {
			r.Extra += k.count
			r.example(o, k.label, "only in iceberg")
		} else if k.count > 1 {
			r.Extra += k.count - 1
			r.example(o, k.label, fmt.Sprintf("%d times in iceberg", k.count))
		}
	}
	slices.Sort(r.Examples)
	if len(differing) > 0 {
		diffs, err := columnDiffs(ctx, o, tbl, src, view.project, differing)
		if err != nil {
			return fmt.Errorf("read differing rows: %w", err)
		}
		r.Diffs = diffs
	}
	return nil
}

// columnDiffs reads the Iceberg rows of the given keys (source rows by
// encoded key) and names, per key, the columns whose values differ.
func columnDiffs(ctx context.Context, o VerifyOptions, tbl *lakewriter.Table, src *schema.Table, project func(schema.Row) schema.Row, source map[string]schema.Row) ([]string, error) {
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

func truncateValue(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

func (r *TableReport) example(o VerifyOptions, label, what string) {
	if len(r.Examples) < o.MaxExamples {
		r.Examples = append(r.Examples, label+" "+what)
	}
}

// keyLabel renders a row's key for people: "(id=5, tenant=acme)".
func keyLabel(src *schema.Table, row schema.Row) string {
	parts := make([]string, len(src.Key))
	for i, k := range src.Key {
		c := src.Columns[k]
		parts[i] = c.Name + "=" + schema.FormatValue(row[k], c.Type)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// sinkDigests reads the Iceberg table's current rows. Upsert tables hold
// one row per key; changelog tables are folded to the newest image per key
// (a delete removes the key, a truncate everything before it).
func sinkDigests(ctx context.Context, o VerifyOptions, tbl *lakewriter.Table, src *schema.Table, cols []int, project func(schema.Row) schema.Row) ([]rowDigest, error) {
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
