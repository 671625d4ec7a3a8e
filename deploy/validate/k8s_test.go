package validate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
)

var k8sDir = filepath.Join(repoRoot, "deploy", "k8s")

// TestManifests: every document in deploy/k8s decodes strictly into the
// Kubernetes API types, and the objects form a valid pipeline shard.
func TestManifests(t *testing.T) {
	objs := decodeDir(t, k8sDir)
	require.Len(t, objs, 5, "ServiceAccount, Secret, ConfigMap, Service, StatefulSet")
	failIf(t, checkPipelines(objs))

	var sts *appsv1.StatefulSet
	for _, o := range objs {
		if s, ok := o.obj.(*appsv1.StatefulSet); ok {
			sts = s
		}
	}
	res := sts.Spec.Template.Spec.Containers[0].Resources
	require.True(t, res.Requests.Memory().Equal(quantity("1Gi")))
	require.True(t, res.Limits.Memory().Equal(quantity("1536Mi")))
}

// manifestsWith decodes deploy/k8s with one file's text replaced.
func manifestsWith(t *testing.T, file, old, new string) ([]object, error) {
	t.Helper()
	var all []object
	names, err := filepath.Glob(filepath.Join(k8sDir, "*.yaml"))
	require.NoError(t, err)
	for _, n := range names {
		data, err := os.ReadFile(n)
		require.NoError(t, err)
		if filepath.Base(n) == file {
			require.Contains(t, string(data), old, "the mutation must apply")
			data = []byte(strings.Replace(string(data), old, new, 1))
		}
		objs, err := decodeStream(filepath.Base(n), data)
		if err != nil {
			return nil, err
		}
		all = append(all, objs...)
	}
	return all, nil
}

// TestManifestTypos: a misspelt field, a wrong type, a duplicate key and an
// unknown kind fail the strict decoding, naming the field.
func TestManifestTypos(t *testing.T) {
	for _, tc := range []struct {
		name, file, old, new, want string
	}{
		{"misspelt field", "statefulset.yaml", "  replicas: 1\n", "  replica: 1\n", `unknown field "spec.replica"`},
		{"misspelt nested field", "statefulset.yaml", "path: /healthz", "paht: /healthz",
			`unknown field "spec.template.spec.containers[0].livenessProbe.httpGet.paht"`},
		{"wrong type", "statefulset.yaml", "  replicas: 1\n", "  replicas: one\n", "replicas"},
		{"duplicate key", "service.yaml", "  clusterIP: None\n", "  clusterIP: None\n  clusterIP: None\n", `key "clusterIP" already set in map`},
		{"bad quantity", "statefulset.yaml", "memory: 1536Mi", "memory: 1.5 GB", "quantities must match"},
		{"unknown kind", "serviceaccount.yaml", "kind: ServiceAccount", "kind: ServiceAcount", `no kind "ServiceAcount" is registered`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := manifestsWith(t, tc.file, tc.old, tc.new)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// TestManifestMistakes: manifests that decode but would not run Floe
// correctly are reported with the cause.
func TestManifestMistakes(t *testing.T) {
	for _, tc := range []struct {
		name, file, old, new, want string
	}{
		{"two replicas", "statefulset.yaml", "  replicas: 1\n", "  replicas: 2\n", "spec.replicas must be 1"},
		{"metrics on loopback", "configmap.yaml", "metrics-address: 0.0.0.0:9464", "metrics-address: 127.0.0.1:9464",
			"listens on loopback only"},
		{"metrics on another port", "configmap.yaml", "metrics-address: 0.0.0.0:9464", "metrics-address: 0.0.0.0:9000",
			"listens on port 9000, but the container's metrics port is 9464"},
		{"state off the volume", "configmap.yaml", "dir: /var/lib/floe/state", "dir: /tmp/state",
			`state.dir "/tmp/state" is not on a volumeClaimTemplate's mount`},
		{"secret key missing", "secret.yaml", "  CATALOG_PASSWORD: change-me", "  CATALOG_PASSWRD: change-me",
			"references ${CATALOG_PASSWORD}, which neither env nor an envFrom Secret supplies"},
		{"readiness on healthz", "statefulset.yaml", "path: /readyz", "path: /healthz", "readinessProbe gets /healthz"},
		{"root", "statefulset.yaml", "runAsUser: 65532", "runAsUser: 0", "non-zero runAsUser"},
		{"writable root fs", "statefulset.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", "readOnlyRootFilesystem: true"},
		{"GOMEMLIMIT over the limit", "statefulset.yaml", "value: 1280MiB", "value: 2GiB", "GOMEMLIMIT 2GiB must stay below"},
		{"selector mismatch", "service.yaml", "    app.kubernetes.io/instance: shop\n  ports:", "    app.kubernetes.io/instance: shops\n  ports:",
			"does not select the pods"},
		{"bad name", "configmap.yaml", "name: floe-shop", "name: Floe_Shop", "metadata.name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := manifestsWith(t, tc.file, tc.old, tc.new)
			require.NoError(t, err)
			problems := checkPipelines(objs)
			require.NotEmpty(t, problems)
			require.Contains(t, strings.Join(problems, "\n"), tc.want)
		})
	}
}
