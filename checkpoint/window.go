package checkpoint

import (
	"context"
	"errors"
	"fmt"

	"github.com/floe-cdc/floe/capture"
)

// Watermark windows: a complete snapshot plan whose chunks were read at
// positions of their own (capture.Watermarker) is kept in the table's
// commits, and handed to the source before it streams, until the table's
// committed position passes the latest of them.

// latestWatermark decodes the watermarks of plan and returns the latest
// (nil when it has none).
func (c *Coordinator) latestWatermark(plan *capture.SnapshotPlan) (capture.Position, error) {
	var latest capture.Position
	seen := map[string]bool{}
	for _, w := range plan.Watermarks {
		if seen[w] {
			continue
		}
		seen[w] = true
		p, err := c.opts.Source.DecodePosition(w)
		if err != nil {
			return nil, fmt.Errorf("snapshot chunk watermark: %w", err)
		}
		latest = laterOf(latest, p)
	}
	return latest, nil
}

// openWindow keeps the complete plan of t's snapshot while t's committed
// position is before the latest of its chunk watermarks.
func (c *Coordinator) openWindow(t *tableRun, plan *capture.SnapshotPlan) error {
	end, err := c.latestWatermark(plan)
	if err != nil || end == nil || (t.committed != nil && t.committed.Compare(end) >= 0) {
		return err
	}
	t.window, t.windowEnd = plan, end
	return nil
}

// closeWindow forgets t's snapshot plan once t's committed position has
// passed its latest chunk watermark: no change the stream sends from
// there on can be one the chunks already hold.
func (c *Coordinator) closeWindow(t *tableRun) {
	if t.window != nil && t.committed != nil && t.committed.Compare(t.windowEnd) >= 0 {
		c.log.Info("stream passed the snapshot's chunk watermarks", "table", t.id.String(), "watermark", t.windowEnd.String())
		t.window, t.windowEnd = nil, nil
	}
}

// setWatermarks tells a Watermarker source, before it streams, which
// chunks of which tables hold changes up to which position.
func (c *Coordinator) setWatermarks(ctx context.Context) error {
	plans := map[capture.TableID]*capture.SnapshotPlan{}
	for _, t := range c.order {
		switch {
		case t.beside != nil && t.beside.byWatermark:
			plans[t.id] = t.plan // its chunks get watermarks as they are read (beside.go)
		case t.window != nil:
			plans[t.id] = t.window
		}
	}
	wm, ok := c.opts.Source.(capture.Watermarker)
	switch {
	case !ok && len(plans) > 0:
		return errors.New("snapshot chunks carry watermarks, but this source cannot reconcile them with its stream")
	case !ok:
		return nil
	}
	if err := wm.SetWatermarks(ctx, plans); err != nil {
		return fmt.Errorf("set snapshot chunk watermarks: %w", err)
	}
	return nil
}
