package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// kind is how a column's values are compared: each reader's output is
// turned into one canonical string per value (see canon).
type kind int

const (
	kInt kind = iota
	kFloat32
	kFloat64
	kDecimal
	kString
	kBool
	kBinary
	kDate      // days since 1970-01-01
	kTime      // microseconds since midnight
	kTimestamp // microseconds since the epoch (wall clock as UTC)
	kTimestamptz
	kUUID
	kList // JSON array of canonical element strings
)

// col is one compared column.
type col struct {
	name string
	kind kind
}

const null = "<NULL>"

// pgExpr is a PostgreSQL expression whose ::text is the raw canonical form.
func pgExpr(c col) string {
	q := `"` + c.name + `"`
	switch c.kind {
	case kDecimal:
		return q + "::numeric::text"
	case kBinary:
		return "encode(" + q + ", 'hex')"
	case kDate:
		return "(" + q + " - DATE '1970-01-01')::text"
	case kTime, kTimestamp, kTimestamptz:
		return "(extract(epoch from " + q + ") * 1000000)::bigint::text"
	case kList:
		return "array_to_json(" + q + ")::text"
	case kString:
		// format() uses the type's output function, as logical decoding
		// does; a ::text cast differs for char(n) (padding) and inet (/32).
		return "CASE WHEN " + q + " IS NOT NULL THEN format('%s', " + q + ") END"
	}
	return q + "::text"
}

// trinoExpr is a Trino expression giving a varchar for canon.
func trinoExpr(c col) string {
	q := `"` + c.name + `"`
	switch c.kind {
	case kString:
		return q
	case kBinary:
		return "lower(to_hex(" + q + "))"
	case kDate:
		return "CAST(date_diff('day', DATE '1970-01-01', " + q + ") AS varchar)"
	case kList:
		return "json_format(CAST(" + q + " AS JSON))"
	case kFloat32:
		// CAST(real AS varchar) rounds to about 7 digits; the double holds
		// the float32 exactly and prints it in full.
		return "CAST(CAST(" + q + " AS double) AS varchar)"
	}
	return "CAST(" + q + " AS varchar)"
}

// canon turns one reader's text of a value into the canonical string.
// from is "pg", "trino" or "python" (the formats of times differ).
func canon(k kind, from, s string) (string, error) {
	switch k {
	case kFloat32, kFloat64:
		bits := 64
		if k == kFloat32 {
			bits = 32
		}
		f, err := strconv.ParseFloat(s, bits)
		if err != nil {
			return "", err
		}
		if math.IsNaN(f) {
			return "NaN", nil
		}
		return strconv.FormatFloat(f, 'g', -1, bits), nil
	case kDecimal:
		return normDecimal(s), nil
	case kTime, kTimestamp, kTimestamptz:
		if from != "trino" {
			return s, nil
		}
		return trinoMicros(k, s)
	case kList:
		var elems []any
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		if err := dec.Decode(&elems); err != nil {
			return "", fmt.Errorf("list %q: %w", s, err)
		}
		out := make([]*string, len(elems))
		for i, e := range elems {
			switch e := e.(type) {
			case nil:
			case json.Number:
				v := e.String()
				out[i] = &v
			case string:
				out[i] = &e
			default:
				v := fmt.Sprint(e)
				out[i] = &v
			}
		}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(out); err != nil {
			return "", err
		}
		return strings.TrimSpace(b.String()), nil
	case kUUID:
		return strings.ToLower(s), nil
	}
	return s, nil
}

// normDecimal drops trailing fractional zeros and a negative zero sign.
func normDecimal(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" || s == "" {
		s = "0"
	}
	return s
}

// trinoMicros parses Trino's varchar of time(6), timestamp(6) and
// timestamp(6) with time zone (in UTC).
func trinoMicros(k kind, s string) (string, error) {
	switch k {
	case kTime:
		t, err := time.Parse("15:04:05.999999", s)
		if err != nil {
			return "", err
		}
		return strconv.FormatInt(int64(t.Hour())*3600e6+int64(t.Minute())*60e6+int64(t.Second())*1e6+int64(t.Nanosecond()/1000), 10), nil
	default:
		s = strings.TrimSuffix(s, " UTC")
		t, err := time.Parse("2006-01-02 15:04:05.999999", s)
		if err != nil {
			return "", err
		}
		return strconv.FormatInt(t.UnixMicro(), 10), nil
	}
}

// table is a set of rows keyed by the canonical key, each the canonical
// values of cols.
type table map[string][]string

