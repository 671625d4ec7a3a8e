package registry

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/hamba/avro/v2"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/transform"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// goldenCompare compares got with testdata/name, rewriting it under -update.
func goldenCompare(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	if !bytes.Equal(want, got) {
		t.Fatalf("%s differs (run with -update if the change is intended and versioned):\nwant %s\ngot  %s", path, want, got)
	}
}

// everyType is a source layout with one column of each type Floe writes,
// required and nullable, and names that are not Avro names.
func everyType() *schema.Table {
	return &schema.Table{
		Columns: []schema.Column{
			{Name: "id", Type: iceberg.PrimitiveTypes.Int64},
			{Name: "flag", Type: iceberg.PrimitiveTypes.Bool, Nullable: true},
			{Name: "small", Type: iceberg.PrimitiveTypes.Int32},
			{Name: "ratio", Type: iceberg.PrimitiveTypes.Float32, Nullable: true},
			{Name: "score", Type: iceberg.PrimitiveTypes.Float64, Nullable: true},
			{Name: "price", Type: iceberg.DecimalTypeOf(12, 2)},
			{Name: "name", Type: iceberg.PrimitiveTypes.String, Nullable: true},
			{Name: "blob", Type: iceberg.PrimitiveTypes.Binary, Nullable: true},
			{Name: "hash", Type: iceberg.FixedTypeOf(16), Nullable: true},
			{Name: "guid", Type: iceberg.PrimitiveTypes.UUID},
			{Name: "born", Type: iceberg.PrimitiveTypes.Date, Nullable: true},
			{Name: "at", Type: iceberg.PrimitiveTypes.Time, Nullable: true},
			{Name: "local", Type: iceberg.PrimitiveTypes.Timestamp, Nullable: true},
			{Name: "instant", Type: iceberg.PrimitiveTypes.TimestampTz},
			{Name: "tags", Type: &iceberg.ListType{Element: iceberg.PrimitiveTypes.String}, Nullable: true},
			{Name: "ids", Type: &iceberg.ListType{Element: iceberg.PrimitiveTypes.Int32, ElementRequired: true}, Nullable: true},
			{Name: "order id", Type: iceberg.PrimitiveTypes.Int32, Nullable: true},
			{Name: "1st", Type: iceberg.PrimitiveTypes.String, Nullable: true},
		},
		Key: []int{0},
	}
}

// TestAvroSchemaGolden pins the Avro rendering of a sink layout (source
// columns of every type plus Floe's metadata columns): a registered schema
// that changed for the same layout would register a new version of every
// subject.
func TestAvroSchemaGolden(t *testing.T) {
	layout := transform.SinkLayout(everyType(), transform.Upsert)
	s, err := AvroSchema("shop.public", "orders", layout)
	require.NoError(t, err)
	goldenCompare(t, "avro_v1.golden", []byte(s+"\n"))

	// The same layout, built anew, renders the same bytes.
	again, err := AvroSchema("shop.public", "orders", transform.SinkLayout(everyType(), transform.Changelog))
	require.NoError(t, err)
	require.NotEqual(t, s, again, "changelog layouts make source columns nullable")
	copyLayout := &schema.Table{Columns: append([]schema.Column(nil), layout.Columns...), Key: layout.Key}
	same, err := AvroSchema("shop.public", "orders", copyLayout)
	require.NoError(t, err)
	require.Equal(t, s, same)
}

