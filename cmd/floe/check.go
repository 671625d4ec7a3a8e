package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/floe-cdc/floe/capture"
	"github.com/spf13/cobra"
)

func checkCommand() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "check --config FILE",
		Short: "Validate the configuration and the source; print every problem with its fix",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCheck(cmd, configPath, os.Stdout)
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "c", "", "pipeline configuration file (YAML)")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

// runCheck prints one line per problem and returns exitError{1} when there
// is any. It changes nothing on the source or the sink.
func runCheck(cmd *cobra.Command, configPath string, out io.Writer) error {
	cfg, err := LoadConfig(configPath)
	var cerr *ConfigError
	if errors.As(err, &cerr) {
		fmt.Fprintln(out, cerr.Error())
		return exitError{code: 1}
	}
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log, io.Discard)
	src, err := openSource(cfg, log)
	if err != nil {
		fmt.Fprintf(out, "%s: %v\n", configPath, err)
		return exitError{code: 1}
	}
	defer src.Close()
	problems := src.Check(cmd.Context())
	for _, p := range problems {
		fmt.Fprintln(out, configPath+": "+formatSourceProblem(p))
	}
	if len(problems) > 0 {
		return exitError{code: 1}
	}
	fmt.Fprintf(out, "%s: OK: %s source at %s:%d reachable, change capture ready, every table has a key\n",
		configPath, cfg.Source.Type, cfg.Source.Hostname, cfg.Source.Port)
	return nil
}

// formatSourceProblem renders a source problem as one line: "FIELD: MESSAGE (fix: FIX)".
func formatSourceProblem(p capture.Problem) string {
	line := p.Field + ": " + p.Message
	if p.Fix != "" {
		line += " (fix: " + p.Fix + ")"
	}
	return line
}
