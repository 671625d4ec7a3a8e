package transform

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"iter"
	"maps"
	"slices"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

// Meta says where a change came from; it fills the metadata columns.
type Meta struct {
	Pos          string // capture.Position.String() of the change's batch
	CommitMicros int64  // source commit time, microseconds since the Unix epoch (UTC)
	Seq          int64  // order of the change inside its batch, from 0
	// Converging marks a change replayed over rows that a resumed
	// (non-exported) snapshot read at a later position, or a change of a
	// table being snapshotted beside the stream (emptied, its chunk rows
	// still to come). The Iceberg rows are then no reliable source for
	// its unchanged TOAST values: they are taken from the source's
	// current row instead (see RereadKeys).
	Converging bool
	// Superseded marks a snapshot row (OpRead) older than a change of its
	// key the stream already applied: a row of a chunk read beside the
	// stream, of a key the stream changed after the chunk's position. In
	// Changelog mode it is logged as it is, ordered by its position, but
	// never becomes the key's last image, so no later change's unchanged
	// value is filled from it. Upsert mode refuses it: the caller leaves
	// such rows out, as they would replace a newer image.
	Superseded bool
}

// DefaultMemoryBudget is the MemoryBudget used when none is given.
const DefaultMemoryBudget = 64 << 20

// BufferOptions configures a Buffer.
type BufferOptions struct {
	// Layout is the sink layout (see SinkLayout) of the rows the Buffer yields.
	Layout *schema.Table
	Mode   Mode
	// SpillDir holds spill files; "" means os.TempDir().
	SpillDir string
	// MemoryBudget bounds the memory of the buffered state: in Upsert mode
	// the row images and the key index of the keys held in memory (past
	// it they are written to a sorted run on disk), in Changelog mode half
	// of it the rows not yet written to the spill log and half the index
	// of each key's last row. <= 0 means DefaultMemoryBudget. The state
	// on disk costs about 2 bytes of memory a key (see runs.go).
	MemoryBudget int64
	// Table names the table in errors.
	Table string
	// SkipColumns leaves out the values of change columns the sink
	// layout lacks instead of refusing the change (Behavior.Projects).
	SkipColumns bool
	// SizeHint is how many keys the buffer is expected to hold in memory
	// at once in Upsert mode (its table's last buffer's PeakKeys): its
	// index and entries are allocated for that many up front, at most
	// for as many as MemoryBudget holds, instead of being grown by
	// doubling (copied and rehashed) as the keys arrive. 0: none.
	SizeHint int
	// Narrow writes values of a change column wider than its sink column
	// (schema.Promotable(sink type, change type)) in the sink type when
	// they fit exactly; one that does not, and a NULL in a required
	// column, is an error naming the table, column and value
	// (Behavior.Projects).
	Narrow bool
}

// entry is the state of one key in Upsert mode.
type entry struct {
	key string
	// img is the encoded row image (Layout) or, when dead, the encoded key
	// row (key columns only).
	img []byte
	// lookup is the encoded key whose row in Iceberg (as of before this
	// checkpoint) supplies the image's Unchanged values; valid when pend.
	lookup string
	pend   bool
	// conv is set on a pending image from a Converging change (or one
	// that inherited its pending values): Resolve fills it from the
	// source's current row, not from Iceberg.
	conv bool
	dead bool // deleted: no row is written
	del  bool // an equality delete must be written for key
}

