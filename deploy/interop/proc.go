package interop

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/floe-cdc/floe/deploy/e2e"
	"github.com/floe-cdc/floe/deploy/testdb"
)

// process is a server started by this package, in its own process group.
type process struct {
	name    string
	cmd     *exec.Cmd
	dir     string // removed by stop
	logPath string
	done    chan struct{}
	err     error
	once    sync.Once
}

// startProcess starts cmd (whose Dir, Env and arguments the caller set) as
// a process-group leader that dies with its parent, with stdout and stderr
// appended to logPath. dir is removed when the process is stopped.
func startProcess(name string, cmd *exec.Cmd, dir, logPath string) (*process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open %s log: %w", name, err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, dir: dir, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, SIGKILL after grace, waits for
// the leader and removes the directory.
func (p *process) stop(grace time.Duration) error {
	if p == nil {
		return nil
	}
	var err error
	p.once.Do(func() {
		pid := p.cmd.Process.Pid
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			<-p.done
		}
		// Children that outlived the leader are in its group.
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		if p.dir != "" {
			err = os.RemoveAll(p.dir)
		}
	})
	return err
}

// logTail returns the last n lines of the process log.
func (p *process) logTail(n int) string {
	return e2e.TailFile(p.logPath, n)
}

// waitFor polls ready every 200 ms until it returns true, the process
// exits, ctx ends or timeout passes.
func (p *process) waitFor(ctx context.Context, timeout time.Duration, ready func() bool) error {
	deadline := time.Now().Add(timeout)
	for {
		if ready() {
			return nil
		}
		if p.exited() {
			return fmt.Errorf("%s exited (%v) before it was ready; log tail:\n%s", p.name, p.err, p.logTail(40))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready within %s; log tail:\n%s", p.name, timeout, p.logTail(40))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// runScript runs deploy/<rel> with extra environment entries and returns
// the last line it prints on stdout (the scripts print the path they
// installed). Its stderr (progress) is returned in errors.
func runScript(ctx context.Context, rel string, env ...string) (string, error) {
	root, err := testdb.RepoRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(root, "deploy", rel))
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("deploy/%s: %w\n%s", rel, err, tail(stderr.String(), 30))
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	out := strings.TrimSpace(lines[len(lines)-1])
	if out == "" {
		return "", fmt.Errorf("deploy/%s printed no path", rel)
	}
	return out, nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// FreePort returns a free TCP port on 127.0.0.1.
func FreePort() (int, error) { return testdb.FreePort() }

// workDir creates a fresh temporary directory for the server name (the
// caller removes it) and finds it a free port.
func workDir(name string) (dir string, port int, err error) {
	dir, err = os.MkdirTemp("", "floe-"+name+"-")
	if err != nil {
		return "", 0, fmt.Errorf("create %s dir: %w", name, err)
	}
	port, err = FreePort()
	if err != nil {
		os.RemoveAll(dir)
		return "", 0, err
	}
	return dir, port, nil
}

// prepareJava readies the Java server name: it runs deploy/<name>/fetch.sh
// (see runScript) and returns the path it printed, the home of a JDK of
// at least major version minJava, and a workDir with its port.
func prepareJava(ctx context.Context, name string, minJava int) (fetched, java, dir string, port int, err error) {
	if fetched, err = runScript(ctx, name+"/fetch.sh"); err != nil {
		return "", "", "", 0, err
	}
	if java, err = JavaHome(minJava); err != nil {
		return "", "", "", 0, err
	}
	if dir, port, err = workDir(name); err != nil {
		return "", "", "", 0, err
	}
	return fetched, java, dir, port, nil
}

var javaVersionRe = regexp.MustCompile(`(?m)^JAVA_VERSION="(\d+)`)

// JavaHome returns the JDK under /usr/lib/jvm (FLOE_JAVA_HOME overrides)
// with the highest major version, which must be at least minMajor.
func JavaHome(minMajor int) (string, error) {
	if h := os.Getenv("FLOE_JAVA_HOME"); h != "" {
		return h, nil
	}
	releases, _ := filepath.Glob("/usr/lib/jvm/*/release")
	type jdk struct {
		home  string
		major int
	}
	var jdks []jdk
	for _, r := range releases {
		b, err := os.ReadFile(r)
		if err != nil {
			continue
		}
		m := javaVersionRe.FindSubmatch(b)
		if m == nil {
			continue
		}
		major, _ := strconv.Atoi(string(m[1]))
		if _, err := os.Stat(filepath.Join(filepath.Dir(r), "bin", "java")); err == nil {
			jdks = append(jdks, jdk{filepath.Dir(r), major})
		}
	}
	sort.Slice(jdks, func(i, j int) bool { return jdks[i].major > jdks[j].major })
	if len(jdks) == 0 || jdks[0].major < minMajor {
		return "", fmt.Errorf("no JDK %d or newer under /usr/lib/jvm: install one (e.g. apt-get install -y temurin-25-jdk) or set FLOE_JAVA_HOME", minMajor)
	}
	return jdks[0].home, nil
}