// TestAvroSchemaParses: the rendered schema is valid Avro and carries the
// logical types, the null defaults and the original column names.
func TestAvroSchemaParses(t *testing.T) {
	layout := transform.SinkLayout(everyType(), transform.Upsert)
	s, err := AvroSchema("shop.public", "orders", layout)
	require.NoError(t, err)
	parsed, err := parseAvro(s)
	require.NoError(t, err)
	rec := parsed.(*avro.RecordSchema)
	require.Equal(t, "shop.public.orders", rec.FullName())
	require.Len(t, rec.Fields(), len(layout.Columns))

	field := func(name string) *avro.Field {
		for _, f := range rec.Fields() {
			if f.Name() == name {
				return f
			}
		}
		t.Fatalf("no field %s", name)
		return nil
	}
	logical := func(s avro.Schema) avro.LogicalType {
		if u, ok := s.(*avro.UnionSchema); ok {
			s = u.Types()[1]
		}
		ls, ok := s.(avro.LogicalTypeSchema)
		require.True(t, ok, "%s has no logical type", s)
		require.NotNil(t, ls.Logical(), "%s has no logical type", s)
		return ls.Logical().Type()
	}
	dec := field("price").Type().(*avro.PrimitiveSchema).Logical().(*avro.DecimalLogicalSchema)
	require.Equal(t, 12, dec.Precision())
	require.Equal(t, 2, dec.Scale())
	require.Equal(t, avro.UUID, logical(field("guid").Type()))
	require.Equal(t, avro.Date, logical(field("born").Type()))
	require.Equal(t, avro.TimeMicros, logical(field("at").Type()))
	require.Equal(t, avro.LocalTimestampMicros, logical(field("local").Type()))
	require.Equal(t, avro.TimestampMicros, logical(field("instant").Type()))
	require.Equal(t, avro.TimestampMicros, logical(field(transform.ColTS).Type()))
	require.Equal(t, avro.Long, field(transform.ColSeq).Type().Type())

	require.False(t, field("id").HasDefault(), "a required column has no default")
	require.True(t, field("name").HasDefault(), "a nullable column defaults to null")
	require.Nil(t, field("name").Default())
	require.Equal(t, "order id", field("order_id").Prop("floe.column"))
	require.Equal(t, "1st", field("_1st").Prop("floe.column"))
	require.Nil(t, field("id").Prop("floe.column"))

	tags := field("tags").Type().(*avro.UnionSchema).Types()[1].(*avro.ArraySchema)
	require.Equal(t, avro.Union, tags.Items().Type(), "optional list elements are nullable")
	ids := field("ids").Type().(*avro.UnionSchema).Types()[1].(*avro.ArraySchema)
	require.Equal(t, avro.Int, ids.Items().Type())
	require.Equal(t, avro.Fixed, field("hash").Type().(*avro.UnionSchema).Types()[1].Type())
}

// TestAvroSchemaRefuses: a name collision after adjustment, and a type
// without an Avro mapping, are errors naming the column.
func TestAvroSchemaRefuses(t *testing.T) {
	_, err := AvroSchema("ns", "t", &schema.Table{Columns: []schema.Column{
		{Name: "a b", Type: iceberg.PrimitiveTypes.Int32},
		{Name: "a_b", Type: iceberg.PrimitiveTypes.Int32},
	}})
	require.ErrorContains(t, err, `columns "a b" and "a_b" both map to Avro field a_b`)

	_, err = AvroSchema("ns", "t", &schema.Table{Columns: []schema.Column{
		{Name: "m", Type: &iceberg.MapType{KeyType: iceberg.PrimitiveTypes.String, ValueType: iceberg.PrimitiveTypes.String}},
	}})
	require.ErrorContains(t, err, "column m: type")
	_, err = AvroSchema("ns", "t", &schema.Table{})
	require.ErrorContains(t, err, "no columns")
}

func TestNames(t *testing.T) {
	require.Equal(t, "ok_name", AvroName("ok_name"))
	require.Equal(t, "_9lives", AvroName("9lives"))
	require.Equal(t, "caf__", AvroName("café!"))
	require.Equal(t, "_", AvroName(""))
	c, err := ParseCompatibility("full_transitive")
	require.NoError(t, err)
	require.Equal(t, FullTransitive, c)
	c, err = ParseCompatibility("")
	require.NoError(t, err)
	require.Equal(t, Backward, c)
	_, err = ParseCompatibility("sideways")
	require.ErrorContains(t, err, "BACKWARD")
}

// TestAvroRenameAlias: a column the source renamed carries its old name
// (adjusted) as an alias; without a rename or former names it carries
// none (TestRenameKeepsBackwardCompatibility: the former names that an
// Iceberg table's history gives).
func TestAvroRenameAlias(t *testing.T) {
	P := iceberg.PrimitiveTypes
	layout := &schema.Table{Columns: []schema.Column{{Name: "id", Type: P.Int64}, {Name: "B two", Type: P.String, Nullable: true, RenamedFrom: "b"}}}
	s, err := AvroSchema("lake", "items", layout)
	require.NoError(t, err)
	require.Contains(t, string(s), `{"name":"B_two","type":["null","string"],"default":null,"floe.column":"B two","aliases":["b"]}`)
	layout.Columns[1].RenamedFrom = ""
	s, err = AvroSchema("lake", "items", layout)
	require.NoError(t, err)
	require.NotContains(t, string(s), "aliases")
}
