// Package e2e is the end-to-end test harness shared by cmd/floe's
// integration tests and deploy/interop: the real floe binary, built from
// this checkout, run against real servers as a user runs it.
//
// Suite.Setup is run by a test package's TestMain: it builds floe
// (BuildFloe; with the floestress tag under make stress, FLOE_TEST_BIN to
// reuse one binary), starts the shared PostgreSQL cluster and any further
// servers (S3) once, and its teardown stops them after the tests;
// Suite.Need skips in -short mode and fails a test when that setup failed.
// A Pipeline is one test's floe: a directory (TestDir keeps a failed
// test's log, config, state and lake), a config written from Config
// (source, sink, the password from $FLOE_TEST_PASSWORD), `floe run`
// started with its output in a log file and stopped with SIGTERM, verbs
// run to their end, and waits on the log. WaitCommitted and MySQLPosition
// wait for a MySQL/MariaDB position to reach an Iceberg table;
// PostgreSQL's catch-up wait, the throwaway servers and their per-test
// databases are deploy/testdb's (WaitSlotCaughtUp, StartMariaDBForTest,
// DatabaseForTest).
//
// In: a floe checkout (the binary is built from it) and the servers
// deploy/testdb starts. Out: handles that fail the test (testing.T)
// instead of returning errors.
//
// Invariants: every process started here is stopped by its PID (a
// floe run at the test's cleanup at the latest; it also dies with the
// test binary); the configs it writes are the ones the tests rewrite by
// text, so their lines and their order are kept stable. Only tests import
// this package; the floe binary never does (cmd/floe TestBinaryLinksNoDeploy).
//
// See docs/architecture.md (the package map).
package e2e
