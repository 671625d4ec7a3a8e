package schema

import (
	"fmt"
	"strings"

	"github.com/apache/iceberg-go"
)

// SourceType is a column's type as its source declares it. Each dialect
// package (schema/pgtype, schema/mysqltype) has one implementation, which
// carries what that dialect's decoders need; the core only prints it.
type SourceType interface {
	// String renders the type the way the source prints it, for messages.
	String() string
}

// TypeName is a SourceType that is only a name, for columns no source
// declares (Floe's metadata columns).
type TypeName string

// String returns the name.
func (n TypeName) String() string { return string(n) }

// Column is one column of a table as Floe writes it to Iceberg.
type Column struct {
	Name     string
	Type     iceberg.Type
	Nullable bool
	// Source is the type the source declares, set by the dialect package
	// that mapped the column; nil for a layout read back from Iceberg.
	Source SourceType
	// RenamedFrom is the name the column had before the source renamed
	// it, set by a source that saw the rename itself (a DDL statement in
	// the MySQL/MariaDB binlog, a DDL message from Floe's PostgreSQL
	// event trigger) on the layout that follows the rename; "" otherwise.
	// A sink table that still has a column of that name, and none of
	// this name, renames it (keeping its Iceberg field id and values)
	// instead of adding a new column; see transform.EvolveSinkLayout.
	RenamedFrom string
}

// Table is the layout of a table at one point in its history: the column
// order of every Row produced for it, and which columns form its key.
// A *Table is immutable once built; a layout change yields a new *Table.
type Table struct {
	Columns []Column
	// Key holds the ordinals (into Columns) of the primary-key columns, in
	// key order. Empty when the table has no key.
	Key []int
}

// Index returns the ordinal of the named column, or -1.
func (t *Table) Index(name string) int {
	for i, c := range t.Columns {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// KeyNames returns the names of the key columns in key order.
func (t *Table) KeyNames() []string {
	names := make([]string, len(t.Key))
	for i, k := range t.Key {
		names[i] = t.Columns[k].Name
	}
	return names
}

// String renders the layout compactly for logs and errors.
func (t *Table) String() string {
	var b strings.Builder
	b.WriteByte('(')
	for i, c := range t.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s", c.Name, c.Type)
	}
	b.WriteByte(')')
	return b.String()
}

// Row holds one image of a row: Row[i] is the value of Table.Columns[i].
//
// Values are canonical Go values, one Go type per Iceberg type, produced by
// the dialect packages' decoders and consumed by lakewriter:
//
//	boolean        bool
//	int            int32
//	long           int64
//	float          float32
//	double         float64
//	decimal(P,S)   decimal128.Num (unscaled, scale S of the column type)
//	string         string
//	binary/fixed   []byte
//	uuid           [16]byte
//	date           int32  (days since 1970-01-01)
//	time           int64  (microseconds since midnight)
//	timestamp      int64  (microseconds since 1970-01-01T00:00:00, wall clock, no zone)
//	timestamptz    int64  (microseconds since the Unix epoch, UTC)
//	list<T>        []any  (elements canonical for T; nil element = NULL)
//
// nil is SQL NULL. The value Unchanged marks a column whose value the
// source did not send (PostgreSQL's unchanged TOAST); it must be resolved
// before a row reaches lakewriter.
type Row []any

// unchangedValue is the type of Unchanged; it has exactly one value.
type unchangedValue struct{}

// Unchanged stands in a Row for a value the source did not send because it
// did not change (PostgreSQL unchanged TOAST). See Row.
var Unchanged any = unchangedValue{}

// IsUnchanged reports whether v is the Unchanged marker.
func IsUnchanged(v any) bool {
	_, ok := v.(unchangedValue)
	return ok
}

// Size estimates the memory of r's values in bytes: the lengths of its
// strings, byte slices and lists plus a fixed cost a value (a slot of the
// row and its boxed scalar). It is the one estimate every layer budgets
// with: sources split transactions by it, writers cut record batches by it.
func (r Row) Size() int {
	n := 0
	for _, v := range r {
		n += ValueSize(v)
	}
	return n
}

// ValueSize is Row.Size for one canonical value.
func ValueSize(v any) int {
	switch x := v.(type) {
	case string:
		return 16 + len(x)
	case []byte:
		return 24 + len(x)
	case []any:
		n := 24
		for _, e := range x {
			n += ValueSize(e)
		}
		return n
	default:
		return 16
	}
}

// HasUnchanged reports whether any value of r is the Unchanged marker.
func (r Row) HasUnchanged() bool {
	for _, v := range r {
		if IsUnchanged(v) {
			return true
		}
	}
	return false
}

// Decoder turns one non-NULL source value, given as the source's text
// output, into the canonical value of its column's Iceberg type (see Row).
// NULL never reaches a decoder: the caller maps it to nil. text is valid
// only during the call and is never retained. A value that cannot be
// represented exactly yields a *ValueError. Decoders are safe for
// concurrent use.
type Decoder func(text []byte) (any, error)
