// Package testdb starts real, throwaway database servers for tests and
// for `floe demo`: each on 127.0.0.1 on a free port, in its own temporary
// directory, stopped and removed by Stop. There is no Docker here; the
// servers come from Debian packages (EnsurePostgresInstalled and
// EnsureMariaDBInstalled install PostgreSQL and MariaDB when missing).
// MariaDB runs with ROW binlogs, full row images and metadata, and GTIDs.
package testdb
