package transform

import (
	"errors"
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
}

// Target is where one source table is written.
type Target struct {
	Namespace, Name string
	// Key is the route's key override, nil if none.
	Key []string
}

// String renders the target as "namespace.name".
func (t Target) String() string { return t.Namespace + "." + t.Name }

// Router maps source tables to sink tables. It is immutable and safe for
// concurrent use.
type Router struct {
	def    string
	routes []Route
	exact  []*regexp.Regexp // Source anchored at both ends
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
	s := id.String()
	for i, re := range r.exact {
		m := re.FindStringSubmatchIndex(s)
		if m == nil {
			continue
		}
		rt := r.routes[i]
		t := Target{Namespace: rt.Namespace, Name: id.Name, Key: slices.Clone(rt.Key)}
		if t.Namespace == "" {
			t.Namespace = r.def
		}
		if rt.Name != "" {
			t.Name = string(re.ExpandString(nil, rt.Name, s, m))
		}
		return t
	}
	return Target{Namespace: r.def, Name: id.Name}
}

// Validate checks the targets of the given source tables: every target
// has a namespace and a name, and no two source tables share a sink table.
// It reports every problem at once.
func (r *Router) Validate(ids []capture.TableID) error {
	var errs []error
	type sink struct{ ns, name string }
	seen := map[sink]capture.TableID{}
	for _, id := range ids {
		t := r.Target(id)
		if t.Namespace == "" || t.Name == "" {
			errs = append(errs, fmt.Errorf("route: table %s maps to an empty sink name %q", id, t))
			continue
		}
		for _, k := range t.Key {
			if strings.TrimSpace(k) == "" {
				errs = append(errs, fmt.Errorf("route: table %s has an empty key column name", id))
			}
		}
		k := sink{t.Namespace, t.Name}
		if prev, ok := seen[k]; ok && prev != id {
			errs = append(errs, fmt.Errorf("route: tables %s and %s both write to sink table %s; route them to different tables", prev, id, t))
			continue
		}
		seen[k] = id
	}
	return errors.Join(errs...)
}
