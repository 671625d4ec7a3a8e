package checkpoint

import (
	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/jitter"
)

// Acknowledgement: after a checkpoint's commits, the source is told the
// lowest position every captured table has committed, and nothing else.

// ackCommitted acknowledges to the source the lowest position every
// captured table has committed, but no position the stream has not
// reached yet (a table snapshotted at a later position of its own commits
// that one before the stream gets there). A table that has committed
// nothing holds acknowledgement back entirely. This is the invariant the
// continuity check at start relies on: the source never releases a
// change some captured table has not committed.
func (c *Coordinator) ackCommitted() {
	low := c.lowestCommitted()
	if low == nil || c.lastPos == nil {
		return
	}
	if c.lastPos.Compare(low) < 0 {
		low = c.lastPos
	}
	c.ack(low)
}

// lowestCommitted returns the lowest committed position over all captured
// tables, or nil when some table has none (or there are no tables).
func (c *Coordinator) lowestCommitted() capture.Position {
	var low capture.Position
	for _, t := range c.order {
		if t.committed == nil {
			return nil
		}
		if low == nil || t.committed.Compare(low) < 0 {
			low = t.committed
		}
	}
	return low
}

// ack acknowledges pos to the source unless it would not move forward.
func (c *Coordinator) ack(pos capture.Position) {
	if pos == nil || (c.ackedPos != nil && pos.Compare(c.ackedPos) <= 0) {
		return
	}
	jitter.At(jitter.BeforeAck)
	c.opts.Source.Ack(pos)
	c.ackedPos = pos
}
