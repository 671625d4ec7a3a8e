package ledger

import (
	"fmt"
	"strconv"
)

// Summary property keys of an ingestion commit. Together they are a
// persisted format: PropsVersion changes whenever their meaning does.
const (
	PropVersion    = "floe.version"
	PropPipeline   = "floe.pipeline"
	PropCheckpoint = "floe.checkpoint"
	PropPosition   = "floe.position"
	// PropSnapshot holds the table's snapshot plan (capture.SnapshotPlan)
	// while its initial snapshot is in progress and, once complete, while
	// the table's position is before the latest of its chunk watermarks;
	// absent after.
	PropSnapshot = "floe.snapshot"
	// PropConvergeUntil is set while a table replays changes over rows a
	// resumed (inexact) snapshot read at later positions: until its
	// position passes this one, unchanged TOAST values of replayed
	// changes come from the source's current rows.
	PropConvergeUntil = "floe.converge-until"
	// PropSchemaChange is set on the first commit of a table after its
	// Iceberg schema evolved with the source: a JSON array of
	// SchemaChange, oldest first.
	PropSchemaChange = "floe.schema-change"
	// PropSourceTable is on every commit: a JSON SourceTable naming the
	// source table the rows come from and its identity at the source, so
	// that a later run can tell whether it is still the same table whose
	// changes were captured without a gap.
	PropSourceTable = "floe.source-table"
	// PropReset is on the commit that emptied a table whose continuity
	// could not be proven and planned its new snapshot: a JSON Reset.
	PropReset = "floe.reset"
	// PropEpoch is the epoch of the run that made the commit (decimal,
	// >= 1), see Claim. Since PropsVersion 2.
	PropEpoch = "floe.epoch"
)

// PropsVersion is the value of PropVersion written by this build.
// Version 2 added PropEpoch; version 1 commits (epoch 0) are still read,
// and a build that reads only version 1 refuses a table a fencing run
// has committed to, rather than commit to it unfenced.
const PropsVersion = "2"

// propsVersionV1 is the property set before PropEpoch.
const propsVersionV1 = "1"

// Commit is what one ingestion commit of a table records besides its
// rows. Empty strings and nil fields are not written.
type Commit struct {
	Pipeline   string
	Checkpoint int64
	// Epoch is the epoch of the run that commits (see Claim). 0 only in
	// commits of a build before PropsVersion 2: Props then writes the
	// version 1 set, without PropEpoch.
	Epoch int64
	// Position is the table's committed source position, as encoded by
	// capture.Position.String.
	Position string
	// Snapshot is the table's snapshot plan, as encoded by
	// capture.SnapshotPlan.Encode.
	Snapshot string
	// ConvergeUntil is a position (encoded like Position).
	ConvergeUntil string
	// Source is the table's source; nil when the commit records none (a
	// commit of an older build).
	Source *SourceTable
	// Reset is set on the commit that emptied the table for a new
	// snapshot.
	Reset *Reset
	// SchemaChanges are the evolutions of the table's Iceberg schema not
	// yet recorded by an earlier commit, oldest first.
	SchemaChanges []SchemaChange
}

// Props encodes the commit as snapshot summary properties. Record
// versions are set by the encoding, whatever the caller put there.
func (c Commit) Props() map[string]string {
	props := map[string]string{
		PropVersion:    PropsVersion,
		PropPipeline:   c.Pipeline,
		PropCheckpoint: strconv.FormatInt(c.Checkpoint, 10),
	}
	if c.Epoch > 0 {
		props[PropEpoch] = strconv.FormatInt(c.Epoch, 10)
	} else {
		// No epoch: the property set of version 1, which had none.
		props[PropVersion] = propsVersionV1
	}
	if c.Position != "" {
		props[PropPosition] = c.Position
	}
	if c.Snapshot != "" {
		props[PropSnapshot] = c.Snapshot
	}
	if c.ConvergeUntil != "" {
		props[PropConvergeUntil] = c.ConvergeUntil
	}
	if len(c.SchemaChanges) > 0 {
		props[PropSchemaChange] = encodeSchemaChanges(c.SchemaChanges)
	}
	if c.Source != nil {
		props[PropSourceTable] = encodeSourceTable(*c.Source)
	}
	if c.Reset != nil {
		props[PropReset] = encodeReset(*c.Reset)
	}
	return props
}

// Parse decodes the summary of one ingestion commit: the state a table
// resumes from. It checks PropsVersion and the records recovery relies on
// (floe.checkpoint, floe.source-table); the history records floe.reset
// and floe.schema-change are left to ParseReset and ParseSchemaChanges,
// so that recovery never depends on them.
func Parse(props map[string]string) (Commit, error) {
	v := props[PropVersion]
	if v != PropsVersion && v != propsVersionV1 {
		return Commit{}, fmt.Errorf("snapshot summary has %s=%q, this build reads %q or %q", PropVersion, v, propsVersionV1, PropsVersion)
	}
	n, err := ParseCheckpoint(props)
	if err != nil {
		return Commit{}, err
	}
	var epoch int64
	if v == PropsVersion {
		if epoch, err = parseEpoch(props[PropEpoch]); err != nil {
			return Commit{}, err
		}
	}
	c := Commit{
		Pipeline:      props[PropPipeline],
		Checkpoint:    n,
		Epoch:         epoch,
		Position:      props[PropPosition],
		Snapshot:      props[PropSnapshot],
		ConvergeUntil: props[PropConvergeUntil],
	}
	if s, ok := props[PropSourceTable]; ok {
		src, err := ParseSourceTable(s)
		if err != nil {
			return Commit{}, err
		}
		c.Source = &src
	}
	return c, nil
}

// ParseCheckpoint returns the checkpoint number a commit recorded.
func ParseCheckpoint(props map[string]string) (int64, error) {
	n, err := strconv.ParseInt(props[PropCheckpoint], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", PropCheckpoint, err)
	}
	return n, nil
}

// IsCommit reports whether a snapshot summary is an ingestion commit of
// any pipeline (compaction and other writers leave PropPipeline out).
func IsCommit(props map[string]string) bool { return props[PropPipeline] != "" }

// IsCommitOf reports whether a snapshot summary is an ingestion commit of
// pipeline.
func IsCommitOf(props map[string]string, pipeline string) bool {
	return props[PropPipeline] == pipeline
}

// CommitOf returns a predicate for IsCommitOf(props, pipeline), the shape
// lakewriter.Table.LatestProps takes.
func CommitOf(pipeline string) func(map[string]string) bool {
	return func(props map[string]string) bool { return IsCommitOf(props, pipeline) }
}

// Last returns the newest snapshot of history (newest first, as a
// table's ancestry gives it) that pipeline committed, reading each one's
// summary with summary; false when there is none.
func Last[S any](history []S, summary func(S) map[string]string, pipeline string) (S, bool) {
	for _, s := range history {
		if IsCommitOf(summary(s), pipeline) {
			return s, true
		}
	}
	var none S
	return none, false
}
