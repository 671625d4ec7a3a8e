package validate

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promauto"
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

// registered are the packages (directories below the module root) whose
// metrics are read from a registry their constructor registers them on
// (registeredMetrics) instead of from their source; scanMetrics skips
// them.
var registered = map[string]func(prometheus.Registerer){
	"checkpoint": func(reg prometheus.Registerer) { checkpoint.NewMetrics(reg) },
}

// scanMetrics finds the metrics the rest of floe's non-test code
// declares: each call of a client_golang constructor in the module
// (prometheus.New…, or a New… method such as promauto's given a
// prometheus …Opts literal), its Name, and for a Vec its label names. A
// name that is not a string literal is an error, since it could not be
// checked: such a package belongs in registered.
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
			if rel, err := filepath.Rel(repoRoot, path); err == nil && registered[filepath.ToSlash(rel)] != nil {
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
			suffixes, ok := constructors[sel.Sel.Name]
			if !ok || len(call.Args) == 0 || !isPrometheus(sel.X) && !isOptsLiteral(call.Args[0]) {
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

// isPrometheus says whether e is the package name prometheus.
func isPrometheus(e ast.Expr) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == "prometheus"
}

// isOptsLiteral says whether e is a prometheus.…Opts literal.
func isOptsLiteral(e ast.Expr) bool {
	lit, ok := e.(*ast.CompositeLit)
	if !ok {
		return false
	}
	typ, ok := lit.Type.(*ast.SelectorExpr)
	return ok && isPrometheus(typ.X) && strings.HasSuffix(typ.Sel.Name, "Opts")
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
		m := floeMetrics(t)
		for k, v := range runtimeMetrics(t) {
			m[k] = v
		}
		m["up"] = metricInfo{} // the scrape's own health
		exported.names = m
	})
	return exported.names
}

// floeMetrics is every series of floe's own metrics: those of the
// registered packages, read from a registry, and those the rest declares
// (scanMetrics).
func floeMetrics(t *testing.T) map[string]metricInfo {
	m := scanMetrics(t)
	for _, newMetrics := range registered {
		for k, v := range registeredMetrics(t, newMetrics) {
			m[k] = v
		}
	}
	return m
}

// recorder is a Registerer that keeps every collector registered on it.
type recorder struct {
	*prometheus.Registry
	collectors []prometheus.Collector
}

func (r *recorder) Register(c prometheus.Collector) error {
	r.collectors = append(r.collectors, c)
	return r.Registry.Register(c)
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// registeredMetrics is every series of the metrics newMetrics registers,
// with their labels, read from a live registry. A vector is gathered only
// once it has a child, so each registered vector is given one, its
// number of labels found by asking for a child with 0, 1, 2, ... label
// values (GetMetricWithLabelValues refuses the wrong number). Every
// registered collector must then be gathered.
func registeredMetrics(t *testing.T, newMetrics func(prometheus.Registerer)) map[string]metricInfo {
	t.Helper()
	reg := &recorder{Registry: prometheus.NewRegistry()}
	newMetrics(reg)
	descs := 0
	for _, c := range reg.collectors {
		descs += describe(c)
		if child := reflect.ValueOf(c).MethodByName("GetMetricWithLabelValues"); child.IsValid() && !anyChild(child) {
			t.Fatalf("%T: no number of label values up to 8 makes a child", c)
		}
	}
	mfs, err := reg.Gather()
	require.NoError(t, err)
	require.Len(t, mfs, descs, "every metric registered is gathered")
	out := map[string]metricInfo{}
	for _, mf := range mfs {
		var labels []string
		for _, lp := range mf.GetMetric()[0].GetLabel() {
			labels = append(labels, lp.GetName())
		}
		for _, series := range seriesNames(mf.GetName(), mf.GetType().String()) {
			l := slices.Clone(labels)
			switch {
			case strings.HasSuffix(series, "_bucket") && mf.GetType().String() == "HISTOGRAM":
				l = append(l, "le")
			case series == mf.GetName() && mf.GetType().String() == "SUMMARY":
				l = append(l, "quantile")
			}
			out[series] = metricInfo{labels: l}
		}
	}
	return out
}

// describe counts the metric families c describes.
func describe(c prometheus.Collector) int {
	ch := make(chan *prometheus.Desc)
	go func() {
		c.Describe(ch)
		close(ch)
	}()
	n := 0
	for range ch {
		n++
	}
	return n
}

// anyChild calls a vector's GetMetricWithLabelValues with 0 to 8 label
// values until one makes a child.
func anyChild(getMetric reflect.Value) bool {
	var args []reflect.Value
	for range 9 {
		if out := getMetric.Call(args); out[1].IsNil() {
			return true
		}
		args = append(args, reflect.ValueOf("x"))
	}
	return false
}

// TestMetricsFound: the metrics the checks know include, with their
// labels, those declared as literals (compaction's) and those only a
// registry shows (the coordinator's, promauto's), and the runtime's.
func TestMetricsFound(t *testing.T) {
	found := exportedMetrics(t)
	for name, labels := range map[string][]string{
		"floe_compaction_passes_total":            {"outcome"},
		"floe_capture_changes_total":              {"table", "op"},
		"floe_checkpoint_table_resets_total":      {"table", "cause"},
		"floe_dead_letters_total":                 {"table"},
		"floe_checkpoint_duration_seconds_bucket": {"le"},
		"floe_checkpoint_duration_seconds_count":  nil,
		"floe_capture_source_lag_seconds":         nil,
		"process_start_time_seconds":              nil,
	} {
		require.Contains(t, found, name)
		require.ElementsMatch(t, labels, found[name].labels, "%s: labels", name)
	}
}

// TestRegisteredMetricsNeedNoList: a metric added to a registry is found
// with its labels without being named anywhere, whatever its kind; a
// vector with no child would otherwise be missing from a scrape.
func TestRegisteredMetricsNeedNoList(t *testing.T) {
	got := registeredMetrics(t, func(reg prometheus.Registerer) {
		f := promauto.With(reg)
		f.NewCounterVec(prometheus.CounterOpts{Name: "a_total"}, []string{"x", "y", "z"})
		f.NewGaugeVec(prometheus.GaugeOpts{Name: "b"}, []string{"x"})
		f.NewHistogramVec(prometheus.HistogramOpts{Name: "c_seconds"}, []string{"x", "y"})
		f.NewSummary(prometheus.SummaryOpts{Name: "d", Objectives: map[float64]float64{0.5: 0.05}})
		f.NewCounter(prometheus.CounterOpts{Name: "e_total"})
	})
	want := map[string][]string{
		"a_total": {"x", "y", "z"}, "b": {"x"},
		"c_seconds_bucket": {"x", "y", "le"}, "c_seconds_sum": {"x", "y"}, "c_seconds_count": {"x", "y"},
		"d": {"quantile"}, "d_sum": nil, "d_count": nil, "e_total": nil,
	}
	require.Len(t, got, len(want))
	for name, labels := range want {
		require.Contains(t, got, name)
		require.ElementsMatch(t, labels, got[name].labels, "%s: labels", name)
	}
}
