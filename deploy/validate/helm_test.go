package validate

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var chartDir = filepath.Join(repoRoot, "deploy", "helm", "floe")

// ciValues are the chart's example values files (ci/*-values.yaml).
func ciValues(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(chartDir, "ci", "*-values.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	return files
}

func readValues(t *testing.T, file string) map[string]any {
	t.Helper()
	v, err := common.ReadValuesFile(file)
	require.NoError(t, err)
	return v.AsMap()
}

// valuesText parses values written in a test.
func valuesText(t *testing.T, text string) map[string]any {
	t.Helper()
	v, err := common.ReadValues([]byte(text))
	require.NoError(t, err)
	return v.AsMap()
}

// render renders the chart as `helm install floe deploy/helm/floe -n cdc`
// would, with the values schema enforced, and returns the rendered files.
func render(vals map[string]any) (map[string]string, error) {
	chrt, err := loader.Load(chartDir)
	if err != nil {
		return nil, err
	}
	rv, err := util.ToRenderValuesWithSchemaValidation(chrt, vals,
		common.ReleaseOptions{Name: "floe", Namespace: "cdc", IsInstall: true}, nil, false)
	if err != nil {
		return nil, err
	}
	return engine.Render(chrt, rv)
}

// decodeRendered strictly decodes every rendered manifest (NOTES.txt is
// text for the user, not a manifest).
func decodeRendered(files map[string]string) ([]object, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		if strings.HasSuffix(n, ".yaml") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var all []object
	for _, n := range names {
		objs, err := decodeStream(n, []byte(files[n]))
		if err != nil {
			return nil, err
		}
		all = append(all, objs...)
	}
	return all, nil
}

func renderObjects(t *testing.T, vals map[string]any) []object {
	t.Helper()
	files, err := render(vals)
	require.NoError(t, err)
	objs, err := decodeRendered(files)
	require.NoError(t, err)
	return objs
}

// externalSecrets are the Secrets the example values name as
// existingSecret, made by the operator outside the chart.
var externalSecrets = []object{{source: "operator", obj: &corev1.Secret{
	ObjectMeta: metav1.ObjectMeta{Name: "floe-orders-credentials"},
	StringData: map[string]string{"PGPASSWORD": "x", "REST_TOKEN": "x"},
}}}

// TestChartRenders: with each example values file, every rendered document
// decodes strictly and each pipeline is a valid shard.
func TestChartRenders(t *testing.T) {
	for _, f := range ciValues(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			objs := renderObjects(t, readValues(t, f))
			failIf(t, checkPipelines(append(objs, externalSecrets...)))
		})
	}
}

// TestChartPipelines: two pipelines become two independent shards, each
// with its own overrides, the chart's pinned settings win over the
// config's, and each pod restarts when its configuration changes.
func TestChartPipelines(t *testing.T) {
	objs := renderObjects(t, readValues(t, filepath.Join(chartDir, "ci", "two-pipelines-values.yaml")))
	s := index(objs)
	require.Len(t, s.statefulSets, 2)
	byName := map[string]*appsv1.StatefulSet{}
	for _, sts := range s.statefulSets {
		byName[sts.Name] = sts
	}
	orders, billing := byName["floe-orders"], byName["floe-billing"]
	require.NotNil(t, orders)
	require.NotNil(t, billing)
	require.Equal(t, "floe-orders-credentials", orders.Spec.Template.Spec.Containers[0].EnvFrom[0].SecretRef.Name)
	require.Equal(t, "floe-billing", billing.Spec.Template.Spec.Containers[0].EnvFrom[0].SecretRef.Name)
	require.NotContains(t, s.secrets, "floe-orders", "no Secret is made for a pipeline with existingSecret")
	require.Equal(t, "change-me", s.secrets["floe-billing"].StringData["MYSQL_PASSWORD"])

	bc := billing.Spec.Template.Spec.Containers[0]
	require.True(t, bc.Resources.Limits.Memory().Equal(quantity("3Gi")))
	require.Equal(t, "2560MiB", bc.Env[0].Value)
	require.Equal(t, "TZ", bc.Env[1].Name)
	pvc := billing.Spec.VolumeClaimTemplates[0].Spec
	require.Equal(t, "fast-ssd", *pvc.StorageClassName)
	require.True(t, pvc.Resources.Requests.Storage().Equal(quantity("100Gi")))
	oc := orders.Spec.Template.Spec.Containers[0]
	require.True(t, oc.Resources.Limits.Memory().Equal(quantity("1536Mi")), "the defaults apply to the other pipeline")
	require.Equal(t, "registry.example.com/floe:0.1.0", oc.Image, "the tag defaults to appVersion")

	var cfg map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(s.configMaps["floe-orders"].Data["floe.yaml"]), &cfg))
	require.Equal(t, "orders", lookup(cfg, "pipeline", "name"), "pipeline.name defaults to the entry's name")
	require.Equal(t, "/var/lib/floe/state", lookup(cfg, "state", "dir"))

	// A config that sets the pinned keys is overridden, and the change of
	// configuration changes the pod template (a rollout).
	vals := readValues(t, filepath.Join(chartDir, "ci", "shop-values.yaml"))
	before := renderObjects(t, vals)
	p := vals["pipelines"].([]any)[0].(map[string]any)["config"].(map[string]any)
	p["server"] = map[string]any{"metrics-address": "127.0.0.1:9999", "ready-max-lag": "1m"}
	p["state"] = map[string]any{"dir": "/elsewhere"}
	after := index(renderObjects(t, vals))
	require.NoError(t, yaml.Unmarshal([]byte(after.configMaps["floe-shop"].Data["floe.yaml"]), &cfg))
	require.Equal(t, "0.0.0.0:9464", lookup(cfg, "server", "metrics-address"))
	require.Equal(t, "1m", lookup(cfg, "server", "ready-max-lag"))
	require.Equal(t, "/var/lib/floe/state", lookup(cfg, "state", "dir"))
	require.NotEqual(t, index(before).statefulSets[0].Spec.Template.Annotations["checksum/config"],
		after.statefulSets[0].Spec.Template.Annotations["checksum/config"])
}

