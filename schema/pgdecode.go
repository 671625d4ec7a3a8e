package schema

import (
	"encoding/hex"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/iceberg-go"
)

// Decoder turns one non-NULL source value, given as the source's text
// output, into the canonical value of its column's Iceberg type (see Row).
// NULL never reaches a decoder: the caller maps it to nil. text is valid
// only during the call and is never retained. A value that cannot be
// represented exactly yields a *ValueError. Decoders are safe for
// concurrent use.
type Decoder func(text []byte) (any, error)

// PostgresDecoder returns the decoder for PostgreSQL text output (with the
// session settings DateStyle=ISO, IntervalStyle=iso_8601, TimeZone=UTC,
// extra_float_digits=3, bytea_output=hex, lc_monetary=C) into canonical
// values of c.Type. The parser is chosen by c.Type, so a column whose
// Iceberg type was widened (int -> long, a larger decimal) decodes into the
// wider type; c.Source only selects source-specific text formats (money,
// the array delimiter) and names the type in errors. The snapshot and the
// change stream must both decode through the decoder returned here.
func PostgresDecoder(c Column) (Decoder, error) {
	if c.Type == nil {
		return nil, fmt.Errorf("decoder for column %s: no Iceberg type", c.Name)
	}
	col := c
	d, err := pgDecoder(&col, c.Type, c.Source)
	if err != nil {
		return nil, fmt.Errorf("decoder for column %s: %w", c.Name, err)
	}
	return d, nil
}

// pgDecoder builds the decoder of typ for values of src; errors name c.
func pgDecoder(c *Column, typ iceberg.Type, src SourceType) (Decoder, error) {
	switch t := typ.(type) {
	case iceberg.BooleanType:
		return func(b []byte) (any, error) {
			switch string(b) {
			case "t", "true":
				return true, nil
			case "f", "false":
				return false, nil
			}
			return nil, newValueError(c, b, "not a boolean (t or f)")
		}, nil
	case iceberg.Int32Type:
		return func(b []byte) (any, error) {
			v, ok := parseInt(b, 32)
			if !ok {
				return nil, newValueError(c, b, "not an integer within int32 range")
			}
			return int32(v), nil
		}, nil
	case iceberg.Int64Type:
		return func(b []byte) (any, error) {
			v, ok := parseInt(b, 64)
			if !ok {
				return nil, newValueError(c, b, "not an integer within int64 range")
			}
			return v, nil
		}, nil
	case iceberg.Float32Type:
		return func(b []byte) (any, error) {
			f, err := strconv.ParseFloat(string(b), 32)
			if err != nil {
				return nil, newValueError(c, b, "not a float4 number")
			}
			return float32(f), nil
		}, nil
	case iceberg.Float64Type:
		return func(b []byte) (any, error) {
			f, err := strconv.ParseFloat(string(b), 64)
			if err != nil {
				return nil, newValueError(c, b, "not a float8 number")
			}
			return f, nil
		}, nil
	case iceberg.DecimalType:
		return decimalDecoder(c, t, src), nil
	case iceberg.StringType:
		return func(b []byte) (any, error) {
			if !utf8.Valid(b) {
				return nil, newValueError(c, b, "not valid UTF-8; Iceberg strings are UTF-8, so the database encoding must be UTF8")
			}
			return string(b), nil
		}, nil
	case iceberg.BinaryType:
		return func(b []byte) (any, error) {
			if len(b) < 2 || b[0] != '\\' || b[1] != 'x' || len(b)%2 != 0 {
				return nil, newValueError(c, b, "not hex bytea output (set bytea_output=hex)")
			}
			out := make([]byte, (len(b)-2)/2)
			if _, err := hex.Decode(out, b[2:]); err != nil {
				return nil, newValueError(c, b, "not hex bytea output (set bytea_output=hex)")
			}
			return out, nil
		}, nil
	case iceberg.UUIDType:
		return func(b []byte) (any, error) {
			u, ok := parseUUID(b)
			if !ok {
				return nil, newValueError(c, b, "not a UUID")
			}
			return u, nil
		}, nil
	case iceberg.DateType:
		return func(b []byte) (any, error) {
			d, reason := parseDate(b)
			if reason != "" {
				return nil, newValueError(c, b, reason)
			}
			return d, nil
		}, nil
	case iceberg.TimeType:
		return func(b []byte) (any, error) {
			us, reason := parseTimeOfDay(b)
			if reason != "" {
				return nil, newValueError(c, b, reason)
			}
			return us, nil
		}, nil
	case iceberg.TimestampType:
		return func(b []byte) (any, error) {
			us, reason := parseTimestamp(b, false)
			if reason != "" {
				return nil, newValueError(c, b, reason)
			}
			return us, nil
		}, nil
	case iceberg.TimestampTzType:
		return func(b []byte) (any, error) {
			us, reason := parseTimestamp(b, true)
			if reason != "" {
				return nil, newValueError(c, b, reason)
			}
			return us, nil
		}, nil
	case *iceberg.ListType:
		elemSrc := SourceType{Name: "unknown", Modifier: -1}
		if src.Kind == KindArray || arrayElem[src.OID] != 0 {
			e, err := arrayElemType(src)
			if err != nil {
				return nil, err
			}
			elemSrc = e
		}
		if _, nested := t.Element.(*iceberg.ListType); nested {
			return nil, fmt.Errorf("nested list type %s has no PostgreSQL form", t)
		}
		elem, err := pgDecoder(c, t.Element, elemSrc)
		if err != nil {
			return nil, err
		}
		delim := byte(',')
		if builtinOID(elemSrc) == oidBox {
			delim = ';'
		}
		return func(b []byte) (any, error) { return parseArray(c, b, delim, elem) }, nil
	}
	return nil, fmt.Errorf("no PostgreSQL decoder for Iceberg type %s", typ)
}

