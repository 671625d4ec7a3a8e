package schema

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/iceberg-go"
)

// Type overrides: the user's choice of the Iceberg type of a source
// column, in place of the one its dialect package maps it to.
//
// The choices are few on purpose, each with one exact conversion (the
// dialect packages say which source types take which choice):
//
//	string         exact numerics: the source's exact text (PostgreSQL:
//	               NaN, Infinity and -Infinity too); dates, times and
//	               timestamps: the canonical text FormatValue gives
//	               ("2024-01-02", "03:04:05.5", "2024-01-02T03:04:05.123456",
//	               timestamptz in UTC with a trailing Z)
//	double         exact numerics: the nearest double; NaN and ±Infinity
//	               kept; a value beyond double's range is a ValueError
//	decimal(P,S)   exact numerics: the exact value; a value with more
//	               than S significant fractional digits or P-S integer
//	               digits is a ValueError, never a rounded value
//
// A key column keeps its mapped type: Floe orders and looks up keys in
// the source's order (snapshot chunk bounds, MySQL watermarks), which a
// text form does not keep.

// ParseOverrideType parses an override's type: "string", "double" or
// "decimal(P,S)" with 1 <= P <= 38 and 0 <= S <= P (spaces and case
// ignored). The error says what is accepted.
func ParseOverrideType(s string) (iceberg.Type, error) {
	w := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), " ", ""))
	switch w {
	case "string":
		return iceberg.PrimitiveTypes.String, nil
	case "double":
		return iceberg.PrimitiveTypes.Float64, nil
	}
	if args, ok := strings.CutPrefix(w, "decimal("); ok && strings.HasSuffix(args, ")") {
		ps, ss, ok := strings.Cut(strings.TrimSuffix(args, ")"), ",")
		p, err1 := strconv.Atoi(ps)
		sc, err2 := strconv.Atoi(ss)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("bad decimal type %q: write decimal(P,S), e.g. decimal(38,10)", s)
		}
		if p < 1 || p > 38 || sc < 0 || sc > p {
			return nil, fmt.Errorf("decimal(%d,%d) is not an Iceberg decimal: precision must be 1 to 38 and scale 0 to the precision", p, sc)
		}
		return iceberg.DecimalTypeOf(p, sc), nil
	}
	return nil, fmt.Errorf("unknown type %q: write string, double or decimal(P,S)", s)
}

// OverrideSpec names the override types for messages.
const OverrideSpec = "string, double or decimal(P,S)"

// ColumnTypes is the user's choice of Iceberg types for the columns of one
// source table. The zero value chooses nothing.
type ColumnTypes struct {
	// Columns maps a column name to its chosen type (ParseOverrideType).
	Columns map[string]iceberg.Type
	// Field is where Columns is configured, e.g. "route[0].columns";
	// messages name Field + "." + column.
	Field string
	// Unconstrained is the type of PostgreSQL numeric columns declared
	// without precision that Columns does not name; nil keeps the
	// dialect's mapping.
	Unconstrained iceberg.Type
	// UnconstrainedField is where Unconstrained is configured.
	UnconstrainedField string
}

// Empty reports whether c chooses nothing.
func (c ColumnTypes) Empty() bool { return len(c.Columns) == 0 && c.Unconstrained == nil }

// Unknown returns an error for each column c.Columns names that layout,
// the layout of table (named for messages), does not have; names compare
// exactly, as the source spells them.
func (c ColumnTypes) Unknown(table string, layout *Table) []*OverrideError {
	var errs []*OverrideError
	names := make([]string, 0, len(c.Columns))
	for n := range c.Columns {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		if layout.Index(name) >= 0 {
			continue
		}
		have := make([]string, len(layout.Columns))
		for i, col := range layout.Columns {
			have[i] = col.Name
		}
		errs = append(errs, &OverrideError{Field: c.Field + "." + name,
			Message: fmt.Sprintf("table %s has no column %s (columns: %s)", table, name, strings.Join(have, ", ")),
			Fix:     "name a column of the table as the source spells it, or remove the override"})
	}
	return errs
}

// OverrideError is an override that cannot be applied to a table: it
// names the configuration field, the table, the reason and the fix.
type OverrideError struct {
	Field   string // e.g. route[0].columns.amount
	Message string // what is wrong, naming the table and column
	Fix     string
}

func (e *OverrideError) Error() string { return e.Field + ": " + e.Message + " (fix: " + e.Fix + ")" }

// DecimalHolds reports whether decimal(prec,scale) holds every value of a
// source type declared with precision p and scale s (0 <= s): the scale is
// at least s and the integer digits at least p-s.
func DecimalHolds(t iceberg.DecimalType, p, s int) bool {
	return t.Scale() >= s && t.Precision()-t.Scale() >= p-s
}

// FormattedDecoder returns a decoder into string: d decodes a value into
// the canonical value of type natural (a date, time or timestamp type)
// and the result is its FormatValue text. special, when not nil, is
// consulted first with the source text: when it returns ok, its string is
// the value (for source values natural cannot hold, such as PostgreSQL's
// infinity).
func FormattedDecoder(d Decoder, natural iceberg.Type, special func(text []byte) (string, bool)) Decoder {
	return func(text []byte) (any, error) {
		if special != nil {
			if s, ok := special(text); ok {
				return s, nil
			}
		}
		v, err := d(text)
		if err != nil || v == nil {
			return v, err
		}
		return FormatValue(v, natural), nil
	}
}
