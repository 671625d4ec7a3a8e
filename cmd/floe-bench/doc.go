// Command floe-bench measures Floe against the raw speed of its source on
// the same machine, in the same invocation (issue #4), and writes the
// results as bench/results/<date>.json and <date>.md.
//
// In: a built floe binary (-floe, default bin/floe) and the flags for the
// scale (-quick for a short development run), and the source kinds
// (-source postgres,mariadb, one after the other). For each kind the
// harness starts its own database server through deploy/testdb, tuned for
// throughput (pg.go, source_mariadb.go), generates four tables of mixed
// types server-side, and runs each scenario -runs times:
//
//   - snapshot: `floe run` with snapshot.mode initial_only from start to
//     exit, vs the same key-range chunks read raw with the same
//     parallelism (PostgreSQL: COPY (chunk) TO STDOUT into io.Discard;
//     MariaDB: SELECT drained through go-sql-driver/mysql); rows/s.
//   - streaming: floe is started, primed (one committed transaction, so
//     it has a durable position) and stopped; changes are written while
//     it is stopped, then `floe run` is timed from start until every
//     table has committed the last transaction, vs a bare decoder over
//     the same range (PostgreSQL: pglogrepl on a second slot; MariaDB: a
//     go-mysql BinlogSyncer from the GTID position before the workload,
//     rows decoded and dropped); changes/s.
//   - bigtxn: the same for one transaction inserting -bigtxn rows.
//   - hugetxn (memory): the same for -hugetxn rows (10,000,000); floe's
//     peak RSS is the figure of interest.
//   - largevalues (memory): rows with a -large-value-mib (50) MiB text or
//     binary value each (-large-both: both), read by a snapshot and then streamed (inserts, a
//     multi-row transaction, updates keeping and replacing the values,
//     deletes) while floe catches up; floe verify must be equal; MiB/s and
//     peak RSS (memory.go).
//
// Every run records floe's CPU seconds; each scenario reports them per
// million rows or changes (per GiB of values for largevalues). The memory
// scenarios run -memory-runs times; -memory runs only them, over a minimal
// data set.
//   - freshness: a paced load (-rate changes/s for -duration) while floe
//     streams; every transaction's commit time and end position come from
//     the raw decoder (MariaDB: the commit time is when COMMIT returned to
//     the loader, the binlog's being in whole seconds), and the time it
//     became readable from polling each
//     Iceberg table's newest floe.position every -poll; p50/p99 delay.
//
// Out: the versioned results file (resultsVersion, pinned by a golden
// test; one entry per source kind, each with its own scale and command),
// a markdown table of all sources (also printed), floe logs under
// -workdir/<kind> and CPU and heap profiles (floe run --cpuprofile,
// --memprofile) under -profiles. -merge FILE puts the sources measured now into an existing
// results file (version 1 or 2) and keeps its other sources.
//
// Invariants: every process the harness starts (the database server and
// each floe run) is stopped by its PID when the harness ends, also on an
// error or SIGINT/SIGTERM; targets are reported, never asserted. A source
// kind plugs in by implementing benchSource in its own file.
//
// See docs/architecture.md (the package map).
package main
