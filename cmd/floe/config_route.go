package main

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// MinCheckpointInterval is the shortest pipeline.checkpoint-interval: each
// checkpoint is one Iceberg commit per changed table.
const MinCheckpointInterval = time.Second

// routeSource reports route i when an earlier route has the same
// source-table (the first match wins, so it would never apply) or when
// its source-table names one table that source.tables does not capture.
// Routes whose pattern matches several tables are checked against the
// discovered tables (transform.Router.Validate).
func (v *validator) routeSource(i int) {
	r, p := v.c.Route[i], fmt.Sprintf("route[%d].source-table", i)
	if r.SourceTable == "" {
		return
	}
	for j, prev := range v.c.Route[:i] {
		if prev.SourceTable == r.SourceTable {
			v.add(p, fmt.Sprintf("keep one route for %s (merge their settings into route[%d])", r.SourceTable, j),
				"duplicate of route[%d]%s: the first matching route applies, so this one never would", j, v.c.atLine(fmt.Sprintf("route[%d]", j)))
			return
		}
	}
	id, ok := literalTable(r.SourceTable)
	if !ok || len(v.c.Source.TableRegexps) != len(v.c.Source.Tables) || len(v.c.Source.Tables) == 0 {
		return // a pattern, or source.tables has problems of its own
	}
	for _, re := range v.c.Source.TableRegexps {
		if re.MatchString(id) {
			return
		}
	}
	v.add(p, "add the table to source.tables, or remove the route",
		"table %s is not captured: no pattern of source.tables (%s) matches it, so the route would never apply", id, strings.Join(v.c.Source.Tables, ", "))
}

// literalTable returns the "schema.table" a route pattern names when it
// names exactly one table: one dot (escaped or not) between two names
// without other regexp syntax.
func literalTable(pattern string) (string, bool) {
	lit := strings.ReplaceAll(pattern, `\.`, ".")
	if strings.Count(lit, ".") != 1 || regexp.QuoteMeta(lit) != strings.ReplaceAll(lit, ".", `\.`) {
		return "", false
	}
	schemaName, table, _ := strings.Cut(lit, ".")
	return lit, schemaName != "" && table != ""
}

// atLine is " (line N)" for a field the file has, "" otherwise.
func (c *Config) atLine(path string) string {
	if l := c.lineOf(path); l > 0 {
		return fmt.Sprintf(" (line %d)", l)
	}
	return ""
}
