package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time: -ldflags "-X main.version=v0.1.0".
var version = "dev"

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of floe and of its key libraries",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "floe %s\n", version)
			info, ok := debug.ReadBuildInfo()
			if !ok {
				return nil
			}
			fmt.Fprintf(out, "go %s\n", info.GoVersion)
			for _, d := range info.Deps {
				switch d.Path {
				case "github.com/apache/iceberg-go", "github.com/jackc/pglogrepl", "github.com/jackc/pgx/v5",
					"github.com/go-mysql-org/go-mysql", "github.com/apache/arrow-go/v18":
					fmt.Fprintf(out, "%s %s\n", d.Path, d.Version)
				}
			}
			return nil
		},
	}
}
