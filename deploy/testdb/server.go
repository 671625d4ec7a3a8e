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
