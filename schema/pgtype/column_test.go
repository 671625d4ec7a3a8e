package pgtype

import (
	"strings"
	"testing"

	"github.com/apache/iceberg-go"

	"github.com/floe-cdc/floe/schema"
)

// numericMod returns the atttypmod of numeric(p,s).
func numericMod(p, s int) int32 { return int32(p<<16|(s&0x7ff)) + 4 }

func pgType(name string, oid uint32) Type {
	return Type{Name: name, OID: oid, Modifier: -1}
}

func pgNumeric(p, s int) Type {
	return Type{Name: "numeric", OID: oidNumeric, Modifier: numericMod(p, s)}
}

func pgArray(elem Type) Type {
	e := elem
	return Type{Name: "_" + elem.Name, OID: 0, Modifier: -1, Kind: KindArray, Elem: &e}
}

func listOf(t iceberg.Type) iceberg.Type {
	return &iceberg.ListType{Element: t}
}

func TestPostgresColumnMapping(t *testing.T) {
	P := iceberg.PrimitiveTypes
	tests := []struct {
		src  Type
		want iceberg.Type
	}{
		{pgType("int2", 21), P.Int32},
		{pgType("int4", 23), P.Int32},
		{pgType("int8", 20), P.Int64},
		{pgType("oid", 26), P.Int64},
		{pgNumeric(10, 2), iceberg.DecimalTypeOf(10, 2)},
		{pgNumeric(38, 0), iceberg.DecimalTypeOf(38, 0)},
		{pgNumeric(38, 38), iceberg.DecimalTypeOf(38, 38)},
		{pgNumeric(1, 0), iceberg.DecimalTypeOf(1, 0)},
		{pgNumeric(5, -2), iceberg.DecimalTypeOf(7, 0)},
		{pgNumeric(38, -1), P.String},
		{pgNumeric(3, 5), iceberg.DecimalTypeOf(5, 5)},
		{pgNumeric(10, 39), P.String},
		{pgNumeric(39, 2), P.String},
		{pgNumeric(1000, 0), P.String},
		{pgType("numeric", 1700), iceberg.DecimalTypeOf(38, 18)},
		{Type{Name: "numeric", OID: 1700, Modifier: 0}, iceberg.DecimalTypeOf(38, 18)},
		{pgType("float4", 700), P.Float32},
		{pgType("float8", 701), P.Float64},
		{pgType("bool", 16), P.Bool},
		{pgType("text", 25), P.String},
		{pgType("varchar", 1043), P.String},
		{pgType("bpchar", 1042), P.String},
		{pgType("name", 19), P.String},
		{pgType("char", 18), P.String},
		{pgType("citext", 16423), P.String},
		{pgType("bytea", 17), P.Binary},
		{pgType("date", 1082), P.Date},
		{pgType("time", 1083), P.Time},
		{pgType("timetz", 1266), P.String},
		{pgType("timestamp", 1114), P.Timestamp},
		{pgType("timestamptz", 1184), P.TimestampTz},
		{pgType("uuid", 2950), P.UUID},
		{pgType("json", 114), P.String},
		{pgType("jsonb", 3802), P.String},
		{pgType("xml", 142), P.String},
		{pgType("inet", 869), P.String},
		{pgType("cidr", 650), P.String},
		{pgType("macaddr", 829), P.String},
		{pgType("macaddr8", 774), P.String},
		{pgType("interval", 1186), P.String},
		{pgType("money", 790), iceberg.DecimalTypeOf(19, 2)},
		{pgType("bit", 1560), P.String},
		{pgType("varbit", 1562), P.String},
		{pgType("tsvector", 3614), P.String},
		{pgType("point", 600), P.String},
		{pgType("hstore", 17001), P.String},
		{Type{Name: "int2vector", OID: 22, Modifier: -1, Kind: KindArray, Elem: &Type{Name: "int2", OID: 21}}, P.String},
		{Type{Name: "mood", OID: 16500, Modifier: -1, Kind: KindEnum}, P.String},
		// A domain arrives resolved to its base type.
		{Type{Name: "posint", OID: 23, Modifier: -1, Kind: KindDomain}, P.Int32},
		{Type{Name: "price", OID: 1700, Modifier: numericMod(12, 4), Kind: KindDomain}, iceberg.DecimalTypeOf(12, 4)},
		// By name when the OID is unknown to the caller; a user type that
		// shadows a built-in name but has its own OID is not the built-in.
		{pgType("int8", 0), P.Int64},
		{pgType("int8", 20000), P.String},
		// Arrays.
		{pgArray(pgType("int4", 23)), listOf(P.Int32)},
		{pgArray(pgType("text", 25)), listOf(P.String)},
		{pgArray(pgNumeric(5, 1)), listOf(iceberg.DecimalTypeOf(5, 1))},
		{pgArray(pgType("money", 790)), listOf(iceberg.DecimalTypeOf(19, 2))},
		{pgArray(pgNumeric(50, 0)), listOf(P.String)},
		{pgArray(Type{Name: "mood", OID: 16500, Modifier: -1, Kind: KindEnum}), listOf(P.String)},
		{pgArray(pgType("timestamptz", 1184)), listOf(P.TimestampTz)},
		// The array's modifier applies to elements that carry none.
		{Type{Name: "_numeric", OID: 1231, Modifier: numericMod(7, 3), Kind: KindArray, Elem: &Type{Name: "numeric", OID: 1700}}, listOf(iceberg.DecimalTypeOf(7, 3))},
		// A built-in array OID without Elem.
		{Type{Name: "_int4", OID: 1007, Modifier: -1}, listOf(P.Int32)},
		{Type{Name: "_numeric", OID: 1231, Modifier: numericMod(9, 2), Kind: KindArray}, listOf(iceberg.DecimalTypeOf(9, 2))},
	}
	for _, tt := range tests {
		t.Run(tt.src.describe(), func(t *testing.T) {
			for _, notNull := range []bool{false, true} {
				c, err := Column("c", tt.src, notNull)
				if err != nil {
					t.Fatal(err)
				}
				if !schema.SameType(c.Type, tt.want) {
					t.Errorf("type = %s, want %s", c.Type, tt.want)
				}
				if c.Nullable != !notNull || c.Name != "c" || c.Source.(Type).Name != tt.src.Name {
					t.Errorf("column = %+v (notNull %v)", c, notNull)
				}
				if l, ok := c.Type.(*iceberg.ListType); ok && (l.ElementRequired || l.ElementID != 0) {
					t.Errorf("list element required=%v id=%d, want optional with id 0", l.ElementRequired, l.ElementID)
				}
			}
		})
	}
}

