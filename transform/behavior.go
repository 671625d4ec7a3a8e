package transform

import (
	"errors"
	"math"

	"fmt"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/iceberg-go"
	"slices"
	"strings"

	"github.com/floe-cdc/floe/schema"
)

// Behavior is what a sink table does when its source table's layout
// changes (pipeline.schema-change-behavior; the names and meanings are
// Flink CDC's). PlanSinkChange decides it; the README's "Schema changes"
// table states each outcome.
type Behavior string

const (
	// Lenient (the default) evolves the sink as EvolveSinkLayout does:
	// added columns optional, widened types, dropped columns kept
	// optional, renames followed.
	Lenient Behavior = "lenient"
	// Exception stops at any layout change that would change the sink
	// table, before it changes.
	Exception Behavior = "exception"
	// Evolve applies every change as the source made it, dropped columns
	// deleted from the sink table; a change it cannot apply stops.
	Evolve Behavior = "evolve"
	// TryEvolve is Evolve, except that a change the sink table cannot
	// take is left out and rows go on in the table's schema, as long as
	// every value lands exactly (else the row stops the pipeline).
	TryEvolve Behavior = "try_evolve"
	// Ignore never changes the sink table's schema: rows are projected
	// onto it (added columns left out, dropped columns NULL).
	Ignore Behavior = "ignore"
)

// ErrStopped marks the error of Exception for a change that would change
// the sink table: nothing is wrong with the change, the behavior says to
// stop at it.
var ErrStopped = errors.New("pipeline.schema-change-behavior is exception")

// Behaviors lists the valid behaviors, the default first.
func Behaviors() []string {
	return []string{string(Lenient), string(Exception), string(Evolve), string(TryEvolve), string(Ignore)}
}

// ParseBehavior parses a pipeline.schema-change-behavior value; "" is
// Lenient.
func ParseBehavior(s string) (Behavior, error) {
	if s == "" {
		return Lenient, nil
	}
	if !slices.Contains(Behaviors(), s) {
		return "", fmt.Errorf("unknown schema change behavior %q; use one of %s", s, strings.Join(Behaviors(), ", "))
	}
	return Behavior(s), nil
}

// Projects reports whether rows reach the sink in a layout that may differ
// from their source layout: the Buffer then leaves out change columns
// the sink layout lacks (BufferOptions.SkipColumns) and, for Ignore and
// TryEvolve, writes values of a wider change column in the sink column's
// narrower type when they fit exactly (BufferOptions.Narrow).
func (b Behavior) Projects() (skip, narrow bool) {
	switch b {
	case Ignore, TryEvolve:
		return true, true
	case Evolve:
		// Changes replayed from before a drop still carry the column.
		return true, false
	}
	return false, false
}

// SinkChange is the outcome of PlanSinkChange.
type SinkChange struct {
	// Layout is the sink layout the table takes; the sink itself when
	// its schema does not change.
	Layout *schema.Table
	// Changes describes the schema changes applied ("add column x int",
	// "drop column y"); nil when none.
	Changes []string
	// Skipped describes the source changes not applied to the sink
	// table (Ignore, TryEvolve): rows are projected onto its schema.
	Skipped []string
}

