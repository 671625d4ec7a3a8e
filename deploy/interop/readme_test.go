package interop

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	readmeBegin = "<!-- type-fidelity:begin (generated from deploy/interop/testdata/type-fidelity.md) -->"
	readmeEnd   = "<!-- type-fidelity:end -->"
)

// TestREADMETypeFidelity keeps the README's type-fidelity tables equal to
// the ones TestTypeFidelity and TestTypeFidelityMySQL generate; -update
// copies them into the README.
func TestREADMETypeFidelity(t *testing.T) {
	gen, err := os.ReadFile(filepath.Join("testdata", "type-fidelity.md"))
	if err != nil {
		t.Fatal(err)
	}
	// Every table of the file (PostgreSQL, MySQL/MariaDB), in order, each
	// kept apart by a blank line so that Markdown renders them separately.
	var tables []string
	inTable := false
	for _, line := range strings.Split(string(gen), "\n") {
		isRow := strings.HasPrefix(line, "|")
		switch {
		case isRow && inTable:
			tables[len(tables)-1] += "\n" + line
		case isRow:
			tables = append(tables, line)
		}
		inTable = isRow
	}
	if len(tables) == 0 || strings.Count(tables[0], "\n") < 2 {
		t.Fatalf("testdata/type-fidelity.md holds no table")
	}
	want := readmeBegin + "\n" + strings.Join(tables, "\n\n") + "\n" + readmeEnd
	path := filepath.Join("..", "..", "README.md")
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	i, j := strings.Index(s, readmeBegin), strings.Index(s, readmeEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q ... %q section", readmeBegin, readmeEnd)
	}
	got := s[i : j+len(readmeEnd)]
	if got == want {
		return
	}
	if *updateFidelity {
		if err := os.WriteFile(path, []byte(s[:i]+want+s[j+len(readmeEnd):]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("README.md's type-fidelity table differs from testdata/type-fidelity.md; run go test ./deploy/interop -run TestREADMETypeFidelity -args -update")
}