// Buffer is the keyed state of one sink table for one checkpoint. It is
// not safe for concurrent use, and Apply must not be called while Rows or
// DeleteKeys is being iterated.
//
// The caller applies changes in source order, then calls PendingKeys, looks
// those keys up in Iceberg, calls Resolve, and finally commits Rows,
// DeleteKeys and Truncated in one Iceberg snapshot.
type Buffer struct {
	o         BufferOptions
	layout    *schema.Table
	keyLayout *schema.Table
	n         int  // number of source columns
	keyed     bool // the layout has a key
	maps      map[*schema.Table]*colMap

	// Upsert mode: the keys touched since the last run was written, in
	// memory (index: encoded key -> entries index; memBytes estimates
	// their memory), and older ones in sorted runs (values: entry.encode).
	index     map[string]int32
	entries   []entry
	peakKeys  int // the most entries held in memory at once (PeakKeys)
	memBytes  int64
	runs      runSet
	counts    *entryCounts // of the merged runs, once counted
	truncated bool
	// anyPend and anyConv are set once an entry is put pending (and
	// Converging): until then PendingKeys and RereadKeys have nothing to
	// look for and scan no entries (a spilled buffer's would be read back
	// from its runs).
	anyPend, anyConv bool

	// Changelog mode: the rows in order in a spill log, each known by its
	// offset there; maps by offset for the rows holding Unchanged values.
	log       rowLog
	nrows     int
	rowPend   map[int64]string // row -> lookup key, for rows holding Unchanged
	rowConv   map[int64]bool   // rows of rowPend to fill from the source's current row
	dropped   map[int64]bool   // rows Resolve dropped (converging, row gone at the source)
	repl      map[int64]int64  // row -> offset of its resolved image
	replRecs  map[int64]bool   // offsets of resolved images (not rows)
	last      map[string]int64 // encoded key -> its last row with an image; -1 when deleted
	lastBytes int64            // memory estimate of last
	lastRuns  runSet           // older parts of last (values: varint offsets)

	pending map[string]schema.Row // lookup key -> key row
	cut     bool                  // an OpTruncate was applied: state before it is gone
	closed  bool
	failed  error // a spill read failed where no error could be returned

	row, before schema.Row                // scratch rows in Layout
	meta        struct{ pos, micros any } // the last Meta.Pos and CommitMicros, boxed
	enc         []byte                    // scratch encoding
	arena       byteArena                 // the keys and images of new entries
	kbuf, bkbuf []byte                    // scratch key encodings (of a change's new and old row)

	applied int64 // AppliedBytes
}

// NewBuffer returns an empty Buffer.
func NewBuffer(o BufferOptions) (*Buffer, error) {
	if o.Layout == nil {
		return nil, fmt.Errorf("buffer for %s: no layout", o.Table)
	}
	if err := isSinkLayout(o.Layout); err != nil {
		return nil, fmt.Errorf("buffer for %s: %w", o.Table, err)
	}
	if o.Mode != Upsert && o.Mode != Changelog {
		return nil, fmt.Errorf("buffer for %s: unknown mode %s", o.Table, o.Mode)
	}
	if o.Mode == Upsert && len(o.Layout.Key) == 0 {
		return nil, fmt.Errorf("buffer for %s: upsert mode needs a key; declare one in the route or use changelog mode", o.Table)
	}
	if o.MemoryBudget <= 0 {
		o.MemoryBudget = DefaultMemoryBudget
	}
	n := len(o.Layout.Columns) - numMeta
	kl := schema.KeyTable(o.Layout)
	seed := maphash.MakeSeed()
	hint := 0
	if o.Mode == Upsert {
		hint = int(min(int64(max(o.SizeHint, 0)), o.MemoryBudget/entryOverhead))
	}
	return &Buffer{
		o:         o,
		layout:    o.Layout,
		keyLayout: kl,
		n:         n,
		keyed:     len(o.Layout.Key) > 0,
		maps:      map[*schema.Table]*colMap{},
		index:     make(map[string]int32, hint),
		entries:   make([]entry, 0, hint),
		runs:      runSet{dir: o.SpillDir, seed: seed, combine: combineEntries},
		log:       rowLog{dir: o.SpillDir, limit: int(max(o.MemoryBudget/2, 1))},
		rowPend:   map[int64]string{},
		rowConv:   map[int64]bool{},
		dropped:   map[int64]bool{},
		repl:      map[int64]int64{},
		replRecs:  map[int64]bool{},
		last:      map[string]int64{},
		lastRuns:  runSet{dir: o.SpillDir, seed: seed},
		pending:   map[string]schema.Row{},
		row:       make(schema.Row, len(o.Layout.Columns)),
		before:    make(schema.Row, len(o.Layout.Columns)),
	}, nil
}

