package checkpoint

import (
	"cmp"
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

// Config holds the coordinator's tunables. The configuration file sets
// the first five (pipeline.checkpoint-interval,
// pipeline.schema-change-behavior, source.snapshot.*); the others only a
// program does. Start from Defaults(); New fills the zero
// fields from it.
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
	// MaxCheckpointChanges cuts a checkpoint early once this many changes
	// are buffered, at the next transaction boundary.
	MaxCheckpointChanges int
	// MemoryBudget per table buffer in bytes; past it a buffer spills.
	MemoryBudget int64
	// IdleCommitInterval is how long a table without changes may keep an
	// old committed position before an empty commit moves it to the
	// current one. The source resumes from the lowest table position, so
	// a quiet table must not pin it to a point the source may have
	// discarded (an expired binlog).
	IdleCommitInterval time.Duration
}

// Defaults returns the defaults: a checkpoint every 10s, schema changes
// followed leniently (transform.Lenient), snapshot mode
// initial reading 2 chunks of 50,000 rows at once, a checkpoint cut early
// at 1,000,000 buffered changes, 64 MiB per table buffer, and an idle
// table's position moved up every 5 minutes.
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
	}
}

// withDefaults fills the zero fields of c from Defaults().
func (c Config) withDefaults() Config {
	d := Defaults()
	c.Interval = cmp.Or(c.Interval, d.Interval)
	c.SchemaChangeBehavior = cmp.Or(c.SchemaChangeBehavior, d.SchemaChangeBehavior)
	c.SnapshotMode = cmp.Or(c.SnapshotMode, d.SnapshotMode)
	c.SnapshotParallelism = cmp.Or(c.SnapshotParallelism, d.SnapshotParallelism)
	c.SnapshotChunkRows = cmp.Or(c.SnapshotChunkRows, d.SnapshotChunkRows)
	c.MaxCheckpointChanges = cmp.Or(c.MaxCheckpointChanges, d.MaxCheckpointChanges)
	c.MemoryBudget = cmp.Or(c.MemoryBudget, d.MemoryBudget)
	c.IdleCommitInterval = cmp.Or(c.IdleCommitInterval, d.IdleCommitInterval)
	return c
}

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
	v.Between("MaxCheckpointChanges", c.MaxCheckpointChanges, 1, 1<<40)
	if c.MemoryBudget <= 0 {
		v.Add("MemoryBudget", "use a positive number of bytes", "%d is not positive", c.MemoryBudget)
	}
	v.Positive("IdleCommitInterval", c.IdleCommitInterval)
	return v.List
}
