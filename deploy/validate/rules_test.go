package validate

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/stretchr/testify/require"
)

var rulesFile = filepath.Join(repoRoot, "deploy", "prometheus", "floe-rules.yml")

var promParser = parser.NewParser(parser.Options{})

// parseRules parses a rule file as Prometheus does, unknown fields refused.
func parseRules(data []byte) (*rulefmt.RuleGroups, error) {
	groups, errs := rulefmt.Parse(data, false, model.UTF8Validation, promParser, slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return nil, fmt.Errorf("%s", strings.Join(msgs, "\n"))
	}
	return groups, nil
}

// checkQuery reports every series selector in a PromQL expression that
// names a metric floe does not export, or a label that metric lacks.
func checkQuery(expr string, metrics map[string]metricInfo) []string {
	e, err := promParser.ParseExpr(expr)
	if err != nil {
		return []string{fmt.Sprintf("%q: %v", expr, err)}
	}
	var problems []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := selectorName(vs)
		info, ok := metrics[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: floe exports no metric %q", vs, name))
			return nil
		}
		for _, m := range vs.LabelMatchers {
			if m.Name != model.MetricNameLabel && !slices.Contains(info.labels, m.Name) && !slices.Contains(targetLabels, m.Name) {
				problems = append(problems, fmt.Sprintf("%s: %s has no label %q (it has %v)", vs, name, m.Name, info.labels))
			}
		}
		return nil
	})
	return problems
}

// selectorName is the metric name a selector matches.
func selectorName(vs *parser.VectorSelector) string {
	name := vs.Name
	for _, m := range vs.LabelMatchers {
		if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
			name = m.Value
		}
	}
	return name
}

// checkRules parses a rule file and checks its metrics and annotations.
func checkRules(t *testing.T, data []byte) []string {
	t.Helper()
	groups, err := parseRules(data)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			at := "rule " + r.Alert + r.Record
			for _, p := range checkQuery(r.Expr, exportedMetrics(t)) {
				problems = append(problems, at+": "+p)
			}
			if r.Alert == "" {
				continue
			}
			if sev := r.Labels["severity"]; sev != "warning" && sev != "critical" {
				problems = append(problems, fmt.Sprintf("%s: labels.severity %q, want warning or critical", at, sev))
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				problems = append(problems, at+": needs a summary and a description annotation")
			}
		}
	}
	return problems
}

// TestAlertRules: the rule file parses with Prometheus' rule parser (every
// expression and template valid, no unknown field) and queries only
// metrics and labels floe exports.
func TestAlertRules(t *testing.T) {
	data, err := os.ReadFile(rulesFile)
	require.NoError(t, err)
	failIf(t, checkRules(t, data))
}

// TestAlertRulesRefuse: a misspelt metric, a label the metric lacks, bad
// PromQL, a misspelt field and a missing severity are each reported.
func TestAlertRulesRefuse(t *testing.T) {
	data, err := os.ReadFile(rulesFile)
	require.NoError(t, err)
	text := string(data)
	for _, tc := range []struct{ name, old, new, want string }{
		{"misspelt metric", "increase(floe_checkpoint_commits_total{", "increase(floe_checkpoint_commit_total{",
			`floe exports no metric "floe_checkpoint_commit_total"`},
		{"label the metric lacks", `outcome="error"`, `result="error"`, `has no label "result"`},
		{"bad PromQL", "> 3600", "> > 3600", "could not parse expression"},
		{"misspelt field", "        for: 15m\n", "        fr: 15m\n", "field fr not found"},
		{"no severity", "          severity: critical\n", "          priority: critical\n", "labels.severity"},
		{"bad template", "{{ $labels.instance }} does not answer", "{{ $labels.instance } does not answer", "annotation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Contains(t, text, tc.old)
			problems := checkRules(t, []byte(strings.Replace(text, tc.old, tc.new, 1)))
			require.NotEmpty(t, problems)
			require.Contains(t, strings.Join(problems, "\n"), tc.want)
		})
	}
}

// alertCase is synthetic data on which an alert must fire (for its whole
// `for` window, ending at the given minute) or stay quiet.
type alertCase struct {
	alert string
	fires bool
	at    int // minutes after the first sample
	load  string
}

