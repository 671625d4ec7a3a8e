package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// route checks route i: its source-table pattern, its sink-table, its
// key, and that it can apply (routeSource). Routes are the file's own:
// they tie source tables to sink tables.
func (v *validator) route(i int) {
	r, p := v.c.Route[i], fmt.Sprintf("route[%d]", i)
	if v.Required(p+".source-table", r.SourceTable, "set the source table pattern, e.g. `source-table: public.orders`") {
		if _, err := anchored(r.SourceTable); err != nil {
			v.add(p+".source-table", "write a valid regular expression (RE2 syntax)", "bad table pattern %q: %v", r.SourceTable, err)
		}
	}
	if r.SinkTable == "" && len(r.PrimaryKey) == 0 && len(r.Columns) == 0 && r.Arrange.PartitionBy == nil && r.Arrange.SortBy == nil {
		v.add(p+".sink-table", "set `sink-table: namespace.table` (or `primary-key:` for a table without one, `columns:` to choose column types, or `partition-by:`)",
			"a route needs a sink-table, a primary-key, columns, a partition-by or a sort-by")
	} else if r.SinkTable != "" {
		parts := strings.Split(r.SinkTable, ".")
		if len(parts) > 2 || slices.Contains(parts, "") {
			v.add(p+".sink-table", "write `namespace.table` or `table`", "bad sink table %q", r.SinkTable)
		}
	}
	if _, one := literalTable(r.SourceTable); len(r.PrimaryKey) > 0 && r.SourceTable != "" && !one {
		v.add(p+".primary-key", "give the key in a route whose source-table names one table, e.g. public\\.events",
			"a key needs a source-table naming exactly one schema.table, got %q", r.SourceTable)
	}
	v.routeSource(i)
	seen := map[string]bool{}
	for _, col := range r.PrimaryKey {
		if seen[col] {
			v.add(p+".primary-key", "name each key column once", "column %q repeated", col)
		}
		seen[col] = true
	}
}

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