// TestChartMatchesManifests: the chart with ci/shop-values.yaml deploys
// what deploy/k8s holds: the same configuration, container, pod and volume
// settings (names and labels aside), so the two cannot drift apart.
func TestChartMatchesManifests(t *testing.T) {
	chart := index(renderObjects(t, readValues(t, filepath.Join(chartDir, "ci", "shop-values.yaml"))))
	plain := index(decodeDir(t, k8sDir))
	require.Len(t, chart.statefulSets, 1)
	require.Len(t, plain.statefulSets, 1)

	var a, b map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(chart.configMaps["floe-shop"].Data["floe.yaml"]), &a))
	require.NoError(t, yaml.Unmarshal([]byte(plain.configMaps["floe-shop"].Data["floe.yaml"]), &b))
	require.Equal(t, b, a, "floe.yaml")
	require.Equal(t, plain.secrets["floe-shop"].StringData, chart.secrets["floe-shop"].StringData)

	cs, ps := chart.statefulSets[0].Spec, plain.statefulSets[0].Spec
	require.Equal(t, ps.VolumeClaimTemplates[0].Spec, cs.VolumeClaimTemplates[0].Spec)
	cp, pp := cs.Template.Spec, ps.Template.Spec
	require.Equal(t, pp.SecurityContext, cp.SecurityContext)
	require.Equal(t, *pp.TerminationGracePeriodSeconds, *cp.TerminationGracePeriodSeconds)
	require.Equal(t, pp.Volumes, cp.Volumes)
	require.Equal(t, pp.ServiceAccountName, cp.ServiceAccountName)
	cc, pc := cp.Containers[0], pp.Containers[0]
	for _, c := range []*corev1.Container{&cc, &pc} {
		c.EnvFrom = nil // the Secret's name; its keys were compared above
	}
	require.Equal(t, pc, cc)
}

// TestChartLint: helm lint passes every example values file with no
// warning.
func TestChartLint(t *testing.T) {
	for _, f := range ciValues(t) {
		res := lint.RunAll(chartDir, readValues(t, f), "cdc")
		for _, m := range res.Messages {
			require.LessOrEqual(t, m.Severity, support.InfoSev, "%s: %s", filepath.Base(f), m.Error())
		}
	}
}

// TestChartRefuses: misspelt or missing values fail the render with a
// message naming the key, and a typo inside a free-form Kubernetes value
// fails the strict decoding of what it renders.
func TestChartRefuses(t *testing.T) {
	shop, err := os.ReadFile(filepath.Join(chartDir, "ci", "shop-values.yaml"))
	require.NoError(t, err)
	for _, tc := range []struct {
		name, values, want string
	}{
		{"misspelt top-level key", string(shop) + "resource: {requests: {cpu: 2}}\n", "additional properties 'resource' not allowed"},
		{"misspelt pipeline key", strings.Replace(string(shop), "secretEnv:", "secretEnvs:", 1), "additional properties 'secretEnvs' not allowed"},
		{"pipeline without config", "image: {repository: r}\npipelines: [{name: a}]\n", "missing property 'config'"},
		{"no pipeline", "image: {repository: r}\npipelines: []\n", "pipelines: name at least one pipeline"},
		{"bad pipeline name", strings.Replace(string(shop), "name: shop", "name: Shop_1", 1), "does not match pattern"},
		{"bad quantity", string(shop) + "persistence: {size: 20 gigs}\n", "does not match pattern"},
		{"name too long", strings.Replace(string(shop), "name: shop", "name: shopshopshop", 1) + "nameOverride: " + strings.Repeat("x", 40) + "\n",
			"longer than 52 characters"},
		{"typo in securityContext", string(shop) + "securityContext: {readOnlyRootFilesytem: true}\n",
			`unknown field "spec.template.spec.containers[0].securityContext.readOnlyRootFilesytem"`},
		{"typo in a toleration", string(shop) + "tolerations: [{key: a, operater: Exists}]\n",
			`unknown field "spec.template.spec.tolerations[0].operater"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files, err := render(valuesText(t, tc.values))
			if err == nil {
				_, err = decodeRendered(files)
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// TestChartValuesDocumented: every key of values.yaml (down to the level
// the README table describes) has a row in the chart's README.
func TestChartValuesDocumented(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(chartDir, "README.md"))
	require.NoError(t, err)
	vals := readValues(t, filepath.Join(chartDir, "values.yaml"))
	// Keys whose children are free-form Kubernetes fields are documented
	// as a whole.
	whole := map[string]bool{"livenessProbe": true, "readinessProbe": true, "podSecurityContext": true,
		"securityContext": true, "metrics.serviceAnnotations": true, "serviceAccount.annotations": true}
	var missing []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			key := prefix + k
			if sub, ok := v.(map[string]any); ok && len(sub) > 0 && !whole[key] {
				walk(key+".", sub)
				continue
			}
			if !strings.Contains(string(readme), "| `"+key+"` |") {
				missing = append(missing, key)
			}
		}
	}
	walk("", vals)
	sort.Strings(missing)
	require.Empty(t, missing, "values without a row in deploy/helm/floe/README.md")
}
