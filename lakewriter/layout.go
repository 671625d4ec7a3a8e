package lakewriter

import (
	"errors"
	"fmt"
	"slices"

	"github.com/apache/iceberg-go"

	"github.com/floe-cdc/floe/schema"
)

// icebergSchema builds the Iceberg schema for layout: column i gets field
// ID i+1, list element IDs follow after the last column, non-nullable
// columns are required, and identifier lists the identifier-field ordinals.
func icebergSchema(layout *schema.Table, identifier []int) (*iceberg.Schema, error) {
	if layout == nil || len(layout.Columns) == 0 {
		return nil, errors.New("layout has no columns")
	}
	seen := make(map[string]bool, len(layout.Columns))
	next := len(layout.Columns) + 1
	fields := make([]iceberg.NestedField, len(layout.Columns))
	for i, c := range layout.Columns {
		if c.Name == "" {
			return nil, fmt.Errorf("column %d has no name", i)
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("column %s appears twice", c.Name)
		}
		seen[c.Name] = true
		typ, err := withFieldIDs(c.Type, &next)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", c.Name, err)
		}
		fields[i] = iceberg.NestedField{ID: i + 1, Name: c.Name, Type: typ, Required: !c.Nullable}
	}
	for _, k := range layout.Key {
		if k < 0 || k >= len(layout.Columns) {
			return nil, fmt.Errorf("key ordinal %d is out of range", k)
		}
	}
	ids := make([]int, 0, len(identifier))
	for _, k := range identifier {
		if k < 0 || k >= len(layout.Columns) {
			return nil, fmt.Errorf("identifier ordinal %d is out of range", k)
		}
		c := layout.Columns[k]
		if c.Nullable {
			return nil, fmt.Errorf("identifier column %s is nullable; identifier fields must be required", c.Name)
		}
		switch c.Type.(type) {
		case iceberg.Float32Type, iceberg.Float64Type, *iceberg.ListType:
			return nil, fmt.Errorf("identifier column %s has type %s, which cannot identify rows", c.Name, c.Type)
		}
		if slices.Contains(ids, k+1) {
			return nil, fmt.Errorf("identifier column %s appears twice", c.Name)
		}
		ids = append(ids, k+1)
	}
	return iceberg.NewSchemaWithIdentifiers(0, ids, fields...), nil
}

// withFieldIDs checks that t is a canonical type (see schema.Row) and
// returns it with fresh element IDs taken from *next for every list.
func withFieldIDs(t iceberg.Type, next *int) (iceberg.Type, error) {
	switch t := t.(type) {
	case iceberg.BooleanType, iceberg.Int32Type, iceberg.Int64Type, iceberg.Float32Type,
		iceberg.Float64Type, iceberg.DecimalType, iceberg.StringType, iceberg.BinaryType,
		iceberg.FixedType, iceberg.UUIDType, iceberg.DateType, iceberg.TimeType,
		iceberg.TimestampType, iceberg.TimestampTzType:
		return t, nil
	case *iceberg.ListType:
		if t == nil {
			return nil, errors.New("nil list type")
		}
		id := *next
		*next++
		elem, err := withFieldIDs(t.Element, next)
		if err != nil {
			return nil, fmt.Errorf("list element: %w", err)
		}
		return &iceberg.ListType{ElementID: id, Element: elem, ElementRequired: t.ElementRequired}, nil
	default:
		return nil, fmt.Errorf("type %v is not supported by lakewriter", t)
	}
}

// compareSchema reports the first difference between an existing table's
// schema and the wanted one (built by icebergSchema from layout), naming
// the column and what differs.
func compareSchema(have, want *iceberg.Schema, layout *schema.Table) error {
	for _, w := range want.Fields() {
		h, ok := have.FindFieldByName(w.Name)
		if !ok {
			return fmt.Errorf("column %s is in the layout but not in the table", w.Name)
		}
		if !schema.SameType(h.Type, w.Type) {
			return fmt.Errorf("column %s has type %s in the table but %s in the layout", w.Name, h.Type, w.Type)
		}
		if h.Required != w.Required {
			return fmt.Errorf("column %s is %s in the table but %s in the layout", w.Name, nullability(h.Required), nullability(w.Required))
		}
	}
	for _, h := range have.Fields() {
		if layout.Index(h.Name) < 0 {
			return fmt.Errorf("column %s is in the table but not in the layout", h.Name)
		}
	}
	return sameIdentifiers(have, want)
}

// sameIdentifiers reports whether an existing table's schema and the
// wanted one have the same identifier fields, by name.
func sameIdentifiers(have, want *iceberg.Schema) error {
	haveIDs := fieldNames(have, have.IdentifierFieldIDs)
	wantIDs := fieldNames(want, want.IdentifierFieldIDs)
	slices.Sort(haveIDs)
	slices.Sort(wantIDs)
	if !slices.Equal(haveIDs, wantIDs) {
		return fmt.Errorf("identifier fields are %v in the table but %v in the layout", haveIDs, wantIDs)
	}
	return nil
}

func nullability(required bool) string {
	if required {
		return "required"
	}
	return "nullable"
}

func fieldNames(sc *iceberg.Schema, ids []int) []string {
	names := make([]string, 0, len(ids))
	for _, id := range ids {
		if n, ok := sc.FindColumnName(id); ok {
			names = append(names, n)
		}
	}
	return names
}

// layoutOf derives a layout from an existing table schema: its top-level
// columns in schema order, Key = identifier fields in schema order.
func layoutOf(sc *iceberg.Schema) (*schema.Table, error) {
	fields := sc.Fields()
	t := &schema.Table{Columns: make([]schema.Column, len(fields))}
	next := len(fields) + 1
	for i, f := range fields {
		if _, err := withFieldIDs(f.Type, &next); err != nil {
			return nil, fmt.Errorf("column %s: %w", f.Name, err)
		}
		t.Columns[i] = schema.Column{Name: f.Name, Type: f.Type, Nullable: !f.Required}
		if slices.Contains(sc.IdentifierFieldIDs, f.ID) {
			t.Key = append(t.Key, i)
		}
	}
	return t, nil
}
