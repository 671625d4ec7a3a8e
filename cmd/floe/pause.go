package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/spf13/cobra"
)

func pauseCommand() *cobra.Command {
	return tableActionCommand("pause", "Pause one table of the running floe run; its changes wait at the source",
		`pause stops floe run from committing one table while the others stream on,
through the running floe run's admin API (server.admin-address, with the
bearer token server.admin-token). TABLE is the SOURCE table as SCHEMA.TABLE.

At the next transaction boundary floe commits what it holds of the table, then
takes none of its changes until it is resumed. Nothing is lost and nothing is
duplicated: the table stays at its last committed position, and floe
acknowledges no position past it to the source, so its changes stay there (a
PostgreSQL slot keeps the WAL from that position: watch the table's lag_bytes
in floe status and do not pause longer than the disk allows; a MySQL/MariaDB
server must keep the binlog). floe resume, a restart or a crash all replay
them. A pause lasts as long as the floe run process: a restarted floe run
streams every table. A table is paused once it streams: during its snapshot
the pause waits (state "pausing").`)
}

func resumeCommand() *cobra.Command {
	return tableActionCommand("resume", "Resume a paused table of the running floe run",
		`resume lets floe run commit a paused table again, through the running floe
run's admin API (server.admin-address, with server.admin-token). TABLE is the
SOURCE table as SCHEMA.TABLE. When changes of the table went by while it was
paused, floe commits the other tables and starts its stream again from the
lowest committed position (the paused table's), as after a restart: the
resumed table takes its changes from there and the others skip what they hold.`)
}

// tableActionCommand is floe pause or floe resume: POST
// /actions/ACTION?table=TABLE to the running floe run.
func tableActionCommand(action, short, long string) *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   action + " --config FILE SCHEMA.TABLE",
		Short: short,
		Long:  long,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := LoadConfig(configPath)
			if err != nil {
				return err
			}
			if _, err := parseSourceTable(args[0]); err != nil {
				return err
			}
			var res tableAction
			code, err := postAdminAction(cmd.Context(), cfg, "/actions/"+action, url.Values{"table": {args[0]}}, &res)
			if err != nil {
				return err
			}
			printTableAction(cmd.OutOrStdout(), res, code)
			return nil
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "c", "", "pipeline configuration file (YAML)")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

// printTableAction prints the answer of a pause or resume in one line.
func printTableAction(out io.Writer, res tableAction, code int) {
	pos := orNone(res.Position)
	switch {
	case code == http.StatusAccepted:
		fmt.Fprintf(out, "%s of %s requested; not in effect yet (state %s); floe status shows when it is\n", res.Action, res.Table, res.State)
	case res.Action == "pause":
		fmt.Fprintf(out, "%s (%s) is paused at position %s; its changes wait at the source until floe resume\n", res.Table, res.Sink, pos)
	default:
		fmt.Fprintf(out, "%s (%s) streams again from position %s (state %s)\n", res.Table, res.Sink, pos, res.State)
	}
}
