package validate

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/checkpoint"
)

// metricInfo is one series name floe exports and the labels it carries
// (beyond the target labels Prometheus adds).
type metricInfo struct {
	labels []string
}

// constructors are the client_golang functions whose first argument's Name
// is a metric name; the value says which series suffixes the type adds.
var constructors = map[string][]string{
	"NewCounter": {""}, "NewCounterVec": {""}, "NewCounterFunc": {""},
	"NewGauge": {""}, "NewGaugeVec": {""}, "NewGaugeFunc": {""}, "NewUntypedFunc": {""},
	"NewHistogram": {"_bucket", "_sum", "_count"}, "NewHistogramVec": {"_bucket", "_sum", "_count"},
	"NewSummary": {"", "_sum", "_count"}, "NewSummaryVec": {"", "_sum", "_count"},
}

// scanMetrics finds every metric floe's non-test code declares: each call
// of a client_golang constructor in the module, its Name, and for a Vec
// its label names. A name that is not a string literal is an error, since
// it could not be checked.
func scanMetrics(t *testing.T) map[string]metricInfo {
	t.Helper()
	out := map[string]metricInfo{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != repoRoot && (strings.HasPrefix(n, ".") || n == "testdata" || n == "work") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, isSel := call.Fun.(*ast.SelectorExpr)
			if !isSel {
				return true
			}
			if pkg, isIdent := sel.X.(*ast.Ident); !isIdent || pkg.Name != "prometheus" {
				return true
			}
			suffixes, ok := constructors[sel.Sel.Name]
			if !ok || len(call.Args) == 0 {
				return true
			}
			name, labels := opts(t, fset, call)
			for _, s := range suffixes {
				l := slices.Clone(labels)
				if s == "_bucket" {
					l = append(l, "le")
				}
				if s == "" && strings.HasPrefix(sel.Sel.Name, "NewSummary") {
					l = append(l, "quantile")
				}
				out[name+s] = metricInfo{labels: l}
			}
			return true
		})
		return nil
	})
	require.NoError(t, err)
	return out
}

// opts reads Name (with Namespace and Subsystem) from a constructor's
// Opts literal and the label names from a Vec's second argument.
func opts(t *testing.T, fset *token.FileSet, call *ast.CallExpr) (string, []string) {
	lit, ok := call.Args[0].(*ast.CompositeLit)
	if !ok {
		t.Fatalf("%s: metric options are not a literal; the metric check cannot read the name", fset.Position(call.Pos()))
	}
	parts := map[string]string{}
	for _, e := range lit.Elts {
		kv, ok := e.(*ast.KeyValueExpr)
		if !ok {
			continue
		}
		key, _ := kv.Key.(*ast.Ident)
		if key == nil || !slices.Contains([]string{"Namespace", "Subsystem", "Name"}, key.Name) {
			continue
		}
		s, ok := stringLit(kv.Value)
		if !ok {
			t.Fatalf("%s: metric %s is not a string literal; the metric check cannot read it", fset.Position(kv.Pos()), key.Name)
		}
		parts[key.Name] = s
	}
	name := prometheus.BuildFQName(parts["Namespace"], parts["Subsystem"], parts["Name"])
	var labels []string
	if len(call.Args) > 1 {
		if l, ok := call.Args[1].(*ast.CompositeLit); ok {
			for _, e := range l.Elts {
				if s, ok := stringLit(e); ok {
					labels = append(labels, s)
				}
			}
		}
	}
	return name, labels
}

func stringLit(e ast.Expr) (string, bool) {
	b, ok := e.(*ast.BasicLit)
	if !ok || b.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(b.Value)
	return s, err == nil
}

// runtimeMetrics are the Go runtime and process metrics floe's /metrics
// serves (cmd/floe/health.go registers the same two collectors), gathered
// from a live registry.
func runtimeMetrics(t *testing.T) map[string]metricInfo {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]metricInfo{}
	for _, mf := range mfs {
		for _, name := range seriesNames(mf.GetName(), mf.GetType().String()) {
			out[name] = metricInfo{}
		}
	}
	return out
}

// seriesNames are the series a metric family of type typ exposes.
func seriesNames(name, typ string) []string {
	switch typ {
	case "HISTOGRAM":
		return []string{name + "_bucket", name + "_sum", name + "_count"}
	case "SUMMARY":
		return []string{name, name + "_sum", name + "_count"}
	}
	return []string{name}
}

// targetLabels are labels every scraped series carries or may carry from
// the scrape configuration, not from floe.
var targetLabels = []string{"job", "instance", "namespace", "pod", "service", "container", "endpoint", "node"}

var exported struct {
	once  sync.Once
	names map[string]metricInfo
}

// exportedMetrics is every series name floe's /metrics can serve, plus up.
func exportedMetrics(t *testing.T) map[string]metricInfo {
	exported.once.Do(func() {
		m := scanMetrics(t)
		for k, v := range runtimeMetrics(t) {
			m[k] = v
		}
		m["up"] = metricInfo{} // the scrape's own health
		exported.names = m
	})
	return exported.names
}

// TestMetricScanFindsRegisteredMetrics: every metric the coordinator
// registers on a live registry is found by the source scan with its
// labels, so the scan is a sound list of floe's metrics.
func TestMetricScanFindsRegisteredMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := checkpoint.NewMetrics(reg)
	// Vectors appear in a scrape once they have a child.
	m.Changes.WithLabelValues("t", "c").Inc()
	m.CommittedRows.WithLabelValues("t").Inc()
	m.SnapshotRows.WithLabelValues("t").Inc()
	m.SchemaChanges.WithLabelValues("t").Inc()
	m.TableResets.WithLabelValues("t", "identity").Inc()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	require.Len(t, mfs, 9, "a metric was added to checkpoint.NewMetrics: give it a child above")
	scanned := scanMetrics(t)
	for _, mf := range mfs {
		for _, series := range seriesNames(mf.GetName(), mf.GetType().String()) {
			info, ok := scanned[series]
			require.True(t, ok, "%s is registered but the scan did not find it", series)
			for _, lp := range mf.GetMetric()[0].GetLabel() {
				require.Contains(t, info.labels, lp.GetName(), "%s: label", series)
			}
		}
	}
	for _, name := range []string{"floe_compaction_passes_total", "floe_checkpoint_duration_seconds_bucket"} {
		require.Contains(t, scanned, name)
	}
	require.Contains(t, exportedMetrics(t), "process_start_time_seconds")
}
