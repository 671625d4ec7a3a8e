package checkpoint

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/floe-cdc/floe/capture"
)

// Snapshot summary property keys. Together they are a persisted format:
// PropsVersion changes whenever their meaning does.
const (
	PropVersion    = "floe.version"
	PropPipeline   = "floe.pipeline"
	PropCheckpoint = "floe.checkpoint"
	PropPosition   = "floe.position"
	// PropSnapshot holds the table's capture.SnapshotPlan while its initial
	// snapshot is in progress and, once complete, while the table's
	// position is before the latest of its chunk watermarks; absent after.
	PropSnapshot = "floe.snapshot"
	// PropConvergeUntil is set while a table replays changes over rows a
	// resumed (inexact) snapshot read at later positions: until its
	// position passes this one, unchanged TOAST values of replayed
	// changes come from the source's current rows (see capture.RowReader).
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
)

// SourceTableVersion is the version of the PropSourceTable encoding.
const SourceTableVersion = 1

// SourceTable is the source of a table's commit.
type SourceTable struct {
	Version int `json:"v"`
	// Table is the source table ("schema.table").
	Table string `json:"table"`
	// Identity is the table's identity at the source when the run that
	// made the commit started (capture.TableIdentifier); absent for a
	// source without identities.
	Identity string `json:"identity,omitempty"`
}

// ResetVersion is the version of the PropReset encoding.
const ResetVersion = 1

// Reset records why a table was emptied and snapshotted again.
type Reset struct {
	Version int `json:"v"`
	// Cause is one of the Cause* constants.
	Cause string `json:"cause"`
	// Reason says what was found, in words.
	Reason string `json:"reason"`
	// Previous is the position the table had committed before (absent
	// when it had none).
	Previous string `json:"previous,omitempty"`
}

// Causes of a reset (Reset.Cause, and the cause label of
// floe_checkpoint_table_resets_total).
const (
	// CauseNotCaptured: the source no longer carries the table's changes
	// (PostgreSQL: not in the publication).
	CauseNotCaptured = "not-captured"
	// CauseIdentity: the table's identity differs from the recorded one
	// (dropped and created again, or it left and re-joined the publication).
	CauseIdentity = "identity"
	// CausePosition: the table's committed position is behind the source's
	// start (its changes in between were released by another consumer of
	// the slot, or while the table was not captured).
	CausePosition = "position"
)

// SchemaChangeVersion is the version of the PropSchemaChange encoding.
const SchemaChangeVersion = 1

// SchemaChange records one evolution of a table's Iceberg schema in the
// summary of the commit that first holds rows of the new layout.
type SchemaChange struct {
	Version int `json:"v"`
	// At is the source position of the first change in the new layout.
	At string `json:"at"`
	// Changes says what changed, one entry per column ("add column n
	// string", "widen column a int -> long").
	Changes []string `json:"changes"`
	// SchemaID is the Iceberg schema the table evolved to.
	SchemaID int `json:"schema-id"`
}

// encodeJSON renders v (strings and ints only, so it cannot fail) as a
// property value, without HTML escapes ("int -> long", not
// "int -\u003e long").
func encodeJSON(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("encode summary property: %v", err))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// PropsVersion is the version of the summary property set written by this
// build.
const PropsVersion = "1"

// commitMeta is what one table's commit records besides its rows.
type commitMeta struct {
	pipeline   string
	checkpoint int64
	pos        capture.Position
	// plan is the table's snapshot plan; a complete one is kept while pos
	// is before keepUntil (its latest chunk watermark).
	plan          *capture.SnapshotPlan
	keepUntil     capture.Position
	convergeUntil capture.Position
	// source is recorded when its Table is set.
	source        SourceTable
	reset         *Reset
	schemaChanges []SchemaChange
}

// props builds the summary properties of the commit.
func (m commitMeta) props() map[string]string {
	props := map[string]string{
		PropVersion:    PropsVersion,
		PropPipeline:   m.pipeline,
		PropCheckpoint: strconv.FormatInt(m.checkpoint, 10),
	}
	pos, plan := m.pos, m.plan
	if pos != nil {
		props[PropPosition] = pos.String()
	}
	if plan != nil && (!plan.Complete() || (m.keepUntil != nil && (pos == nil || pos.Compare(m.keepUntil) < 0))) {
		props[PropSnapshot] = plan.Encode()
	}
	if m.convergeUntil != nil && (pos == nil || pos.Compare(m.convergeUntil) < 0) {
		props[PropConvergeUntil] = m.convergeUntil.String()
	}
	if len(m.schemaChanges) > 0 {
		props[PropSchemaChange] = encodeJSON(m.schemaChanges)
	}
	if m.source.Table != "" {
		src := m.source
		src.Version = SourceTableVersion
		props[PropSourceTable] = encodeJSON(src)
	}
	if m.reset != nil {
		r := *m.reset
		r.Version = ResetVersion
		props[PropReset] = encodeJSON(r)
	}
	return props
}

// committedState is what a table's Iceberg history says about it.
type committedState struct {
	// found is false when no snapshot of this pipeline exists.
	found      bool
	checkpoint int64
	position   capture.Position // nil when the commit carried none
	plan       *capture.SnapshotPlan
	// convergeUntil is set while the table is still inside the replay
	// window of a resumed snapshot.
	convergeUntil capture.Position
	// source is what the commit recorded of its source table; nil when it
	// recorded nothing (a commit of an older build).
	source *SourceTable
}

// parseProps decodes the summary properties of one of our commits.
func parseProps(props map[string]string, decode func(string) (capture.Position, error)) (committedState, error) {
	if props == nil {
		return committedState{}, nil
	}
	if v := props[PropVersion]; v != PropsVersion {
		return committedState{}, fmt.Errorf("snapshot summary has %s=%q, this build reads %q", PropVersion, v, PropsVersion)
	}
	st := committedState{found: true}
	n, err := strconv.ParseInt(props[PropCheckpoint], 10, 64)
	if err != nil {
		return committedState{}, fmt.Errorf("parse %s: %w", PropCheckpoint, err)
	}
	st.checkpoint = n
	if s, ok := props[PropPosition]; ok {
		if st.position, err = decode(s); err != nil {
			return committedState{}, fmt.Errorf("parse %s: %w", PropPosition, err)
		}
	}
	if s, ok := props[PropConvergeUntil]; ok {
		if st.convergeUntil, err = decode(s); err != nil {
			return committedState{}, fmt.Errorf("parse %s: %w", PropConvergeUntil, err)
		}
	}
	if s, ok := props[PropSnapshot]; ok {
		if st.plan, err = capture.DecodeSnapshotPlan(s); err != nil {
			return committedState{}, fmt.Errorf("parse %s: %w", PropSnapshot, err)
		}
	}
	if s, ok := props[PropSourceTable]; ok {
		var src SourceTable
		if err := json.Unmarshal([]byte(s), &src); err != nil {
			return committedState{}, fmt.Errorf("parse %s: %w", PropSourceTable, err)
		}
		if src.Version != SourceTableVersion {
			return committedState{}, fmt.Errorf("parse %s: version %d, this build reads %d", PropSourceTable, src.Version, SourceTableVersion)
		}
		st.source = &src
	}
	return st, nil
}