// decimalDecoder decodes numeric (or money, by source OID) text into the
// unscaled decimal128.Num at t's scale.
func decimalDecoder(c *Column, t iceberg.DecimalType, src SourceType) Decoder {
	prec, scale := t.Precision(), t.Scale()
	hint := ""
	if builtinOID(src) == oidNumeric {
		if _, _, ok := numericTypmod(src.Modifier); !ok {
			hint = fmt.Sprintf("; the column is numeric without precision, mapped to decimal(%d,%d): declare it numeric(p,s) with p <= 38 to bound its values", prec, scale)
		}
	}
	if builtinOID(src) == oidMoney {
		return func(b []byte) (any, error) {
			var buf [64]byte
			plain, ok := moneyDigits(buf[:0], b)
			if !ok {
				return nil, newValueError(c, b, "not money output (set lc_monetary=C)")
			}
			n, reason := parseDecimal(plain, prec, scale)
			if reason != "" {
				return nil, newValueError(c, b, reason)
			}
			return n, nil
		}
	}
	// numeric(p,s) accepts NaN as well, so declaring a precision is no fix
	// for it: only the rows and a constraint are.
	nanHint := fmt.Sprintf("; numeric(p,s) holds NaN too, so declaring a precision does not help: change the rows that hold it (e.g. SET %[1]s = NULL WHERE %[1]s = 'NaN') and keep it out with a constraint CHECK (%[1]s <> 'NaN'), or exclude the table",
		quotePGIdent(c.Name))
	return func(b []byte) (any, error) {
		n, reason := parseDecimal(b, prec, scale)
		if reason != "" {
			if string(b) == "NaN" {
				return nil, newValueError(c, b, reason+nanHint)
			}
			return nil, newValueError(c, b, reason+hint)
		}
		return n, nil
	}
}

// quotePGIdent quotes a PostgreSQL identifier when it needs quotes.
func quotePGIdent(name string) string {
	for i, r := range name {
		if !(r == '_' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
		}
	}
	return name
}

