// Package interop starts the real lakehouse servers Floe's interop tests
// run against, and talks to them: an S3-compatible server (versitygw,
// posix backend), Trino with its Iceberg connector, Apache Iceberg's REST
// catalog test server, and a PyIceberg virtual environment.
//
// In: the scripts under deploy/ (s3/install-versitygw.sh, trino/fetch.sh,
// rest/fetch.sh, python/setup.sh) download and build what is needed into
// ~/.cache/floe (FLOE_CACHE overrides) and ~/.m2; this package calls them
// and then starts the servers itself.
//
// Out: handles with the addresses and credentials of running servers,
// Trino queries over its HTTP statement API (no CLI), and Python scripts
// run in the PyIceberg environment. The tests run floe itself through the
// harness they share with cmd/floe (deploy/e2e).
//
// Invariants:
//   - Every server listens on 127.0.0.1 on a free port, keeps its files
//     in its own temporary directory, and runs in its own process group
//     with a parent-death signal; Stop ends that group by its PID (SIGTERM,
//     then SIGKILL after a grace period) and removes the directory. Stop
//     is safe to call twice and on nil.
//   - A Start function returns only once the server answers (S3 list
//     buckets, Trino /v1/info with starting=false, REST /v1/config), or
//     returns an error carrying the tail of the server's log.
//
// See docs/architecture.md (the package map).
package interop
