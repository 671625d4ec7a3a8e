package toolkit

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

// ChunkReaders bounds the connections a source reads snapshot chunks on
// at once.
const ChunkReaders = 4

// ChunkBytes bounds the stored bytes of the rows of one planned chunk
// (PostgreSQL: the values' compressed sizes; MariaDB: the LENGTH of its
// long values plus the bound of the other columns' types), besides its
// rows: planning cuts a chunk after the row that takes the table's running
// total of row sizes past a multiple of it (ChunkCuts). A chunk then holds at most rowsPerChunk rows and about ChunkBytes
// plus one row, so that rows of tens of megabytes are read, encoded and
// held a few at a time, not rowsPerChunk at a time. A variable only so
// that tests can lower it; nothing changes it at run time.
var ChunkBytes = 32 << 20

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
	return chunkBatch(id, chunk, layout, 0)
}

// ChunkSizes remembers, per table, the most rows one chunk of it has
// held, so that a source allocates the changes of the table's next chunk
// once at that size instead of growing the slice row by row (which
// copied and cleared each chunk's changes about twice over: an eighth of
// a PostgreSQL snapshot's CPU). Safe for concurrent use; the zero value
// is ready.
type ChunkSizes struct {
	m sync.Map // capture.TableID -> *atomic.Int64
}

// Batch is ChunkBatch with the changes allocated at the size noted for id.
func (s *ChunkSizes) Batch(id capture.TableID, chunk capture.Chunk, layout *schema.Table) (*capture.Batch, func(schema.Row) error) {
	return chunkBatch(id, chunk, layout, int(s.size(id).Load()))
}

// Note records the rows of a chunk of b's table that was read in full.
func (s *ChunkSizes) Note(b *capture.Batch) {
	if b.Chunk == nil {
		return
	}
	n, size := int64(len(b.Changes)), s.size(b.Chunk.Table)
	for {
		old := size.Load()
		if n <= old || size.CompareAndSwap(old, n) {
			return
		}
	}
}

func (s *ChunkSizes) size(id capture.TableID) *atomic.Int64 {
	if v, ok := s.m.Load(id); ok {
		return v.(*atomic.Int64)
	}
	v, _ := s.m.LoadOrStore(id, new(atomic.Int64))
	return v.(*atomic.Int64)
}

func chunkBatch(id capture.TableID, chunk capture.Chunk, layout *schema.Table, size int) (*capture.Batch, func(schema.Row) error) {
	b := &capture.Batch{Chunk: &capture.ChunkRef{Table: id, Index: chunk.Index}, Changes: make([]capture.Change, 0, size)}
	return b, func(r schema.Row) error {
		b.Changes = append(b.Changes, capture.Change{Table: id, Op: capture.OpRead, Schema: layout, After: r})
		return nil
	}
}

// ChunkQuery is the SELECT of snapshot chunk chunk: the columns
// selectList of the table qname, in key order, whose key (the column list
// keyList of nkey columns, compared as a row value) is above chunk.Lower
// and at or below chunk.Upper; an unbounded side has no condition. param
// returns the placeholder of key column i's bound value v and records v
// as the next argument of the query, in the order the placeholders
// appear. A bound with other than nkey values is an error.
func ChunkQuery(selectList, qname, keyList string, nkey int, chunk capture.Chunk, param func(i int, v string) string) (string, error) {
	var where []string
	bound := func(op string, vals []string) error {
		if len(vals) != nkey {
			return fmt.Errorf("bound has %d values, the key has %d columns", len(vals), nkey)
		}
		ph := make([]string, nkey)
		for i, v := range vals {
			ph[i] = param(i, v)
		}
		where = append(where, fmt.Sprintf("(%s) %s (%s)", keyList, op, strings.Join(ph, ", ")))
		return nil
	}
	if chunk.Lower != nil {
		if err := bound(">", chunk.Lower); err != nil {
			return "", err
		}
	}
	if chunk.Upper != nil {
		if err := bound("<=", chunk.Upper); err != nil {
			return "", err
		}
	}
	q := "SELECT " + selectList + " FROM " + qname
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if nkey > 0 {
		q += " ORDER BY " + keyList
	}
	return q, nil
}

// ChunkCuts decides where chunks end for a planning pass that reads
// every row's key and size in key order: after every rowsPerChunk-th row,
// and after each row that takes the running total of row sizes past a
// multiple of ChunkBytes. Create it with NewChunkCuts.
type ChunkCuts struct {
	rowsPerChunk, maxBytes int64
	rows, bytes            int64 // rows seen, their sizes' total
}

// NewChunkCuts returns the cuts for chunks of at most rowsPerChunk rows
// (positive) and about ChunkBytes.
func NewChunkCuts(rowsPerChunk int) *ChunkCuts {
	return &ChunkCuts{rowsPerChunk: int64(rowsPerChunk), maxBytes: int64(ChunkBytes)}
}

// After takes the next row, of size bytes, and reports whether a chunk
// ends with it (its key is a bound).
func (c *ChunkCuts) After(size int64) bool {
	c.rows++
	before := c.bytes
	c.bytes += size
	return c.rows%c.rowsPerChunk == 0 || c.bytes/c.maxBytes > before/c.maxBytes
}
