// Command floe-demo is `make demo`: Floe end to end on a throwaway
// PostgreSQL, with nothing to configure and nothing left running.
//
// It starts a PostgreSQL cluster on a free port of 127.0.0.1 through
// deploy/testdb (installing the Debian package first when the server is
// missing and the demo runs as root), creates a small shop schema, writes
// a floe.yaml into a temporary directory (a local Iceberg warehouse with
// an embedded SQLite catalog), and runs the floe binary as a user would:
// `floe run` beside a workload of inserts, updates, deletes and
// primary-key changes, then, once floe has committed everything and
// stopped on SIGTERM, `floe verify`, `floe status`, `floe compact` and
// `floe verify` again, and a few rows read back from Iceberg.
//
// In: a built floe binary (-floe, default bin/floe), -duration of the
// workload, -keep to keep the directory (config, warehouse, catalog,
// floe.log).
//
// Out: the progress and the verbs' output on stdout; exit status 1 when a
// step fails, floe verify included.
//
// Invariants: the service binary stays free of test servers: this program,
// not floe, links deploy/testdb. Every process it starts (the cluster and
// floe run) is stopped by its PID before it returns, also on an error or
// SIGINT/SIGTERM.
//
// See docs/architecture.md (the package map) and the README ("Two
// commands").
package main
