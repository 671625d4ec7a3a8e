// Command floe-bench measures Floe against the raw speed of its source on
// the same machine, in the same invocation (issue #4), and writes the
// results as bench/results/<date>.json and <date>.md.
//
// In: a built floe binary (-floe, default bin/floe) and the flags for the
// scale (-quick for a short development run). The harness starts its own
// database server (PostgreSQL through deploy/testdb, tuned for
// throughput), generates four tables of mixed types server-side, and runs
// each scenario -runs times:
//
//   - snapshot: `floe run` with snapshot.mode initial_only from start to
//     exit, vs parallel COPY (chunk) TO STDOUT into io.Discard with the
//     same parallelism and chunk size; rows/s.
//   - streaming: changes written while floe is stopped (its slot and a
//     second raw slot both exist), then `floe run` from start until it has
//     acknowledged the last transaction, vs a bare pglogrepl loop reading
//     pgoutput from the raw slot over the same WAL range; changes/s.
//   - bigtxn: the same for one transaction inserting -bigtxn rows; floe's
//     peak RSS is the figure of interest.
//   - freshness: a paced load (-rate changes/s for -duration) while floe
//     streams; every transaction's commit time and end position come from
//     the raw slot, and the time it became readable from polling each
//     Iceberg table's newest floe.position every -poll; p50/p99 delay.
//
// Out: the versioned results file (resultsVersion, pinned by a golden
// test), a markdown table (also printed), floe logs under -workdir and
// CPU profiles (floe run --cpuprofile) under -profiles.
//
// Invariants: every process the harness starts (the database server and
// each floe run) is stopped by its PID when the harness ends, also on an
// error or SIGINT/SIGTERM; targets are reported, never asserted. A source
// kind (MySQL/MariaDB later) plugs in by implementing benchSource.
package main
