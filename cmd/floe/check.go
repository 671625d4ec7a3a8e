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
	var (
		configPath string
		fix        bool
	)
	cmd := &cobra.Command{
		Use:   "check --config FILE [--fix]",
		Short: "Validate the configuration and the source; print every problem with its fix",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCheck(cmd, configPath, fix, os.Stdout)
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "c", "", "pipeline configuration file (YAML)")
	cmd.Flags().BoolVar(&fix, "fix", false, "also install what Floe can install on the source: PostgreSQL's DDL event trigger (needs a superuser)")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

// runCheck prints where the local paths resolved to, then one line per
// problem, and returns exitError{1} when there is any: the configuration,
// the local paths, the source (Check), and what floe run checks once the
// tables are known (routes, metadata column names). It changes nothing on
// the source or the sink, unless fix is set: then it first installs
// PostgreSQL's DDL event trigger (capture.DDLTriggerInstaller), and a
// failure to is one more problem.
func runCheck(cmd *cobra.Command, configPath string, fix bool, out io.Writer) error {
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
	var found []capture.Problem
	trig, hasTrigger := src.(capture.DDLTriggerInstaller)
	if fix && hasTrigger {
		if err := trig.InstallDDLTrigger(ctx); err != nil {
			found = append(found, capture.Problem{Field: "source.username", Message: err.Error(),
				Fix: "run floe check --fix with a superuser's credentials once, or run the SQL in the README (PostgreSQL DDL capture) as a superuser"})
		} else {
			fmt.Fprintf(out, "%s: fixed: installed the DDL event trigger floe_ddl in database %s\n", configPath, cfg.Source.Database)
		}
	}
	found = append(found, src.Check(ctx)...)
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
	if hasTrigger {
		if ok, err := trig.DDLTriggerInstalled(ctx); err == nil && !ok {
			fmt.Fprintf(out, "%s: note: no DDL event trigger in database %s: a column rename stops the pipeline (Relation messages cannot tell it from a drop and an add); floe check --fix (as a superuser) installs it\n",
				configPath, cfg.Source.Database)
		} else if old, err := trig.DDLTriggerOutdated(ctx); err == nil && old {
			fmt.Fprintf(out, "%s: note: the DDL event trigger in database %s is an older Floe's: its messages do not carry NOT NULL, so a replay after a restart takes nullability from the catalog now; floe check --fix (as a superuser) updates it\n",
				configPath, cfg.Source.Database)
		}
	}
	fmt.Fprintf(out, "%s: OK: %s source at %s:%d reachable, change capture ready, every table has a key and a sink table of its own\n",
		configPath, cfg.Source.Type, cfg.Source.Hostname, cfg.Source.Port)
	return nil
}

// pipelineProblems checks the discovered tables as floe run does before it
// creates anything: the routes (transform.Router.Validate: one sink table
// per source table, every route used), the sink layouts (no source
// column named like a floe metadata column, and, with a schema registry,
// one that renders to no valid Avro schema) and each table's
// partition-by and sort-by against its columns.
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
	router := newRouter(cfg)
	out = append(out, arrangementProblems(cfg, router, infos)...)
	out = append(out, avroProblems(cfg, infos)...)
	var rp transform.RouteProblems
	if err := router.Validate(ids); errors.As(err, &rp) {
		out = append(out, rp...)
	} else if err != nil {
		out = append(out, capture.Problem{Field: "route", Message: err.Error(), Fix: "correct the routes"})
	}
	return out
}