// Apply adds one change. Changes must come in source order. Applying a
// sequence of changes again (replay) yields the same rows and delete keys.
func (b *Buffer) Apply(ch capture.Change, m Meta) error {
	if b.closed {
		return b.errf("apply to a closed buffer")
	}
	b.applied += int64(ch.Size())
	b.counts = nil
	switch ch.Op {
	case capture.OpUnreadable:
		return ch.Err // the coordinator skips it when the table is past it
	case capture.OpTruncate:
		return b.truncate(m)
	case capture.OpInsert, capture.OpUpdate, capture.OpRead:
		if ch.After == nil {
			return b.errf("%s change without a new image", ch.Op)
		}
	case capture.OpDelete:
		if ch.Before == nil {
			return b.errf("delete without an old image")
		}
	default:
		return b.errf("unknown change op %q", ch.Op)
	}
	cm, err := b.mapping(ch.Schema)
	if err != nil {
		return err
	}
	hasBefore := ch.Before != nil
	if hasBefore {
		if err := b.project(b.before, cm, ch.Before); err != nil {
			return err
		}
	}
	if ch.Op == capture.OpDelete {
		return b.applyDelete(ch, m)
	}
	if m.Superseded && (ch.Op != capture.OpRead || b.o.Mode != Changelog) {
		return b.errf("a superseded %s change in %s mode: only a snapshot row can be superseded, and only a change log keeps it", ch.Op, b.o.Mode)
	}

	row := b.row
	if err := b.project(row, cm, ch.After); err != nil {
		return err
	}
	b.setMeta(row, ch.Op, m)
	// The key stays in scratch (b.kbuf): it is copied only where it is
	// kept, for a key the buffer does not hold yet.
	b.kbuf, err = b.appendKey(b.kbuf[:0], row)
	if err != nil {
		return err
	}
	key := b.kbuf
	// The fill key is where the row lived before this change.
	fillRow, oldKey := row, ""
	if hasBefore {
		b.bkbuf, err = b.appendKey(b.bkbuf[:0], b.before)
		if err != nil {
			return err
		}
		if !bytes.Equal(b.bkbuf, key) { // no copy unless the key changed
			oldKey = string(b.bkbuf)
			fillRow = b.before
		}
	}
	var (
		lookup string
		pend   bool
		conv   = m.Converging
	)
	if schema.Row(row[:b.n]).HasUnchanged() {
		if hasBefore && !ch.BeforeKeyOnly {
			for i := 0; i < b.n; i++ {
				if schema.IsUnchanged(row[i]) {
					row[i] = b.before[i]
				}
			}
		}
		if schema.Row(row[:b.n]).HasUnchanged() {
			fillKey := oldKey
			if fillKey == "" {
				fillKey = string(key)
			}
			var inherited bool
			if lookup, pend, inherited, err = b.fillFromState(row, fillKey, fillRow); err != nil {
				return err
			}
			conv = conv || inherited
		}
	}
	if !pend {
		conv = false
	}
	if b.o.Mode == Changelog {
		if oldKey != "" {
			// A key change is logged as the old key's delete, then the
			// new row: folding the log by key must not keep the old key.
			if err := b.appendDeleteRow(oldKey, ch.BeforeKeyOnly, m); err != nil {
				return err
			}
		}
		last := string(key)
		if m.Superseded {
			last = "" // logged, but the key's last image stays the stream's
		}
		return b.appendRow(last, row, lookup, pend, conv, "")
	}
	if oldKey != "" {
		if err := b.tombstone([]byte(oldKey), b.before); err != nil {
			return err
		}
	}
	return b.upsert(key, row, lookup, pend, conv, ch.Op != capture.OpRead)
}