var alertCases = []alertCase{
	{"FloeDown", true, 30, `up{job="floe",instance="a"} 1x5 0x40`},
	{"FloeDown", false, 30, `up{job="floe",instance="a"} 1x40`},
	// Lag growing 10 s a minute passes 300 s at 30 min.
	{"FloeSourceLagOverBudget", true, 50, `floe_capture_source_lag_seconds{job="floe",instance="a"} 0+10x60`},
	{"FloeSourceLagOverBudget", false, 50, `floe_capture_source_lag_seconds{job="floe",instance="a"} 2x60`},
	{"FloeSourceLagCritical", true, 90, `floe_capture_source_lag_seconds{job="floe",instance="a"} 0+60x90`},
	{"FloeSourceLagCritical", false, 90, `floe_capture_source_lag_seconds{job="floe",instance="a"} 1200x90`},
	// A stalled stream: the lag grows with the clock.
	{"FloeRetentionGrowing", true, 60, `floe_capture_source_lag_seconds{job="floe",instance="a"} 0+60x60`},
	// Far behind but catching up: the backlog shrinks.
	{"FloeRetentionGrowing", false, 60, `floe_capture_source_lag_seconds{job="floe",instance="a"} 3600-30x60`},
	{"FloeCheckpointsStalled", true, 40, `floe_capture_changes_total{job="floe",instance="a",table="public.orders",op="c"} 0+100x40
	floe_checkpoint_commits_total{job="floe",instance="a"} 0+1x10 10x30`},
	{"FloeCheckpointsStalled", false, 40, `floe_capture_changes_total{job="floe",instance="a",table="public.orders",op="c"} 0+100x40
	floe_checkpoint_commits_total{job="floe",instance="a"} 0+1x40`},
	// Idle: no changes, no commits.
	{"FloeCheckpointsStalled", false, 40, `floe_capture_changes_total{job="floe",instance="a",table="public.orders",op="c"} 5x40
	floe_checkpoint_commits_total{job="floe",instance="a"} 3x40`},
	// Every checkpoint in the bucket up to 81.92 s.
	{"FloeSlowCheckpoints", true, 45, `floe_checkpoint_duration_seconds_bucket{job="floe",instance="a",le="40.96"} 0x45
	floe_checkpoint_duration_seconds_bucket{job="floe",instance="a",le="81.92"} 0+1x45
	floe_checkpoint_duration_seconds_bucket{job="floe",instance="a",le="+Inf"} 0+1x45`},
	{"FloeSlowCheckpoints", false, 45, `floe_checkpoint_duration_seconds_bucket{job="floe",instance="a",le="0.64"} 0+1x45
	floe_checkpoint_duration_seconds_bucket{job="floe",instance="a",le="+Inf"} 0+1x45`},
	{"FloeRestarting", true, 60, `process_start_time_seconds{job="floe",instance="a"} 100x10 700x10 1300x10 1900x10 2500x20`},
	{"FloeRestarting", false, 60, `process_start_time_seconds{job="floe",instance="a"} 100x30 1900x30`},
	{"FloeTableReset", true, 30, `floe_checkpoint_table_resets_total{job="floe",instance="a",table="public.orders",cause="identity"} 0x20 1x10`},
	{"FloeTableReset", false, 30, `floe_checkpoint_table_resets_total{job="floe",instance="a",table="public.orders",cause="identity"} 1x30`},
	{"FloeDeadLetters", true, 30, `floe_dead_letters_total{job="floe",instance="a",table="public.orders"} 0x20 3x10`},
	{"FloeDeadLetters", false, 30, `floe_dead_letters_total{job="floe",instance="a",table="public.orders"} 3x30`},
	{"FloeCompactionFailing", true, 60, `floe_compaction_passes_total{job="floe",instance="a",outcome="error"} 0x30 1x30
	floe_compaction_passes_total{job="floe",instance="a",outcome="ok"} 0+1x60`},
	{"FloeCompactionFailing", false, 60, `floe_compaction_passes_total{job="floe",instance="a",outcome="error"} 0x60
	floe_compaction_passes_total{job="floe",instance="a",outcome="conflict"} 0+1x60`},
	{"FloeMemoryNearLimit", true, 40, `process_resident_memory_bytes{job="floe",instance="a"} 1500000000x40
	go_gc_gomemlimit_bytes{job="floe",instance="a"} 1342177280x40`},
	// No GOMEMLIMIT: the runtime reports the largest int64.
	{"FloeMemoryNearLimit", false, 40, `process_resident_memory_bytes{job="floe",instance="a"} 1500000000x40
	go_gc_gomemlimit_bytes{job="floe",instance="a"} 9223372036854775807x40`},
}

// TestAlertsFire evaluates each alert's expression with Prometheus' PromQL
// engine on synthetic series: where it must fire it holds at every minute of
// its `for` window, where it must not it is empty. Every alert of the file
// has a case that fires.
func TestAlertsFire(t *testing.T) {
	data, err := os.ReadFile(rulesFile)
	require.NoError(t, err)
	groups, err := parseRules(data)
	require.NoError(t, err)
	rules := map[string]rulefmt.Rule{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				rules[r.Alert] = r
			}
		}
	}
	engine := promqltest.NewTestEngine(t, false, 0, 100000)
	fired := map[string]bool{}
	for i, c := range alertCases {
		r, ok := rules[c.alert]
		require.True(t, ok, "case %d: no alert %s in %s", i, c.alert, rulesFile)
		t.Run(fmt.Sprintf("%s/%v/%d", c.alert, c.fires, i), func(t *testing.T) {
			st := promqltest.LoadedStorage(t, "load 1m\n\t"+c.load+"\n")
			end := time.Unix(0, 0).Add(time.Duration(c.at) * time.Minute)
			from := end
			if c.fires {
				from = end.Add(-time.Duration(r.For))
			}
			for ts := from; !ts.After(end); ts = ts.Add(time.Minute) {
				q, err := engine.NewInstantQuery(context.Background(), st, nil, r.Expr, ts)
				require.NoError(t, err)
				res := q.Exec(context.Background())
				require.NoError(t, res.Err)
				vec, err := res.Vector()
				require.NoError(t, err)
				if c.fires {
					require.NotEmpty(t, vec, "%s does not hold at minute %d:\n%s", c.alert, int(ts.Sub(time.Unix(0, 0)).Minutes()), r.Expr)
					require.Equal(t, "a", vec[0].Metric.Get("instance"), "the alert names the instance")
				} else {
					require.Empty(t, vec, "%s holds at minute %d: %v", c.alert, int(ts.Sub(time.Unix(0, 0)).Minutes()), promql.Vector(vec))
				}
				q.Close()
			}
			fired[c.alert] = fired[c.alert] || c.fires
		})
	}
	var untested []string
	for name := range rules {
		if !fired[name] {
			untested = append(untested, name)
		}
	}
	sort.Strings(untested)
	require.Empty(t, untested, "alerts without a case that fires")
}
