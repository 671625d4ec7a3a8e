package registry

import (
	"fmt"
	"slices"
	"strings"
)

// DefaultSubjectName is the subject name template used when none is
// configured: the pipeline, the source schema (a PostgreSQL schema or a
// MySQL database) and the source table.
const DefaultSubjectName = "{pipeline}.{schema}.{table}-value"

// IcebergSubjectName is the template that names subjects after the
// Iceberg table alone, "<namespace>.<table>-value": the only naming
// before registry.subject-name existed.
const IcebergSubjectName = "{namespace}.{iceberg_table}-value"

// SubjectVars are the names a subject name template may use, one a
// placeholder.
type SubjectVars struct {
	Pipeline     string // {pipeline}: the pipeline's name
	Schema       string // {schema}: the source schema or database
	Table        string // {table}: the source table
	Namespace    string // {namespace}: the Iceberg namespace (dots separate its levels)
	IcebergTable string // {iceberg_table}: the Iceberg table
}

// Placeholders lists the placeholders a subject name template may use.
var Placeholders = []string{"{pipeline}", "{schema}", "{table}", "{namespace}", "{iceberg_table}"}

// value returns the value of placeholder p (one of Placeholders).
func (v SubjectVars) value(p string) string {
	switch p {
	case "{pipeline}":
		return v.Pipeline
	case "{schema}":
		return v.Schema
	case "{table}":
		return v.Table
	case "{namespace}":
		return v.Namespace
	default:
		return v.IcebergTable
	}
}

// SubjectName names the subject of each sink table from a template of
// literal text and Placeholders. The zero SubjectName is
// DefaultSubjectName.
type SubjectName struct {
	// parts alternate literal text and placeholders; a placeholder keeps
	// its braces.
	parts []string
	tmpl  string
}

// ParseSubjectName parses a subject name template; "" is
// DefaultSubjectName. An unknown placeholder, a brace that opens or
// closes none, or a template with no placeholder is an error listing the
// valid placeholders.
func ParseSubjectName(tmpl string) (SubjectName, error) {
	if tmpl == "" {
		tmpl = DefaultSubjectName
	}
	valid := strings.Join(Placeholders, ", ")
	n := SubjectName{tmpl: tmpl}
	rest, placeholders := tmpl, 0
	for rest != "" {
		i := strings.IndexAny(rest, "{}")
		if i < 0 {
			n.parts = append(n.parts, rest)
			break
		}
		if rest[i] == '}' {
			return SubjectName{}, fmt.Errorf("subject name %q has a '}' that closes no placeholder; the placeholders are %s", tmpl, valid)
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return SubjectName{}, fmt.Errorf("subject name %q has a '{' that is never closed; the placeholders are %s", tmpl, valid)
		}
		p := rest[i : i+j+1]
		if !slices.Contains(Placeholders, p) {
			return SubjectName{}, fmt.Errorf("subject name %q uses the unknown placeholder %s; the placeholders are %s", tmpl, p, valid)
		}
		n.parts = append(n.parts, rest[:i], p)
		placeholders++
		rest = rest[i+j+1:]
	}
	if placeholders == 0 {
		return SubjectName{}, fmt.Errorf("subject name %q has no placeholder, so every table would share one subject; use some of %s", tmpl, valid)
	}
	return n, nil
}

// String returns the template.
func (n SubjectName) String() string {
	if n.parts == nil {
		return DefaultSubjectName
	}
	return n.tmpl
}

// Subject returns the subject of the table v names.
func (n SubjectName) Subject(v SubjectVars) string {
	if n.parts == nil {
		n, _ = ParseSubjectName(DefaultSubjectName)
	}
	var b strings.Builder
	for i, p := range n.parts {
		if i%2 == 1 {
			b.WriteString(v.value(p))
		} else {
			b.WriteString(p)
		}
	}
	return b.String()
}

// SubjectClash is two tables whose subjects are one.
type SubjectClash struct {
	Subject string
	// First and Second are the tables, as the caller names them.
	First, Second string
}

// Clashes returns every pair of tables that n maps to one subject, each
// table named by name(i) for its index i in vars, in the order found.
func (n SubjectName) Clashes(vars []SubjectVars, name func(i int) string) []SubjectClash {
	seen := map[string]int{}
	var out []SubjectClash
	for i, v := range vars {
		s := n.Subject(v)
		if j, ok := seen[s]; ok {
			out = append(out, SubjectClash{Subject: s, First: name(j), Second: name(i)})
			continue
		}
		seen[s] = i
	}
	return out
}