func (b *Buffer) applyDelete(ch capture.Change, m Meta) error {
	var err error
	if b.kbuf, err = b.appendKey(b.kbuf[:0], b.before); err != nil {
		return err
	}
	if b.o.Mode == Upsert {
		return b.tombstone(b.kbuf, b.before)
	}
	return b.appendDeleteRow(string(b.kbuf), ch.BeforeKeyOnly, m)
}

// appendDeleteRow appends a changelog delete row for key from b.before. A
// delete row carries the old values the source sent; the others are NULL.
func (b *Buffer) appendDeleteRow(key string, keyOnly bool, m Meta) error {
	row := make(schema.Row, len(b.layout.Columns))
	for i := 0; i < b.n; i++ {
		v := b.before[i]
		if (keyOnly && !b.isKey(i)) || schema.IsUnchanged(v) {
			v = nil
		}
		row[i] = v
	}
	b.setMeta(row, capture.OpDelete, m)
	if err := b.appendRow("", row, "", false, false, ""); err != nil {
		return err
	}
	if b.keyed {
		return b.setLast(key, -1)
	}
	return nil
}

func (b *Buffer) truncate(m Meta) error {
	b.cut = true
	if b.o.Mode == Changelog {
		row := b.row
		for i := 0; i < b.n; i++ {
			row[i] = nil
		}
		b.setMeta(row, capture.OpTruncate, m)
		clear(b.last)
		b.lastBytes = 0
		if err := b.lastRuns.reset(); err != nil {
			return b.errf("%w", err)
		}
		return b.appendRow("", row, "", false, false, "")
	}
	b.entries = nil
	b.index = map[string]int32{}
	b.memBytes = 0
	b.pending = map[string]schema.Row{}
	b.truncated = true
	if err := b.runs.reset(); err != nil {
		return b.errf("%w", err)
	}
	return nil
}

// fillFromState fills row's Unchanged values from the buffered image of
// fillKey. It returns the lookup key whose Iceberg row must supply the
// values still Unchanged and whether the earlier image was a converging
// one, or an error when none can.
func (b *Buffer) fillFromState(row schema.Row, fillKey string, fillRow schema.Row) (string, bool, bool, error) {
	reason := "the table has no key to find an earlier image by"
	if b.keyed {
		var (
			img      schema.Row
			lookup   string
			pend     bool
			conv     bool
			found    bool
			deleted  bool
			imgError error
		)
		if b.o.Mode == Upsert {
			e, ok, err := b.entryOf(fillKey)
			if err != nil {
				return "", false, false, err
			}
			if ok {
				if deleted = e.dead; !deleted {
					img, imgError = b.image(e.img)
					lookup, pend, conv, found = e.lookup, e.pend, e.conv, true
				}
			}
		} else {
			i, ok, err := b.lastOf(fillKey)
			if err != nil {
				return "", false, false, err
			}
			if ok {
				if deleted = i < 0; !deleted {
					img, imgError = b.rowImage(i)
					lookup, pend = b.rowPend[i]
					conv = b.rowConv[i]
					found = true
				}
			}
		}
		if imgError != nil {
			return "", false, false, imgError
		}
		switch {
		case found:
			for i := 0; i < b.n; i++ {
				if schema.IsUnchanged(row[i]) {
					row[i] = img[i]
				}
			}
			if !schema.Row(row[:b.n]).HasUnchanged() {
				return "", false, false, nil
			}
			if pend {
				return lookup, true, conv, nil
			}
			reason = "the earlier image lacks it too"
		case deleted:
			reason = "the row was deleted earlier in this checkpoint"
		case b.cut:
			reason = "the table was truncated earlier in this checkpoint"
		default:
			if _, ok := b.pending[fillKey]; !ok {
				b.pending[fillKey] = b.keyRow(fillRow)
			}
			return fillKey, true, false, nil
		}
	}
	return "", false, false, b.errf("key %s: column %s was not sent by the source (unchanged TOAST) and %s",
		b.formatKey(b.keyRow(row)), b.layout.Columns[firstUnchanged(row[:b.n])].Name, reason)
}

