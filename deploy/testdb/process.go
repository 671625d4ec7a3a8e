package testdb

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// Process is a child process (a `floe run` under test) whose output is
// appended to a log file. It dies with its parent (PDEATHSIG), so a
// crashed test leaves no process behind.
type Process struct {
	Cmd *exec.Cmd
	// Exited is closed once the process has exited; Err is its exit error
	// from then on.
	Exited chan struct{}
	Err    error

	peakRSS atomic.Int64 // bytes; see TrackPeakRSS
}

// StartLogged starts cmd with its stdout and stderr appended to logPath.
// The caller must Kill it (or see it exit) before the test ends.
func StartLogged(cmd *exec.Cmd, logPath string) (*Process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	p := &Process{Cmd: cmd, Exited: make(chan struct{})}
	go func() {
		p.Err = cmd.Wait()
		logFile.Close()
		close(p.Exited)
	}()
	return p, nil
}

// DumpStacks asks a Go process still running to print every goroutine's
// stack to its log and exit (SIGQUIT), waiting up to timeout for it: a
// failed test that kept the log then shows where the process was.
func (p *Process) DumpStacks(timeout time.Duration) {
	select {
	case <-p.Exited:
		return
	default:
	}
	_ = p.Cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-p.Exited:
	case <-time.After(timeout):
	}
}

// Kill sends SIGKILL and waits until the process is gone.
func (p *Process) Kill() {
	_ = p.Cmd.Process.Signal(syscall.SIGKILL)
	<-p.Exited
}

// Stop sends SIGTERM and waits up to timeout for a clean exit (status 0).
func (p *Process) Stop(timeout time.Duration) error {
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	if err := p.Wait(context.Background(), timeout); err != nil {
		return fmt.Errorf("%w after SIGTERM", err)
	}
	return nil
}

// Wait waits up to timeout, or until ctx ends, for the process to exit;
// an exit with a status other than 0 is an error. It leaves a process
// that has not exited running.
func (p *Process) Wait(ctx context.Context, timeout time.Duration) error {
	select {
	case <-p.Exited:
		if p.Err != nil {
			return fmt.Errorf("exited with %v", p.Err)
		}
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("did not exit within %v", timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TrackPeakRSS samples the process's peak resident set size (VmHWM in
// /proc/<pid>/status) every interval until it exits; PeakRSS returns the
// highest value seen. The rusage the kernel reports at exit cannot serve:
// Go starts a child by vfork, and exec records the parent's resident size
// as the child's ru_maxrss, so the child of a large process (a test, the
// benchmark holding its workload) reports at least its parent's size.
// VmHWM belongs to the child's own address space. Growth within the last
// interval before the process exits is not seen.
func (p *Process) TrackPeakRSS(interval time.Duration) {
	pid := p.Cmd.Process.Pid
	go func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			if v, ok := readPeakRSS(pid); ok && v > p.peakRSS.Load() {
				p.peakRSS.Store(v) // this goroutine is the only writer
			}
			select {
			case <-p.Exited:
				return
			case <-tick.C:
			}
		}
	}()
}

// PeakRSS is the highest resident set size TrackPeakRSS has seen, in
// bytes; 0 when it was not called or saw nothing.
func (p *Process) PeakRSS() int64 { return p.peakRSS.Load() }

// readPeakRSS reads VmHWM of process pid; ok is false once the process
// has exited (a zombie has no address space, and so no VmHWM line).
func readPeakRSS(pid int) (bytesHWM int64, ok bool) {
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	for line := range bytes.Lines(status) {
		rest, found := bytes.CutPrefix(line, []byte("VmHWM:"))
		if !found {
			continue
		}
		fields := bytes.Fields(rest) // "123456 kB"
		if len(fields) != 2 || string(fields[1]) != "kB" {
			return 0, false
		}
		kib, err := strconv.ParseInt(string(fields[0]), 10, 64)
		if err != nil {
			return 0, false
		}
		return kib << 10, true
	}
	return 0, false
}
