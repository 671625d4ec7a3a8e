package checkpoint

import (
	"fmt"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/lakewriter/ledger"
)

// commitMeta is what one table's commit records besides its rows, in
// capture's terms; props decides what of it the commit keeps and encodes
// it through the ledger.
type commitMeta struct {
	pipeline   string
	checkpoint int64
	// epoch is the run's (see Fencing).
	epoch int64
	pos   capture.Position
	// plan is the table's snapshot plan; a complete one is kept while pos
	// is before keepUntil (its latest chunk watermark).
	plan          *capture.SnapshotPlan
	keepUntil     capture.Position
	convergeUntil capture.Position
	// source is recorded when its Table is set.
	source        ledger.SourceTable
	reset         *ledger.Reset
	schemaChanges []ledger.SchemaChange
}

// props builds the summary properties of the commit.
func (m commitMeta) props() map[string]string {
	c := ledger.Commit{Pipeline: m.pipeline, Checkpoint: m.checkpoint, Epoch: m.epoch, Reset: m.reset, SchemaChanges: m.schemaChanges}
	if m.source.Table != "" {
		src := m.source
		c.Source = &src
	}
	pos, plan := m.pos, m.plan
	if pos != nil {
		c.Position = pos.String()
	}
	if plan != nil && (!plan.Complete() || (m.keepUntil != nil && (pos == nil || pos.Compare(m.keepUntil) < 0))) {
		c.Snapshot = plan.Encode()
	}
	if m.convergeUntil != nil && (pos == nil || pos.Compare(m.convergeUntil) < 0) {
		c.ConvergeUntil = m.convergeUntil.String()
	}
	return c.Props()
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
	source *ledger.SourceTable
}

// parseProps decodes the summary properties of one of our commits (nil:
// the table has none) and the positions and plan in them.
func parseProps(props map[string]string, decode func(string) (capture.Position, error)) (committedState, error) {
	if props == nil {
		return committedState{}, nil
	}
	c, err := ledger.Parse(props)
	if err != nil {
		return committedState{}, err
	}
	st := committedState{found: true, checkpoint: c.Checkpoint, source: c.Source}
	if c.Position != "" {
		if st.position, err = decode(c.Position); err != nil {
			return committedState{}, fmt.Errorf("parse %s: %w", ledger.PropPosition, err)
		}
	}
	if c.ConvergeUntil != "" {
		if st.convergeUntil, err = decode(c.ConvergeUntil); err != nil {
			return committedState{}, fmt.Errorf("parse %s: %w", ledger.PropConvergeUntil, err)
		}
	}
	if c.Snapshot != "" {
		if st.plan, err = capture.DecodeSnapshotPlan(c.Snapshot); err != nil {
			return committedState{}, fmt.Errorf("parse %s: %w", ledger.PropSnapshot, err)
		}
	}
	return st, nil
}
