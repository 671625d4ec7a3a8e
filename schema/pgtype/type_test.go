package pgtype

import (
	"errors"
	"testing"

	"github.com/floe-cdc/floe/schema"
)

// TestFormat: a type known only by OID and modifier (a Relation message)
// is named as PostgreSQL declares it.
func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		oid  uint32
		mod  int32
		want string
	}{
		{23, -1, "int4"},
		{1043, 24, "varchar(20)"},
		{1042, 9, "bpchar(5)"},
		{1700, numericMod(10, 2), "numeric(10,2)"},
		{1184, 3, "timestamptz(3)"},
		{1560, 8, "bit(8)"},
		{1007, -1, "_int4"},
		{790, -1, "money"},
		{718, -1, "circle"}, // named by pgx's registry
		{25, 7, "text (modifier 7)"},
		{16500, -1, "the type with OID 16500"},
		{16500, 12, "the type with OID 16500 (modifier 12)"},
	} {
		if got := FromOID(tc.oid, tc.mod).Format(); got != tc.want {
			t.Errorf("FromOID(%d, %d).Format() = %q, want %q", tc.oid, tc.mod, got, tc.want)
		}
	}
	// A built-in type FromOID describes maps like its catalog description.
	for _, oid := range []uint32{oidInt4, oidNumeric, oidTimestamptz, 1007, 1231} {
		c, err := Column("c", FromOID(oid, -1), false)
		want, _ := icebergType(Type{OID: oid, Modifier: -1})
		if err != nil || !schema.SameType(c.Type, want) {
			t.Errorf("FromOID(%d) maps to %v (%v), want %v", oid, c.Type, err, want)
		}
	}
}

// TestResolve: domains resolve to their base types (taking the domain's
// modifier), enums and arrays are recognised, from pg_type rows alone.
func TestResolve(t *testing.T) {
	catalog := map[uint32]CatalogType{
		23:    {Name: "int4", TypType: "b", Len: 4},
		1007:  {Name: "_int4", TypType: "b", Elem: 23, Len: -1},
		1700:  {Name: "numeric", TypType: "b", Len: -1},
		22:    {Name: "int2vector", TypType: "b", Elem: 21, Len: -1},
		21:    {Name: "int2", TypType: "b", Len: 2},
		600:   {Name: "point", TypType: "b", Elem: 701, Len: 16}, // fixed-length: not an array
		16500: {Name: "mood", TypType: "e", Len: 4},
		16501: {Name: "_mood", TypType: "b", Elem: 16500, Len: -1},
		16502: {Name: "price", TypType: "d", BaseType: 1700, TypMod: numericMod(12, 4), Len: -1},
		16503: {Name: "posints", TypType: "d", BaseType: 1007, TypMod: -1, Len: -1},
		16504: {Name: "loop", TypType: "d", BaseType: 16504, TypMod: -1, Len: -1},
	}
	lookup := func(oid uint32) (CatalogType, error) {
		c, ok := catalog[oid]
		if !ok {
			return c, errors.New("no such type")
		}
		return c, nil
	}
	for _, tc := range []struct {
		oid     uint32
		mod     int32
		want    string // describe()
		kind    Kind
		elemKnd Kind
	}{
		{23, -1, "int4", KindBase, 0},
		{1007, -1, "int4[]", KindArray, KindBase},
		{16500, -1, "mood", KindEnum, 0},
		{16501, -1, "mood[]", KindArray, KindEnum},
		{16502, -1, "numeric(12,4)", KindDomain, 0},
		{16502, numericMod(5, 1), "numeric(5,1)", KindDomain, 0},
		{16503, -1, "int4[]", KindArray, KindBase},
		{600, -1, "point", KindBase, 0},
	} {
		got, err := Resolve(tc.oid, tc.mod, lookup)
		if err != nil {
			t.Errorf("Resolve(%d): %v", tc.oid, err)
			continue
		}
		if got.describe() != tc.want || got.Kind != tc.kind || (got.Elem != nil && got.Elem.Kind != tc.elemKnd) {
			t.Errorf("Resolve(%d, %d) = %+v (%s), want %s of kind %d", tc.oid, tc.mod, got, got.describe(), tc.want, tc.kind)
		}
	}
	if _, err := Resolve(16504, -1, lookup); err == nil {
		t.Error("a domain over itself resolved")
	}
	if _, err := Resolve(99999, -1, lookup); err == nil {
		t.Error("an unknown OID resolved")
	}
}
