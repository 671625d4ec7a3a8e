package toolkit

import (
	"fmt"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

// ChunkReaders bounds the connections a source reads snapshot chunks on
// at once.
const ChunkReaders = 4

// PlanKeyRanges is the frame of capture.Snapshotter.PlanChunks: it checks
// rowsPerChunk, plans a table without a key as one unbounded chunk, and
// otherwise turns the bounds readBounds returns (every rowsPerChunk-th key
// in key order, see KeyBound) into chunks covering the whole key space.
// Errors are "plan chunks of <table>: ...".
func PlanKeyRanges(id capture.TableID, layout *schema.Table, rowsPerChunk int, readBounds func() ([][]string, error)) ([]capture.Chunk, error) {
	if rowsPerChunk < 1 {
		return nil, fmt.Errorf("plan chunks of %s: rows per chunk must be positive, got %d", id, rowsPerChunk)
	}
	if len(layout.Key) == 0 {
		return []capture.Chunk{{Index: 0}}, nil
	}
	bounds, err := readBounds()
	if err != nil {
		return nil, fmt.Errorf("plan chunks of %s: %w", id, err)
	}
	return capture.ChunksFromBounds(bounds), nil
}

// KeyBound turns one row of key values as a chunk-planning query returns
// them (the source's text form in key order; nil is NULL) into a chunk
// bound. A NULL key value is an error: chunks need non-null keys.
func KeyBound[B ~[]byte](layout *schema.Table, vals []B) ([]string, error) {
	b := make([]string, len(vals))
	for i, v := range vals {
		if v == nil {
			return nil, fmt.Errorf("key column %s is NULL in some row; chunking needs non-null keys", layout.Columns[layout.Key[i]].Name)
		}
		b[i] = string(v)
	}
	return b, nil
}

// ChunkBatch returns the capture.Batch for snapshot chunk chunk of table
// id, with Chunk set, and a function that adds a row read from it as an
// OpRead change with layout. The caller sets CommitTime and Position.
func ChunkBatch(id capture.TableID, chunk capture.Chunk, layout *schema.Table) (*capture.Batch, func(schema.Row) error) {
	b := &capture.Batch{Chunk: &capture.ChunkRef{Table: id, Index: chunk.Index}}
	return b, func(r schema.Row) error {
		b.Changes = append(b.Changes, capture.Change{Table: id, Op: capture.OpRead, Schema: layout, After: r})
		return nil
	}
}
