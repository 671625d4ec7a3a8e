package transform

import "unsafe"

// byteArena holds copies of small byte strings in shared blocks: one
// allocation per block rather than one per key and per image. The
// buffer's new entries take their keys and images from it (two of the
// three allocations of a change to a key it did not hold, in the bench's
// MariaDB catch-up 7 % of all its allocations). A copy keeps its block
// alive, and the blocks are never written again past what a copy's own
// slice covers, so a key can be a string over its block.
//
// The blocks grow from arenaFirstBlock to arenaMaxBlock, so that a buffer
// of a table with few changes holds little; values larger than
// arenaMaxValue are not arena's to copy.
type byteArena struct {
	free []byte // the unused rest of the current block
	next int    // the size of the next block
}

const (
	arenaFirstBlock = 4 << 10
	arenaMaxBlock   = 64 << 10
	arenaMaxValue   = 1 << 10
)

// copy returns a copy of b (at most arenaMaxValue bytes), capped so that
// appending to it cannot reach the next copy.
func (a *byteArena) copy(b []byte) []byte {
	if b == nil {
		return nil // as bytes.Clone
	}
	if len(b) > len(a.free) {
		a.next = min(max(2*a.next, arenaFirstBlock), arenaMaxBlock)
		a.free = make([]byte, max(a.next, len(b)))
	}
	n := copy(a.free, b)
	out := a.free[:n:n]
	a.free = a.free[n:]
	return out
}

// string returns a copy of b as a string.
func (a *byteArena) string(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	c := a.copy(b)
	return unsafe.String(unsafe.SliceData(c), len(c))
}
