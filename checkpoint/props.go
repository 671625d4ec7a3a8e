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

// encodeSchemaChanges renders changes as the PropSchemaChange value.
func encodeSchemaChanges(changes []SchemaChange) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // "int -> long", not "int -\u003e long"
	if err := enc.Encode(changes); err != nil {
		panic(fmt.Sprintf("encode schema changes: %v", err)) // strings and ints: cannot fail
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// PropsVersion is the version of the summary property set written by this
// build.
const PropsVersion = "1"

// commitProps builds the summary properties of one table's commit.
// A complete plan is kept while pos is before keepUntil (its latest chunk
// watermark).
func commitProps(pipeline string, checkpoint int64, pos capture.Position, plan *capture.SnapshotPlan, keepUntil, convergeUntil capture.Position, schemaChanges ...SchemaChange) map[string]string {
	props := map[string]string{
		PropVersion:    PropsVersion,
		PropPipeline:   pipeline,
		PropCheckpoint: strconv.FormatInt(checkpoint, 10),
	}
	if pos != nil {
		props[PropPosition] = pos.String()
	}
	if plan != nil && (!plan.Complete() || (keepUntil != nil && (pos == nil || pos.Compare(keepUntil) < 0))) {
		props[PropSnapshot] = plan.Encode()
	}
	if convergeUntil != nil && (pos == nil || pos.Compare(convergeUntil) < 0) {
		props[PropConvergeUntil] = convergeUntil.String()
	}
	if len(schemaChanges) > 0 {
		props[PropSchemaChange] = encodeSchemaChanges(schemaChanges)
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
	return st, nil
}
