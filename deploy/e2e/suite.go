package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/floe-cdc/floe/capture/jitter"
	"github.com/floe-cdc/floe/deploy/testdb"
)

// Suite is what the end-to-end tests of one package share: the floe
// binary under test and one PostgreSQL cluster, set up once by Main.
type Suite struct {
	// Bin is the floe binary (BuildFloe).
	Bin string
	// PG is the shared cluster (wal_level=logical).
	PG *testdb.Postgres
	// Err is why the setup failed; Need fails every test with it.
	Err error
	// Dir is a directory removed after the tests.
	Dir string
}

// Server is one more server a package's tests share (S3, say): Setup
// starts it after the cluster, and the teardown calls the stop it
// returns.
type Server func(ctx context.Context) (stop func() error, err error)

// Setup is for a package's TestMain, before m.Run: it parses the flags
// and, unless the tests run with -short, builds floe, starts the cluster
// with pgOpts and then each of more. The teardown it returns stops them
// all and removes Dir; call it after m.Run. A setup that fails does not
// end the run: it is kept in s.Err, so that each test needing the servers
// fails with it (Need).
func (s *Suite) Setup(pgOpts testdb.PostgresOptions, more ...Server) (teardown func()) {
	flag.Parse()
	var stops []func() error
	teardown = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			_ = stops[i]()
		}
	}
	if testing.Short() {
		return teardown
	}
	if s.Dir, s.Err = os.MkdirTemp("", "floe-e2e-"); s.Err != nil {
		return teardown
	}
	stops = append(stops, func() error { return os.RemoveAll(s.Dir) })
	start := time.Now()
	if s.Bin, s.Err = BuildFloe(s.Dir); s.Err != nil {
		return teardown
	}
	fmt.Fprintf(os.Stderr, "e2e: floe ready in %s\n", time.Since(start).Round(time.Second))
	ctx := context.Background()
	if s.PG, s.Err = testdb.StartPostgres(ctx, pgOpts); s.Err != nil {
		return teardown
	}
	stops = append(stops, s.PG.Stop)
	for _, start := range more {
		stop, err := start(ctx)
		if err != nil {
			s.Err = err
			break
		}
		stops = append(stops, stop)
	}
	return teardown
}

// Need skips t in -short mode (what names the servers it needs) and
// fails it when the setup failed.
func (s *Suite) Need(t *testing.T, what string) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs " + what)
	}
	if s.Err != nil {
		t.Fatalf("test setup: %v", s.Err)
	}
}

// BuildFloe builds the floe binary of this checkout into dir, with the
// floestress tag when the test binary has it (make stress: the jitter
// hook then lives in floe too), and statically (CGO off) as make build
// does. When FLOE_TEST_BIN names a binary already built (make stress
// builds it once for all its runs), that one is returned instead.
func BuildFloe(dir string) (string, error) {
	if bin := os.Getenv("FLOE_TEST_BIN"); bin != "" {
		return bin, nil
	}
	root, err := testdb.RepoRoot()
	if err != nil {
		return "", fmt.Errorf("build floe: %w", err)
	}
	bin := filepath.Join(dir, "floe")
	args := []string{"build", "-o", bin}
	if jitter.Built {
		args = append(args, "-tags", "floestress")
	}
	build := exec.Command("go", append(args, "./cmd/floe")...)
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build floe: %v\n%s", err, out)
	}
	return bin, nil
}
