package capture

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Chunk is one contiguous primary-key range of a table: the rows with
// Lower < key <= Upper in the source's key order. Bounds hold the source's
// text form of each key column, in key order; a nil bound is unbounded.
type Chunk struct {
	Index int      `json:"i"`
	Lower []string `json:"lo,omitempty"`
	Upper []string `json:"hi,omitempty"`
}

// SnapshotPlanVersion is the version of the SnapshotPlan encoding. Version
// 2 added Watermarks, version 3 Streamed (a plan without it is still
// written as version 2); version 1 and 2 plans are still read.
const SnapshotPlanVersion = 3

// SnapshotPlan is the durable progress of one table's initial snapshot:
// its chunks and which of them are committed. It is persisted in the
// summary of every Iceberg snapshot written while the table's snapshot is
// in progress (floe.snapshot), so progress survives losing local state.
// A complete plan with Watermarks stays there until the table's committed
// position passes the latest of them (see Watermarker).
type SnapshotPlan struct {
	Chunks []Chunk
	Done   map[int]bool
	// Watermarks maps a done chunk read at a position of its own (see
	// Watermarker) to that position's encoding (Position.String). Chunks
	// read at StartInfo.From have none.
	Watermarks map[int]string
	// Streamed is set when the table takes changes from the stream while
	// the plan is incomplete (a snapshot beside the stream): its Iceberg
	// table may then hold rows of keys in chunks not read yet, which the
	// rows read for those chunks must replace, not join.
	Streamed bool
}

type snapshotPlanJSON struct {
	Version int     `json:"v"`
	Chunks  []Chunk `json:"chunks"`
	Done    string  `json:"done"`
	// Watermarks maps each watermark to its chunks' indexes as ranges
	// ("0-17,19"): chunks read without writes in between share one.
	Watermarks map[string]string `json:"w,omitempty"`
	Streamed   bool              `json:"s,omitempty"` // version 3
}

// Remaining returns the chunks not yet done, in index order.
func (p *SnapshotPlan) Remaining() []Chunk {
	var out []Chunk
	for _, c := range p.Chunks {
		if !p.Done[c.Index] {
			out = append(out, c)
		}
	}
	return out
}

// Complete reports whether every chunk is done.
func (p *SnapshotPlan) Complete() bool { return len(p.Remaining()) == 0 }

// MarkDone records chunk i as committed, with the encoded position its
// rows were read at when it has one of its own ("" when it was read at
// StartInfo.From).
func (p *SnapshotPlan) MarkDone(i int, watermark string) {
	if p.Done == nil {
		p.Done = map[int]bool{}
	}
	p.Done[i] = true
	if watermark != "" {
		if p.Watermarks == nil {
			p.Watermarks = map[int]string{}
		}
		p.Watermarks[i] = watermark
	}
}

// Clone returns a deep copy of the done set and the watermarks sharing the
// (immutable) chunks.
func (p *SnapshotPlan) Clone() *SnapshotPlan {
	return &SnapshotPlan{Chunks: p.Chunks, Done: maps.Clone(p.Done), Watermarks: maps.Clone(p.Watermarks), Streamed: p.Streamed}
}

// Chunk returns the chunk with index i (false when the plan has none).
func (p *SnapshotPlan) Chunk(i int) (Chunk, bool) {
	if i >= 0 && i < len(p.Chunks) && p.Chunks[i].Index == i {
		return p.Chunks[i], true
	}
	for _, c := range p.Chunks {
		if c.Index == i {
			return c, true
		}
	}
	return Chunk{}, false
}