func TestPostgresColumnErrors(t *testing.T) {
	tests := []struct {
		src  Type
		want string
	}{
		{Type{Name: "_mystery", OID: 17000, Kind: KindArray}, "no element type"},
		{Type{Name: "_x", Kind: KindArray, Elem: &Type{Name: "_int4", OID: 1007}}, "array of arrays"},
	}
	for _, tt := range tests {
		_, err := Column("col_a", tt.src, false)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "col_a") {
			t.Errorf("%s: err = %v, want one naming col_a and containing %q", tt.src.Name, err, tt.want)
		}
	}
}

// TestMappedListsFitASchema checks the documented ID contract: several
// mapped list columns (element IDs 0) form a valid iceberg-go schema, and
// fresh IDs make every element ID unique.
func TestMappedListsFitASchema(t *testing.T) {
	var fields []iceberg.NestedField
	for i, src := range []Type{pgArray(pgType("int4", 23)), pgArray(pgType("text", 25)), pgType("int8", 20)} {
		c, err := Column("c"+string(rune('a'+i)), src, false)
		if err != nil {
			t.Fatal(err)
		}
		fields = append(fields, iceberg.NestedField{ID: i + 1, Name: c.Name, Type: c.Type, Required: !c.Nullable})
	}
	sc := iceberg.NewSchema(0, fields...)
	fresh, err := iceberg.AssignFreshSchemaIDs(sc, nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, f := range fresh.Fields() {
		ids := []int{f.ID}
		if l, ok := f.Type.(*iceberg.ListType); ok {
			ids = append(ids, l.ElementID)
		}
		for _, id := range ids {
			if id <= 0 || seen[id] {
				t.Fatalf("field %s has id %d (seen %v)", f.Name, id, seen)
			}
			seen[id] = true
		}
	}
}
