package toolkit

import (
	"slices"
	"testing"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

// TestChunkSizesAllocateOnce: a table's next chunk batch is allocated at
// the most rows a chunk of it held, per table, and a smaller chunk does
// not shrink it.
func TestChunkSizesAllocateOnce(t *testing.T) {
	var sizes ChunkSizes
	a, b := capture.TableID{Schema: "s", Name: "a"}, capture.TableID{Schema: "s", Name: "b"}
	first, add := sizes.Batch(a, capture.Chunk{Index: 0}, nil)
	if cap(first.Changes) != 0 {
		t.Fatalf("first batch has capacity %d before any chunk was noted", cap(first.Changes))
	}
	for range 300 {
		_ = add(schema.Row{int64(1)})
	}
	sizes.Note(first)
	small, addSmall := sizes.Batch(a, capture.Chunk{Index: 1}, nil)
	_ = addSmall(schema.Row{int64(2)})
	sizes.Note(small)
	if next, _ := sizes.Batch(a, capture.Chunk{Index: 2}, nil); cap(next.Changes) != 300 || next.Chunk.Index != 2 {
		t.Fatalf("next batch of a: capacity %d, chunk %v; want 300, 2", cap(next.Changes), next.Chunk)
	}
	if other, _ := sizes.Batch(b, capture.Chunk{}, nil); cap(other.Changes) != 0 {
		t.Fatalf("table b got capacity %d from a's chunks", cap(other.Changes))
	}
}

// TestChunkCuts: a chunk ends at every rowsPerChunk-th row and at each row
// that crosses a multiple of ChunkBytes, counting from the table's start.
func TestChunkCuts(t *testing.T) {
	defer func(b int) { ChunkBytes = b }(ChunkBytes)
	ChunkBytes = 100
	c := NewChunkCuts(3)
	var got []int
	for i, size := range []int64{10, 10, 10, 10, 150, 10, 10, 10, 10, 60, 30, 0} {
		if c.After(size) {
			got = append(got, i)
		}
	}
	// rows 2, 5, 8, 11 by count; row 4 takes the total from 40 to 190
	// (past 100), row 10 from 290 to 320 (past 300).
	want := []int{2, 4, 5, 8, 10, 11}
	if !slices.Equal(got, want) {
		t.Errorf("cuts after rows %v, want %v", got, want)
	}
}
