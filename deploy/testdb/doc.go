// Package testdb starts real, throwaway database servers for tests and
// for `make demo` (cmd/floe-demo): each on 127.0.0.1 on a free port, in
// its own temporary directory, stopped and removed by Stop. There is no
// Docker here; the default servers come from Debian packages, which
// StartPostgres and StartMariaDB install first when they are missing
// (EnsurePostgresInstalled, EnsureMariaDBInstalled: PostgreSQL 15 and
// MariaDB 10.11). MariaDB and MySQL run with ROW binlogs, full row images and
// metadata, and GTIDs.
//
// Other versions: FLOE_TEST_PG (PostgreSQL 13, 14, 16, 17, 18) and
// FLOE_TEST_MYSQL (mariadb-11.4, mariadb-11.8, mysql-9.7) make every
// server started without an explicit version (PostgresOptions.Version,
// MariaDBOptions.Server) that one. fetch-server.sh fetches it once from
// Maven Central or Debian's trixie / sid packages into a cache outside the
// checkout (see the script); `make matrix` runs the capture conformance
// suites and a crash test on each.
//
// For tests it also sets a server up the same way everywhere (fortest.go:
// StartMariaDBForTest, DatabaseForTest, each failing the test and cleaning
// up after it), runs a child process such as `floe run` with its output in
// a log file (StartLogged), and waits until a logical replication slot has
// confirmed everything written before (WaitSlotCaughtUp). The floe binary
// never links this package; cmd/floe-demo and the tests do.
//
// See docs/architecture.md (the package map).
package testdb
