package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/schema/problem"
	"github.com/floe-cdc/floe/schema/registry"
	"github.com/floe-cdc/floe/state"
	"github.com/floe-cdc/floe/transform"
)

// Options configures a Coordinator: what it runs on, and its Config.
type Options struct {
	Pipeline string
	Source   capture.Source
	Catalog  *lakewriter.Catalog
	Router   *transform.Router
	Mode     transform.Mode
	// Store is the local cache of committed state; nil disables it.
	Store *state.Store
	// Config holds the tunables; zero fields take Defaults().
	Config
	// SpillDir holds buffer spill files; it is emptied on start. Default:
	// floe-spill-<Pipeline> in the system's temporary directory.
	SpillDir string
	Logger   *slog.Logger
	Metrics  *Metrics
	// Progress, when set, receives a progress bar for the initial snapshot.
	Progress io.Writer
	// Fencing is the run's epoch against other runs of the pipeline,
	// shared by the coordinators of one run's attempts; nil: a new run
	// (NewFencing).
	Fencing *Fencing
	// Status, when set, receives the per-table state after recovery and
	// after every checkpoint (see StatusBoard).
	Status *StatusBoard
	// Control, when set, carries an operator's requests (pausing a
	// table), shared by the coordinators of one run's attempts; see
	// control.go.
	Control *Control
	// Registry, when set, holds each sink table's Avro schema; see registerLayout.
	Registry registry.Registry
	// Subjects names each table's subject in Registry; the zero value is
	// registry.DefaultSubjectName.
	Subjects registry.SubjectName
}

