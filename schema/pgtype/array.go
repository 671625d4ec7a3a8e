package pgtype

import "github.com/floe-cdc/floe/schema"

// parseArray parses PostgreSQL's text output of a one-dimensional array,
// "{e1,e2,...}", decoding each element with elem. Elements may be quoted
// ("a,b", with \" and \\ escapes inside); an unquoted NULL (any case) is
// nil, a quoted "NULL" is the text NULL. "{}" is an empty, non-nil list.
// Multi-dimensional values and values with explicit bounds ("[0:1]={..}")
// are ValueErrors: an Iceberg list holds neither.
func parseArray(c *column, text []byte, delim byte, elem schema.Decoder) (any, error) {
	b := text
	if len(b) > 0 && b[0] == '[' {
		return nil, c.fail(text, "arrays with a lower bound other than 1 cannot be stored as an Iceberg list")
	}
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return nil, c.fail(text, "not array output {...}")
	}
	b = b[1 : len(b)-1]
	i := skipSpace(b, 0)
	if i == len(b) {
		return []any{}, nil
	}
	if b[i] == '{' {
		return nil, c.fail(text, "multi-dimensional arrays cannot be stored as an Iceberg list")
	}
	out := make([]any, 0, 4)
	var scratch []byte
	for {
		i = skipSpace(b, i)
		if i == len(b) || b[i] == delim {
			return nil, c.fail(text, "malformed array: missing element")
		}
		var (
			raw    []byte
			isNull bool
			ok     bool
		)
		switch b[i] {
		case '"':
			raw, i, scratch, ok = scanQuoted(b, i+1, scratch)
		case '{':
			return nil, c.fail(text, "multi-dimensional arrays cannot be stored as an Iceberg list")
		default:
			raw, isNull, i, scratch, ok = scanUnquoted(b, i, delim, scratch)
		}
		if !ok {
			return nil, c.fail(text, "malformed array")
		}
		if isNull {
			out = append(out, nil)
		} else {
			v, err := elem(raw)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		i = skipSpace(b, i)
		if i == len(b) {
			return out, nil
		}
		if b[i] != delim {
			return nil, c.fail(text, "malformed array: expected a delimiter")
		}
		i++
	}
}

// scanQuoted reads a quoted element whose opening quote precedes b[i] and
// returns its unescaped text and the index after the closing quote. The
// text aliases b when it holds no escapes, else scratch.
func scanQuoted(b []byte, i int, scratch []byte) ([]byte, int, []byte, bool) {
	start := i
	for i < len(b) && b[i] != '"' && b[i] != '\\' {
		i++
	}
	if i < len(b) && b[i] == '"' {
		return b[start:i], i + 1, scratch, true
	}
	scratch = append(scratch[:0], b[start:i]...)
	for i < len(b) {
		switch b[i] {
		case '"':
			return scratch, i + 1, scratch, true
		case '\\':
			i++
			if i == len(b) {
				return nil, i, scratch, false
			}
		}
		scratch = append(scratch, b[i])
		i++
	}
	return nil, i, scratch, false
}

// scanUnquoted reads an unquoted element starting at b[i] up to the next
// delimiter, honouring backslash escapes and dropping trailing unescaped
// white space. isNull reports an unescaped NULL.
func scanUnquoted(b []byte, i int, delim byte, scratch []byte) (raw []byte, isNull bool, next int, _ []byte, ok bool) {
	start, end, escaped := i, i, false
	for i < len(b) && b[i] != delim {
		switch b[i] {
		case '"', '{', '}':
			return nil, false, i, scratch, false
		case '\\':
			escaped = true
			i++
			if i == len(b) {
				return nil, false, i, scratch, false
			}
			end = i + 1
		default:
			if !isSpace(b[i]) {
				end = i + 1
			}
		}
		i++
	}
	if !escaped {
		raw = b[start:end]
		isNull = len(raw) == 4 && (raw[0]|0x20) == 'n' && (raw[1]|0x20) == 'u' && (raw[2]|0x20) == 'l' && (raw[3]|0x20) == 'l'
		return raw, isNull, i, scratch, true
	}
	scratch = scratch[:0]
	for j := start; j < end; j++ {
		if b[j] == '\\' {
			j++
		}
		scratch = append(scratch, b[j])
	}
	return scratch, false, i, scratch, true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}
