package transform

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/floe-cdc/floe/capture"
)

// Route sends the source tables whose "schema.table" name matches Source
// to one sink table.
type Route struct {
	// Source is matched against the whole "schema.table" string (the
	// Router anchors it).
	Source *regexp.Regexp
	// Namespace is the sink namespace; "" means the Router's default.
	Namespace string
	// Name is the sink table name; "" means the source table's name. It
	// may refer to Source's submatches ($1, ${name}), so one route can map
	// many tables.
	Name string
	// Key, when set, names the key columns (for tables without a primary key).
	Key []string
	// Arrange is how the route's sink tables are partitioned and sorted.
	Arrange Arrangement
}

// Arrangement is how a sink table is partitioned and sorted, as the
// configuration gives it: PartitionBy entries as
// lakewriter.ParsePartitionField reads them, SortBy entries as
// lakewriter.ParseSortField does. A nil slice leaves the table's own as
// it is; an empty one means none. PartitionField and SortField are the
// configuration paths they come from, for errors.
type Arrangement struct {
	PartitionBy, SortBy       []string
	PartitionField, SortField string
}

// IsZero reports whether a leaves both the partitioning and the sort order
// as they are.
func (a Arrangement) IsZero() bool { return a.PartitionBy == nil && a.SortBy == nil }

// Target is where one source table is written.
type Target struct {
	Namespace, Name string
	// Key is the route's key override, nil if none.
	Key []string
	// Arrange is the route's (or the Router's default) arrangement.
	Arrange Arrangement
}

// String renders the target as "namespace.name".
func (t Target) String() string { return t.Namespace + "." + t.Name }

// Router maps source tables to sink tables. It is immutable and safe for
// concurrent use.
type Router struct {
	def        string
	defArrange Arrangement
	routes     []Route
	exact      []*regexp.Regexp // Source anchored at both ends
}

// Namespaces returns every sink namespace r can route to: the default
// first, then the routes' own, each once.
func (r *Router) Namespaces() []string {
	out := []string{r.def}
	for _, rt := range r.routes {
		if rt.Namespace != "" && !slices.Contains(out, rt.Namespace) {
			out = append(out, rt.Namespace)
		}
	}
	return out
}

// WithDefaultArrangement returns a copy of r that arranges the tables no
// route names as a says.
func (r *Router) WithDefaultArrangement(a Arrangement) *Router {
	c := *r
	c.defArrange = a
	return &c
}

// NewRouter returns a router that applies the first matching route and
// sends every other table to defaultNamespace under its own name.
func NewRouter(defaultNamespace string, routes []Route) *Router {
	r := &Router{def: defaultNamespace, routes: slices.Clone(routes)}
	for _, rt := range routes {
		// Wrapping in a non-capturing group keeps submatch numbers and
		// names; the inner expression already compiled, so this does too.
		r.exact = append(r.exact, regexp.MustCompile(`^(?:`+rt.Source.String()+`)$`))
	}
	return r
}

// Target returns where table id is written.
func (r *Router) Target(id capture.TableID) Target {
	t, _ := r.target(id)
	return t
}

// target is Target and the index of the route that applies, -1 for none.
func (r *Router) target(id capture.TableID) (Target, int) {
	s := id.String()
	for i, re := range r.exact {
		m := re.FindStringSubmatchIndex(s)
		if m == nil {
			continue
		}
		rt := r.routes[i]
		t := Target{Namespace: rt.Namespace, Name: id.Name, Key: slices.Clone(rt.Key), Arrange: rt.Arrange}
		if t.Namespace == "" {
			t.Namespace = r.def
		}
		if rt.Name != "" {
			t.Name = string(re.ExpandString(nil, rt.Name, s, m))
		}
		return t, i
	}
	return Target{Namespace: r.def, Name: id.Name, Arrange: r.defArrange}, -1
}

// RouteProblems is every problem Validate found, one capture.Problem each,
// whose Field names the route as route[i] (its index among the routes
// given to NewRouter, which are the configuration's in order). Error
// renders one line per problem.
type RouteProblems []capture.Problem