// parseInt parses a base-10 integer that fits bitSize signed bits, without
// allocating.
func parseInt(b []byte, bitSize uint) (int64, bool) {
	i, neg := 0, false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg, i = b[0] == '-', 1
	}
	if i == len(b) {
		return 0, false
	}
	limit := uint64(1) << (bitSize - 1)
	if !neg {
		limit--
	}
	var u uint64
	for ; i < len(b); i++ {
		d := uint64(b[i] - '0')
		if d > 9 || u > (limit-d)/10 {
			return 0, false
		}
		u = u*10 + d
	}
	if neg {
		return -int64(u), true
	}
	return int64(u), true
}

// parseDecimal parses plain decimal text ([+-]digits[.digits], as numeric
// output prints it) into the unscaled value at scale. It fails, with a
// reason, when the value has more significant fractional digits than scale
// or more than prec digits in all; trailing fractional zeros beyond scale
// are exact and accepted.
func parseDecimal(b []byte, prec, scale int) (decimal128.Num, string) {
	i, neg := 0, false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg, i = b[0] == '-', 1
	}
	s := i
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	intPart := b[s:i]
	var frac []byte
	if i < len(b) && b[i] == '.' {
		i++
		s = i
		for i < len(b) && isDigit(b[i]) {
			i++
		}
		frac = b[s:i]
	}
	if i != len(b) || len(intPart)+len(frac) == 0 {
		switch string(b) {
		case "NaN", "Infinity", "-Infinity":
			return decimal128.Num{}, "Iceberg decimals cannot store " + string(b)
		}
		return decimal128.Num{}, "not a decimal number"
	}
	for len(intPart) > 0 && intPart[0] == '0' {
		intPart = intPart[1:]
	}
	for len(frac) > scale && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	if len(frac) > scale {
		return decimal128.Num{}, fmt.Sprintf("has more than %d fractional digits, does not fit decimal(%d,%d)", scale, prec, scale)
	}
	if len(intPart)+scale > prec {
		return decimal128.Num{}, fmt.Sprintf("has more than %d integer digits, does not fit decimal(%d,%d)", prec-scale, prec, scale)
	}
	var hi, lo uint64
	for _, d := range intPart {
		hi, lo = mul10Add(hi, lo, uint64(d-'0'))
	}
	for _, d := range frac {
		hi, lo = mul10Add(hi, lo, uint64(d-'0'))
	}
	for k := len(frac); k < scale; k++ {
		hi, lo = mul10Add(hi, lo, 0)
	}
	n := decimal128.New(int64(hi), lo)
	if neg {
		n = n.Negate()
	}
	return n, ""
}

// moneyDigits appends to dst the plain decimal form of money output such
// as "$1,234.56", "-$1,234.56" or "($1.00)".
func moneyDigits(dst, b []byte) ([]byte, bool) {
	neg, digits := false, false
	dst = append(dst, '+')
	for _, ch := range b {
		switch {
		case isDigit(ch):
			dst, digits = append(dst, ch), true
		case ch == '.':
			dst = append(dst, ch)
		case ch == '-' || ch == '(':
			neg = true
		case ch == '$' || ch == ',' || ch == ' ' || ch == ')':
		default:
			return nil, false
		}
	}
	if neg {
		dst[0] = '-'
	}
	return dst, digits
}

// parseUUID parses the canonical 8-4-4-4-12 hex form (either case).
func parseUUID(b []byte) ([16]byte, bool) {
	var u [16]byte
	if len(b) != 36 || b[8] != '-' || b[13] != '-' || b[18] != '-' || b[23] != '-' {
		return u, false
	}
	j := 0
	for i := 0; i < 36; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
			continue
		}
		h, ok1 := unhex(b[i])
		l, ok2 := unhex(b[i+1])
		if !ok1 || !ok2 {
			return u, false
		}
		u[j] = h<<4 | l
		j++
		i += 2
	}
	return u, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// mul10Add returns (hi,lo)*10 + d in 128 bits (no overflow for 38 digits).
func mul10Add(hi, lo, d uint64) (uint64, uint64) {
	h, l := bits.Mul64(lo, 10)
	hi = hi*10 + h
	l2 := l + d
	if l2 < l {
		hi++
	}
	return hi, l2
}
