package main

import (
	"fmt"
	"regexp"
	"slices"

	"github.com/apache/iceberg-go"
	"gopkg.in/yaml.v3"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

// Column type overrides: `columns:` on a route and
// sink.numeric-unconstrained. They choose the Iceberg type of source
// columns (schema.ParseOverrideType: string, double, decimal(P,S)); the
// source's discovery applies them (capture.SourceConfig.ColumnTypes), so
// snapshot, stream and floe verify decode alike.

// ColumnConfig is one entry of a route's `columns:` mapping.
type ColumnConfig struct {
	Type string // type: string | double | decimal(P,S)
}

// columns reads a route's `columns:` mapping: column name -> {type: ...}.
func (d *decoder) columns(dst *map[string]ColumnConfig) setter {
	return func(n *yaml.Node, p string) {
		n, ok := d.ofKind(n, p, yaml.MappingNode, "a mapping", "write one entry per column, e.g. `amount: {type: string}`")
		if !ok {
			return
		}
		*dst = map[string]ColumnConfig{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			kn := resolve(n.Content[i])
			cp := p + "." + kn.Value
			if kn.Kind != yaml.ScalarNode || kn.Value == "" {
				d.add(kn, p, "use column names as keys", "a key under %s is %s", p, kindName(kn))
				continue
			}
			if _, dup := (*dst)[kn.Value]; dup {
				d.add(kn, cp, "keep one of them", "column %s named twice", kn.Value)
				continue
			}
			d.lines[cp] = kn.Line
			var cc ColumnConfig
			d.mapping(joinDecimal(resolve(n.Content[i+1])), cp, []field{{"type", d.str(&cc.Type)}})
			(*dst)[kn.Value] = cc
		}
	}
}

// joinDecimal undoes YAML's split of an unquoted decimal in a flow
// mapping: `{type: decimal(38,10)}` reads as type "decimal(38" and a key
// "10)" without a value. It returns n with the two joined again (a copy),
// or n itself.
func joinDecimal(n *yaml.Node) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return n
	}
	for i := 0; i+3 < len(n.Content); i += 2 {
		k, v, next, nv := n.Content[i], resolve(n.Content[i+1]), resolve(n.Content[i+2]), resolve(n.Content[i+3])
		if k.Value == "type" && splitDecimalHead.MatchString(v.Value) && splitDecimalTail.MatchString(next.Value) && isNull(nv) {
			joined := *v
			joined.Value = v.Value + "," + next.Value
			c := *n
			c.Content = slices.Concat(n.Content[:i+1], []*yaml.Node{&joined}, n.Content[i+4:])
			return &c
		}
	}
	return n
}

var (
	splitDecimalHead = regexp.MustCompile(`(?i)^\s*decimal\s*\(\s*\d+\s*$`)
	splitDecimalTail = regexp.MustCompile(`^\s*\d+\s*\)\s*$`)
)

// columnTypes checks the route's columns and sink.numeric-unconstrained:
// each type parses, a column has one. Whether the columns exist and can
// take the type is checked against the source's tables (discovery).
func (v *validator) columnTypes() {
	c := v.c
	if u := c.Sink.NumericUnconstrained; u != "" {
		if _, err := schema.ParseOverrideType(u); err != nil {
			v.add("sink.numeric-unconstrained", "write "+schema.OverrideSpec+", e.g. `numeric-unconstrained: string` (keeps NaN and every digit)", "%v", err)
		}
		// A MySQL source has no numeric without precision: the setting
		// applies to nothing there, so that one sink: block serves both.
	}
	for i, r := range c.Route {
		for _, name := range sortedNames(r.Columns) {
			p := fmt.Sprintf("route[%d].columns.%s", i, name)
			t := r.Columns[name].Type
			if t == "" {
				v.add(p+".type", "set `type: string` (or double, decimal(P,S))", "required")
				continue
			}
			if _, err := schema.ParseOverrideType(t); err != nil {
				v.add(p+".type", "write "+schema.OverrideSpec+", e.g. `type: string`", "%v", err)
			}
		}
	}
}

// columnTypesFor returns the type choices of cfg for a table: the
// columns of the first route whose source-table matches it (the route
// that applies, as transform.Router picks it) and the sink-wide default.
// The config is valid, so every type parses.
func columnTypesFor(cfg *Config) func(capture.TableID) schema.ColumnTypes {
	var unconstrained iceberg.Type
	if u := cfg.Sink.NumericUnconstrained; u != "" {
		unconstrained, _ = schema.ParseOverrideType(u)
	}
	routes := slices.Clone(cfg.Route)
	return func(id capture.TableID) schema.ColumnTypes {
		ct := schema.ColumnTypes{Unconstrained: unconstrained, UnconstrainedField: "sink.numeric-unconstrained"}
		for i, r := range routes {
			if r.SourceRegexp == nil || !r.SourceRegexp.MatchString(id.String()) {
				continue
			}
			if len(r.Columns) > 0 {
				ct.Field = fmt.Sprintf("route[%d].columns", i)
				ct.Columns = map[string]iceberg.Type{}
				for name, cc := range r.Columns {
					if t, err := schema.ParseOverrideType(cc.Type); err == nil {
						ct.Columns[name] = t
					}
				}
			}
			break
		}
		return ct
	}
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
