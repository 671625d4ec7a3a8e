package capturetest

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/capture"
)

// Main runs a source package's tests (m.Run) against a server that start
// brings up within 5 minutes, unless the tests run with -short; the stop
// it returns is called after them. A server that fails to start ends the
// run with exit code 1. Call it from TestMain after flag.Parse and pass
// its result to os.Exit.
func Main(m *testing.M, server string, start func(ctx context.Context) (stop func() error, err error)) int {
	if !testing.Short() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		stop, err := start(ctx)
		cancel()
		if err != nil {
			fmt.Fprintf(os.Stderr, "start %s: %v\n", server, err)
			return 1
		}
		defer stop()
	}
	return m.Run()
}

// Open returns the source newSource builds from cfg (a backend's New),
// closed at t's cleanup; an error fails t.
func Open[C any, S capture.Source](t *testing.T, newSource func(C) (S, error), cfg C) S {
	t.Helper()
	s, err := newSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Context is a context bounded by the test's life (and 3 minutes).
func Context(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

var nonAlnum = regexp.MustCompile(`[^A-Za-z0-9]+`)

// UniqueName names test t's database: the end (at most maxBase bytes) of
// the test's name in lower case, other characters as "_", then "_n"; n,
// unique per test, keeps the names apart however they are shortened.
func UniqueName(t *testing.T, n int64, maxBase int) string {
	base := strings.ToLower(nonAlnum.ReplaceAllString(t.Name(), "_"))
	if len(base) > maxBase {
		base = base[len(base)-maxBase:]
	}
	return fmt.Sprintf("%s_%d", strings.TrimLeft(base, "_"), n)
}

// Golden compares got with the golden file at path, first rewriting the
// file with got when update is set (the package's -update flag).
func Golden(t *testing.T, path, got string, update bool) {
	t.Helper()
	if update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s changed:\n got %q\nwant %q", path, got, want)
	}
}
