package schema

import (
	"bytes"
	"cmp"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

// CompareValues orders two non-NULL canonical values (see Row) of one
// column by their natural order: numbers, decimals, dates, times and
// timestamps by value, false before true, strings and bytes byte-wise.
// ok is false for the others (uuid, lists). An order of a server's own,
// such as a collation's, is the caller's to apply first. Both values
// must be of the same Go type; a mismatch panics.
func CompareValues(a, b any) (c int, ok bool) {
	switch x := a.(type) {
	case int32:
		return cmp.Compare(x, b.(int32)), true
	case int64:
		return cmp.Compare(x, b.(int64)), true
	case float32:
		return cmp.Compare(x, b.(float32)), true
	case float64:
		return cmp.Compare(x, b.(float64)), true
	case bool:
		return cmp.Compare(boolRank(x), boolRank(b.(bool))), true
	case string:
		return cmp.Compare(x, b.(string)), true
	case []byte:
		return bytes.Compare(x, b.([]byte)), true
	case decimal128.Num:
		return x.Cmp(b.(decimal128.Num)), true
	}
	return 0, false
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}
