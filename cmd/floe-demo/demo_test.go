package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/deploy/e2e"
)

// TestDemo runs `make demo`'s program end to end against a freshly built
// floe: the pipeline catches up and stops cleanly, every table verifies
// before and after compaction, and rows are read back from Iceberg.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo: needs PostgreSQL")
	}
	bin, err := e2e.BuildFloe(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := run(context.Background(), &out, options{floe: bin, duration: 5 * time.Second}); err != nil {
		t.Fatalf("demo: %v\noutput:\n%s", err, out.String())
	}
	got := out.String()
	t.Logf("demo output:\n%s", got)
	for _, want := range []string{"floe caught up with the source and stopped cleanly", "floe verify after compaction:",
		"shop.orders (first rows read back from Iceberg):", "shop.customers (first rows read back from Iceberg):", "] done"} {
		if !strings.Contains(got, want) {
			t.Errorf("the demo's output has no %q", want)
		}
	}
	verified := 0
	for _, line := range strings.Split(got, "\n") {
		if strings.HasPrefix(line, "OK ") {
			verified++
		}
	}
	if verified != 6 {
		t.Errorf("%d tables verified OK, want 3 before and 3 after compaction", verified)
	}
}

// TestDemoNeedsFloe: without a floe binary the demo says how to get one
// before it starts anything.
func TestDemoNeedsFloe(t *testing.T) {
	err := run(context.Background(), &strings.Builder{}, options{floe: t.TempDir() + "/floe"})
	if err == nil || !strings.Contains(err.Error(), "run make build, or name one with -floe") {
		t.Fatalf("demo without floe: %v", err)
	}
}
