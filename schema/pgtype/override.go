package pgtype

import (
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/apache/iceberg-go"

	"github.com/floe-cdc/floe/schema"
)

// Type overrides (see schema.ParseOverrideType for the choices and what
// each conversion keeps). Which PostgreSQL types take which choice:
//
//	numeric (with or without precision)   string: the exact text (NaN, Infinity, -Infinity kept)
//	                                      double: the nearest double (NaN, ±Infinity kept)
//	                                      decimal(P,S): must hold numeric(p,s)'s every value
//	                                      (S >= s, P-S >= p-s); unconstrained numeric takes
//	                                      any decimal, a value that does not fit is a ValueError
//	date, time, timestamp, timestamptz    string: schema.FormatValue's ISO 8601 text; infinity
//	                                      and -infinity kept as those words
//	a type already mapped to string       string (no change)
//
// Any other pairing is refused with the field, the table and what the
// column can take. Key columns keep their mapped type (an override of one
// is refused; sink.numeric-unconstrained does not apply to them).

// ApplyTypes applies the choices ct to the columns of layout, a table
// named table (for messages) whose Key is set, and returns the new layout
// (layout itself when nothing changes) or every override that cannot be
// applied, a column ct names that layout lacks included. layout is not
// modified.
func ApplyTypes(table string, layout *schema.Table, ct schema.ColumnTypes) (*schema.Table, []*schema.OverrideError) {
	if ct.Empty() {
		return layout, nil
	}
	errs := ct.Unknown(table, layout)
	out := layout
	for i, c := range layout.Columns {
		nc, err := OverrideColumn(table, c, slices.Contains(layout.Key, i), ct)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !schema.SameType(nc.Type, c.Type) {
			if out == layout {
				out = &schema.Table{Columns: slices.Clone(layout.Columns), Key: layout.Key}
			}
			out.Columns[i] = nc
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// OverrideColumn returns column c of table (as Column mapped it) with the
// type ct chooses for it: its entry in ct.Columns, else ct.Unconstrained
// for a non-key numeric without precision, else c unchanged. key says
// whether c is a key column.
func OverrideColumn(table string, c schema.Column, key bool, ct schema.ColumnTypes) (schema.Column, *schema.OverrideError) {
	src, _ := c.Source.(Type)
	to, named := ct.Columns[c.Name]
	field := ct.Field + "." + c.Name
	if !named {
		if ct.Unconstrained == nil || key || !unconstrainedNumeric(src) {
			return c, nil
		}
		to, field = ct.Unconstrained, ct.UnconstrainedField
	}
	if schema.SameType(to, c.Type) {
		return c, nil
	}
	if key {
		return c, &schema.OverrideError{Field: field,
			Message: fmt.Sprintf("column %s is part of the key of table %s; key columns keep their mapped type %s (Floe orders and looks up keys in the source's order, which %s does not keep)", c.Name, table, c.Type, to),
			Fix:     "remove the override of the key column"}
	}
	if reason := overridable(src, to); reason != "" {
		return c, &schema.OverrideError{Field: field,
			Message: fmt.Sprintf("column %s of table %s is %s, which cannot be written as %s: %s", c.Name, table, src.describe(), to, reason),
			Fix:     "choose a type the column can take, or remove the override"}
	}
	c.Type = to
	return c, nil
}

// overridable says why src cannot be written as to ("" when it can).
func overridable(src Type, to iceberg.Type) string {
	const takes = "numeric takes string, double or decimal(P,S); date, time, timestamp and timestamptz take string"
	if src.Kind != KindBase && src.Kind != KindDomain {
		if _, ok := to.(iceberg.StringType); ok && src.Kind == KindEnum {
			return ""
		}
		return takes
	}
	oid := builtinOID(src)
	switch to := to.(type) {
	case iceberg.StringType:
		if oid == oidNumeric || temporalOID(oid) {
			return ""
		}
		if t, err := icebergType(src); err == nil && schema.SameType(t, to) {
			return ""
		}
	case iceberg.Float64Type:
		if oid == oidNumeric {
			return ""
		}
	case iceberg.DecimalType:
		if oid != oidNumeric {
			break
		}
		p, s, ok := numericTypmod(src.Modifier)
		if !ok {
			return ""
		}
		if s < 0 {
			p, s = p-s, 0
		} else if s > p {
			p = s
		}
		if !schema.DecimalHolds(to, p, s) {
			return fmt.Sprintf("it holds up to %d integer and %d fractional digits; choose decimal(P,S) with S >= %d and P-S >= %d (P <= 38), or string",
				p-s, s, s, p-s)
		}
		return ""
	}
	return takes
}

// unconstrainedNumeric reports whether src is numeric without precision.
func unconstrainedNumeric(src Type) bool {
	if src.Kind != KindBase && src.Kind != KindDomain || builtinOID(src) != oidNumeric {
		return false
	}
	_, _, ok := numericTypmod(src.Modifier)
	return !ok
}

// temporalOID reports the date and time types that take string.
func temporalOID(oid uint32) bool {
	switch oid {
	case oidDate, oidTime, oidTimestamp, oidTimestamptz:
		return true
	}
	return false
}

// overrideDecoder returns the decoder of a column whose Iceberg type typ
// was chosen by an override for source type src, or nil when typ is the
// type's own mapping decoded the usual way.
func overrideDecoder(c *column, typ iceberg.Type, src Type) (schema.Decoder, error) {
	if src.Kind != KindBase && src.Kind != KindDomain {
		return nil, nil
	}
	oid := builtinOID(src)
	switch typ.(type) {
	case iceberg.StringType:
		if !temporalOID(oid) {
			return nil, nil // numeric and text types: the exact text
		}
		natural := builtinTypes[oid]
		inner, err := decoder(c, natural, src)
		if err != nil {
			return nil, err
		}
		return schema.FormattedDecoder(inner, natural, infinityText), nil
	case iceberg.Float64Type:
		if oid != oidNumeric {
			return nil, nil
		}
		return func(b []byte) (any, error) {
			f, err := strconv.ParseFloat(string(b), 64)
			if err == nil {
				return f, nil
			}
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange && !math.IsInf(f, 0) {
				return f, nil // below the smallest subnormal: the nearest double is 0
			}
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return nil, c.fail(b, "beyond the range of double, the type the column's override chose; choose string or a decimal(P,S) for it")
			}
			return nil, c.fail(b, "not numeric output")
		}, nil
	}
	return nil, nil
}

// infinityText keeps PostgreSQL's infinite dates and timestamps as the
// words it prints.
func infinityText(b []byte) (string, bool) {
	switch string(b) {
	case "infinity", "-infinity":
		return string(b), true
	}
	return "", false
}
