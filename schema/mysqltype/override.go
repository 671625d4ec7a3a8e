package mysqltype

import (
	"fmt"
	"slices"

	"github.com/apache/iceberg-go"

	"github.com/floe-cdc/floe/schema"
)

// Type overrides (see schema.ParseOverrideType for the choices and what
// each conversion keeps). Which MySQL/MariaDB types take which choice:
//
//	DECIMAL(p,s)                string: the exact value with exactly s fractional
//	                            digits, as the server prints it ("-12.50")
//	                            double: the nearest double
//	                            decimal(P,S): must hold every DECIMAL(p,s) value
//	                            (S >= s, P-S >= p-s)
//	DATE, DATETIME, TIMESTAMP   string: schema.FormatValue's ISO 8601 text of the
//	                            value the column's own mapping gives ("2024-01-02",
//	                            "2024-01-02T03:04:05.5", TIMESTAMP and zoned
//	                            DATETIME as the UTC instant with a trailing Z);
//	                            zero dates follow Options.ZeroDate as before
//	a type already mapped to string   string (no change)
//
// Any other pairing is refused, and so is an override of a key column
// (Floe compares MySQL keys in Go, by their mapped values, to reconcile
// snapshot chunks with the binlog).

// ApplyTypes applies the choices ct.Columns to the columns of layout, a
// table named table (for messages) whose Key is set, and returns the new
// layout (layout itself when nothing changes) or every override that
// cannot be applied. A column ct names that layout lacks is not checked
// here (a layout from an older binlog event may predate it; see
// schema.ColumnTypes.Unknown). ct.Unconstrained does not apply: MySQL
// DECIMAL always has a precision. layout is not modified.
func ApplyTypes(table string, layout *schema.Table, ct schema.ColumnTypes) (*schema.Table, []*schema.OverrideError) {
	if len(ct.Columns) == 0 {
		return layout, nil
	}
	var errs []*schema.OverrideError
	out := layout
	for i, c := range layout.Columns {
		to, ok := ct.Columns[c.Name]
		if !ok || schema.SameType(to, c.Type) {
			continue
		}
		field := ct.Field + "." + c.Name
		t, _ := c.Source.(Type)
		if slices.Contains(layout.Key, i) {
			errs = append(errs, &schema.OverrideError{Field: field,
				Message: fmt.Sprintf("column %s is part of the key of table %s; key columns keep their mapped type %s (Floe compares keys in the source's order, which %s does not keep)", c.Name, table, c.Type, to),
				Fix:     "remove the override of the key column"})
			continue
		}
		if reason := t.overridable(c.Type, to); reason != "" {
			errs = append(errs, &schema.OverrideError{Field: field,
				Message: fmt.Sprintf("column %s of table %s is %s, which cannot be written as %s: %s", c.Name, table, t, to, reason),
				Fix:     "choose a type the column can take, or remove the override"})
			continue
		}
		if out == layout {
			out = &schema.Table{Columns: slices.Clone(layout.Columns), Key: layout.Key}
		}
		out.Columns[i].Type = to
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// overridable says why a column of type t, mapped to Iceberg type mapped,
// cannot be written as to ("" when it can).
func (t Type) overridable(mapped, to iceberg.Type) string {
	const takes = "DECIMAL takes string, double or decimal(P,S); DATE, DATETIME and TIMESTAMP take string"
	switch to := to.(type) {
	case iceberg.StringType:
		if families[t.base] == famDecimal || t.temporalText() || schema.SameType(mapped, to) {
			return ""
		}
	case iceberg.Float64Type:
		if families[t.base] == famDecimal {
			return ""
		}
	case iceberg.DecimalType:
		if families[t.base] != famDecimal {
			break
		}
		p, s := t.width(0, 10), t.width(1, 0)
		if !schema.DecimalHolds(to, p, s) {
			return fmt.Sprintf("it holds up to %d integer and %d fractional digits; choose decimal(P,S) with S >= %d and P-S >= %d (P <= 38), or string",
				p-s, s, s, p-s)
		}
		return ""
	}
	return takes
}

// temporalText reports the types whose string override is their ISO text.
func (t Type) temporalText() bool {
	switch t.base {
	case "date", "datetime", "timestamp":
		return true
	}
	return false
}

// overridden returns, for a column whose string type an override chose
// for a DATE, DATETIME or TIMESTAMP, the column with its own mapping
// under o (the type its values decode into before they are formatted).
func overridden(c schema.Column, o Options) (schema.Column, bool) {
	t, ok := c.Source.(Type)
	if _, str := c.Type.(iceberg.StringType); !ok || !str || !t.temporalText() {
		return c, false
	}
	natural, err := Column(c.Name, t, !c.Nullable, o)
	if err != nil {
		return c, false
	}
	return natural, true
}

// formatted wraps a decoder of natural's values so that it yields their
// schema.FormatValue text.
func formatted[V any](d func(V) (any, error), natural iceberg.Type) func(V) (any, error) {
	return func(v V) (any, error) {
		x, err := d(v)
		if err != nil || x == nil {
			return x, err
		}
		return schema.FormatValue(x, natural), nil
	}
}
