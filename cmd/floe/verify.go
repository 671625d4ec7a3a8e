package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/floe-cdc/floe/checkpoint"
	"github.com/floe-cdc/floe/checkpoint/verify"
)

func verifyCommand() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "verify --config FILE",
		Short: "Compare every captured source table with its Iceberg table, key by key",
		Long: `verify reads each captured source table and its Iceberg table and compares
row count and an order-independent hash of all columns, key by key, printing one
line per table (with example keys on a mismatch). Source values are read as floe
writes them, through the routes' column type overrides. Run it against a quiet source,
after floe has caught up; it exits 0 only if every table matches.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := LoadConfig(configPath)
			if err != nil {
				return err
			}
			return runVerify(cmd.Context(), cfg, os.Stdout)
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "c", "", "pipeline configuration file (YAML)")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

// runVerify prints one line per table and returns exitError{1} unless all match.
func runVerify(ctx context.Context, cfg *Config, out io.Writer) error {
	log := newLogger(cfg.Log, io.Discard)
	mode, err := sinkMode(cfg)
	if err != nil {
		return err
	}
	src, err := openSource(cfg, log)
	if err != nil {
		return err
	}
	defer src.Close()
	cat, err := openCatalog(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer cat.Close()
	reports, err := verify.Run(ctx, verify.Options{
		Pipeline: cfg.Pipeline.Name, Source: src, Catalog: cat, Router: newRouter(cfg), Mode: mode,
		LeaveOutUndecodable: checkpointConfig(cfg).DeadLetter == checkpoint.DeadLetterTable,
	})
	if err != nil {
		return err
	}
	ok := true
	for _, r := range reports {
		fmt.Fprintln(out, r.String())
		ok = ok && r.OK()
	}
	if !ok {
		return exitError{code: 1}
	}
	return nil
}
