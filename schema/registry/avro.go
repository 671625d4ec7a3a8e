package registry

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/iceberg-go"

	"github.com/floe-cdc/floe/schema"
)

// Schema is an Avro schema in its JSON text, as Floe registers it.
type Schema string

// avroRecord and avroField fix the order of the JSON keys, so that the same
// layout always renders the same bytes.
type avroRecord struct {
	Type      string      `json:"type"`
	Name      string      `json:"name"`
	Namespace string      `json:"namespace,omitempty"`
	Fields    []avroField `json:"fields"`
}

type avroField struct {
	Name string `json:"name"`
	Type any    `json:"type"`
	// hasDefault marks a nullable field, whose default is null (see
	// MarshalJSON: encoding/json cannot tell a null default from none).
	hasDefault bool
	// Column is the source column's name when Name had to be adjusted to
	// be a valid Avro name.
	Column string `json:"floe.column,omitempty"`
	// Aliases are the field's earlier names (renames), as Avro names:
	// Avro's schema resolution matches a reader field to a writer field
	// of an alias's name, so a rename stays BACKWARD compatible.
	Aliases []string `json:"aliases,omitempty"`
}

// MarshalJSON writes "default": null after the type for nullable fields.
func (f avroField) MarshalJSON() ([]byte, error) {
	if f.hasDefault {
		return json.Marshal(struct {
			Name    string   `json:"name"`
			Type    any      `json:"type"`
			Default any      `json:"default"`
			Column  string   `json:"floe.column,omitempty"`
			Aliases []string `json:"aliases,omitempty"`
		}{f.Name, f.Type, nil, f.Column, f.Aliases})
	}
	return json.Marshal(struct {
		Name    string   `json:"name"`
		Type    any      `json:"type"`
		Column  string   `json:"floe.column,omitempty"`
		Aliases []string `json:"aliases,omitempty"`
	}{f.Name, f.Type, f.Column, f.Aliases})
}

type avroLogical struct {
	Type        string `json:"type"`
	LogicalType string `json:"logicalType"`
}

type avroDecimal struct {
	Type        string `json:"type"`
	LogicalType string `json:"logicalType"`
	Precision   int    `json:"precision"`
	Scale       int    `json:"scale"`
}

type avroFixed struct {
	Type string `json:"type"`
	Name string `json:"name"`
	Size int    `json:"size"`
}

type avroArray struct {
	Type  string `json:"type"`
	Items any    `json:"items"`
}

// AvroSchema renders the sink layout of table (namespace, name) as an Avro
// record schema. The record is named after the table (namespace and name
// adjusted to Avro names, see AvroName); field i is layout column i, in
// layout order, Floe's metadata columns included. A nullable column is the
// union ["null", T] with default null; a required column is T with no
// default. Types map as follows:
//
//	boolean, int, long, float, double, string   the Avro primitive
//	binary                                      bytes
//	fixed[L]                                    fixed, named <field>_fixed, size L
//	decimal(P,S)                                bytes, logicalType decimal, precision P, scale S
//	uuid                                        string, logicalType uuid
//	date                                        int, logicalType date
//	time                                        long, logicalType time-micros
//	timestamp (wall clock)                      long, logicalType local-timestamp-micros
//	timestamptz (instant)                       long, logicalType timestamp-micros
//	list<T>                                     array of T (["null", T] when elements are optional)
//
// A column whose name is not a valid Avro name is renamed (see AvroName)
// and keeps its original name in the field property "floe.column". A
// column the source renamed (schema.Column.RenamedFrom set) has its old
// name, adjusted, as an alias, so that the renamed field resolves against
// versions written under the old name (BACKWARD); a layout read back from
// Iceberg carries no rename, and renders without the alias.
// The output is compact JSON and deterministic: the same layout and names
// always yield the same bytes. It fails on a type Floe does not write, on
// two columns whose Avro names collide, and on any result hamba/avro does
// not parse (for example two fixed types whose generated names collide).
func AvroSchema(namespace, name string, layout *schema.Table) (Schema, error) {
	return AvroSchemaWithAliases(namespace, name, layout, nil)
}

