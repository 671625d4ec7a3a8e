package schema

import "github.com/apache/iceberg-go"

// Promotable reports whether a column of type from can be read as type to
// without loss: the types are the same (SameType), or Iceberg allows
// widening from to to in place: int -> long, float -> double, and
// decimal(P,S) -> decimal(P2,S) with P2 >= P (same scale). No other change,
// and no narrowing, is promotable.
func Promotable(from, to iceberg.Type) bool {
	if SameType(from, to) {
		return true
	}
	switch f := from.(type) {
	case iceberg.Int32Type:
		_, ok := to.(iceberg.Int64Type)
		return ok
	case iceberg.Float32Type:
		_, ok := to.(iceberg.Float64Type)
		return ok
	case iceberg.DecimalType:
		t, ok := to.(iceberg.DecimalType)
		return ok && t.Scale() == f.Scale() && t.Precision() >= f.Precision()
	}
	return false
}

// Promote converts v, a canonical value of type from (see Row), to the
// canonical value of type to. Promotable(from, to) must hold; Promote does
// not check it. int32 becomes int64 and float32 becomes float64 (exactly);
// a decimal keeps its unscaled value, since a promotable decimal keeps its
// scale. nil (NULL), schema.Unchanged and values of the same type are
// returned as they are, as is any value that is not of from's canonical
// Go type.
func Promote(v any, from, to iceberg.Type) any {
	switch x := v.(type) {
	case int32:
		if _, ok := from.(iceberg.Int32Type); ok {
			if _, ok := to.(iceberg.Int64Type); ok {
				return int64(x)
			}
		}
	case float32:
		if _, ok := from.(iceberg.Float32Type); ok {
			if _, ok := to.(iceberg.Float64Type); ok {
				return float64(x)
			}
		}
	}
	return v
}

// SameType reports whether a and b are the same Iceberg type, ignoring the
// IDs of nested fields: a mapped list type has ElementID 0, a table's own
// type real IDs. Compare a layout's types with a table's with SameType.
func SameType(a, b iceberg.Type) bool {
	la, oka := a.(*iceberg.ListType)
	lb, okb := b.(*iceberg.ListType)
	if oka || okb {
		return oka && okb && la.ElementRequired == lb.ElementRequired && SameType(la.Element, lb.Element)
	}
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equals(b)
}