// upsert stores row as the image of key (encoded, not kept).
func (b *Buffer) upsert(key []byte, row schema.Row, lookup string, pend, conv, del bool) error {
	var err error
	if b.enc, err = b.appendEncoded(b.enc[:0], b.layout, row); err != nil {
		return err
	}
	return b.put(key, b.enc, entry{lookup: lookup, pend: pend, conv: conv, del: del})
}

// tombstone marks the key of src (a row in Layout) deleted; key is its
// encoding, not kept.
func (b *Buffer) tombstone(key []byte, src schema.Row) error {
	var err error
	if b.enc, err = b.appendEncoded(b.enc[:0], b.keyLayout, b.keyRow(src)); err != nil {
		return err
	}
	return b.put(key, b.enc, entry{dead: true, del: true})
}

// entryOverhead estimates the memory of one in-memory entry besides its
// image and key bytes: the entry, its index slot and the allocations.
const entryOverhead = 160

// put makes e, with image img (the scratch encoding b.enc, copied), the
// state of key (copied when the buffer does not hold it in memory yet).
// The key's earlier state, in memory or in a run, is replaced; its del
// flag carries over (here, or when the runs are merged). An image in
// memory is overwritten in place when the new one fits it. Past the
// memory budget the entries are written to a run.
func (b *Buffer) put(key, img []byte, e entry) error {
	b.anyPend = b.anyPend || e.pend
	b.anyConv = b.anyConv || (e.pend && e.conv)
	if i, ok := b.index[string(key)]; ok {
		old := &b.entries[i]
		e.key = old.key
		e.del = e.del || old.del
		if len(img) <= cap(old.img) {
			e.img = append(old.img[:0], img...)
		} else {
			e.img = b.ownImage(img)
		}
		b.memBytes += int64(len(e.img)+len(e.lookup)) - int64(len(old.img)+len(old.lookup))
		*old = e
	} else {
		e.key = b.arena.string(key)
		e.img = b.ownImage(img)
		b.index[e.key] = int32(len(b.entries))
		b.entries = append(b.entries, e)
		b.peakKeys = max(b.peakKeys, len(b.entries))
		b.memBytes += int64(len(e.img)+len(e.lookup)+2*len(key)) + entryOverhead
	}
	if b.memBytes > b.o.MemoryBudget {
		return b.flushRun()
	}
	return nil
}

// entryOf returns the state of key: from memory, else from the newest run
// holding it (a copy, not to be modified).
func (b *Buffer) entryOf(key string) (*entry, bool, error) {
	if i, ok := b.index[key]; ok {
		return &b.entries[i], true, nil
	}
	val, ok, err := b.runs.get(key)
	if err != nil || !ok {
		return nil, false, b.wrapErr(err)
	}
	e, err := decodeEntry(key, val)
	if err != nil {
		return nil, false, b.errf("%w", err)
	}
	return &e, true, nil
}

// lastOf returns the row of key's last image (-1 after a delete).
func (b *Buffer) lastOf(key string) (int64, bool, error) {
	if i, ok := b.last[key]; ok {
		return i, true, nil
	}
	val, ok, err := b.lastRuns.get(key)
	if err != nil || !ok {
		return 0, false, b.wrapErr(err)
	}
	i, n := binary.Varint(val)
	if n <= 0 {
		return 0, false, b.errf("spill run: %w", errCorruptRun)
	}
	return i, true, nil
}

// lastOverhead estimates the memory of one entry of last besides its key.
const lastOverhead = 64

