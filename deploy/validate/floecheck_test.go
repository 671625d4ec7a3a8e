package validate

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/floe-cdc/floe/deploy/testdb"
)

// floeBin is floe built by TestMain ("" with -short: the tests that run
// it are skipped).
var floeBin string

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	for _, a := range os.Args[1:] {
		if a == "-test.short" || a == "-test.short=true" {
			return m.Run()
		}
	}
	tmp, err := os.MkdirTemp("", "floe-validate-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	floeBin = filepath.Join(tmp, "floe")
	start := time.Now()
	build := exec.Command("go", "build", "-o", floeBin, "./cmd/floe")
	build.Dir = repoRoot
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build floe: %v\n%s", err, out)
		return 1
	}
	fmt.Fprintf(os.Stderr, "validate: built floe in %s\n", time.Since(start).Round(time.Second))
	return m.Run()
}

// floeAccepts runs `floe check` on a configuration and returns the
// state.dir floe resolved, or the configuration problems floe reported.
// The source is pointed at a closed local port first, so that check stops
// at once after the configuration (a deployment's hosts do not exist
// here); every ${VAR} the text references is set to a placeholder.
func floeAccepts(t *testing.T, name, text string) (string, error) {
	t.Helper()
	if floeBin == "" {
		t.Skip("-short: floe is not built")
	}
	var cfg map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(text), &cfg))
	port, err := testdb.FreePort() // free now, and nothing listens on it
	require.NoError(t, err)
	if src, ok := cfg["source"].(map[string]any); ok {
		src["hostname"], src["port"] = "127.0.0.1", port
	}
	data, err := yaml.Marshal(cfg)
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "floe.yaml")
	require.NoError(t, os.WriteFile(file, data, 0o644))
	cmd := exec.Command(floeBin, "check", "--config", file)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for _, m := range varRef.FindAllStringSubmatch(text, -1) {
		if !strings.HasPrefix(m[0], "$$") {
			cmd.Env = append(cmd.Env, m[1]+"=placeholder")
		}
	}
	out, _ := cmd.CombinedOutput()
	first, _, _ := strings.Cut(string(out), "\n")
	// floe check prints where the paths resolved only once the whole
	// configuration is valid; otherwise every problem, one per line.
	rest, ok := strings.CutPrefix(first, file+": paths: state.dir ")
	if !ok {
		return "", fmt.Errorf("%s: floe check refused the configuration:\n%s", name, out)
	}
	dir, _, _ := strings.Cut(rest, ",")
	return strings.TrimSuffix(strings.TrimSuffix(dir, ";"), " (default)"), nil
}

// deployedConfigs are the floe.yaml files the deployment files carry: the
// Kubernetes ConfigMap, what the chart renders for each example values
// file, and the systemd example.
func deployedConfigs(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, cm := range index(decodeDir(t, k8sDir)).configMaps {
		out["deploy/k8s ConfigMap "+name] = cm.Data["floe.yaml"]
	}
	for _, f := range ciValues(t) {
		for name, cm := range index(renderObjects(t, readValues(t, f))).configMaps {
			out["chart "+filepath.Base(f)+" ConfigMap "+name] = cm.Data["floe.yaml"]
		}
	}
	unit, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "systemd", "shop.yaml"))
	require.NoError(t, err)
	out["deploy/systemd/shop.yaml"] = string(unit)
	return out
}

// TestDeployedConfigsParse: floe's own parser accepts every configuration
// the deployment files carry, and each keeps its state where the
// deployment keeps a volume: /var/lib/floe/state in Kubernetes, the unit's
// StateDirectory under systemd.
func TestDeployedConfigsParse(t *testing.T) {
	configs := deployedConfigs(t)
	require.Len(t, configs, 5)
	names := make([]string, 0, len(configs))
	for n := range configs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			dir, err := floeAccepts(t, n, configs[n])
			require.NoError(t, err)
			want := "/var/lib/floe/state"
			if strings.Contains(n, "systemd") {
				want = "/var/lib/floe/shop/state"
			}
			require.Equal(t, want, dir)
		})
	}
}

// TestDeployedConfigRefused: floeAccepts does fail on a configuration floe
// refuses (a misspelt key, an unset-variable syntax error).
func TestDeployedConfigRefused(t *testing.T) {
	for name, text := range deployedConfigs(t) {
		if !strings.Contains(name, "deploy/k8s") {
			continue
		}
		_, err := floeAccepts(t, name, strings.Replace(text, "checkpoint-interval:", "checkpoint-intervall:", 1))
		require.ErrorContains(t, err, "pipeline.checkpoint-intervall: unknown key")
		_, err = floeAccepts(t, name, strings.Replace(text, "${PGPASSWORD}", "${PGPASSWORD", 1))
		require.ErrorContains(t, err, "unterminated ${")
	}
}