// PlanSinkChange decides what the sink table (sink layout sink, as
// lakewriter derives it from the Iceberg schema) does with source layout
// src under behavior b, in mode. pinned names the sink columns the table
// cannot delete (its identifier fields and the source columns of its
// partition specs and sort orders). Changes the sink cannot follow at
// all (a changed primary key, an incompatible type) are errors under
// every behavior, as they are for EvolveSinkLayout:
//
//   - Lenient: EvolveSinkLayout;
//   - Exception: an error listing the changes Evolve would apply, when
//     there are any (a source type narrower than the sink's is none: its
//     values are promoted);
//   - Evolve: EvolveSinkLayout, then the columns the source dropped are
//     deleted ("drop column x"); a pinned one is an error;
//   - TryEvolve: as Evolve, but a pinned dropped column is kept (made
//     optional, as Lenient does) and a widened key column keeps its type
//     (its values are narrowed when written; one that does not fit
//     stops): both are listed in Skipped;
//   - Ignore: the sink is kept and what differs is listed in Skipped. A
//     required sink column the source dropped, an Upsert key column
//     made nullable and an incompatible type are errors.
//
// For Ignore and TryEvolve, src's renames (RenamedFrom) must already be
// mapped to the sink's names where the sink keeps the old name (the
// coordinator does; it follows renames across layouts). Ignore never
// renames. sink and src are never modified.
func PlanSinkChange(sink, src *schema.Table, mode Mode, b Behavior, pinned []string) (SinkChange, error) {
	switch b {
	case Lenient:
		l, ch, err := EvolveSinkLayout(sink, src, mode)
		return SinkChange{Layout: l, Changes: ch}, err
	case Ignore:
		return ignoreChange(sink, src, mode)
	case Exception, Evolve, TryEvolve:
	default:
		return SinkChange{}, fmt.Errorf("unknown schema change behavior %q", b)
	}
	var out SinkChange
	if b == TryEvolve {
		src, out.Skipped = keepKeyTypes(sink, src)
	}
	l, changes, err := EvolveSinkLayout(sink, src, mode)
	if err != nil {
		return SinkChange{}, err
	}
	drops := droppedColumns(l, src)
	var gone []string
	for _, d := range drops {
		c := l.Columns[l.Index(d)]
		if !slices.Contains(pinned, d) && (c.RenamedFrom == "" || !slices.Contains(pinned, c.RenamedFrom)) {
			gone = append(gone, d)
			continue
		}
		if b == Evolve {
			return SinkChange{}, fmt.Errorf("the source dropped column %s, which the Iceberg table cannot delete (an identifier field or the source of a partition field or sort order); set pipeline.schema-change-behavior to try_evolve or lenient to keep it, or re-snapshot the table (floe resnapshot)", d)
		}
		out.Skipped = append(out.Skipped, fmt.Sprintf("keep column %s the source dropped (the table cannot delete it; later rows hold NULL)", d))
	}
	for _, c := range changes {
		if name, ok := strings.CutPrefix(c, "make column "); ok && slices.Contains(gone, strings.TrimSuffix(name, droppedSuffix)) {
			continue // deleted instead
		}
		out.Changes = append(out.Changes, c)
	}
	for _, d := range gone {
		out.Changes = append(out.Changes, "drop column "+d)
	}
	if len(out.Changes) == 0 {
		out.Layout = sink
		return out, nil
	}
	if b == Exception {
		return SinkChange{}, fmt.Errorf("%w and the source layout changes the Iceberg table (%s); set pipeline.schema-change-behavior to lenient, evolve, try_evolve or ignore, or re-snapshot the table (floe resnapshot)",
			ErrStopped, strings.Join(out.Changes, "; "))
	}
	out.Layout = withoutColumns(l, gone)
	return out, nil
}

// droppedSuffix ends EvolveSinkLayout's change for a dropped column that
// it makes optional ("make column c optional (the source dropped it)").
const droppedSuffix = " optional (the source dropped it)"

// droppedColumns returns the source columns of sink layout l that src
// lacks, in l's order.
func droppedColumns(l, src *schema.Table) []string {
	var out []string
	for _, c := range l.Columns[:len(l.Columns)-numMeta] {
		if src.Index(c.Name) < 0 {
			out = append(out, c.Name)
		}
	}
	return out
}

// withoutColumns returns l without the columns named in drop, key
// ordinals remapped (a key column is never dropped: the key would have
// changed). l itself when drop is empty.
func withoutColumns(l *schema.Table, drop []string) *schema.Table {
	if len(drop) == 0 {
		return l
	}
	out := &schema.Table{}
	for _, c := range l.Columns {
		if !slices.Contains(drop, c.Name) {
			out.Columns = append(out.Columns, c)
		}
	}
	for _, k := range l.KeyNames() {
		out.Key = append(out.Key, out.Index(k))
	}
	return out
}

// keepKeyTypes returns src with each key column that widens its sink
// column's type set back to the sink's type (TryEvolve: a key column
// keeps its type, its values are narrowed), and what it kept; src itself
// when none.
func keepKeyTypes(sink, src *schema.Table) (*schema.Table, []string) {
	var (
		out  *schema.Table
		kept []string
	)
	for _, k := range src.Key {
		c := src.Columns[k]
		i := sink.Index(c.Name)
		if i < 0 && c.RenamedFrom != "" {
			i = sink.Index(c.RenamedFrom)
		}
		if i < 0 {
			continue
		}
		have := sink.Columns[i].Type
		if schema.SameType(have, c.Type) || !schema.Promotable(have, c.Type) {
			continue
		}
		if out == nil {
			out = &schema.Table{Columns: slices.Clone(src.Columns), Key: src.Key}
		}
		out.Columns[k].Type = have
		kept = append(kept, fmt.Sprintf("keep key column %s %s (the source widened it to %s; values that do not fit stop)", c.Name, have, c.Type))
	}
	if out == nil {
		return src, nil
	}
	return out, kept
}

