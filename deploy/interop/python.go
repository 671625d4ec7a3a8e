package interop

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/floe-cdc/floe/deploy/testdb"
)

// Python is a virtual environment with PyIceberg (deploy/python).
type Python struct {
	Bin string // the environment's python
}

// SetupPython creates or reuses the PyIceberg environment
// (deploy/python/setup.sh).
func SetupPython(ctx context.Context) (*Python, error) {
	bin, err := runScript(ctx, "python/setup.sh")
	if err != nil {
		return nil, err
	}
	return &Python{Bin: bin}, nil
}

// Run runs deploy/python/<script> with args and extra environment and
// returns its stdout; a failure carries stderr.
func (p *Python) Run(ctx context.Context, script string, env []string, args ...string) ([]byte, error) {
	root, err := testdb.RepoRoot()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, p.Bin, append([]string{filepath.Join(root, "deploy", "python", script)}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("python %s: %w\n%s", script, err, tail(stderr.String(), 30))
	}
	return stdout.Bytes(), nil
}
