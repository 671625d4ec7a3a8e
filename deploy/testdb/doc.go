// Package testdb starts real, throwaway database servers for tests and
// for `floe demo`: each on 127.0.0.1 on a free port, in its own temporary
// directory, stopped and removed by Stop. There is no Docker here; the
// servers come from Debian packages (EnsurePostgresInstalled installs
// PostgreSQL when missing).
package testdb