func (o *Options) setDefaults() error {
	if o.Pipeline == "" || o.Source == nil || o.Catalog == nil || o.Router == nil {
		return errors.New("checkpoint: Pipeline, Source, Catalog and Router are required")
	}
	o.Config = o.Config.withDefaults()
	if problems := o.Config.Validate(); len(problems) > 0 {
		return problem.List(problems)
	}
	if o.SpillDir == "" {
		o.SpillDir = filepath.Join(os.TempDir(), "floe-spill-"+o.Pipeline)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if o.Fencing == nil {
		o.Fencing = NewFencing()
	}
	return nil
}

// Coordinator runs one pipeline. Create it with New and call Run once.
type Coordinator struct {
	opts   Options
	log    *slog.Logger
	tables map[capture.TableID]*tableRun
	order  []*tableRun // discovery order, for stable logs and commits

	nextCheckpoint int64
	// beside reads the chunks of the tables snapshotted beside the
	// stream (beside.go); nil when there are none.
	beside *besideRun
	// epoch is the run's epoch (Fencing), set once the tables are
	// claimed; every commit carries it.
	epoch int64
	// from is where the source's stream starts (StartInfo.From).
	from capture.Position
	// lastPos is the position of the last complete transaction applied;
	// ackedPos the last one acknowledged to the source.
	lastPos  capture.Position
	ackedPos capture.Position
	// buffered counts changes applied since the last checkpoint.
	buffered int
	// deletes counts the current checkpoint's delete keys by kind.
	deletes deleteCounts
	// dropping holds the tables found dropped at the source by the
	// identity check, with a position every change of theirs is at or
	// before (see dropPending in tables_online.go).
	dropping map[capture.TableID]capture.Position
	// newTablesAt is when the last look for new tables ended; lookup is
	// the one in flight (nil: none); newTables are the tables found and
	// not yet acted on (newtables.go).
	newTablesAt time.Time
	lookup      *newTablesLookup
	newTables   []capture.TableID
	// dlqs are the dead-letter tables by sink namespace (deadletters.go);
	// openDead is set while the open transaction holds dead letters
	// without their identity (endDeadTxn).
	dlqs     map[string]*dlqState
	openDead bool
	// landing is the checkpoint whose commits land in the background
	// while the stream loop applies the next changes (overlap.go); nil
	// when none is.
	landing *landing
}

// tableRun is the coordinator's view of one captured table.
type tableRun struct {
	id     capture.TableID
	src    *schema.Table
	target transform.Target
	layout *schema.Table
	table  *lakewriter.Table

	committed  capture.Position // nil when nothing was committed
	checkpoint int64
	// lastCommit is when this run last committed the table (or recovered it).
	lastCommit time.Time
	// snapshotID is the Iceberg snapshot of this run's last commit of
	// the table (0 before its first).
	snapshotID int64
	// plan is non-nil while the table's initial snapshot is in progress
	// (or about to start); done chunks are the committed ones.
	plan *capture.SnapshotPlan
	// window is the complete plan of a snapshot whose chunks carry
	// watermarks (capture.Watermarker) that the table's committed
	// position has not passed yet (windowEnd, the latest of them). The
	// source drops changes the chunks already hold until then, and the
	// plan stays in the table's commits so that a restart knows too.
	window    *capture.SnapshotPlan
	windowEnd capture.Position
	// needsSnapshot is true when the table must be snapshotted this run.
	needsSnapshot bool
	// convergeUntil is set while the table replays changes over rows an
	// inexact snapshot (or a row re-read) saw at later positions; changes
	// at or before it are applied as Converging (see transform.Meta).
	convergeUntil capture.Position

	// paused is set while the table is paused (control.go): its changes
	// are neither buffered nor committed and its position stays; missed
	// is set once a change of it was passed over while paused.
	paused, missed bool

	// aliases maps, under schema-change-behavior ignore, the source
	// names of renamed columns to the sink columns they keep landing in,
	// holder each such sink column to the source name that holds it now
	// (see followRenames); fitted caches source layouts with those names.
	aliases, holder map[string]string
	fitted          map[*schema.Table]*schema.Table

	buf *transform.Buffer
	// bufKeys is the PeakKeys of the table's last committed buffer: the
	// next one's SizeHint.
	bufKeys int
	// data holds the rows of snapshot chunks written straight to data
	// files, bypassing buf (see direct.go); nil when none.
	data *chunkWriter
	// schemaChanges are the evolutions of the table's Iceberg schema not
	// yet recorded in a commit (see ledger.PropSchemaChange).
	schemaChanges []ledger.SchemaChange
	// recorded is what the table's last commit recorded of its source
	// (nil: nothing, a commit of an older build or no commit at all);
	// identity is the table's identity at the source as this run found it
	// after Start (capture.TableIdentifier; "" for other sources), which
	// its commits record and every checkpoint checks.
	recorded *ledger.SourceTable
	identity string
	// reset is set while the table must be emptied and snapshotted again
	// because its continuity could not be proven; the commit that empties
	// it records it (ledger.PropReset) together with the new snapshot plan.
	reset       *ledger.Reset
	resetLogged bool
	// floor is the position the table's snapshot is exactly consistent
	// with (an exported snapshot: capture.SnapshotExporter, or the
	// stream's start when it is exact); its commits carry at least this
	// position, so that its changes at or before it are skipped. nil
	// when its chunks are read at later positions and converge by replay.
	floor capture.Position
	// chunks holds the snapshot chunks whose rows are in buf or data.
	chunks []readChunk
	// beside is set while the table is snapshotted beside the stream
	// (beside.go).
	beside *besideTable
	// branch is the Iceberg branch the table's commits go to while its
	// re-snapshot is not complete ("": main; see onestate.go).
	branch string
	// dead holds the changes of this checkpoint that cannot be written
	// to the table (deadletters.go): they go to the dead-letter table
	// before the table's commit. deadSkip holds the identities of dead
	// letters the dead-letter table holds for checkpoints the table has
	// not committed (a crash between the two commits), which the replay
	// leaves out; deadCount is the number of the table's dead letters in
	// the dead-letter table.
	dead      []deadLetter
	deadSkip  map[string]bool
	deadCount int64
}

// readChunk is a snapshot chunk read and not yet committed: its index and
// the encoded watermark it was read at ("" when read at the stream's
// start, see capture.Watermarker).
type readChunk struct {
	index     int
	watermark string
}

// New fills the zero fields of opts.Config from Defaults(), refuses
// Options missing what the coordinator runs on or whose Config Validate
// faults (a problem.List), and returns a Coordinator.
func New(opts Options) (*Coordinator, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	return &Coordinator{opts: opts, log: opts.Logger, tables: map[capture.TableID]*tableRun{}}, nil
}

// Run discovers the tables, recovers their committed state, snapshots what
// needs it and streams until ctx is cancelled. On cancellation it commits
// what it has buffered up to the last complete transaction and returns nil.
func (c *Coordinator) Run(ctx context.Context) error {
	err := c.run(ctx)
	if err != nil && ctx.Err() != nil {
		// Stopped by a signal mid-step (a connect, a chunk plan): what was
		// committed stays committed and the next run starts from it.
		c.log.Warn("stopped on a signal", "interrupted", err.Error())
		return nil
	}
	return err
}

func (c *Coordinator) run(ctx context.Context) error {
	if err := os.RemoveAll(c.opts.SpillDir); err != nil {
		return fmt.Errorf("clear spill dir: %w", err)
	}
	if err := os.MkdirAll(c.opts.SpillDir, 0o755); err != nil {
		return fmt.Errorf("create spill dir: %w", err)
	}
	defer c.closeBuffers()

	if err := c.recover(ctx); err != nil {
		return err
	}
	if err := c.recoverDeadLetters(ctx); err != nil { // deadletters.go
		return err
	}
	c.requestedResets()
	c.restartBesidePlans()                         // beside.go
	if err := c.recreatedTables(ctx); err != nil { // tables_online.go
		return err
	}
	if err := c.markDroppedWhileAway(ctx); err != nil { // tables_online.go
		return err
	}
	c.initPaused()
	c.publishStatus()
	// Before Start alters what the source carries (the publication).
	if err := c.checkContinuity(ctx); err != nil {
		return err
	}
	req := capture.StartRequest{Resume: c.resumePosition(), Snapshot: c.snapshotNeeded()}
	info, err := c.opts.Source.Start(ctx, req)
	if err != nil {
		return fmt.Errorf("start source: %w", err)
	}
	c.log.Info("source started", "from", info.From, "exact_snapshot", info.Exact, "snapshot", req.Snapshot,
		"resume", fmtPos(req.Resume))
	c.from, c.lastPos = info.From, info.From
	c.ackedPos = req.Resume
	if err := c.checkStart(ctx, info.From); err != nil {
		return err
	}

	switch {
	case c.snapshotNeeded() && c.besideEligible(info):
		if err := c.prepareBeside(ctx, info); err != nil { // beside.go
			return err
		}
	case c.snapshotNeeded():
		if err := c.snapshot(ctx, info); err != nil {
			return err
		}
	default:
		if snap, ok := c.opts.Source.(capture.Snapshotter); ok {
			if err := snap.EndSnapshot(ctx); err != nil {
				return fmt.Errorf("end snapshot: %w", err)
			}
		}
	}
	if ctx.Err() != nil || c.opts.SnapshotMode == SnapshotInitialOnly {
		c.log.Info("stopping after snapshot", "reason", stopReason(ctx))
		return nil
	}
	c.clearDropMarks(ctx) // tables_online.go
	if err := c.recordStart(ctx, info.From); err != nil {
		return err
	}
	c.publishStatus()
	if err := c.setWatermarks(ctx); err != nil {
		return err
	}
	return c.stream(ctx)
}

func stopReason(ctx context.Context) string {
	if ctx.Err() != nil {
		return "signal"
	}
	return "snapshot.mode=initial_only"
}

// laterOf returns the later of two positions (nil counts as earliest).
func laterOf(a, b capture.Position) capture.Position {
	if a == nil || (b != nil && b.Compare(a) > 0) {
		return b
	}
	return a
}

func fmtPos(p capture.Position) string {
	if p == nil {
		return "none"
	}
	return p.String()
}

// buffer returns the table's buffer for the current checkpoint.
func (c *Coordinator) buffer(t *tableRun) (*transform.Buffer, error) {
	if t.buf != nil {
		return t.buf, nil
	}
	skip, narrow := c.opts.SchemaChangeBehavior.Projects()
	buf, err := transform.NewBuffer(transform.BufferOptions{
		Layout: t.layout, Mode: c.opts.Mode, SpillDir: c.opts.SpillDir,
		MemoryBudget: c.opts.MemoryBudget, Table: t.id.String(),
		SkipColumns: skip, Narrow: narrow, SizeHint: t.bufKeys,
	})
	if err != nil {
		return nil, fmt.Errorf("buffer for %s: %w", t.id, err)
	}
	t.buf = buf
	return buf, nil
}

func (c *Coordinator) closeBuffers() {
	for _, t := range c.order {
		if t.buf != nil {
			if err := t.buf.Close(); err != nil {
				c.log.Warn("close buffer", "table", t.id.String(), "err", err)
			}
			t.buf = nil
		}
	}
}

// dirty reports whether any table holds buffered changes (or snapshot
// rows written but not committed).
func (c *Coordinator) dirty() bool {
	for _, t := range c.order {
		if t.buf != nil || t.data != nil || len(t.dead) > 0 {
			return true
		}
	}
	return false
}
