// Package checkpoint is Floe's coordinator: it drives a capture.Source,
// feeds its batches through transform buffers, decides when to cut a
// checkpoint, commits every dirty table to Iceberg through lakewriter, and
// only then acknowledges the position to the source.
//
// In: a Source (and the optional abilities of capture/abilities.go it
// has), a Router, a lakewriter.Catalog, and a Config (the checkpoint
// interval and source.snapshot.* of a configuration file; Defaults holds
// every default, Validate reports each bad setting with its field and
// fix, New refuses a Config Validate faults).
// Out: at the start, one claim snapshot per table (floe.claim: the run's
// epoch); then one Iceberg snapshot per dirty table per checkpoint, whose
// summary carries floe.pipeline, floe.checkpoint, floe.epoch, floe.position
// and floe.source-table (and floe.snapshot while that table's initial snapshot
// is in progress or its chunk watermarks are not passed yet,
// floe.converge-until while it converges, floe.schema-change on the first
// commit after its Iceberg schema evolved, floe.reset on the commit that
// emptied it for a new snapshot), encoded and parsed by lakewriter/ledger;
// before them, in a checkpoint with dead letters, one commit per sink
// namespace to <namespace>._floe_dead_letters carrying floe.dead-letters;
// after each checkpoint, the tables it committed in the state dir (package
// state).
//
// Invariants:
//   - a checkpoint is cut only between complete source transactions;
//   - data and position of a table land in the same Iceberg commit;
//   - the source is acknowledged no position above the lowest one every
//     captured table has committed (nor above what the stream reached);
//     a quiet table moves up by an empty commit after IdleCommitInterval,
//     or at once on a capture.Batch.Sync;
//   - a table's committed position never moves backwards;
//   - a checkpoint of streamed changes only, cut by the interval or a
//     volume trigger, lands in the background while the stream applies
//     the next changes into new buffers (overlap.go); it is finished
//     (positions recorded, then acknowledged) before the next cut and
//     before any schema change, table change or stop; a failed commit
//     there ends the run;
//   - fencing: a run (one Fencing, shared by its attempts) claims every
//     table for its epoch (one above the highest any of them records)
//     before it reads any table's history, and each of its commits is
//     refused (lakewriter.FencedError, never retried) once a table records
//     a newer epoch: after a claim no older run of the pipeline commits,
//     and what one committed before it is in the history the new run
//     reads (see epoch.go and docs/checkpoint-protocol.md);
//   - on start, each table's committed position and snapshot progress are
//     read back from its Iceberg history (the state dir holds no positions),
//     the source resumes from the lowest of them, and a change at or before
//     a table's committed position is skipped for that table;
//   - a snapshot chunk is done exactly when its rows are committed: the
//     commit that holds them also records it in floe.snapshot. Chunks that
//     need no per-key state (full read images of disjoint key ranges, the
//     sink key being the source key) skip the transform buffer: their rows
//     go straight to a lakewriter.DataWriter on the reader goroutines and
//     its files join the table's next commit (see direct.go); files of a
//     failed run that were never handed to a commit are removed;
//   - a chunk a capture.Watermarker read at a position of its own (its
//     watermark, the batch's Position) is recorded with it in the plan
//     (SnapshotPlan.Watermarks); the complete plan stays in floe.snapshot
//     until the table's committed position passes its latest watermark,
//     and before every Stream the source gets the plans still inside
//     that window (SetWatermarks), from this run or from the history;
//   - chunks read after the stream's start (an inexact snapshot) put their
//     table in a convergence window (floe.converge-until): replayed
//     changes in it take values they were not sent from the source's
//     current rows (capture.RowReader), never from Iceberg;
//   - a source layout the table's sink layout does not hold (at start,
//     or a change's new Schema) evolves the Iceberg table first
//     (transform.EvolveSinkLayout, lakewriter Table.Evolve): rows
//     buffered in the old layout are committed before, and a Barrier
//     batch (a DDL) is always followed by a checkpoint; a change the
//     sink cannot follow stops the pipeline naming floe resnapshot; a
//     Barrier's Layouts are adopted before its changes; a column the
//     source states renamed (schema.Column.RenamedFrom) is renamed in
//     Iceberg, keeping its field id; a layout at or before the table's
//     committed position is not adopted; at start, a source that states
//     renames (capture.RenameStater) and whose current layout replaces
//     columns of the table (transform.ReplacedColumns) leaves the
//     evolution to the stream;
//   - Config.SchemaChangeBehavior (pipeline.schema-change-behavior)
//     decides that evolution (transform.PlanSinkChange): lenient (the
//     default) as above; exception stops before the table changes, naming
//     the table, position and changes; evolve also deletes columns the
//     source dropped (not pinned ones: lakewriter Table.PinnedColumns);
//     try_evolve keeps what the table cannot take; ignore never changes
//     the schema and follows renames in the run's memory (followRenames).
//     Under evolve, try_evolve and ignore the buffers leave out change
//     columns the sink lacks, and under try_evolve and ignore write a
//     wider change column's values in the sink's type only when they fit
//     exactly (transform.BufferOptions): a value that does not is never
//     written (a dead letter, or a stop under pipeline.dead-letter off);
//   - with Options.Registry set, a sink layout is registered (its Avro
//     schema, schema/registry) before its Iceberg table is created or
//     evolved, under the subject Options.Subjects names; the
//     schema-change record names the registered version, and the table
//     properties floe.registry.* (ledger.RegistryEntry.TableProps) name
//     it from the create commit, the evolution's commit, or the start of
//     a run on a table that lacks them; a layout the subject's
//     compatibility rule refuses stops the pipeline with the table
//     unchanged, and a naming that maps two captured tables to one
//     subject is refused at start (registry.go);
//   - a table that receives no changes still moves forward: its start
//     position is committed before streaming, and an empty commit advances
//     it after IdleCommitInterval, so no table pins the source's resume
//     point;
//   - every commit records the table's source and, for a
//     capture.TableIdentifier, its identity there as the run found it
//     after Start (floe.source-table). At start (before Start) a table
//     with history that the source no longer carries, or whose identity
//     differs from the recorded one, and (after Start) a table whose
//     position is behind the stream's start, lost changes: it is reset
//     (emptied in one commit with its new plan and floe.reset) and
//     snapshotted again while the others resume, its commits going to
//     Iceberg branch floe-resnapshot until it is complete, when main is
//     pointed at the branch's head in one metadata commit (onestate.go;
//     recovery reads the branch while it exists); with snapshot.mode
//     never the run refuses instead. Before every checkpoint's commits
//     the identities are checked again, and a change stops the run;
//   - tables read from scratch while the source's stream does not start
//     at an exported snapshot are read under one a
//     capture.SnapshotExporter takes at R: their commits carry R (their
//     floor), their changes at or before R are skipped, and they need
//     no convergence. When some other table streams and none of them
//     resumes a plan, they are read beside the stream (beside.go): the
//     stream starts
//     at once, their chunks are applied between its transactions through
//     the buffer, and in upsert mode a chunk row whose key the stream
//     changed after the chunk's position is left out; such a plan is
//     Streamed, and a later attempt's rows for it replace the stream's.
//     A capture.BesideWatermarker (MariaDB; MySQL in watermark windows) has its
//     tables read beside the stream too, each chunk at its own watermark
//     W, from a floor taken before any read: a chunk waits until the
//     stream has applied W, carries deletes of keys gone at W, and an
//     interrupted such plan resets its table (restartBesidePlans); on
//     MySQL W is the high end of a watermark window, and the chunk has
//     no row and no delete of a key whose change in the window the
//     stream sent: such a key keeps what the stream gave it;
//   - stream batches wait for the coordinator in a queue bounded by count
//     and by size (capture.Batch.Size): it takes no batch from the source
//     while it holds maxQueuedBytes, so it holds less than that plus one
//     batch, and the source, waiting, one more; the source cannot decode
//     far ahead of a commit;
//   - a paused table (Options.Control, control.go) stands as after a
//     crash at its last commit: its changes are passed over, it gets no
//     idle commit and no evolution, so the acknowledgement holds its
//     changes at the source; resuming it after it missed changes ends the
//     attempt with ErrRestart once the other tables are committed, and
//     the next attempt replays them from the lowest committed position;
//     a requested re-snapshot (Control.Resnapshot) ends the attempt the
//     same way, and the next one resets the table (ledger.CauseRequested)
//     as a table whose continuity was lost;
//   - a batch naming dropped tables (capture.Batch.Dropped) is a
//     barrier: every table is committed up to and including it, the
//     dropped table's Iceberg table gets the properties PropDroppedAt
//     and PropDroppedTime, and the table leaves the run (it no longer
//     holds the acknowledgement back); a drop at or before the table's
//     committed position is a replay and passed over. A batch naming
//     new tables (Added) not captured yet ends the attempt with
//     ErrRestart once every table is committed up to it; the next
//     attempt discovers and snapshots them. A table found at start
//     whose Iceberg table is marked dropped (and not committed past the
//     drop) is a new table of that name: it is reset (CauseRecreated)
//     and its mark is removed after its reset commit. At the start of
//     every attempt, an Iceberg table in the Router's namespaces that this
//     pipeline committed to last, that the run does not capture and whose
//     source table no longer exists (capture.TableLister) was dropped
//     while no run saw it: it is marked with the source's current
//     position and left (markDroppedWhileAway; its changes after its last
//     commit are not in it). A table marked for a reset is evolved to
//     the source's current layout first (acceptGaps), the layout its
//     snapshot reads. A table the identity check finds dropped at a
//     source that tells drops apart (capture.DropFinder: PostgreSQL,
//     whose stream carries no DROP) passes the check and is committed as
//     any table until the stream passes the source position read when it
//     was found (every change of it is at or before that), then marked
//     with the stream's position and retired; a source whose stream does
//     not announce new tables (capture.NewTableFinder: PostgreSQL) is
//     asked for them from a checkpoint tick, NewTablesInterval after the
//     last look ended, on a goroutine of its own (the coordinator never
//     waits for the source's answer, so a stream failure or a stop is
//     seen while a look hangs), and one found ends the attempt with
//     ErrRestart at the next tick, as an Added batch does (newtables.go);
//   - a change the source could not decode (capture.Change.Err) is
//     skipped when its table's committed position is at or after it;
//     otherwise a value error (a *schema.ValueError) is a dead letter
//     under Config.DeadLetter table (the default; deadletters.go), and
//     anything else, or any such change under off, stops the run naming
//     the table, the value and the fix; so is a change the buffer cannot
//     place (transform.PlaceError: schema-change-behavior try_evolve or
//     ignore and a value that does not fit the narrower sink column),
//     with its decoded row as text (a snapshot chunk holding one goes
//     through the buffer, not straight to data files: direct.go). Dead letters of a checkpoint are
//     appended to <namespace>._floe_dead_letters (DeadLetterLayout) before
//     any table of the checkpoint commits; that commit records per source
//     table the checkpoint and position its newest dead letters belong to
//     and their count (ledger.DeadLetters). A table never commits a
//     checkpoint whose dead letters are not in the dead-letter table, and
//     at start, a table whose mark is above its own checkpoint (a crash
//     between the two commits) leaves out, on replay, the dead letters
//     that table already holds (by identity: position and order in the
//     transaction; "r <key>" for a snapshot row): each dead letter lands
//     exactly once. A dead change is not applied: the table keeps the
//     key's previous version (none for an insert or snapshot read). The
//     dead-letter table of every sink namespace is created if missing
//     and claimed for the run's epoch at start, with the run's tables
//     (runDLQs), so that no older run can create one unclaimed later;
//     its commits are fenced.
//
// Reading order, one change from capture.Batch to commit to ack:
//   - coordinator.go: Options, the per-table state (tableRun) and run,
//     the life of one run: recover, checkContinuity, Source.Start,
//     checkStart, snapshot, recordStart, setWatermarks, stream;
//   - recover.go: each table's committed state read back from its
//     Iceberg history (openTable), and the resume position, the lowest
//     of them (resumePosition);
//   - continuity.go: the identity and position checks and table resets;
//   - onestate.go: a reset table's re-snapshot committed to a branch and
//     published on main at once (fastForward);
//   - snapshot.go: the initial snapshot in four stages joined by
//     channels: planStage (tables to chunk plans), feedStage (plans to
//     chunk jobs, table after table), readStage (chunk jobs to chunkReads,
//     encoded for data files when the chunk may skip the Buffer, each
//     reader a goroutine that reads and one that encodes) and
//     applyStage (chunkReads into buffers or data writers, checkpoints),
//     the only one that touches a tableRun; then finishSnapshot. direct.go
//     holds the data writers of chunks that skip the Buffer; budget.go the
//     chunkBudget that bounds the bytes of chunks read and not yet applied
//     (twice MemoryBudget; a table's first chunk is read before its
//     others, so that its size is known);
//   - stream.go: stream receives the batches and decides when to cut
//     (never inside a split transaction; at a Barrier or Sync at once);
//     adoptLayouts evolves a table whose layout changed, applyStream
//     buffers each change or skips it when its table holds it; an
//     unreadable change (capture.OpUnreadable: its effect on existing
//     rows is not in the log) either stops the run or, with
//     UnfollowableChange resnapshot, asks Control to snapshot that table
//     again and ends the attempt at once (ErrRestart), committing nothing
//     past it, so a crash before the table's reset commit replays it
//     (unfollowable; checkAddedAtStart does the same for such a change
//     found at start);
//   - commit.go: cut commits every dirty table (commitTable, resolve) and
//     the quiet tables due (idleTables, advanceTable), then acknowledges;
//   - ack.go: ackCommitted, the lowest position every table committed;
//   - window.go: the snapshot watermark windows; props.go: what a commit
//     records, through lakewriter/ledger;
//   - tables_online.go: tables dropped and created while the run
//     streams (tablesChanged, retireDropped, recreatedTables);
//   - deadletters.go: dead letters (held per table, endDeadTxn,
//     commitDeadLetters before a checkpoint's table commits,
//     recoverDeadLetters at start);
//   - control.go: Control, an operator's requests (pausing a table,
//     re-snapshotting one) and the coordinator's own re-snapshot requests
//     for unfollowable changes (each with the cause its reset records),
//     applied between transactions (applyControl);
//   - status.go: StatusBoard, the copy of the per-table state the
//     coordinator publishes after recovery and at the end of every
//     checkpoint (Options.Status), which other goroutines read instead of
//     its fields.
//
// Each rule of the protocol has a contract test (contract_test.go) that
// runs coordinators over the in-memory source capture/memsource, which
// passes the capture conformance suite, into a local SQLite catalog, with
// catalog faults injected, and fails when the rule is broken:
// TestContractAckAfterCommit, TestContractCutBetweenTransactions,
// TestContractResumeFromLowest, TestContractFlushAtBarrier,
// TestContractIdleTablesAdvance and TestContractOneCommitPerCheckpoint.
// They run under go test -short.
//
// floe verify is package checkpoint/verify, which this package does not
// import. See docs/checkpoint-protocol.md.
package checkpoint
