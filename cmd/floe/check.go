package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/transform"
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

// runCheck prints where the local paths resolved to, then one line per
// problem, and returns exitError{1} when there is any: the configuration,
// the local paths, the source (Check), and what floe run checks once the
// tables are known (routes, metadata column names). It changes nothing on
// the source or the sink.
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
	fmt.Fprintln(out, configPath+": "+cfg.pathsLine())
	problems := cfg.pathProblems()
	log := newLogger(cfg.Log, io.Discard)
	src, err := openSource(cfg, log)
	if err != nil {
		fmt.Fprintf(out, "%s: %v\n", configPath, err)
		return exitError{code: 1}
	}
	defer src.Close()
	ctx := cmd.Context()
	found := src.Check(ctx)
	if len(found) == 0 {
		found = pipelineProblems(ctx, cfg, src)
	}
	if ex, ok := src.(capture.ExclusiveChecker); ok {
		found = append(found, ex.CheckExclusive(ctx)...)
	}
	problems = append(problems, cfg.problemError(found).Problems...)
	var lines []string
	for _, p := range problems {
		if line := p.Format(configPath); !slices.Contains(lines, line) {
			lines = append(lines, line)
		}
	}
	for _, line := range lines {
		fmt.Fprintln(out, line)
	}
	if len(lines) > 0 {
		return exitError{code: 1}
	}
	fmt.Fprintf(out, "%s: OK: %s source at %s:%d reachable, change capture ready, every table has a key and a sink table of its own\n",
		configPath, cfg.Source.Type, cfg.Source.Hostname, cfg.Source.Port)
	return nil
}

// pipelineProblems checks the discovered tables as floe run does before it
// creates anything: the routes (transform.Router.Validate: one sink table
// per source table, every route used) and the sink layouts (no source
// column named like a floe metadata column, and, with a schema registry,
// one that renders to no valid Avro schema).
func pipelineProblems(ctx context.Context, cfg *Config, src floeSource) []capture.Problem {
	infos, err := src.Discover(ctx)
	if err != nil {
		return []capture.Problem{{Field: "source", Message: fmt.Sprintf("discover tables: %v", err),
			Fix: "run floe check again; if it fails the same way, correct what the message names"}}
	}
	ids := make([]capture.TableID, len(infos))
	var out []capture.Problem
	for i, ti := range infos {
		ids[i] = ti.ID
		if err := transform.CheckSource(ti.Schema); err != nil {
			msg, _, _ := strings.Cut(err.Error(), ";")
			out = append(out, capture.Problem{Field: "source.tables", Message: fmt.Sprintf("table %s: %s, which floe adds to every Iceberg table", ti.ID, msg),
				Fix: "rename the column, or exclude the table from source.tables"})
		}
	}
	out = append(out, avroProblems(cfg, infos)...)
	var rp transform.RouteProblems
	if err := newRouter(cfg).Validate(ids); errors.As(err, &rp) {
		out = append(out, rp...)
	} else if err != nil {
		out = append(out, capture.Problem{Field: "route", Message: err.Error(), Fix: "correct the routes"})
	}
	return out
}
