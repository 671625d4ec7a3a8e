package validate

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/require"
)

var dashboardFile = filepath.Join(repoRoot, "deploy", "grafana", "floe.json")

var registerPlugins sync.Once

// grafanaVars stand in for the dashboard's variables and Grafana's
// built-in intervals, so that each query parses as PromQL.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h",
	"$job", "floe", "$instance", ".*")

// labelValues is a variable query label_values(SELECTOR, LABEL).
var labelValues = regexp.MustCompile(`^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)

// panelJSON is what the checks read of a panel.
type panelJSON struct {
	ID          int    `json:"id"`
	Type        string `json:"type"`
	Title       string `json:"title"`
	Description string `json:"description"`
	GridPos     struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []panelJSON `json:"panels"`
}

type dashboardJSON struct {
	Panels     []panelJSON `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

// checkDashboard decodes a dashboard strictly with the Grafana Foundation
// SDK's types (unknown or mistyped fields fail), then checks its layout and
// that every query reads metrics and labels floe exports. It returns the
// problems and the metric names the queries use.
func checkDashboard(t *testing.T, data []byte) ([]string, map[string]bool) {
	t.Helper()
	registerPlugins.Do(plugins.RegisterDefaultPlugins)
	//lint:ignore SA1019 floe.json is the classic dashboard JSON model that Grafana 8 to 12 import; v2 is Grafana 12's new resource format.
	var d dashboard.Dashboard
	if err := d.UnmarshalJSONStrict(data); failed(err) {
		return []string{"strict decoding: " + err.Error()}, nil
	}
	if err := d.Validate(); failed(err) {
		return []string{"validation: " + err.Error()}, nil
	}
	var dj dashboardJSON
	require.NoError(t, json.Unmarshal(data, &dj))
	vars := map[string]bool{}
	var problems []string
	used := map[string]bool{}
	query := func(at, expr string) {
		for _, p := range checkQuery(grafanaVars.Replace(expr), exportedMetrics(t)) {
			problems = append(problems, at+": "+p)
		}
		for _, name := range metricNames(grafanaVars.Replace(expr)) {
			used[name] = true
		}
	}
	for _, v := range dj.Templating.List {
		vars[v.Name] = true
		if v.Type != "query" {
			continue
		}
		m := labelValues.FindStringSubmatch(v.Definition)
		if m == nil {
			problems = append(problems, fmt.Sprintf("variable %s: query %q is not label_values(SELECTOR, LABEL)", v.Name, v.Definition))
			continue
		}
		query("variable "+v.Name, m[1])
	}
	ids := map[int]bool{}
	var walk func(ps []panelJSON)
	walk = func(ps []panelJSON) {
		for _, p := range ps {
			at := fmt.Sprintf("panel %d %q", p.ID, p.Title)
			if ids[p.ID] {
				problems = append(problems, at+": duplicate id")
			}
			ids[p.ID] = true
			if p.GridPos.W <= 0 || p.GridPos.X < 0 || p.GridPos.X+p.GridPos.W > 24 {
				problems = append(problems, fmt.Sprintf("%s: gridPos x %d + w %d outside the 24 columns", at, p.GridPos.X, p.GridPos.W))
			}
			if p.Type != "row" {
				if p.Description == "" {
					problems = append(problems, at+": no description")
				}
				if p.Datasource == nil || !vars[strings.Trim(p.Datasource.UID, "${}")] {
					problems = append(problems, at+": the datasource must be the ${datasource} variable")
				}
				if len(p.Targets) == 0 {
					problems = append(problems, at+": no query")
				}
			}
			for _, tg := range p.Targets {
				query(at, tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(dj.Panels)
	return problems, used
}

// failed reports a real error: the SDK returns its error list typed even
// when it is empty.
func failed(err error) bool {
	var be cog.BuildErrors
	if errors.As(err, &be) {
		return len(be) > 0
	}
	return err != nil
}

// metricNames are the metric names an expression selects.
func metricNames(expr string) []string {
	e, err := promParser.ParseExpr(expr)
	if err != nil {
		return nil
	}
	var out []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			out = append(out, selectorName(vs))
		}
		return nil
	})
	return out
}

// TestDashboard: floe.json is a valid Grafana dashboard, its queries parse
// and read only what floe exports, and every floe metric is on it.
func TestDashboard(t *testing.T) {
	data, err := os.ReadFile(dashboardFile)
	require.NoError(t, err)
	problems, used := checkDashboard(t, data)
	failIf(t, problems)
	var missing []string
	for name := range floeMetrics(t) {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
		if strings.HasPrefix(name, "floe_") && !used[name] && !used[base+"_bucket"] && !used[base] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	require.Empty(t, missing, "floe metrics on no panel of deploy/grafana/floe.json: add a panel")
}

// TestDashboardRefuses: a misspelt field, a misspelt metric, a label the
// metric lacks and a panel past the grid's edge are each reported.
func TestDashboardRefuses(t *testing.T) {
	data, err := os.ReadFile(dashboardFile)
	require.NoError(t, err)
	text := string(data)
	for _, tc := range []struct{ name, old, new, want string }{
		{"misspelt panel field", `"description": "floe_capture_source_lag_seconds:`, `"descriptoin": "floe_capture_source_lag_seconds:`, "descriptoin"},
		{"wrong type", `"schemaVersion": 39`, `"schemaVersion": "39"`, "schemaVersion"},
		{"misspelt metric", "rate(floe_capture_changes_total{", "rate(floe_capture_change_total{", `floe exports no metric "floe_capture_change_total"`},
		{"label the metric lacks", "sum by (op) (rate(floe_capture_changes_total{job=", "sum by (op) (rate(floe_capture_changes_total{operation=\\\"c\\\", job=", `has no label "operation"`},
		{"past the edge", `"w": 12,
        "x": 12`, `"w": 13,
        "x": 12`, "outside the 24 columns"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Contains(t, text, tc.old)
			problems, _ := checkDashboard(t, []byte(strings.Replace(text, tc.old, tc.new, 1)))
			require.NotEmpty(t, problems)
			require.Contains(t, strings.Join(problems, "\n"), tc.want)
		})
	}
}