// AvroSchemaWithAliases is AvroSchema with each column's earlier names:
// formerNames maps a column name to the names the column had before it
// was renamed (lakewriter.Table.FormerNames), and a column whose
// RenamedFrom is set (a rename about to be applied) counts that name and
// the earlier names formerNames holds under it. They become the field's "aliases" (Avro names, sorted, without
// duplicates or the field's own name), so that the schema of a renamed
// table resolves data written before the rename and passes BACKWARD
// checks. The same history always gives the same bytes, before and after
// the Iceberg table took the rename.
func AvroSchemaWithAliases(namespace, name string, layout *schema.Table, formerNames map[string][]string) (Schema, error) {
	if layout == nil || len(layout.Columns) == 0 {
		return "", fmt.Errorf("avro schema for %s.%s: layout has no columns", namespace, name)
	}
	rec := avroRecord{Type: "record", Name: AvroName(name), Namespace: avroNamespace(namespace)}
	seen := make(map[string]string, len(layout.Columns))
	for _, c := range layout.Columns {
		fname := AvroName(c.Name)
		if prev, ok := seen[fname]; ok {
			return "", fmt.Errorf("avro schema for %s.%s: columns %q and %q both map to Avro field %s; rename one of them", namespace, name, prev, c.Name, fname)
		}
		seen[fname] = c.Name
		t, err := avroType(c.Type, fname)
		if err != nil {
			return "", fmt.Errorf("avro schema for %s.%s: column %s: %w", namespace, name, c.Name, err)
		}
		f := avroField{Name: fname, Type: t}
		if fname != c.Name {
			f.Column = c.Name
		}
		former := formerNames[c.Name]
		if c.RenamedFrom != "" {
			former = append(append(slices.Clone(former), c.RenamedFrom), formerNames[c.RenamedFrom]...)
		}
		f.Aliases = aliases(fname, former)
		if c.Nullable {
			f.Type = []any{"null", t}
			f.hasDefault = true
		}
		rec.Fields = append(rec.Fields, f)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return "", fmt.Errorf("avro schema for %s.%s: %w", namespace, name, err)
	}
	// Parsing proves the result is valid Avro (named types such as the
	// fixed ones must not collide), so no invalid schema reaches a registry.
	if _, err := parseAvro(Schema(b)); err != nil {
		return "", fmt.Errorf("avro schema for %s.%s: %w", namespace, name, err)
	}
	return Schema(b), nil
}

// aliases returns the Avro names of a field's earlier names, sorted and
// without duplicates or the field's own Avro name fname; nil when none.
func aliases(fname string, former []string) []string {
	var out []string
	for _, n := range former {
		if a := AvroName(n); a != fname && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out
}

// avroPrimitives are the Avro forms of the Iceberg types that take no
// parameters (see schema.Row for the canonical types).
var avroPrimitives = map[iceberg.Type]any{
	iceberg.PrimitiveTypes.Bool:        "boolean",
	iceberg.PrimitiveTypes.Int32:       "int",
	iceberg.PrimitiveTypes.Int64:       "long",
	iceberg.PrimitiveTypes.Float32:     "float",
	iceberg.PrimitiveTypes.Float64:     "double",
	iceberg.PrimitiveTypes.String:      "string",
	iceberg.PrimitiveTypes.Binary:      "bytes",
	iceberg.PrimitiveTypes.UUID:        avroLogical{Type: "string", LogicalType: "uuid"},
	iceberg.PrimitiveTypes.Date:        avroLogical{Type: "int", LogicalType: "date"},
	iceberg.PrimitiveTypes.Time:        avroLogical{Type: "long", LogicalType: "time-micros"},
	iceberg.PrimitiveTypes.Timestamp:   avroLogical{Type: "long", LogicalType: "local-timestamp-micros"},
	iceberg.PrimitiveTypes.TimestampTz: avroLogical{Type: "long", LogicalType: "timestamp-micros"},
}

// avroType maps one canonical Iceberg type (see schema.Row) to Avro.
// field names the named types (fixed) it creates.
func avroType(t iceberg.Type, field string) (any, error) {
	// iceberg-go's types are comparable structs or pointers: the lookup
	// cannot panic.
	if a, ok := avroPrimitives[t]; ok {
		return a, nil
	}
	switch t := t.(type) {
	case iceberg.FixedType:
		return avroFixed{Type: "fixed", Name: field + "_fixed", Size: t.Len()}, nil
	case iceberg.DecimalType:
		return avroDecimal{Type: "bytes", LogicalType: "decimal", Precision: t.Precision(), Scale: t.Scale()}, nil
	case *iceberg.ListType:
		if t == nil {
			return nil, fmt.Errorf("nil list type")
		}
		elem, err := avroType(t.Element, field+"_element")
		if err != nil {
			return nil, fmt.Errorf("list element: %w", err)
		}
		if !t.ElementRequired {
			elem = []any{"null", elem}
		}
		return avroArray{Type: "array", Items: elem}, nil
	}
	return nil, fmt.Errorf("type %v has no Avro mapping", t)
}

// AvroName adjusts s to a valid Avro name ([A-Za-z_][A-Za-z0-9_]*): every
// other character becomes '_', and a leading digit (or an empty name) gets
// a '_' prefix. A valid name is returned unchanged.
func AvroName(s string) string {
	var b strings.Builder
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		b.WriteByte('_')
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// avroNamespace adjusts each dot-separated level of an Iceberg namespace
// with AvroName.
func avroNamespace(ns string) string {
	if ns == "" {
		return ""
	}
	parts := strings.Split(ns, ".")
	for i, p := range parts {
		parts[i] = AvroName(p)
	}
	return strings.Join(parts, ".")
}
