// Command floe streams row changes from PostgreSQL (logical replication)
// and MySQL/MariaDB (the binlog) into Apache Iceberg tables, exactly once.
// Run `floe --help` for the verbs (run, check, verify, status, compact,
// resnapshot, pause, resume, version); docs/architecture.md walks through
// the packages it wires together.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// exitError carries a process exit code for a failure whose message was
// already printed (a failed verify, a check with problems).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	root := &cobra.Command{
		Use:           "floe",
		Short:         "Stream PostgreSQL row changes into Apache Iceberg tables, exactly once",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(runCommand(), checkCommand(), verifyCommand(), compactCommand(), statusCommand(), resnapshotCommand(),
		pauseCommand(), resumeCommand(), versionCommand())

	ctx, stop := signalContext()
	defer stop()
	err := root.ExecuteContext(ctx)
	var ee exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		os.Exit(ee.code)
	default:
		fmt.Fprintln(os.Stderr, "floe: "+err.Error())
		os.Exit(1)
	}
}

// signalContext is cancelled by the first SIGINT or SIGTERM, which lets
// the running verb finish its checkpoint; a second signal exits at once.
// Exiting at once is safe: nothing is acknowledged before it is committed.
func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		n := 0
		for range sigs {
			n++
			if n == 1 {
				fmt.Fprintln(os.Stderr, "floe: stopping after the current checkpoint (signal again to exit now)")
				cancel()
				continue
			}
			fmt.Fprintln(os.Stderr, "floe: exiting now")
			os.Exit(130)
		}
	}()
	return ctx, func() { signal.Stop(sigs); cancel() }
}
