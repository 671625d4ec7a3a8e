// Command floe-bench measures Floe against the raw speed of its source on
// the same machine, in the same invocation (issues #4 and #16), and writes
// the results as bench/results/<date>.json and <date>.md.
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
//     MariaDB: SELECT drained through go-sql-driver/mysql); rows/s. Each
//     round measures every parallelism of -parallelism (default 1,2,all:
//     all = every core), and each parallelism above 1 reports its scaling
//     (its throughput over that at 1 in the same round, floe and raw).
//
//   - streaming: floe is started, primed (one committed transaction, so
//     it has a durable position) and stopped; changes are written while
//     it is stopped, then `floe run` is timed from start until every
//     table has committed the last transaction, vs a bare decoder over
//     the same range (PostgreSQL: pglogrepl on a second slot; MariaDB: a
//     go-mysql BinlogSyncer from the GTID position before the workload,
//     rows decoded and dropped); changes/s.
//
//   - bigtxn: the same for one transaction inserting -bigtxn rows.
//
//   - hugetxn (memory): the same for -hugetxn rows (10,000,000); floe's
//     peak RSS is the figure of interest (floe's own: sampled from /proc/<pid>/status VmHWM every
//     10 ms while it runs, because the kernel's ru_maxrss of a child counts its parent's size).
//
//   - largevalues (memory): rows with a -large-value-mib (50) MiB text or
//     binary value each (-large-both: both), read by a snapshot and then streamed (inserts, a
//     multi-row transaction, updates keeping and replacing the values,
//     deletes) while floe catches up; floe verify must be equal; MiB/s and
//     peak RSS (memory.go).
//
//   - manytables (memory): for each N of -manytables (1,50,200), N
//     small tables of -manytables-rows (200) rows, snapshotted by
//     `floe run` at floe's default checkpoint interval (10 s), then a
//     steady stream of small transactions (an insert, an update and a
//     delete) round-robin over all of them (-manytables-rate per second
//     for -manytables-duration), then a marker touching every table;
//     floe stops once every table has committed it, and floe verify must
//     be equal. One result per N, its figure the peak RSS; the largest N
//     also reports the MiB per table more against the smallest
//     (manytables.go).
//
//   - freshness: a paced load (-rate changes/s for -duration, checkpoints
//     every -interval, default 1 s as the target's) while floe
//     streams; every transaction's commit time and end position come from
//     the raw decoder (MariaDB: the commit time is when COMMIT returned to
//     the loader, the binlog's being in whole seconds), and the time it
//     became readable from polling each
//     Iceberg table's newest floe.position every -poll; p50/p99 delay.
//     -compaction-interval runs floe with background compaction at that
//     interval (-sustained: 10 minutes, a pass a minute); every table's
//     live data and delete files are counted every -files-every, and the
//     count at the end, the most seen and the compaction passes are
//     reported (files.go).
//
//   - reads (only when named; PostgreSQL only): floe snapshots the
//     tables and stops, and `floe compact` compacts them; floe then
//     streams a paced update-heavy load (insert:update:delete 1:8:1;
//     -reads-rate for -reads-duration at the -interval checkpoints,
//     background compaction every -compaction-interval) while Trino runs
//     a full scan (count, sum) and a key lookup of the orders table, each
//     on the table as it is then and, back to back, on the snapshot
//     `floe compact` left (FOR VERSION AS OF), so that both see the same
//     load on the machine; p50/p99 of each and the ratios streaming /
//     compacted (reads.go). The lake is a JDBC catalog database on the
//     bench's PostgreSQL server and a bucket on deploy/interop's S3
//     server, and Trino is deploy/interop's, started once per source.
//
// Each run of snapshot, streaming, bigtxn and hugetxn is a pair: the raw
// read and floe back to back on the same data, the raw read first in odd
// runs and floe first in even ones; the ratio is the median of the runs'
// paired ratios, and every figure and ratio carries its min-max. Every
// run records floe's CPU seconds (rusage of the child) and the raw
// reader's (this process's rusage around the read); each scenario
// reports them per million rows or changes (per GiB of values for
// largevalues), with floe's peak RSS. Each baseline is compared with the
// newest results file of the same source, label and sizes (-previous,
// -baseline-tolerance): a ratio that moved because its baseline did is
// flagged. The memory scenarios run -memory-runs times; -memory runs only
// them, over a minimal data set. -render FILE prints an existing results
// file summarized with these rules and measures nothing.
//
// Out: the versioned results file (resultsVersion, pinned by a golden
// test; one entry per source kind, each with its own scale and command),
// a markdown table of all sources (also printed), floe logs under
// -workdir/<kind> and CPU and heap profiles (floe run --cpuprofile,
// --memprofile) under -profiles. -merge FILE puts the sources measured now into an existing
// results file (version 1 to 5) and keeps its other sources; the .md
// ends with issue 16's targets, per source, met or not.
//
// Invariants: every process the harness starts (the database server,
// each floe run, S3 and Trino) is stopped by its PID when the harness ends, also on an
// error or SIGINT/SIGTERM; targets are reported, never asserted. A source
// kind plugs in by implementing benchSource in its own file.
//
// See docs/architecture.md (the package map).
package main
