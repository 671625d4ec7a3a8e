package interop

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fidelitySections are the sections of testdata/type-fidelity.md in file
// order, each written by one test: "postgres" by TestTypeFidelity,
// "mysql" by TestTypeFidelityMySQL. A section starts with the line
// fidelityMarker(name) and runs to the next marker or the end.
var fidelitySections = []string{"postgres", "mysql"}

func fidelityMarker(name string) string { return "<!-- fidelity-section: " + name + " -->" }

// parseFidelitySections splits the file's text into its sections, each
// without trailing newlines. Text before the first marker belongs to the
// first section (the file's layout before sections existed).
func parseFidelitySections(text string) map[string]string {
	out := map[string]string{}
	cur := fidelitySections[0]
	var b strings.Builder
	flush := func() {
		if text := strings.TrimRight(b.String(), "\n"); text != "" {
			out[cur] = text
		}
		b.Reset()
	}
	for _, line := range strings.SplitAfter(text, "\n") {
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), "<!-- fidelity-section: "); ok && strings.HasSuffix(name, " -->") {
			flush()
			cur = strings.TrimSuffix(name, " -->")
			continue
		}
		b.WriteString(line)
	}
	flush()
	return out
}

// checkFidelitySection compares section name of testdata/type-fidelity.md
// with body (the generated markdown), or with -update rewrites that
// section and keeps the others.
func checkFidelitySection(t *testing.T, name, body string) {
	t.Helper()
	golden := filepath.Join("testdata", "type-fidelity.md")
	old, err := os.ReadFile(golden)
	if err != nil && !(errors.Is(err, fs.ErrNotExist) && *updateFidelity) {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	sections := parseFidelitySections(string(old))
	if !*updateFidelity {
		if sections[name] != strings.TrimRight(body, "\n") {
			t.Errorf("type fidelity results (%s) changed; new section:\n%s\n(run with -update to accept)", name, body)
		}
		return
	}
	sections[name] = strings.TrimRight(body, "\n")
	var out strings.Builder
	for _, s := range fidelitySections {
		text, ok := sections[s]
		if !ok {
			continue
		}
		if out.Len() > 0 {
			out.WriteString("\n")
		}
		out.WriteString(fidelityMarker(s) + "\n" + text + "\n")
	}
	if err := os.WriteFile(golden, []byte(out.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