func (ps RouteProblems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Validate checks the routing of the captured tables ids, the whole set:
// the targets (ValidateTargets), and that every route applies to at least
// one of them that no earlier route takes first (a route that never
// applies is a mistake the user would not notice). It returns
// RouteProblems, or nil.
func (r *Router) Validate(ids []capture.TableID) error {
	ps := r.targetProblems(ids)
	ps = append(ps, r.coverageProblems(ids)...)
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// ValidateTargets checks the targets of the given source tables, which
// may be a subset of the captured ones: every target has a namespace and
// a name, and no two of the tables share a sink table. It returns
// RouteProblems, one per sink table shared, or nil.
func (r *Router) ValidateTargets(ids []capture.TableID) error {
	if ps := r.targetProblems(ids); len(ps) > 0 {
		return ps
	}
	return nil
}

func (r *Router) targetProblems(ids []capture.TableID) RouteProblems {
	var ps RouteProblems
	type sink struct{ ns, name string }
	var order []sink
	by := map[sink][]capture.TableID{}
	via := map[sink][]int{} // the routes that send tables there (-1: none)
	field := func(route int, f string) string { return fmt.Sprintf("route[%d].%s", route, f) }
	for _, id := range ids {
		t, route := r.target(id)
		if t.Namespace == "" || t.Name == "" {
			p := capture.Problem{Field: "sink.namespace", Message: fmt.Sprintf("table %s maps to an empty sink table name %q", id, t),
				Fix: "set sink.namespace"}
			if route >= 0 {
				p.Field, p.Fix = field(route, "sink-table"), "make the sink-table name a non-empty namespace.table for every table the route matches"
			}
			ps = append(ps, p)
			continue
		}
		for _, k := range t.Key {
			if strings.TrimSpace(k) == "" {
				ps = append(ps, capture.Problem{Field: field(route, "primary-key"), Message: fmt.Sprintf("table %s has an empty key column name", id),
					Fix: "name the key columns, separated by commas"})
			}
		}
		k := sink{t.Namespace, t.Name}
		if slices.Contains(by[k], id) {
			continue
		}
		if len(by[k]) == 0 {
			order = append(order, k)
		}
		by[k] = append(by[k], id)
		if !slices.Contains(via[k], route) {
			via[k] = append(via[k], route)
		}
	}
	for _, k := range order {
		tables := by[k]
		if len(tables) < 2 {
			continue
		}
		names := make([]string, len(tables))
		for i, id := range tables {
			names[i] = id.String()
		}
		verb := "all write"
		if len(tables) == 2 {
			verb = "both write"
		}
		msg := fmt.Sprintf("tables %s %s to sink table %s.%s", joinAnd(names), verb, k.ns, k.name)
		p := capture.Problem{Field: "route", Message: msg + " (a table no route names lands under its own name in sink.namespace)",
			Fix: "add a route for each of them but one, with its own sink-table"}
		if i := slices.IndexFunc(via[k], func(i int) bool { return i >= 0 }); i >= 0 {
			p = capture.Problem{Field: field(via[k][i], "sink-table"), Message: msg,
				Fix: "give each table its own sink table (a sink-table may use the source-table pattern's groups, e.g. orders_$1)"}
		}
		ps = append(ps, p)
	}
	return ps
}

// coverageProblems reports each route that applies to none of ids: its
// pattern matches none of them, or every table it matches is taken by an
// earlier route.
func (r *Router) coverageProblems(ids []capture.TableID) RouteProblems {
	var ps RouteProblems
	for i, re := range r.exact {
		var matched []string
		earlier := -1
		applies := false
		for _, id := range ids {
			if !re.MatchString(id.String()) {
				continue
			}
			matched = append(matched, id.String())
			if _, route := r.target(id); route == i {
				applies = true
			} else if earlier < 0 {
				earlier = route
			}
		}
		field := fmt.Sprintf("route[%d].source-table", i)
		switch {
		case applies:
		case len(matched) == 0:
			ps = append(ps, capture.Problem{Field: field,
				Message: fmt.Sprintf("%s matches none of the captured tables, so the route never applies", patternText(r.routes[i].Source)),
				Fix:     `correct the pattern (it must match the whole "schema.table" of a table source.tables captures), or remove the route`})
		default:
			ps = append(ps, capture.Problem{Field: field,
				Message: fmt.Sprintf("every table it matches (%s) is routed by route[%d], which comes first, so this route never applies", joinAnd(matched), earlier),
				Fix:     "remove it, or put it before the route that takes its tables"})
		}
	}
	return ps
}

// patternText is a route's pattern as written: without the anchoring the
// configuration adds.
func patternText(re *regexp.Regexp) string {
	s := re.String()
	if inner, ok := strings.CutPrefix(s, "^(?:"); ok && strings.HasSuffix(inner, ")$") {
		s = strings.TrimSuffix(inner, ")$")
	}
	return s
}

// joinAnd renders "a", "a and b", "a, b and c".
func joinAnd(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
