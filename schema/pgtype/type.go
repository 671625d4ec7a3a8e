package pgtype

import (
	"fmt"
	"strconv"
	"sync"

	pgxtype "github.com/jackc/pgx/v5/pgtype"
)

// Type is one PostgreSQL column type. It is built from whichever
// description the caller has: FromOID for a built-in type known by OID and
// modifier (a pgoutput Relation message), Resolve for any type through the
// catalog (pg_type), or a literal. A Type is a schema.SourceType: Column
// stores it in the column, and TextDecoder reads it back from there.
type Type struct {
	// Name is pg_type.typname ("int4", "numeric", "varchar", "_int4" for
	// arrays, an enum's own name).
	Name string
	// OID is pg_type.oid; 0 when only the name is known.
	OID uint32
	// Modifier is pg_attribute.atttypmod (-1 when absent).
	Modifier int32
	// Kind says how to treat a type that is not one of the built-in ones.
	Kind Kind
	// Elem is the element type of an array; nil otherwise.
	Elem *Type
}

// Kind classifies types whose OID is not a built-in one.
type Kind uint8

const (
	KindBase   Kind = iota // a built-in or extension base type: mapped by OID/name, else string
	KindEnum               // an enum: Iceberg string
	KindArray              // an array: Iceberg list of Elem
	KindDomain             // a domain, resolved to its base type (Resolve does)
)

// String renders the type by name the way PostgreSQL does, for messages:
// "int4", "mood", "int4[]".
func (t Type) String() string {
	if t.Kind == KindArray && t.Elem != nil {
		return t.Elem.String() + "[]"
	}
	return t.Name
}

// describe renders t for value errors: String with numeric's precision
// and scale ("numeric(10,2)", "numeric(5,1)[]").
func (t Type) describe() string {
	if t.Kind == KindArray && t.Elem != nil {
		e := *t.Elem
		if e.Modifier <= 0 && t.Modifier > 0 {
			e.Modifier = t.Modifier
		}
		return e.describe() + "[]"
	}
	if builtinOID(t) == oidNumeric {
		if p, s, ok := numericTypmod(t.Modifier); ok {
			return t.Name + "(" + strconv.Itoa(p) + "," + strconv.Itoa(s) + ")"
		}
	}
	return t.String()
}

// Format renders the type with its modifier the way PostgreSQL declares
// it (int4, varchar(20), numeric(10,2), timestamptz(3)), for messages
// about a type known only by OID and modifier. A type FromOID does not
// know (an enum, a domain, an extension's type) is named by its OID.
func (t Type) Format() string {
	if t.Name == "" {
		if t.Modifier >= 0 {
			return fmt.Sprintf("the type with OID %d (modifier %d)", t.OID, t.Modifier)
		}
		return fmt.Sprintf("the type with OID %d", t.OID)
	}
	mod := t.Modifier
	if mod < 0 {
		return t.Name
	}
	switch t.Name {
	case "varchar", "bpchar":
		return fmt.Sprintf("%s(%d)", t.Name, mod-4)
	case "numeric":
		return fmt.Sprintf("numeric(%d,%d)", (mod-4)>>16, (mod-4)&0xffff)
	case "bit", "varbit", "time", "timetz", "timestamp", "timestamptz":
		return fmt.Sprintf("%s(%d)", t.Name, mod)
	}
	return fmt.Sprintf("%s (modifier %d)", t.Name, mod)
}

// FromOID returns the built-in type oid with modifier mod: what a pgoutput
// Relation message says of a column. A built-in array type maps through
// its element type (see Column). Name is "" for an OID that is not built
// in; such a type maps to string, so describe it with Resolve instead.
func FromOID(oid uint32, mod int32) Type {
	return Type{Name: builtinName(oid), OID: oid, Modifier: mod}
}

// pgxTypes is pgx's registry of built-in types, which names more of them
// than the mapping needs (regclass, int4range, ...).
var pgxTypes = sync.OnceValue(pgxtype.NewMap)

// builtinName returns the typname of a built-in OID, or "".
func builtinName(oid uint32) string {
	if n, ok := builtinNames()[oid]; ok {
		return n
	}
	if t, ok := pgxTypes().TypeForOID(oid); ok {
		return t.Name
	}
	return ""
}

// builtinNames inverts builtinByName.
var builtinNames = sync.OnceValue(func() map[uint32]string {
	out := make(map[uint32]string, len(builtinByName))
	for n, o := range builtinByName {
		out[o] = n
	}
	return out
})

// builtinOID returns t's built-in OID: its own OID, or for OID 0 (or an
// extension type such as citext) the OID of the built-in with its name.
func builtinOID(t Type) uint32 {
	if t.OID != 0 && t.OID < 16384 {
		return t.OID
	}
	if oid, ok := builtinByName[t.Name]; ok && t.OID == 0 {
		return oid
	}
	return t.OID
}

// arrayElemType returns the element type of array type t, taking the
// array's modifier (atttypmod applies to the elements) when Elem has none.
func arrayElemType(t Type) (Type, error) {
	if t.Elem != nil {
		elem := *t.Elem
		if elem.Modifier <= 0 && t.Modifier > 0 {
			elem.Modifier = t.Modifier
		}
		if elem.Kind == KindBase || elem.Kind == KindDomain {
			if _, ok := arrayElem[elem.OID]; ok {
				elem.Kind = KindArray
			}
		}
		return elem, nil
	}
	if oid, ok := arrayElem[t.OID]; ok {
		return Type{OID: oid, Name: builtinName(oid), Modifier: t.Modifier}, nil
	}
	return Type{}, fmt.Errorf("array type %s has no element type", t.Name)
}

// numericTypmod decodes a numeric atttypmod into precision and scale; ok
// is false for an unconstrained numeric. The scale is an 11-bit signed
// field (PostgreSQL 15 allows -1000..1000).
func numericTypmod(mod int32) (prec, scale int, ok bool) {
	if mod < 4 {
		return 0, 0, false
	}
	m := mod - 4
	prec = int((m >> 16) & 0xffff)
	scale = int(((m & 0x7ff) ^ 1024) - 1024)
	return prec, scale, true
}
