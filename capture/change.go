package capture

import (
	"time"

	"github.com/floe-cdc/floe/schema"
)

// TableID names a source table: PostgreSQL schema.table, MySQL database.table.
type TableID struct {
	Schema string
	Name   string
}

// String renders the id as "schema.name".
func (t TableID) String() string { return t.Schema + "." + t.Name }

// Op is the kind of a change. The byte values are the ones written to the
// _floe_op metadata column.
type Op byte

const (
	OpInsert   Op = 'c'
	OpUpdate   Op = 'u'
	OpDelete   Op = 'd'
	OpRead     Op = 'r' // a row read by the initial snapshot
	OpTruncate Op = 't' // the whole table was emptied; no images
	// OpUnreadable marks a change the source's log holds in a form
	// capture cannot turn into rows: a statement a MySQL/MariaDB session
	// logged as SQL text (binlog_format STATEMENT, or MIXED choosing
	// statement logging) instead of row images, or a PostgreSQL change in
	// a table layout whose effect on the existing rows the stream does
	// not carry (a column added with a default, a rename). It carries no images and
	// no Schema; Err says what happened and the fix. A consumer must
	// stop at it, never pass over it, unless the table's committed state
	// already includes its position (the change is then in the table).
	OpUnreadable Op = '!'
)

// String returns the single-letter op code.
func (o Op) String() string { return string(rune(o)) }

// Change is one row change of one table.
type Change struct {
	Table TableID
	Op    Op
	// Schema is the layout of Before and After. The pointer changes only
	// when the table's layout changes.
	Schema *schema.Table
	// Before is the old image: for OpDelete always set; for OpUpdate set
	// when the source sent an old image (a key change, or a full replica
	// identity), nil otherwise. When BeforeKeyOnly is true only the key
	// columns of Before are meaningful; the others are nil.
	Before        schema.Row
	BeforeKeyOnly bool
	// After is the new image for OpInsert, OpUpdate and OpRead; nil
	// otherwise. It may hold schema.Unchanged for values the source did
	// not send (unchanged TOAST).
	After schema.Row
	// Err is set when the source could not turn the change into row
	// images: a value it could not decode (Table, Op and Schema are set;
	// Before and After are not meaningful; Err names the column and quotes
	// the value's text), or an OpUnreadable change (Err says what happened
	// and the fix). The source carries such a change instead of ending its
	// stream, because only the consumer knows whether it needs it: a table
	// whose committed position (or snapshot) is at or after the batch's
	// Position already holds the change's effect and skips it; any other
	// consumer must stop with Err.
	Err error
	// Raw is set on a change whose value could not be decoded (Err is a
	// *schema.ValueError): the row as the source sent it (the new image
	// of an insert, update or snapshot read; the old image of a delete),
	// so that a consumer can keep it as a dead letter. nil otherwise. An
	// old image whose only undecodable values are outside the key does
	// not make its change one: Before is then key-only (BeforeKeyOnly).
	Raw RawRow
}

// Batch is the unit a source emits: the changes of one source transaction
// in source order, or the rows of one snapshot chunk. A checkpoint is only
// ever cut between batches.
type Batch struct {
	Changes []Change
	// Position is where the stream stands once this batch is applied.
	// Complete transactions of one stream have strictly increasing
	// positions (see More for the parts of a split one); snapshot
	// batches carry the position the stream starts after (StartInfo.From).
	Position Position
	// CommitTime is the source commit time (UTC); for snapshot batches the
	// time the snapshot was taken.
	CommitTime time.Time
	// Chunk is set on snapshot batches: the batch holds every row of that chunk.
	Chunk *ChunkRef
	// More is true when further batches of the same source transaction
	// follow (a large transaction split to bound memory: by its number of
	// changes, and by their Size, so that a part of a transaction with
	// large values is bounded too). A checkpoint is
	// never cut after a batch with More set. Such a partial batch carries a
	// provisional Position that is after every earlier transaction's
	// position and not after its own transaction's final position
	// (PostgreSQL: commit LSN + 1); the last part carries the final one.
	// A part is emitted as soon as its changes reach the size bound, so
	// the last part may hold no changes.
	More bool
	// Barrier is set on the batch of a schema change (DDL) of a captured
	// table, which is never part of a split transaction: the coordinator
	// commits what it has buffered, up to and including this batch,
	// before it applies the next one, so that a table whose layout
	// changes next holds no rows of the old layout at that point.
	Barrier bool
	// Layouts, on a Barrier batch, holds the layout a captured table has
	// from this batch's DDL on, before any of the batch's changes, when
	// the source learned it from the DDL itself rather than from a later
	// change (a column renamed, whose new layout carries
	// schema.Column.RenamedFrom). The consumer adopts it, as it adopts a
	// change's new Schema, before it applies the batch's changes, so the
	// schema change is in the table before a checkpoint can move the
	// table past the DDL; later changes of that table carry the same
	// *schema.Table.
	Layouts map[TableID]*schema.Table
	// Dropped, on a Barrier batch, names the captured tables this
	// batch's DDL dropped (DROP TABLE, DROP DATABASE, CREATE OR
	// REPLACE): after this batch's Position the source carries no
	// change of them. The consumer commits every table up to and
	// including this batch, marks their sinks dropped and stops
	// tracking them. A source replaying its log may send it again for a
	// table that was created anew since; the consumer passes over a
	// drop at or before the table's committed position.
	Dropped []TableID
	// Added, on a Barrier batch, names tables this batch's DDL created
	// (or renamed to) that the source's table patterns match: they are
	// not carried by this session of the source (its Discover did not
	// see them). The consumer commits up to and including this batch
	// and starts the source again, whose Discover then finds them; a
	// table it already captures is passed over.
	Added []TableID
	// Sync is set on a batch without changes by which the source asks for
	// its Position to be acknowledged promptly: PostgreSQL's walsender
	// waits for it to shut down, or a client wrote a sync message (see
	// the postgres package). The coordinator then commits what it has
	// buffered, moves every other table to Position at once (instead of
	// after its idle interval) and acknowledges Position. A Sync batch
	// may carry the Position of the batch before it (it is the only
	// batch that may repeat one).
	Sync bool
}

// Size estimates the memory of the change's images in bytes
// (schema.Row.Size) plus a fixed cost. Sources split transactions by it
// (see Batch.More).
func (c Change) Size() int {
	return 64 + c.Before.Size() + c.After.Size()
}

// Size is the sum of the Sizes of the batch's changes.
func (b Batch) Size() int {
	n := 0
	for i := range b.Changes {
		n += b.Changes[i].Size()
	}
	return n
}

// ChunkRef identifies one snapshot chunk of one table.
type ChunkRef struct {
	Table TableID
	Index int
}

// TableInfo describes one captured table as found at discovery.
type TableInfo struct {
	ID     TableID
	Schema *schema.Table
}
