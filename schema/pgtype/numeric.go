package pgtype

import (
	"fmt"
	"strings"

	"github.com/apache/iceberg-go"

	"github.com/floe-cdc/floe/schema"
)

// decimalDecoder decodes numeric (or money, by source OID) text into the
// unscaled decimal128.Num at t's scale.
func decimalDecoder(c *column, t iceberg.DecimalType, src Type) schema.Decoder {
	prec, scale := t.Precision(), t.Scale()
	if builtinOID(src) == oidMoney {
		return func(b []byte) (any, error) {
			var buf [64]byte
			plain, ok := moneyDigits(buf[:0], b)
			if !ok {
				return nil, c.fail(b, "not money output (set lc_monetary=C)")
			}
			n, reason := schema.ParseDecimal(plain, prec, scale)
			if reason != "" {
				return nil, c.fail(b, reason)
			}
			return n, nil
		}
	}
	hint := ""
	if builtinOID(src) == oidNumeric {
		_, _, constrained := numericTypmod(src.Modifier)
		switch {
		case !schema.SameType(numericType(src.Modifier), t):
			hint = fmt.Sprintf("; the column's type was overridden to decimal(%d,%d): choose a wider decimal or string for it", prec, scale)
		case !constrained:
			hint = fmt.Sprintf("; the column is numeric without precision, mapped to decimal(%d,%d): keep its exact text with `columns: {%s: {type: string}}` on the table's route (or sink.numeric-unconstrained: string for every such column), or declare it numeric(p,s) with p <= 38 to bound its values", prec, scale, c.name)
		}
	}
	// numeric(p,s) accepts NaN as well, so declaring a precision is no fix
	// for it: only the rows and a constraint are.
	nanHint := fmt.Sprintf("; numeric(p,s) holds NaN too, so declaring a precision does not help: keep it with `columns: {%[2]s: {type: string}}` (or double) on the table's route, or change the rows that hold it (e.g. SET %[1]s = NULL WHERE %[1]s = 'NaN') and keep it out with a constraint CHECK (%[1]s <> 'NaN'), or exclude the table",
		quoteIdent(c.name), c.name)
	return func(b []byte) (any, error) {
		n, reason := schema.ParseDecimal(b, prec, scale)
		if reason != "" {
			if string(b) == "NaN" {
				return nil, c.fail(b, reason+nanHint)
			}
			return nil, c.fail(b, reason+hint)
		}
		return n, nil
	}
}

// quoteIdent quotes a PostgreSQL identifier when it needs quotes.
func quoteIdent(name string) string {
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
