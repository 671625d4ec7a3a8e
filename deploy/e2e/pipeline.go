package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/deploy/testdb"
)

// Pipeline is one test's floe pipeline as a user runs it: the floe
// binary run in a directory that holds its config, log and state. Its
// methods fail the test (T) instead of returning errors. The zero values
// of Config and Log name nothing: set them before running floe.
type Pipeline struct {
	T   *testing.T
	Bin string
	// Dir is floe's working directory (see TestDir).
	Dir string
	// Config is the config file's path (WriteConfig writes it).
	Config string
	// Log is the file a started floe run appends its output to.
	Log string
	// Env is added to floe's environment: the secrets the config
	// references as ${VAR}.
	Env []string
}

// NewPipeline is a pipeline in a fresh TestDir, its config at
// floe.yaml and its log at floe.log there.
func NewPipeline(t *testing.T, bin string, env ...string) *Pipeline {
	t.Helper()
	dir := TestDir(t)
	return &Pipeline{T: t, Bin: bin, Dir: dir, Config: filepath.Join(dir, "floe.yaml"), Log: filepath.Join(dir, "floe.log"), Env: env}
}

// Cmd prepares a floe invocation in Dir with Env.
func (p *Pipeline) Cmd(args ...string) *exec.Cmd {
	cmd := exec.Command(p.Bin, args...)
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.Dir = p.Dir
	return cmd
}

// Start launches `floe run --config Config`, its output appended to Log;
// the process is killed at the test's cleanup if still running.
func (p *Pipeline) Start() *testdb.Process {
	p.T.Helper()
	r, err := testdb.StartLogged(p.Cmd("run", "--config", p.Config), p.Log)
	if err != nil {
		p.T.Fatal(err)
	}
	p.T.Cleanup(func() {
		if p.T.Failed() {
			// Before TestDir keeps the log (cleanups run last in, first out).
			r.DumpStacks(5 * time.Second)
		}
		r.Kill()
	})
	return r
}

// Stop sends SIGTERM to a run and expects a clean exit within 2 minutes
// (the final checkpoint commits).
func (p *Pipeline) Stop(r *testdb.Process) {
	p.T.Helper()
	if err := r.Stop(2 * time.Minute); err != nil {
		p.T.Fatalf("floe run %v; log:\n%s", err, p.Tail(40))
	}
}

// Run runs a floe verb to its end and returns its combined output and
// exit code. A verb still running after limit (0: no limit) is killed and
// fails the test, as does one that cannot be run at all.
func (p *Pipeline) Run(limit time.Duration, args ...string) (string, int) {
	p.T.Helper()
	cmd := p.Cmd(args...)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	var timeout <-chan time.Time
	if limit > 0 {
		timer := time.NewTimer(limit)
		defer timer.Stop()
		timeout = timer.C
	}
	select {
	case <-done:
	case <-timeout:
		_ = cmd.Process.Kill()
		<-done
		p.T.Fatalf("floe %v did not finish within %v", args, limit)
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	default:
		p.T.Fatalf("floe %v: %v", args, err)
		return "", -1
	}
}

// Tail returns the last n lines of Log.
func (p *Pipeline) Tail(n int) string { return TailFile(p.Log, n) }

// WaitLog waits until Log holds text, failing the test when the run
// exits first or timeout passes.
func (p *Pipeline) WaitLog(r *testdb.Process, text string, timeout time.Duration) {
	p.T.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(p.Tail(100000), text) {
		select {
		case <-r.Exited:
			p.T.Fatalf("floe run exited: %v; log:\n%s", r.Err, p.Tail(40))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.T.Fatalf("floe run did not log %q within %v; log:\n%s", text, timeout, p.Tail(40))
		}
	}
}

// TailFile returns the last n lines of the file at path ("" when it
// cannot be read).
func TailFile(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestDir is t.TempDir, with what a failed test left in it (floe's log,
// config, state and a local warehouse) copied first for a look
// afterwards: under $FLOE_KEEP_FAILED when set (make stress sets it),
// else under $TMPDIR/floe-failed-tests.
func TestDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() { // runs before TempDir's own cleanup
		if !t.Failed() {
			return
		}
		name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
		keep := filepath.Join(os.TempDir(), "floe-failed-tests", name)
		if root := os.Getenv("FLOE_KEEP_FAILED"); root != "" {
			keep = filepath.Join(root, name+"-"+time.Now().Format("150405.000"))
		}
		_ = os.RemoveAll(keep)
		if err := os.CopyFS(keep, os.DirFS(dir)); err != nil {
			t.Logf("keep the failed test's files: %v", err)
			return
		}
		t.Logf("the failed test's files (floe log, config, state, lake) are kept in %s", keep)
	})
	return dir
}