// Encode renders the plan as versioned JSON; done chunks are written as
// compact ranges ("0-17,19").
func (p *SnapshotPlan) Encode() string {
	j := snapshotPlanJSON{Version: 2, Chunks: p.Chunks, Done: encodeRanges(p.Done), Streamed: p.Streamed}
	if p.Streamed {
		j.Version = SnapshotPlanVersion
	}
	if len(p.Watermarks) > 0 {
		byMark := map[string]map[int]bool{}
		for i, w := range p.Watermarks {
			if byMark[w] == nil {
				byMark[w] = map[int]bool{}
			}
			byMark[w][i] = true
		}
		j.Watermarks = make(map[string]string, len(byMark))
		for w, set := range byMark {
			j.Watermarks[w] = encodeRanges(set)
		}
	}
	b, err := json.Marshal(j) // map keys are sorted: the encoding is stable
	if err != nil {
		panic(fmt.Sprintf("encode snapshot plan: %v", err)) // only strings and ints: cannot fail
	}
	return string(b)
}

// DecodeSnapshotPlan parses an encoding made by Encode.
func DecodeSnapshotPlan(s string) (*SnapshotPlan, error) {
	var j snapshotPlanJSON
	if err := json.Unmarshal([]byte(s), &j); err != nil {
		return nil, fmt.Errorf("decode snapshot plan: %w", err)
	}
	if j.Version < 1 || j.Version > SnapshotPlanVersion || (j.Version == 1 && j.Watermarks != nil) || (j.Version < 3 && j.Streamed) {
		return nil, fmt.Errorf("decode snapshot plan: unsupported version %d (this build reads 1 to %d)", j.Version, SnapshotPlanVersion)
	}
	done, err := decodeRanges(j.Done, len(j.Chunks))
	if err != nil {
		return nil, fmt.Errorf("decode snapshot plan: %w", err)
	}
	p := &SnapshotPlan{Chunks: j.Chunks, Done: done, Streamed: j.Streamed}
	for w, ranges := range j.Watermarks {
		set, err := decodeRanges(ranges, len(j.Chunks))
		if err != nil {
			return nil, fmt.Errorf("decode snapshot plan: watermark %s: %w", w, err)
		}
		for i := range set {
			if !done[i] {
				return nil, fmt.Errorf("decode snapshot plan: chunk %d has a watermark but is not done", i)
			}
			if p.Watermarks == nil {
				p.Watermarks = map[int]string{}
			}
			if _, dup := p.Watermarks[i]; dup || w == "" {
				return nil, fmt.Errorf("decode snapshot plan: chunk %d has a bad or second watermark", i)
			}
			p.Watermarks[i] = w
		}
	}
	return p, nil
}

func encodeRanges(set map[int]bool) string {
	var idx []int
	for i, ok := range set {
		if ok {
			idx = append(idx, i)
		}
	}
	slices.Sort(idx)
	var parts []string
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && idx[j+1] == idx[j]+1 {
			j++
		}
		if i == j {
			parts = append(parts, strconv.Itoa(idx[i]))
		} else {
			parts = append(parts, strconv.Itoa(idx[i])+"-"+strconv.Itoa(idx[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// decodeRanges parses "0-17,19" into a set of chunk indexes below n.
func decodeRanges(s string, n int) (map[int]bool, error) {
	out := map[int]bool{}
	if s == "" {
		return out, nil
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("bad chunk range %q", part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("bad chunk range %q", part)
			}
		}
		if a < 0 || b >= n {
			return nil, fmt.Errorf("chunk range %q outside the plan's %d chunks", part, n)
		}
		for i := a; i <= b; i++ {
			out[i] = true
		}
	}
	return out, nil
}

// ChunksFromBounds turns the ascending key values that end each chunk
// (every rowsPerChunk-th key, in the source's text form) into contiguous
// chunks covering the whole key space: (nil, b0], (b0, b1], ..., (bn, nil).
func ChunksFromBounds(bounds [][]string) []Chunk {
	chunks := make([]Chunk, 0, len(bounds)+1)
	var lower []string
	for i, b := range bounds {
		chunks = append(chunks, Chunk{Index: i, Lower: lower, Upper: b})
		lower = b
	}
	return append(chunks, Chunk{Index: len(bounds), Lower: lower})
}