// ignoreChange is PlanSinkChange for Ignore.
func ignoreChange(sink, src *schema.Table, mode Mode) (SinkChange, error) {
	if err := CheckSource(src); err != nil {
		return SinkChange{}, err
	}
	if sk, ck := sink.KeyNames(), src.KeyNames(); !slices.Equal(sk, ck) && !(mode == Changelog && len(sk) == 0) {
		return SinkChange{}, fmt.Errorf("the primary key changed from (%s) in the sink table to (%s) in the source; rows cannot be matched to the table's rows, so it must be re-snapshotted (floe resnapshot)",
			strings.Join(sk, ", "), strings.Join(ck, ", "))
	}
	out := SinkChange{Layout: sink}
	for i, have := range sink.Columns[:len(sink.Columns)-numMeta] {
		j := src.Index(have.Name)
		if j < 0 {
			if !have.Nullable {
				return SinkChange{}, fmt.Errorf("the source dropped column %s, which is required in the Iceberg table, and schema-change-behavior ignore cannot write NULL in it; set pipeline.schema-change-behavior to lenient or evolve, or re-snapshot the table (floe resnapshot)", have.Name)
			}
			out.Skipped = append(out.Skipped, fmt.Sprintf("write NULL in column %s (the source dropped it)", have.Name))
			continue
		}
		c := src.Columns[j]
		switch {
		case schema.SameType(have.Type, c.Type), schema.Promotable(c.Type, have.Type):
		case schema.Promotable(have.Type, c.Type):
			out.Skipped = append(out.Skipped, fmt.Sprintf("keep column %s %s (the source widened it to %s; values that do not fit stop)", c.Name, have.Type, c.Type))
		default:
			return SinkChange{}, fmt.Errorf("column %s is %s in the source but %s in the sink table, and no value of one is written as the other; the table must be re-snapshotted (floe resnapshot)",
				c.Name, c.Type, have.Type)
		}
		if (c.Nullable || mode == Changelog) && !have.Nullable {
			if mode == Upsert && slices.Contains(sink.Key, i) {
				return SinkChange{}, fmt.Errorf("key column %s became nullable in the source; an upsert table's key columns must be required: declare the column NOT NULL at the source or use changelog mode", c.Name)
			}
			out.Skipped = append(out.Skipped, fmt.Sprintf("keep column %s required (a NULL value stops)", c.Name))
		}
	}
	for _, c := range src.Columns {
		if sink.Index(c.Name) < 0 {
			out.Skipped = append(out.Skipped, fmt.Sprintf("leave out column %s (the source added it)", c.Name))
		}
	}
	return out, nil
}

// narrowValue returns v, a canonical value of type from (see schema.Row),
// as a value of the narrower type to (schema.Promotable(to, from)), or
// an error when it does not fit exactly. nil and schema.Unchanged are
// returned as they are.
func narrowValue(v any, from, to iceberg.Type) (any, error) {
	switch x := v.(type) {
	case int64:
		if _, ok := to.(iceberg.Int32Type); ok {
			if x < math.MinInt32 || x > math.MaxInt32 {
				return nil, fmt.Errorf("value %d does not fit in %s", x, to)
			}
			return int32(x), nil
		}
	case float64:
		if _, ok := to.(iceberg.Float32Type); ok {
			if f := float32(x); float64(f) == x || math.IsNaN(x) {
				return f, nil
			}
			return nil, fmt.Errorf("value %v is not exactly a %s", x, to)
		}
	case decimal128.Num:
		if d, ok := to.(iceberg.DecimalType); ok {
			if !x.FitsInPrecision(int32(d.Precision())) {
				return nil, fmt.Errorf("value %s does not fit in %s", x.ToString(int32(d.Scale())), to)
			}
			return x, nil
		}
	}
	return v, nil
}