// readPG reads cols of src (key column first in cols) from PostgreSQL.
func (l *lake) readPG(src string, cols []col) table {
	l.t.Helper()
	exprs := make([]string, len(cols))
	for i, c := range cols {
		exprs[i] = pgExpr(c)
	}
	rows, err := l.admin().Query(context.Background(), "SELECT "+strings.Join(exprs, ", ")+" FROM "+src)
	if err != nil {
		l.t.Fatal(err)
	}
	defer rows.Close()
	out := table{}
	for rows.Next() {
		raw := make([]*string, len(cols))
		dst := make([]any, len(cols))
		for i := range raw {
			dst[i] = &raw[i]
		}
		if err := rows.Scan(dst...); err != nil {
			l.t.Fatal(err)
		}
		vals := canonRow(l.t, "pg", cols, raw)
		out[vals[0]] = vals
	}
	if err := rows.Err(); err != nil {
		l.t.Fatal(err)
	}
	return out
}

func canonRow(t *testing.T, from string, cols []col, raw []*string) []string {
	t.Helper()
	vals := make([]string, len(cols))
	for i, r := range raw {
		if r == nil {
			vals[i] = null
			continue
		}
		v, err := canon(cols[i].kind, from, *r)
		if err != nil {
			t.Fatalf("%s column %s: %v", from, cols[i].name, err)
		}
		vals[i] = v
	}
	return vals
}

// readTrino reads cols of catalog.lake.name through Trino.
func readTrino(t *testing.T, tr *Trino, qualified string, cols []col) table {
	t.Helper()
	exprs := make([]string, len(cols))
	for i, c := range cols {
		exprs[i] = trinoExpr(c)
	}
	res, err := tr.Query(context.Background(), "SELECT "+strings.Join(exprs, ", ")+" FROM "+qualified)
	if err != nil {
		t.Fatal(err)
	}
	out := table{}
	for _, r := range res.Rows {
		raw := make([]*string, len(cols))
		for i, v := range r {
			if v != nil {
				s := fmt.Sprint(v)
				raw[i] = &s
			}
		}
		vals := canonRow(t, "trino", cols, raw)
		out[vals[0]] = vals
	}
	return out
}

// pyResult is read_tables.py's output for one table.
type pyResult struct {
	Columns []string    `json:"columns"`
	Types   []string    `json:"types"`
	Reader  string      `json:"reader"`
	Rows    [][]*string `json:"rows"`
}

// readPython reads tables (namespace.name) through PyIceberg with catalog
// properties props.
func readPython(t *testing.T, props map[string]string, tables ...string) map[string]pyResult {
	t.Helper()
	cfg, err := json.Marshal(props)
	if err != nil {
		t.Fatal(err)
	}
	out, err := python(t).Run(context.Background(), "read_tables.py", []string{"FLOE_PY_CATALOG=" + string(cfg)}, tables...)
	if err != nil {
		t.Fatal(err)
	}
	res := map[string]pyResult{}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("decode read_tables.py output: %v\n%.500s", err, out)
	}
	return res
}

// pyTable projects a PyIceberg result onto cols.
func pyTable(t *testing.T, r pyResult, cols []col) table {
	t.Helper()
	idx := make([]int, len(cols))
	for i, c := range cols {
		idx[i] = -1
		for j, n := range r.Columns {
			if n == c.name {
				idx[i] = j
			}
		}
		if idx[i] < 0 {
			t.Fatalf("pyiceberg result lacks column %s (has %v)", c.name, r.Columns)
		}
	}
	out := table{}
	for _, row := range r.Rows {
		raw := make([]*string, len(cols))
		for i, j := range idx {
			raw[i] = row[j]
		}
		vals := canonRow(t, "python", cols, raw)
		out[vals[0]] = vals
	}
	return out
}

// diff lists the differences of got from want (at most max lines), empty
// when they are equal.
func diff(want, got table, cols []col, max int) []string {
	var out []string
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		g, ok := got[k]
		if !ok {
			out = append(out, fmt.Sprintf("key %s: missing", k))
			continue
		}
		for i, c := range cols {
			if want[k][i] != g[i] {
				out = append(out, fmt.Sprintf("key %s column %s: want %q, got %q", k, c.name, want[k][i], g[i]))
			}
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			out = append(out, fmt.Sprintf("key %s: extra row", k))
		}
	}
	sort.Strings(out)
	if len(out) > max {
		out = append(out[:max], fmt.Sprintf("... and %d more", len(out)-max))
	}
	return out
}
