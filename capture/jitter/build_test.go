package jitter

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestProductionBuildHasNoJitter builds a program that passes a seam
// without and with the floestress tag: only the tagged build links the
// code that parses FLOE_JITTER and sleeps; the production build's At is
// a nil check on a hook nothing can set.
func TestProductionBuildHasNoJitter(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two programs")
	}
	dir := t.TempDir()
	symbols := func(tags ...string) string {
		t.Helper()
		bin := filepath.Join(dir, "prog"+strings.Join(tags, ""))
		args := append([]string{"build", "-o", bin}, tags...)
		if out, err := exec.Command("go", append(args, "./testdata/prog")...).CombinedOutput(); err != nil {
			t.Fatalf("go build %v: %v\n%s", tags, err, out)
		}
		out, err := exec.Command("go", "tool", "nm", bin).CombinedOutput()
		if err != nil {
			t.Fatalf("go tool nm: %v\n%s", err, out)
		}
		return string(out)
	}
	const sleeper = "capture/jitter.(*jitterer).at"
	const parser = "capture/jitter.parse"
	if prod := symbols(); strings.Contains(prod, sleeper) || strings.Contains(prod, parser) {
		t.Fatalf("the production build links the jitter code (%s or %s)", sleeper, parser)
	}
	if stress := symbols("-tags", "floestress"); !strings.Contains(stress, sleeper) || !strings.Contains(stress, parser) {
		t.Fatalf("the floestress build lacks the jitter code (%s, %s): this test checks nothing", sleeper, parser)
	}
}
