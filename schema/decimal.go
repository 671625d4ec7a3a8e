package schema

import (
	"fmt"
	"math/bits"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

// ParseDecimal parses plain decimal text ([+-]digits[.digits], as SQL
// databases print their exact numeric types) into the unscaled
// value of decimal(prec,scale), the canonical value (see Row). It fails,
// with a reason, when the value has more significant fractional digits
// than scale or more than prec digits in all; trailing fractional zeros
// beyond scale are exact and accepted. reason is "" on success.
func ParseDecimal(b []byte, prec, scale int) (n decimal128.Num, reason string) {
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
	n = decimal128.New(int64(hi), lo)
	if neg {
		n = n.Negate()
	}
	return n, ""
}

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
