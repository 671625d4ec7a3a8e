package mysqltype

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// jsonOut decodes a MySQL (binary) JSON value's text: the snapshot gets
// MySQL's rendering, the binlog go-mysql's, so both are brought to one
// canonical text (see canonJSON).
func (d *dec) jsonOut(b []byte) (any, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return "null", nil // MySQL stores an empty document as JSON null
	}
	if !json.Valid(b) {
		return nil, d.fail(b, "not a JSON document")
	}
	s, err := canonJSON(b)
	if err != nil {
		return nil, d.fail(b, "not a JSON document: "+err.Error())
	}
	return s, nil
}

// canonJSON re-renders a JSON document in MySQL's text style: object keys
// in document order, ", " and ": " separators, strings with only the
// required escapes, integers as written and other numbers in Go's
// shortest form of their double value (MySQL JSON numbers are int64,
// uint64 or double; a longer literal, a DECIMAL inside the document, is
// kept as written unless it is exactly a double's value: go-mysql writes
// a whole-number double with all its digits, 1e300 as "1000…0.0", where
// MySQL's own text says 1e300).
func canonJSON(b []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var sb strings.Builder
	type frame struct {
		obj   bool
		count int
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", err
		}
		if dl, ok := tok.(json.Delim); ok && (dl == '}' || dl == ']') {
			stack = stack[:len(stack)-1]
			sb.WriteByte(byte(dl))
			continue
		}
		if n := len(stack); n > 0 {
			top := &stack[n-1]
			switch {
			case top.obj && top.count%2 == 1:
				sb.WriteString(": ")
			case top.count > 0:
				sb.WriteString(", ")
			}
			top.count++
		}
		switch x := tok.(type) {
		case json.Delim:
			stack = append(stack, frame{obj: x == '{'})
			sb.WriteByte(byte(x))
		case string:
			writeJSONString(&sb, x)
		case json.Number:
			sb.WriteString(canonJSONNumber(string(x)))
		case bool:
			sb.WriteString(strconv.FormatBool(x))
		case nil:
			sb.WriteString("null")
		}
	}
	return sb.String(), nil
}

func canonJSONNumber(s string) string {
	if !strings.ContainsAny(s, ".eE") {
		return s
	}
	digits := strings.TrimLeft(strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, strings.FieldsFunc(s, func(r rune) bool { return r == 'e' || r == 'E' })[0]), "0")
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	if len(digits) > 17 && s != strconv.FormatFloat(f, 'f', 1, 64) {
		return s
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func writeJSONString(sb *strings.Builder, s string) {
	sb.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			sb.WriteByte('\\')
			sb.WriteRune(r)
		case r == '\n':
			sb.WriteString(`\n`)
		case r == '\t':
			sb.WriteString(`\t`)
		case r == '\r':
			sb.WriteString(`\r`)
		case r < 0x20:
			fmt.Fprintf(sb, `\u%04x`, r)
		default:
			sb.WriteRune(r)
		}
	}
	sb.WriteByte('"')
}
