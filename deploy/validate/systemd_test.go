package validate

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var unitFile = filepath.Join(repoRoot, "deploy", "systemd", "floe@.service")

// newerKeys are unit settings older systemd versions do not know, with the
// version that added them; the unit documents what happens without them.
var newerKeys = map[string]int{"RestartSteps": 254, "RestartMaxDelaySec": 254}

// analyzeRoot lays out a root directory for systemd-analyze holding the
// machine's unit library, the unit under test and an executable at the
// unit's ExecStart path.
func analyzeRoot(t *testing.T, unit []byte) string {
	t.Helper()
	root := t.TempDir()
	lib := filepath.Join(root, "usr", "lib", "systemd")
	require.NoError(t, os.MkdirAll(lib, 0o755))
	src := "/usr/lib/systemd/system"
	if _, err := os.Stat(src); err != nil {
		src = "/lib/systemd/system"
	}
	out, err := exec.Command("cp", "-r", src, filepath.Join(lib, "system")).CombinedOutput()
	require.NoError(t, err, "%s", out)
	etc := filepath.Join(root, "etc", "systemd", "system")
	require.NoError(t, os.MkdirAll(etc, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(etc, "floe@.service"), unit, 0o644))
	bin := filepath.Join(root, "usr", "local", "bin")
	require.NoError(t, os.MkdirAll(bin, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(bin, "floe"), []byte("#!/bin/true\n"), 0o755))
	return root
}

func systemdVersion(t *testing.T) int {
	t.Helper()
	out, err := exec.Command("systemd-analyze", "--version").Output()
	require.NoError(t, err)
	m := regexp.MustCompile(`^systemd (\d+)`).FindSubmatch(out)
	require.NotNil(t, m, "systemd-analyze --version: %s", out)
	v, _ := strconv.Atoi(string(m[1]))
	return v
}

// verifyUnit runs systemd-analyze verify on the unit as instance shop and
// returns what it reports, less the keys this systemd is too old to know.
func verifyUnit(t *testing.T, unit []byte) []string {
	t.Helper()
	root := analyzeRoot(t, unit)
	out, _ := exec.Command("systemd-analyze", "verify", "--man=no", "--generators=no", "--root="+root, "floe@shop.service").CombinedOutput()
	version := systemdVersion(t)
	var problems []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		if m := regexp.MustCompile(`Unknown key '(\w+)'`).FindStringSubmatch(line); m != nil && newerKeys[m[1]] > version {
			continue
		}
		problems = append(problems, line)
	}
	return problems
}

func needSystemdAnalyze(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze is not installed (Debian package systemd)")
	}
}

// TestSystemdUnit: systemd-analyze verify finds nothing wrong with the unit,
// systemd-analyze security rates its sandbox at most 2.0 ("OK", on a scale
// where 10 is unprotected), and it runs floe run as the unprivileged user
// with the instance's config, env file and state directory.
func TestSystemdUnit(t *testing.T) {
	needSystemdAnalyze(t)
	unit, err := os.ReadFile(unitFile)
	require.NoError(t, err)
	failIf(t, verifyUnit(t, unit))

	root := analyzeRoot(t, unit)
	out, err := exec.Command("systemd-analyze", "security", "--offline=yes", "--root="+root, "floe@shop.service").CombinedOutput()
	require.NoError(t, err, "%s", out)
	m := regexp.MustCompile(`Overall exposure level for floe@shop.service: (\d+\.\d+)`).FindSubmatch(out)
	require.NotNil(t, m, "%s", out)
	exposure, _ := strconv.ParseFloat(string(m[1]), 64)
	require.LessOrEqual(t, exposure, 2.0, "%s", out)

	text := string(unit)
	for _, want := range []string{
		"ExecStart=/usr/local/bin/floe run --config /etc/floe/%i.yaml\n",
		"EnvironmentFile=/etc/floe/%i.env\n", "User=floe\n", "StateDirectory=floe/%i\n",
		"Restart=on-failure\n", "NoNewPrivileges=yes\n", "ProtectSystem=strict\n",
	} {
		require.Contains(t, text, want)
	}
}

// TestSystemdUnitRefuses: a misspelt key and a bad value are reported.
func TestSystemdUnitRefuses(t *testing.T) {
	needSystemdAnalyze(t)
	unit, err := os.ReadFile(unitFile)
	require.NoError(t, err)
	for _, tc := range []struct{ name, old, new, want string }{
		{"misspelt key", "Restart=on-failure", "Restrat=on-failure", "Unknown key 'Restrat'"},
		{"misspelt section", "[Service]", "[Servce]", "Servce"},
		{"bad value", "ProtectSystem=strict", "ProtectSystem=very", "protect system value, ignoring: very"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Contains(t, string(unit), tc.old)
			problems := verifyUnit(t, []byte(strings.Replace(string(unit), tc.old, tc.new, 1)))
			require.NotEmpty(t, problems)
			require.Contains(t, strings.Join(problems, "\n"), tc.want)
		})
	}
}