// setLast records row i (-1: deleted) as key's last; past half the
// memory budget the map is written to a run.
func (b *Buffer) setLast(key string, i int64) error {
	if _, ok := b.last[key]; !ok {
		b.lastBytes += int64(len(key)) + lastOverhead
	}
	b.last[key] = i
	if b.lastBytes <= b.o.MemoryBudget/2 {
		return nil
	}
	keys := slices.Sorted(maps.Keys(b.last))
	var buf []byte
	err := b.lastRuns.add(len(keys), func(add func(string, []byte) error) error {
		for _, k := range keys {
			buf = binary.AppendVarint(buf[:0], b.last[k])
			if err := add(k, buf); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return b.errf("%w", err)
	}
	clear(b.last)
	b.lastBytes = 0
	return nil
}

// appendRow appends a changelog row; key ("" for none) becomes the key's
// last image and oldKey (a PK change's old key, or "") is marked deleted.
func (b *Buffer) appendRow(key string, row schema.Row, lookup string, pend, conv bool, oldKey string) error {
	var err error
	if b.enc, err = b.appendEncoded(b.enc[:0], b.layout, row); err != nil {
		return err
	}
	i, err := b.log.append(b.enc)
	if err != nil {
		return b.errf("%w", err)
	}
	b.nrows++
	if pend {
		b.rowPend[i] = lookup
		if conv {
			b.rowConv[i] = true
		}
	}
	if b.keyed && key != "" {
		if oldKey != "" {
			if err := b.setLast(oldKey, -1); err != nil {
				return err
			}
		}
		return b.setLast(key, i)
	}
	return nil
}

// encode returns the encoding of row (a new slice).
func (b *Buffer) encode(t *schema.Table, row schema.Row) ([]byte, error) {
	var err error
	if b.enc, err = b.appendEncoded(b.enc[:0], t, row); err != nil {
		return nil, err
	}
	return b.ownScratch(b.enc), nil
}

// ownImage returns a copy of img, the scratch encoding b.enc, for an
// entry: from the arena when small.
func (b *Buffer) ownImage(img []byte) []byte {
	if len(img) <= arenaMaxValue {
		return b.arena.copy(img)
	}
	return b.ownScratch(img)
}

// ownScratch returns a slice of its own holding enc, the scratch encoding
// b.enc.
func (b *Buffer) ownScratch(enc []byte) []byte {
	if cap(b.enc) > 1<<20 {
		// A large row: hand the scratch over rather than copy it (and
		// keep no scratch of that size).
		b.enc = nil
		return enc
	}
	return bytes.Clone(enc)
}

func (b *Buffer) appendEncoded(dst []byte, t *schema.Table, row schema.Row) ([]byte, error) {
	out, err := schema.AppendRow(dst, t, row)
	if err != nil {
		return dst, b.errf("encode row: %w", err)
	}
	return out, nil
}

// image decodes an encoded row image (Layout). The row is the caller's.
func (b *Buffer) image(raw []byte) (schema.Row, error) {
	return b.decode(b.layout, raw)
}

// rowImage decodes changelog row i, as resolved if it was.
func (b *Buffer) rowImage(i int64) (schema.Row, error) {
	raw, err := b.rowRecord(i)
	if err != nil {
		return nil, err
	}
	return b.image(raw)
}

// rowRecord reads the encoding of changelog row i, as resolved if it was.
func (b *Buffer) rowRecord(i int64) ([]byte, error) {
	if r, ok := b.repl[i]; ok {
		i = r
	}
	raw, err := b.log.read(i)
	if err != nil {
		return nil, b.errf("%w", err)
	}
	return raw, nil
}

func (b *Buffer) decode(t *schema.Table, raw []byte) (schema.Row, error) {
	row, err := schema.DecodeRow(t, raw)
	if err != nil {
		return nil, b.errf("decode buffered row: %w", err)
	}
	return row, nil
}

func (b *Buffer) wrapErr(err error) error {
	if err == nil {
		return nil
	}
	return b.errf("%w", err)
}

// Truncated reports whether the commit must drop every existing row of
// the table first (an OpTruncate was applied in Upsert mode; the rows
// buffered before it are already gone). Always false in Changelog mode,
// where a truncate is recorded as a row with _floe_op 't'.
func (b *Buffer) Truncated() bool { return b.truncated }

// PeakKeys is the most keys the buffer held in memory at once (Upsert
// mode; 0 in Changelog mode): the next buffer of its table takes it as
// its SizeHint.
func (b *Buffer) PeakKeys() int { return b.peakKeys }

// Len is the number of buffered entries: in Upsert mode the keys touched
// (images and deletions), in Changelog mode the rows. Zero means Rows and
// DeleteKeys yield nothing (Truncated may still be true).
func (b *Buffer) Len() int {
	if b.o.Mode == Changelog {
		return b.nrows
	}
	if b.runs.empty() {
		return len(b.entries)
	}
	return b.countEntries().n
}

// AppliedBytes is the estimated size of the changes applied so far, the
// sum of their capture.Change.Size: the volume the buffer has taken in,
// whatever it kept of it (checkpoint's byte trigger).
func (b *Buffer) AppliedBytes() int64 { return b.applied }

// SpilledBytes is the number of bytes written to spill files so far.
func (b *Buffer) SpilledBytes() int64 {
	return b.runs.written + b.lastRuns.written + b.log.fsize
}

// MemoryBytes estimates the memory of the buffered state: entries, rows
// not yet spilled, key indexes, and the filters and indexes of the runs.
func (b *Buffer) MemoryBytes() int64 {
	return b.memBytes + int64(len(b.log.tail)) + b.lastBytes + b.runs.memBytes() + b.lastRuns.memBytes()
}

// Close releases memory and removes the spill files. Safe to call more
// than once; the Buffer cannot be used afterwards.
func (b *Buffer) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	b.entries, b.index, b.last, b.pending, b.rowPend = nil, nil, nil, nil, nil
	b.rowConv, b.dropped, b.repl, b.replRecs = nil, nil, nil, nil
	err := errors.Join(b.runs.reset(), b.lastRuns.reset(), b.log.close())
	if err != nil {
		return b.errf("%w", err)
	}
	return nil
}

var errClosed = errors.New("buffer is closed")

func (b *Buffer) errf(format string, args ...any) error {
	return fmt.Errorf("table %s: "+format, append([]any{b.o.Table}, args...)...)
}

func (b *Buffer) setMeta(row schema.Row, op capture.Op, m Meta) {
	// The changes of a batch share their position and commit time: their
	// values are boxed once, not once a row.
	if b.meta.pos == nil || m.Pos != b.meta.pos.(string) {
		b.meta.pos = m.Pos
	}
	if b.meta.micros == nil || m.CommitMicros != b.meta.micros.(int64) {
		b.meta.micros = m.CommitMicros
	}
	row[b.n] = opValues[op]
	row[b.n+1] = b.meta.micros
	row[b.n+2] = b.meta.pos
	row[b.n+3] = m.Seq
}

// opValues holds every op's _floe_op value, boxed once.
var opValues = func() (v [256]any) {
	for i := range v {
		v[i] = capture.Op(i).String()
	}
	return v
}()

func firstUnchanged(r schema.Row) int {
	for i, v := range r {
		if schema.IsUnchanged(v) {
			return i
		}
	}
	return -1
}

// walk turns fn into an iterator over b that yields fn's error, if any,
// last.
func walk[T any](b *Buffer, fn func(yield func(T, error) bool) error) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		if b.closed {
			yield(zero, b.errf("%w", errClosed))
			return
		}
		if b.failed != nil {
			yield(zero, b.failed)
			return
		}
		if err := fn(yield); err != nil {
			yield(zero, err)
		}
	}
}
