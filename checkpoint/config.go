package checkpoint

import (
	"time"

	"github.com/floe-cdc/floe/schema/problem"
	"github.com/floe-cdc/floe/transform"
)

// Snapshot modes, as configured by source.snapshot.mode.
const (
	SnapshotInitial     = "initial"      // snapshot tables with no committed data, then stream
	SnapshotNever       = "never"        // stream only
	SnapshotInitialOnly = "initial_only" // snapshot, then stop
)

// What a stream does with a change of a captured table that it cannot
// follow from the log (capture.OpUnreadable: a column added with a
// default, a statement-logged DML, partition operations that drop rows),
// as configured by pipeline.on-unfollowable-change.
const (
	// UnfollowableResnapshot snapshots that table again online (the other
	// tables keep streaming), as floe resnapshot --online would.
	UnfollowableResnapshot = "resnapshot"
	// UnfollowableStop stops the run with the change's error, which names
	// floe resnapshot.
	UnfollowableStop = "stop"
)

// Config holds the coordinator's tunables. The configuration file sets
// the first five (pipeline.checkpoint-interval,
// pipeline.schema-change-behavior, source.snapshot.*), the volume
// triggers (pipeline.checkpoint-max-changes, pipeline.checkpoint-max-mb)
// UnfollowableChange (pipeline.on-unfollowable-change) and DeadLetter
// (pipeline.dead-letter); the others
// only a program does. Start from Defaults(); New fills the zero fields
// from it.
type Config struct {
	// Interval between checkpoints (pipeline.checkpoint-interval).
	Interval time.Duration
	// SchemaChangeBehavior is what a sink table does when its source
	// table's layout changes (pipeline.schema-change-behavior; see
	// transform.PlanSinkChange).
	SchemaChangeBehavior transform.Behavior
	// SnapshotMode is one of SnapshotInitial, SnapshotNever and
	// SnapshotInitialOnly (source.snapshot.mode).
	SnapshotMode string
	// SnapshotParallelism is the number of chunks read at once, 1 to 64
	// (source.snapshot.parallelism).
	SnapshotParallelism int
	// SnapshotChunkRows is the rows per snapshot chunk
	// (source.snapshot.chunk-rows).
	SnapshotChunkRows int

	// Volume triggers: a checkpoint is cut before Interval has passed once
	// either is reached, at the next transaction boundary (also during
	// the initial snapshot, after the chunk that reaches it), so a busy
	// pipeline may run with a long Interval without its buffers and
	// commits growing without bound; Interval still cuts a quiet one.
	//
	// MaxCheckpointChanges counts the changes (and snapshot rows)
	// buffered since the last checkpoint
	// (pipeline.checkpoint-max-changes).
	MaxCheckpointChanges int
	// MaxCheckpointBytes counts the estimated size of the changes in the
	// table buffers (transform.Buffer.AppliedBytes: capture.Change.Size,
	// the estimate sources split transactions by); 0 = no byte trigger
	// (pipeline.checkpoint-max-mb, in MiB). Snapshot chunks written
	// straight to data files count toward MaxCheckpointChanges only.
	MaxCheckpointBytes int64

	// MemoryBudget per table buffer in bytes; past it a buffer spills.
	MemoryBudget int64
	// IdleCommitInterval is how long a table without changes may keep an
	// old committed position before an empty commit moves it to the
	// current one. The source resumes from the lowest table position, so
	// a quiet table must not pin it to a point the source may have
	// discarded (an expired binlog).
	IdleCommitInterval time.Duration
	// UnfollowableChange is UnfollowableResnapshot or UnfollowableStop
	// (pipeline.on-unfollowable-change). Resnapshot needs Options.Control
	// and a snapshot mode other than SnapshotNever; without them the run
	// stops as with UnfollowableStop.
	UnfollowableChange string
	// DeadLetter is DeadLetterTable or DeadLetterOff
	// (pipeline.dead-letter): what happens to a change with a value the
	// source cannot decode (see deadletters.go).
	DeadLetter string
}

// Defaults returns the defaults: a checkpoint every 10s, schema changes
// followed leniently (transform.Lenient), snapshot mode
// initial reading 2 chunks of 50,000 rows at once, a checkpoint cut early
// at 1,000,000 buffered changes (no byte trigger), 64 MiB per table
// buffer, an idle table's position moved up every 5 minutes, and a table
// with a change the stream cannot follow snapshotted again online, and a
// change with a value that cannot be written sent to the dead-letter
// table.
func Defaults() Config {
	return Config{
		Interval:             10 * time.Second,
		SchemaChangeBehavior: transform.Lenient,
		SnapshotMode:         SnapshotInitial,
		SnapshotParallelism:  2,
		SnapshotChunkRows:    50_000,
		MaxCheckpointChanges: 1_000_000,
		MemoryBudget:         64 << 20,
		IdleCommitInterval:   5 * time.Minute,
		UnfollowableChange:   UnfollowableResnapshot,
		DeadLetter:           DeadLetterTable,
	}
}

// withDefaults fills the zero fields of c from Defaults().
func (c Config) withDefaults() Config { return problem.WithDefaults(c, Defaults()) }

// Validate returns every problem of c, each naming its field in the
// configuration file and the fix; settings no file sets are named by
// their Go field name. The lower bound floe run puts on the interval
// (each checkpoint is an Iceberg commit per changed table) is not the
// coordinator's: tests run it with milliseconds.
func (c Config) Validate() []problem.Problem {
	var v problem.Checks
	v.Positive("pipeline.checkpoint-interval", c.Interval)
	v.OneOf("pipeline.schema-change-behavior", string(c.SchemaChangeBehavior), transform.Behaviors()...)
	v.OneOf("source.snapshot.mode", c.SnapshotMode, SnapshotInitial, SnapshotNever, SnapshotInitialOnly)
	v.Between("source.snapshot.parallelism", c.SnapshotParallelism, 1, 64)
	v.Between("source.snapshot.chunk-rows", c.SnapshotChunkRows, 1, 1<<30)
	v.Between("pipeline.checkpoint-max-changes", c.MaxCheckpointChanges, 1, 1<<40)
	if c.MaxCheckpointBytes < 0 {
		v.Add("pipeline.checkpoint-max-mb", "use a positive size, or 0 for no byte trigger", "%d bytes is negative", c.MaxCheckpointBytes)
	}
	if c.MemoryBudget <= 0 {
		v.Add("MemoryBudget", "use a positive number of bytes", "%d is not positive", c.MemoryBudget)
	}
	v.Positive("IdleCommitInterval", c.IdleCommitInterval)
	v.OneOf("pipeline.on-unfollowable-change", c.UnfollowableChange, UnfollowableResnapshot, UnfollowableStop)
	v.OneOf("pipeline.dead-letter", c.DeadLetter, DeadLetterTable, DeadLetterOff)
	return v.List
}
