package capture

import (
	"fmt"
	"slices"
	"strings"
)

// KeyOverride names the key columns of a table without a primary key (a
// route's primary-key) and the configuration field that names them, so
// that problems point at it ("route[2].primary-key").
type KeyOverride struct {
	Columns []string
	Field   string // e.g. "route[2].primary-key"; "" reads as "route"
}

// FieldOr is o.Field, or "route" when unset.
func (o KeyOverride) FieldOr() string {
	if o.Field == "" {
		return "route"
	}
	return o.Field
}

// KeyCheck is what a source knows of a table that a KeyOverride names,
// for Problems.
type KeyCheck struct {
	Table      TableID
	Override   KeyOverride
	PrimaryKey []string   // the table's primary key columns, nil if none
	Nullable   []string   // the table's columns that allow NULL
	Unique     [][]string // the key columns of each usable unique index (no predicate, no expression)
	FoldCase   bool       // column names compare case-insensitively (MySQL)
	Quote      func(string) string
	// SetNotNull is the statement that declares a column NOT NULL.
	SetNotNull func(column string) string
}

// Problems checks the override. Contract for sources: a table with a
// primary key is keyed by it, so an override naming other columns is
// reported rather than ignored; otherwise the columns must be NOT NULL and
// a unique index must cover exactly them, or two source rows could share a
// key and collapse into one Iceberg row (upsert keeps one row per key;
// TOAST fill-in and snapshot reconciliation match rows by key in both
// modes). nil when the override is usable.
func (k KeyCheck) Problems() []Problem {
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
		return []Problem{{Field: field,
			Message: fmt.Sprintf("table %s has a primary key (%s), which floe keys it by; the route's primary-key (%s) would be ignored",
				k.Table, strings.Join(k.PrimaryKey, ", "), strings.Join(cols, ", ")),
			Fix: "remove primary-key from the route (it is for tables without a primary key)"}}
	}
	var out []Problem
	for _, c := range cols {
		if slices.ContainsFunc(k.Nullable, func(n string) bool { return same(n, c) }) {
			out = append(out, Problem{Field: field,
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
	return append(out, Problem{Field: field,
		Message: fmt.Sprintf("no unique index of table %s covers exactly the key columns (%s), %s: two rows sharing a key value would collapse into one Iceberg row",
			k.Table, strings.Join(cols, ", "), have),
		Fix: fmt.Sprintf("if the columns are unique, declare it: ALTER TABLE %s ADD UNIQUE (%s); otherwise name the columns of a unique index, or remove the route's primary-key and use sink.mode: changelog, which needs no key",
			k.Quote(k.Table.Schema)+"."+k.Quote(k.Table.Name), strings.Join(quoted, ", "))})
}
