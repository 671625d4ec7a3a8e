package verify

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/transform"
)

// TableScanner is the optional source ability verify needs (declared
// with the other abilities in capture).
type TableScanner = capture.TableScanner

// Options configures Run.
type Options struct {
	Pipeline string
	Source   capture.Source // must also implement TableScanner
	Catalog  *lakewriter.Catalog
	Router   *transform.Router
	Mode     transform.Mode
	// MaxExamples bounds the differing keys listed per table (default 5).
	MaxExamples int
	// LeaveOutUndecodable leaves source rows with a value the source
	// cannot decode out of the comparison, on both sides (the scan's bad
	// rows, capture.TableScanner): the pipeline
	// writes their changes to the dead-letter table (pipeline.dead-letter
	// table). Otherwise such a row fails the table's scan with its error.
	LeaveOutUndecodable bool
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
	// Undecodable counts the source rows with a value the source cannot
	// decode (capture.TableScanner's bad rows): their keys are left out of the
	// comparison on both sides, since their changes went to the
	// dead-letter table (pipeline.dead-letter), not to the Iceberg table.
	Undecodable int
	Err         error
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
	if r.Undecodable > 0 {
		line += fmt.Sprintf("; %d source rows with values that cannot be decoded left out (dead-lettered)", r.Undecodable)
	}
	if !r.OK() {
		line += fmt.Sprintf("; %d missing, %d extra, %d differ; e.g. %s",
			r.Missing, r.Extra, r.Differ, strings.Join(r.Examples, ", "))
		for _, d := range r.Diffs {
			line += "\n         " + d
		}
	}
	return line
}

// Run compares every captured source table with its Iceberg table, key
// by key. It returns one report per table; err is set only when the tables
// cannot be listed at all.
func Run(ctx context.Context, o Options) ([]TableReport, error) {
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

func verifyTable(ctx context.Context, o Options, scanner TableScanner, ti capture.TableInfo, target transform.Target, r *TableReport) error {
	src := ti.Schema
	if len(src.Key) == 0 {
		r.Skipped = "the table has no key, and a changelog without one cannot be folded to the table's rows"
		return nil
	}
	tbl, err := o.Catalog.LoadTable(ctx, lakewriter.Ident{Namespace: target.Namespace, Name: target.Name})
	if err != nil {
		return fmt.Errorf("load iceberg table: %w", err)
	}
	props, err := tbl.LatestProps(ctx, ledger.CommitOf(o.Pipeline))
	if err != nil {
		return fmt.Errorf("read iceberg history: %w", err)
	}
	r.SinkPosition = props[ledger.PropPosition]
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
	byKey := r.sinkByKey(sink)
	differing := map[string]schema.Row{} // source rows of differing example keys
	err = scanRows(ctx, scanner, o.LeaveOutUndecodable, ti.ID, func(keyRow schema.Row) {
		view.promote(keyRow)
		r.Undecodable++
		if k := byKey[string(schema.AppendKey(nil, src, keyRow))]; k != nil && !k.seen {
			k.seen, k.left = true, true
			r.SinkRows -= k.count
			r.SinkHash -= k.sum
		}
	}, func(row schema.Row) error {
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
		if k.left {
			continue
		}
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

// sinkKey is what verifyTable keeps of the Iceberg rows of one key.
type sinkKey struct {
	hash  uint64 // of the first row
	sum   uint64 // of every row
	label string
	count int
	seen  bool
	left  bool // left out: the source row cannot be decoded
}

// sinkByKey counts the Iceberg rows into r and groups them by key.
func (r *TableReport) sinkByKey(sink []rowDigest) map[string]*sinkKey {
	byKey := make(map[string]*sinkKey, len(sink))
	for _, d := range sink {
		r.SinkRows++
		r.SinkHash += d.hash
		if k := byKey[d.key]; k != nil {
			k.count++
			k.sum += d.hash
			continue
		}
		byKey[d.key] = &sinkKey{hash: d.hash, sum: d.hash, label: d.label, count: 1}
	}
	return byKey
}

// scanRows scans the source table: every row to fn, and, with leaveOut,
// the key of each row with a value the source cannot decode to bad
// (without it such a row ends the scan with its error).
func scanRows(ctx context.Context, scanner TableScanner, leaveOut bool, id capture.TableID, bad func(key schema.Row), fn func(schema.Row) error) error {
	if !leaveOut {
		return scanner.ScanTable(ctx, id, fn, nil)
	}
	return scanner.ScanTable(ctx, id, fn, func(key schema.Row, _ error) error {
		bad(key)
		return nil
	})
}

func truncateValue(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

func (r *TableReport) example(o Options, label, what string) {
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
