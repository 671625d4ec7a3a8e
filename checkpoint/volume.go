package checkpoint

// volumeDue reports whether the changes buffered since the last
// checkpoint reached a volume trigger (Config.MaxCheckpointChanges or
// Config.MaxCheckpointBytes), so that the next transaction boundary cuts
// one before Interval has passed. The byte count is summed over the
// table buffers only when MaxCheckpointBytes is set.
func (c *Coordinator) volumeDue() bool {
	if c.buffered >= c.opts.MaxCheckpointChanges {
		return true
	}
	if c.opts.MaxCheckpointBytes <= 0 {
		return false
	}
	var n int64
	for _, t := range c.order {
		if t.buf != nil {
			n += t.buf.AppliedBytes()
		}
	}
	return n >= c.opts.MaxCheckpointBytes
}
