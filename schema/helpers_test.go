package schema

import (
	"encoding/hex"
	"math/big"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/iceberg-go"
)

// sameValue reports whether a and b are the same canonical value, bit for
// bit (NaN equals NaN, -0 differs from +0) and of the same Go type.
func sameValue(a, b any) bool {
	var ea, eb []byte
	ea, oka := appendValue(nil, a, typeOfValue(a), false)
	eb, okb := appendValue(nil, b, typeOfValue(b), false)
	return oka && okb && string(ea) == string(eb)
}

// typeOfValue returns an Iceberg type whose canonical Go type is v's.
func typeOfValue(v any) iceberg.Type {
	P := iceberg.PrimitiveTypes
	switch x := v.(type) {
	case bool:
		return P.Bool
	case int32:
		return P.Int32
	case int64:
		return P.Int64
	case float32:
		return P.Float32
	case float64:
		return P.Float64
	case decimal128.Num:
		return iceberg.DecimalTypeOf(38, 0)
	case string:
		return P.String
	case []byte:
		return P.Binary
	case [16]byte:
		return P.UUID
	case []any:
		var elem iceberg.Type = P.String
		for _, e := range x {
			if e != nil {
				elem = typeOfValue(e)
				break
			}
		}
		return &iceberg.ListType{Element: elem}
	}
	return P.String
}

func dec(s string) decimal128.Num {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	return decimal128.FromBigInt(v)
}

func days(y, m, d int) int32 {
	return int32(time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

func micros(y, m, d, hh, mm, ss, us int) int64 {
	return time.Date(y, time.Month(m), d, hh, mm, ss, us*1000, time.UTC).UnixMicro()
}

func uuidOf(s string) [16]byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != 16 {
		panic(s)
	}
	return [16]byte(b)
}
