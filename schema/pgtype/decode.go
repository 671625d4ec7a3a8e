package pgtype

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/apache/iceberg-go"

	"github.com/floe-cdc/floe/schema"
)

// TextDecoder returns the decoder for PostgreSQL text output (with the
// session settings DateStyle=ISO, IntervalStyle=iso_8601, TimeZone=UTC,
// extra_float_digits=3, bytea_output=hex, lc_monetary=C) into canonical
// values of c.Type. The parser is chosen by c.Type, so a column whose
// Iceberg type was widened (int -> long, a larger decimal) decodes into the
// wider type; c.Source (the Type Column stored) only selects
// source-specific text formats (money, the array delimiter) and names the
// type in errors. The snapshot and the change stream must both decode
// through the decoder returned here. A value that cannot be represented
// exactly is a *schema.ValueError.
func TextDecoder(c schema.Column) (schema.Decoder, error) {
	if c.Type == nil {
		return nil, fmt.Errorf("decoder for column %s: no Iceberg type", c.Name)
	}
	src, _ := c.Source.(Type)
	col := &column{name: c.Name, source: src.describe()}
	d, err := decoder(col, c.Type, src)
	if err != nil {
		return nil, fmt.Errorf("decoder for column %s: %w", c.Name, err)
	}
	return d, nil
}

// column names the column a decoder's errors are about.
type column struct {
	name   string
	source string // the source type as value errors print it
}

func (c *column) fail(text []byte, reason string) error {
	return schema.NewValueError(c.name, c.source, text, reason)
}

// decoder builds the decoder of typ for values of src; errors name c.
func decoder(c *column, typ iceberg.Type, src Type) (schema.Decoder, error) {
	if d, err := overrideDecoder(c, typ, src); d != nil || err != nil {
		return d, err
	}
	switch t := typ.(type) {
	case iceberg.DecimalType:
		return decimalDecoder(c, t, src), nil
	case *iceberg.ListType:
		return listDecoder(c, t, src)
	}
	if parse := scalarParser(typ); parse != nil {
		return func(b []byte) (any, error) {
			v, reason := parse(b)
			if reason != "" {
				return nil, c.fail(b, reason)
			}
			return v, nil
		}, nil
	}
	return nil, fmt.Errorf("no PostgreSQL decoder for Iceberg type %s", typ)
}

// A parser turns one value's text into its canonical value, or says why
// it cannot (reason non-empty).
type parser func(b []byte) (v any, reason string)

// scalarParser returns the parser of the text of a primitive Iceberg type
// other than decimal; nil for other types.
func scalarParser(typ iceberg.Type) parser {
	switch typ.(type) {
	case iceberg.BooleanType:
		return parseBool
	case iceberg.Int32Type:
		return func(b []byte) (any, string) {
			if v, ok := parseInt(b, 32); ok {
				return int32(v), ""
			}
			return nil, "not an integer within int32 range"
		}
	case iceberg.Int64Type:
		return func(b []byte) (any, string) {
			if v, ok := parseInt(b, 64); ok {
				return v, ""
			}
			return nil, "not an integer within int64 range"
		}
	case iceberg.Float32Type:
		return func(b []byte) (any, string) {
			if f, err := strconv.ParseFloat(string(b), 32); err == nil {
				return float32(f), ""
			}
			return nil, "not a float4 number"
		}
	case iceberg.Float64Type:
		return func(b []byte) (any, string) {
			if f, err := strconv.ParseFloat(string(b), 64); err == nil {
				return f, ""
			}
			return nil, "not a float8 number"
		}
	case iceberg.StringType:
		return parseText
	case iceberg.BinaryType:
		return parseBytea
	case iceberg.UUIDType:
		return func(b []byte) (any, string) {
			if u, ok := parseUUID(b); ok {
				return u, ""
			}
			return nil, "not a UUID"
		}
	}
	return temporalParser(typ)
}

// temporalParser returns the parser of date and time text (see
// datetime.go); nil for other types.
func temporalParser(typ iceberg.Type) parser {
	switch typ.(type) {
	case iceberg.DateType:
		return func(b []byte) (any, string) { return boxed(parseDate(b)) }
	case iceberg.TimeType:
		return func(b []byte) (any, string) { return boxed(parseTimeOfDay(b)) }
	case iceberg.TimestampType:
		return func(b []byte) (any, string) { return boxed(parseTimestamp(b, false)) }
	case iceberg.TimestampTzType:
		return func(b []byte) (any, string) { return boxed(parseTimestamp(b, true)) }
	}
	return nil
}

// boxed is a parse result as a parser returns it: no value on failure.
func boxed[T any](v T, reason string) (any, string) {
	if reason != "" {
		return nil, reason
	}
	return v, ""
}

func parseBool(b []byte) (any, string) {
	switch string(b) {
	case "t", "true":
		return true, ""
	case "f", "false":
		return false, ""
	}
	return nil, "not a boolean (t or f)"
}

func parseText(b []byte) (any, string) {
	if !utf8.Valid(b) {
		return nil, "not valid UTF-8; Iceberg strings are UTF-8, so the database encoding must be UTF8"
	}
	return string(b), ""
}

func parseBytea(b []byte) (any, string) {
	const reason = "not hex bytea output (set bytea_output=hex)"
	if len(b) < 2 || b[0] != '\\' || b[1] != 'x' || len(b)%2 != 0 {
		return nil, reason
	}
	out := make([]byte, (len(b)-2)/2)
	if _, err := hex.Decode(out, b[2:]); err != nil {
		return nil, reason
	}
	return out, ""
}

// listDecoder decodes one-dimensional array text into a list of t's
// element type, each element through the decoder of src's element type.
func listDecoder(c *column, t *iceberg.ListType, src Type) (schema.Decoder, error) {
	elemSrc := Type{Name: "unknown", Modifier: -1}
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
	elem, err := decoder(c, t.Element, elemSrc)
	if err != nil {
		return nil, err
	}
	delim := byte(',')
	if builtinOID(elemSrc) == oidBox {
		delim = ';'
	}
	return func(b []byte) (any, error) { return parseArray(c, b, delim, elem) }, nil
}
