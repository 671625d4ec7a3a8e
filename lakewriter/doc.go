// Package lakewriter writes canonical rows (schema.Row) into Apache Iceberg
// tables through iceberg-go and reads them back.
//
// In: an Iceberg catalog (Open: the SQL catalog on SQLite or PostgreSQL in
// the JDBC-catalog layout Trino, Spark and PyIceberg read; an Iceberg REST
// catalog; AWS Glue, untested) with a warehouse that is a local directory
// or s3://bucket/prefix (S3Options: endpoint, region, path style, static
// keys or the AWS chain) as Options, the sink: section of a configuration
// file (Defaults holds every default, Validate reports each bad setting
// with its field and fix, and Open refuses Options Validate faults), a
// table layout (schema.Table) per table, and
// per checkpoint one Commit per table: data rows, key-only delete rows, an
// optional truncate, and snapshot-summary properties. Options.DeleteMode
// says how delete keys are written (below).
//
// Out: Iceberg format-version 2 tables (zstd Parquet; unpartitioned until
// SetPartitioning gives them a partition spec and sort order) whose
// snapshots carry the committer's properties; Scan and Lookup return live
// rows as canonical values in Layout order; LatestProps returns the newest
// matching summary in main's history, which is how callers recover their
// committed position after a crash. A Commit with Branch set goes to that
// branch instead of main (LatestPropsOn, ScanOn, LookupOn and HistoryOn
// read a branch), and FastForward points main at a branch's head and
// removes the branch in one metadata commit (branch.go).
//
// Invariants:
//   - One snapshot per Commit. Data files, the delete files and a truncate
//     land together or not at all, and Props are in that snapshot's
//     summary. A Commit with nothing to write
//     still creates a snapshot carrying Props.
//   - Delete keys (DeleteModeAuto, keyindex.go, deleteplan.go): each Table
//     keeps a key index (key -> data file, row position) valid for one
//     snapshot of main, in memory; the indexes of a Catalog's tables hold
//     at most Options.PositionDeletesMaxKeys keys together. A Commit to main whose base is that snapshot deletes a key the
//     index locates by a position delete (one file per referenced data
//     file, positions sorted, in that file's spec and partition, file_path
//     lower = upper bound), unless the located keys lie in more than
//     MaxPositionDeleteFiles data files (then one equality-delete file),
//     and writes nothing for a key it lacks; any other Commit, every
//     Commit with DeleteModeEquality, and every Commit to a table of more
//     than MaxIndexedDataFiles live data files that holds no index yet
//     deletes by equality (an index held follows commits of up to
//     MaxIndexedDataFiles files each). A Commit with delete keys whose base the index does not
//     describe rebuilds it from the table first (key columns of the live
//     data files, delete files applied), or, when every snapshot since
//     kept every live row in place (a replace, or a compaction pass's
//     snapshot that only adds position deletes of rows already deleted:
//     Table.DeletesAsPositions), follows them: from the keys the
//     rewrite recorded (Table.ReadRewriteKeys outside the lock,
//     Table.RewriteLanded after its commit) when it is the one snapshot
//     since, otherwise by reading the files they added. Following recorded
//     keys costs the number of files rewritten; the keys themselves are
//     brought up to date 100,000 per Commit, and a key deleted before its
//     turn is looked up through the rewrites that moved it. The index follows only a Commit
//     that landed on its snapshot without restaging (and a truncate); any
//     other outcome drops it. A commit attempt on another base restages
//     the plan: a position delete whose file is not live there, and every
//     planned delete when a snapshot since added data files (other than a
//     replace), becomes an equality delete. CommitResult counts the keys
//     deleted by position, by equality and not at all.
//   - Equality-delete files are written in the table's unpartitioned spec
//     (every table Floe creates starts unpartitioned, spec 0, and
//     SetPartitioning keeps that spec among the table's specs, adding one
//     to a table created partitioned elsewhere), so that they apply to data files
//     of every partition: a row whose update moved it to another
//     partition, or whose old values are unknown, loses its old version.
//     Data files are written per partition of the current spec.
//   - Equality deletes reach only rows committed before the Commit that
//     carries them; a Commit must therefore not hold two rows with one key
//     (dedupe before writing).
//   - Conflicts: the SQL catalog rejects a commit on a stale base with a
//     plain error and never retries. After any failed catalog commit the
//     table is reloaded; a snapshot above the starting one whose summary
//     carries every Props entry (Props[Token] identifies the commit) means
//     the commit landed and it is reported as a success; otherwise the same
//     files are committed again on the new base, a bounded number of times.
//     Token values must be unique in a table's history. Every attempt is
//     pinned to its base snapshot of main (AssertRefSnapshotID), so
//     iceberg-go never restages it on a newer head by itself.
//   - Fencing: a Commit with a Fence is staged only on a base whose newest
//     commit or claim of the fence's pipeline (ledger.EpochOf) records no
//     newer epoch (for a claim: none as new); otherwise it fails with a
//     FencedError (errors.Is ErrFenced), also after a failed attempt whose
//     reload shows a claim that landed meanwhile. Table.Epoch reads it.
//   - Rows are validated before they reach Parquet: NULL in a required
//     column (iceberg-go would write 0), schema.Unchanged, a non-canonical
//     Go type, a decimal beyond its precision or a wrong-length fixed value
//     fails the Commit with an error naming table, row and column.
//     Commit.Encoded rows (the checkpoint buffer's encodings) are written
//     from their encoding, each value copied into its Arrow builder
//     without being boxed in a schema.Row, and fail with the same errors
//     (a value the unboxed path does not take goes the boxed way).
//   - Rows are converted to Arrow in batches of at most batchRows rows and
//     batchBytes of values (a larger value is a batch of its own), and a
//     writer queues one batch, so memory stays bounded however many rows
//     the iterators yield and however large they are. Parquet row groups
//     are written every rowGroupBytes and equality-delete files hold at
//     most deleteFileBytes of keys (iceberg-go buffers a whole row group,
//     and a whole delete file, in memory), unless the table sets
//     write.parquet.row-group-size-bytes or write.target-file-size-bytes
//     itself. A batch holding a value of largeValueBytes or more is written
//     by Floe into a file of large rows (one row group per batch, straight
//     to the file, no dictionary, no statistics for non-key string and
//     binary columns; its DataFile read back from the footer), because
//     iceberg-go's writer keeps about ten copies of each such value; only
//     unpartitioned tables take that path.
//   - Files may also be written ahead of their commit (DataWriter, fed
//     RowBatches from RowEncoder on other goroutines) and passed as
//     Commit.Data; they are unreferenced until that commit lands, so orphan
//     removal must only take files older than the longest such wait.
//   - Storage faults are classified (ClassifyStorage): no space or quota
//     heal; permission, read-only and not-a-directory need the operator.
//     A local warehouse is written through an IO that removes a new file
//     whose write or close failed, so no empty or partial file remains;
//     CheckWritable probes it once.
//   - A SQLite catalog's file (path, device, inode) is checked before every
//     table reload and after every commit: a deleted or replaced file fails
//     with ErrCatalogGone, and a commit that landed in it is not reported
//     as a success.
//   - New tables write zstd level 1 (table property
//     write.parquet.compression-level; see BenchmarkCodec) and no
//     dictionary pages (parquet.enable.dictionary=false: equal file sizes
//     on the benchmark's rows, ~22 % less CPU in the Parquet writer).
//     Tables created before keep their properties.
//   - No file carries lower/upper bounds for a uuid column, data and
//     equality-delete files alike: the Java Iceberg library (Trino 476
//     bundles 1.9.1; Spark and Flink share it) compares uuid bounds as
//     signed longs, not as the spec's unsigned bytes, and then skips
//     equality deletes and data files that do match (apache/iceberg#14216).
//     Each uuid column has the table property
//     write.metadata.metrics.column.<name>=counts, which iceberg-go's
//     writers honour: set at creation, by EnsureTable on a table that
//     lacks it, by Evolve in the commit that adds a uuid column, and by
//     Maintain before a pass. Every other type keeps its bounds: Java
//     orders strings (code points), binary (unsigned), decimals, numbers,
//     dates and times as the spec does (readers.go; deploy/interop
//     TestTrinoKeyTypes reads each through Trino).
//   - Maintenance (compaction) runs through Table.Maintain, which holds the
//     same per-table lock as Commit; every Table a Catalog opens for one
//     identifier shares it. A rewrite may write its files between two
//     Maintain calls, without the lock, after marking the files it
//     replaces with Table.ReplacingFiles: until it releases them, Commit
//     deletes rows of those files by equality, never by position. It
//     reads the keys of the files it wrote before it commits, so that the
//     next Commit's key index follows it without reading a file.
//   - EnsureTable opens an existing table whose schema differs from the
//     layout with the table's own layout (it refuses only different
//     identifier fields); Table.Evolve then changes the schema in place
//     to a layout: columns are added as optional fields in layout order,
//     types widened (int -> long, float -> double, decimal precision),
//     columns made optional, renamed, and deleted when the layout lacks
//     them (only pipeline.schema-change-behavior evolve and try_evolve
//     produce such layouts), except pinned ones (Table.PinnedColumns:
//     identifier fields, partition and sort sources). Columns are never
//     narrowed or reordered; data files written before read back with
//     NULL in added columns and promoted values. Evolve holds the lock
//     Commit holds. EvolveProps sets table properties in the same catalog
//     commit as the schema change; EnsureTableProps gives a created table
//     properties in its create commit and an existing one in a commit of
//     their own; Table.SetProperties commits only values that differ
//     (tableprops.go).
//   - No network wait is unbounded: Options.Timeout (default 1m) bounds
//     connecting to the catalog database, S3 and a REST catalog and every
//     wait for data on an open connection (timeouts.go), so a half-open
//     connection fails a call (an error naming the endpoint) instead of
//     hanging it. Every exported method that reaches iceberg-go first
//     puts the bounded S3 client into its context (Catalog.ioContext).
//
// See docs/decisions.md (equality deletes, the SQL catalog, commit resolution).
package lakewriter
