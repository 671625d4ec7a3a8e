package pgtype

import "fmt"

// CatalogType is the part of a pg_type row that Resolve reads, in the
// order CatalogQuery selects it.
type CatalogType struct {
	Name     string // typname
	TypType  string // typtype: b, c, d, e, p, r or m
	Elem     uint32 // typelem
	BaseType uint32 // typbasetype (of a domain)
	TypMod   int32  // typtypmod (of a domain)
	Len      int16  // typlen
}

// CatalogQuery reads the CatalogType of the OID $1.
const CatalogQuery = `SELECT typname, typtype::text, typelem, typbasetype, typtypmod, typlen FROM pg_type WHERE oid = $1`

// maxNesting bounds the domains and arrays Resolve follows.
const maxNesting = 16

// Resolve returns the Type of a column of type oid with modifier mod
// (pg_attribute.atttypid and atttypmod), reading pg_type rows through
// lookup: a domain resolves to its base type, of Kind KindDomain when that
// is a base type, taking the domain's modifier when the column has none;
// an enum is KindEnum; a varlena type with an element type is an array
// (KindArray) whose Elem is resolved in turn; anything else is KindBase.
func Resolve(oid uint32, mod int32, lookup func(oid uint32) (CatalogType, error)) (Type, error) {
	return resolve(oid, mod, lookup, 0)
}

func resolve(oid uint32, mod int32, lookup func(uint32) (CatalogType, error), depth int) (Type, error) {
	if depth > maxNesting {
		return Type{}, fmt.Errorf("type %d nests too deeply", oid)
	}
	t, err := lookup(oid)
	if err != nil {
		return Type{}, err
	}
	switch {
	case t.TypType == "d":
		if mod < 0 {
			mod = t.TypMod
		}
		base, err := resolve(t.BaseType, mod, lookup, depth+1)
		if err != nil {
			return base, err
		}
		if base.Kind == KindBase {
			base.Kind = KindDomain
		}
		return base, nil
	case t.TypType == "e":
		return Type{Name: t.Name, OID: oid, Modifier: mod, Kind: KindEnum}, nil
	case t.Elem != 0 && t.Len == -1:
		elem, err := resolve(t.Elem, -1, lookup, depth+1)
		if err != nil {
			return elem, err
		}
		return Type{Name: t.Name, OID: oid, Modifier: mod, Kind: KindArray, Elem: &elem}, nil
	}
	return Type{Name: t.Name, OID: oid, Modifier: mod, Kind: KindBase}, nil
}
