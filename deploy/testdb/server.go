package testdb

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// launchServer starts cmd, a database server whose SysProcAttr the caller
// set (its own process group, a parent-death signal), with its output
// appended to logPath, and waits until ready succeeds. A server that
// exits first, or is not ready within limit, is stopped with sig, and the
// error carries its own log (serverLog). It returns the channel that
// reports the server's exit (a reader that is not the last puts the
// value back).
func launchServer(ctx context.Context, cmd *exec.Cmd, logPath, serverLog string, sig syscall.Signal, limit time.Duration, ready func(context.Context) error) (chan error, error) {
	name := filepath.Base(cmd.Path)
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open %s log: %w", name, err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); logf.Close() }()
	if err := waitReady(ctx, done, limit, ready); err != nil {
		log, _ := os.ReadFile(serverLog)
		stopServer(cmd, done, sig)
		return nil, fmt.Errorf("%s did not become ready: %w\n%s", name, err, log)
	}
	return done, nil
}

// waitReady polls ready every 50 ms until it succeeds, the server exits
// (done), ctx ends or limit passes (the last error of ready then).
func waitReady(ctx context.Context, done chan error, limit time.Duration, ready func(context.Context) error) error {
	deadline := time.Now().Add(limit)
	for {
		select {
		case err := <-done:
			done <- err
			return fmt.Errorf("server exited: %v", err)
		default:
		}
		err := ready(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// serverProc is the running process of a test server: cmd is nil while it is
// halted and once it is stopped; done reports its exit.
type serverProc struct {
	cmd  *exec.Cmd
	done chan error
}

// halt stops the process with sig (see stopServer) and forgets it; name
// names the server in the error when none runs.
func (s *serverProc) halt(name string, sig syscall.Signal) error {
	if s.cmd == nil {
		return fmt.Errorf("%s is not running", name)
	}
	stopServer(s.cmd, s.done, sig)
	s.cmd = nil
	return nil
}

// resume starts the server again with launch, which sets cmd and done.
func (s *serverProc) resume(ctx context.Context, name string, launch func(context.Context) error) error {
	if s.cmd != nil {
		return fmt.Errorf("%s is running", name)
	}
	return launch(ctx)
}

// stop stops the process with sig unless it is halted (or stopped
// before), then removes dir. Safe to call more than once.
func (s *serverProc) stop(sig syscall.Signal, dir string) error {
	if cmd := s.cmd; cmd != nil {
		s.cmd = nil
		stopServer(cmd, s.done, sig)
	}
	return os.RemoveAll(dir)
}

// stopServer sends sig to a server started by this package, SIGKILLs its
// process group if it has not exited after 10 s, and waits for the exit
// that done reports.
func stopServer(cmd *exec.Cmd, done <-chan error, sig syscall.Signal) {
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}
