package transform

import (
	"errors"
	"iter"
	"maps"
	"slices"
	"strings"

	"github.com/apache/iceberg-go"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

// PendingKeys returns the keys (key-only rows in Layout key order) whose
// rows in Iceberg, as committed before this checkpoint, must supply
// values the source did not send. Each key appears once. A failure to
// read spilled entries is returned by the next RereadKeys, Resolve, Rows
// or DeleteKeys.
func (b *Buffer) PendingKeys() []schema.Row {
	var out []schema.Row
	seen := map[string]bool{}
	add := func(k string) {
		if !seen[k] {
			seen[k] = true
			out = append(out, b.pending[k])
		}
	}
	if b.o.Mode == Changelog {
		for _, i := range slices.Sorted(maps.Keys(b.rowPend)) {
			if !b.rowConv[i] {
				add(b.rowPend[i])
			}
		}
		return out
	}
	if !b.anyPend {
		return nil
	}
	err := b.eachEntry(func(e *entry) error {
		if e.pend && !e.conv && !e.dead {
			add(e.lookup)
		}
		return nil
	})
	if err != nil {
		b.fail(err)
		return nil
	}
	return out
}

// RereadKeys returns the own keys (key-only rows in Layout key order) of
// the images from Converging changes that still hold Unchanged values.
// The caller reads those rows from the source as they are now and passes
// them to Resolve. Each key appears once.
func (b *Buffer) RereadKeys() ([]schema.Row, error) {
	if b.failed != nil {
		return nil, b.failed
	}
	var out []schema.Row
	seen := map[string]bool{}
	add := func(img schema.Row) {
		if k := string(schema.AppendKey(nil, b.layout, img)); !seen[k] {
			seen[k] = true
			out = append(out, b.keyRow(img))
		}
	}
	if b.o.Mode == Changelog {
		for _, i := range slices.Sorted(maps.Keys(b.rowConv)) {
			img, err := b.rowImage(i)
			if err != nil {
				return nil, err
			}
			add(img)
		}
		return out, nil
	}
	if !b.anyConv {
		return nil, nil
	}
	err := b.eachEntry(func(e *entry) error {
		if e.pend && e.conv && !e.dead {
			img, err := b.image(e.img)
			if err != nil {
				return err
			}
			add(img)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Resolve fills the values still Unchanged from found, the rows (in
// Layout) that Iceberg holds for the keys of PendingKeys, mapped by
// string(schema.AppendKeyOf(nil, Layout, key)). In Changelog mode found
// must hold the newest row of each key; a delete or truncate row counts as
// no row. A value that cannot be filled is an error naming the table, the
// key and the column; nothing is ever filled with a placeholder. (A NULL
// that Iceberg holds is taken as it is: it is the committed truth, and a
// replayed change converges to the source by the later changes.)
//
// Images from Converging changes are filled from reread instead: the
// source's current rows in Layout's column order (Reread: source
// columns only; ColumnGone where the source no longer has a column)
// by their own key, as string(schema.AppendKeyOf(nil, Layout, key)). When
// the source no longer has the row, a later change still to be replayed
// deletes it: the image is dropped (Upsert: the key becomes a delete;
// Changelog: the change's row is left out). dropped counts those. An
// Unchanged value of a column the source no longer has cannot be filled:
// an error naming the column and floe resnapshot.
func (b *Buffer) Resolve(found, reread map[string]schema.Row) (dropped int, err error) {
	if b.closed {
		return 0, b.errf("%w", errClosed)
	}
	if b.failed != nil {
		return 0, b.failed
	}
	b.counts = nil
	r := resolver{b: b, found: found, reread: reread}
	if b.o.Mode == Changelog {
		for _, i := range slices.Sorted(maps.Keys(b.rowPend)) {
			img, err := b.rowImage(i)
			if err != nil {
				return dropped, err
			}
			ok, err := r.fill(img, b.rowPend[i], b.rowConv[i])
			if err != nil {
				return dropped, err
			}
			if ok {
				if b.enc, err = b.appendEncoded(b.enc[:0], b.layout, img); err != nil {
					return dropped, err
				}
				nr, err := b.log.append(b.enc)
				if err != nil {
					return dropped, b.errf("%w", err)
				}
				b.repl[i] = nr
				b.replRecs[nr] = true
			} else {
				b.dropped[i] = true
				dropped++
			}
			delete(b.rowPend, i)
			delete(b.rowConv, i)
		}
	} else if b.runs.empty() {
		for i := range b.entries {
			e := &b.entries[i]
			if !e.pend || e.dead {
				continue
			}
			size := len(e.img) + len(e.lookup)
			gone, err := r.entry(e)
			if err != nil {
				return dropped, err
			}
			if gone {
				dropped++
			}
			b.memBytes += int64(len(e.img) + len(e.lookup) - size)
		}
	} else {
		if err := b.seal(); err != nil {
			return 0, err
		}
		var (
			buf    []byte
			failed error // Resolve's own error, already naming the table
		)
		err := b.runs.rewrite(func(key string, val []byte, w *runWriter) error {
			if len(val) > 0 && val[0]&flagPend != 0 && val[0]&flagDead == 0 {
				e, err := decodeEntry(key, val)
				if err != nil {
					return err
				}
				gone, err := r.entry(&e)
				if err != nil {
					failed = err
					return errStop
				}
				if gone {
					dropped++
				}
				buf = e.encode(buf[:0])
				val = buf
			}
			return w.add(key, val)
		})
		if failed != nil {
			return dropped, failed
		}
		if err != nil {
			return dropped, b.errf("%w", err)
		}
	}
	clear(b.pending)
	return dropped, nil
}

// ColumnGone stands, in a row read again from the source for Resolve, for
// a column of the Layout that the source no longer has (dropped since the
// change being filled was made).
var ColumnGone = columnGone{}

type columnGone struct{}

// Reread returns the function that puts a row read again from the source
// in its current layout src into the buffer's column order for Resolve,
// matching columns by name (once, for every row of src): the buffer may
// hold a layout replayed from before a schema change (a column since
// dropped, anywhere in it), with which the source's rows do not line up.
// A source column of Layout that src lacks is ColumnGone.
func (b *Buffer) Reread(src *schema.Table) func(schema.Row) schema.Row {
	from := make([]int, b.n)
	for i, col := range b.layout.Columns[:b.n] {
		from[i] = src.Index(col.Name)
	}
	return func(r schema.Row) schema.Row {
		out := make(schema.Row, b.n)
		for i, j := range from {
			if j >= 0 && j < len(r) {
				out[i] = r[j]
			} else {
				out[i] = ColumnGone
			}
		}
		return out
	}
}

// resolver fills Unchanged values for Resolve.
type resolver struct {
	b             *Buffer
	found, reread map[string]schema.Row
}

// fillFrom fills img's Unchanged values from src; false when src cannot
// supply them.
func (r *resolver) fillFrom(img, src schema.Row) bool {
	if src == nil {
		return false
	}
	for i := 0; i < r.b.n; i++ {
		if schema.IsUnchanged(img[i]) {
			if schema.IsUnchanged(src[i]) {
				return false
			}
			img[i] = src[i]
		}
	}
	return true
}

// fill fills img (decoded, in Layout) from the Iceberg row of lookup, or
// from the source's current row when conv; ok=false when a converging
// image's row is gone at the source (the image is to be dropped).
func (r *resolver) fill(img schema.Row, lookup string, conv bool) (bool, error) {
	b := r.b
	if conv {
		src := r.reread[string(schema.AppendKey(nil, b.layout, img))]
		if src != nil && len(src) < b.n {
			return false, b.errf("row read again for key %s has %d columns, the table %d", b.formatKey(b.keyRow(img)), len(src), b.n)
		}
		for i := 0; src != nil && i < b.n; i++ {
			if src[i] == ColumnGone && schema.IsUnchanged(img[i]) {
				return false, b.errf("key %s: column %s was not sent by the source (unchanged TOAST) in a change replayed before the column was dropped, and the source's row no longer has it to read; re-snapshot the table (floe resnapshot)",
					b.formatKey(b.keyRow(img)), b.layout.Columns[i].Name)
			}
		}
		return r.fillFrom(img, src), nil
	}
	src, ok := r.found[lookup]
	if ok && len(src) != len(b.layout.Columns) {
		return false, b.errf("row found for key %s has %d columns, the layout has %d", b.formatKey(b.pending[lookup]), len(src), len(b.layout.Columns))
	}
	if ok && b.o.Mode == Changelog {
		if op, _ := src[b.n].(string); op == capture.OpDelete.String() || op == capture.OpTruncate.String() {
			ok = false
		}
	}
	if !ok {
		src = nil
	}
	if i := firstUnchanged(img[:b.n]); !r.fillFrom(img, src) {
		return false, b.errf("key %s: column %s was not sent by the source (unchanged TOAST) and Iceberg holds no row for key %s to take it from",
			b.formatKey(b.keyRow(img)), b.layout.Columns[i].Name, b.formatKey(b.pending[lookup]))
	}
	return true, nil
}

// entry resolves a pending upsert entry in place; gone reports that it
// was dropped (it became a delete of its key).
func (r *resolver) entry(e *entry) (gone bool, err error) {
	b := r.b
	img, err := b.image(e.img)
	if err != nil {
		return false, err
	}
	ok, err := r.fill(img, e.lookup, e.conv)
	if err != nil {
		return false, err
	}
	if ok {
		if e.img, err = b.encode(b.layout, img); err != nil {
			return false, err
		}
		e.pend, e.conv, e.lookup = false, false, ""
		return false, nil
	}
	if e.img, err = b.encode(b.keyLayout, b.keyRow(img)); err != nil {
		return false, err
	}
	e.pend, e.conv, e.lookup, e.dead, e.del = false, false, "", true, true
	return true, nil
}

// Rows yields the rows to write, in Layout with the metadata columns
// filled: in Upsert mode the last image of every live key (in no
// particular order), in Changelog mode every change in the order applied.
// It fails if a value is still Unchanged (Resolve was not called or
// failed). Each row is the caller's.
func (b *Buffer) Rows() iter.Seq2[schema.Row, error] {
	return walk(b, func(yield func(schema.Row, error) bool) error {
		return b.eachImage(func(rec []byte) error {
			row, err := b.image(rec)
			if err != nil {
				return err
			}
			if i := firstUnchanged(row[:b.n]); i >= 0 {
				return b.errf("key %s: column %s is still unresolved (unchanged TOAST); call Resolve before Rows", b.formatKey(b.keyRow(row)), b.layout.Columns[i].Name)
			}
			if !yield(row, nil) {
				return errStop
			}
			return nil
		})
	})
}

// EncodedRows yields what Rows yields, each row as its encoding
// (schema.AppendRow) in Layout instead of decoded: for a writer that
// copies the values out (lakewriter.EncodedRows). An encoding stays
// unchanged only until the next one is asked for. Unlike Rows it does not
// look into the values: a value still Unchanged (Resolve was not called
// or failed) is the writer's to refuse.
func (b *Buffer) EncodedRows() iter.Seq2[[]byte, error] {
	return walk(b, func(yield func([]byte, error) bool) error {
		return b.eachImage(func(rec []byte) error {
			if !yield(rec, nil) {
				return errStop
			}
			return nil
		})
	})
}

// eachImage calls fn with the encoding of each row Rows yields, in its
// order: in Upsert mode the last image of every live key, in Changelog
// mode every change applied (as resolved, without the dropped ones).
// The encoding is valid only during the call. fn returning errStop ends
// the walk without an error.
func (b *Buffer) eachImage(fn func(rec []byte) error) error {
	var err error
	if b.o.Mode == Changelog {
		err = b.log.scan(func(off int64, rec []byte) error {
			if _, ok := b.repl[off]; ok {
				raw, err := b.rowRecord(off)
				if err != nil {
					return err
				}
				return fn(raw)
			}
			if b.dropped[off] || b.replRecs[off] {
				return nil
			}
			return fn(rec)
		})
	} else {
		err = b.eachEntry(func(e *entry) error {
			if e.dead {
				return nil
			}
			return fn(e.img)
		})
	}
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

// Layout is the sink layout of the rows the Buffer yields (Options.Layout).
func (b *Buffer) Layout() *schema.Table { return b.layout }

// DeleteKeys yields the key-only rows (Layout key order) that need an
// equality delete: in Upsert mode every key touched by a stream change
// (inserted, updated, deleted, or the old key of a key change); snapshot
// reads need none. Changelog mode yields nothing.
func (b *Buffer) DeleteKeys() iter.Seq2[schema.Row, error] {
	return func(yield func(schema.Row, error) bool) {
		for k, err := range b.DeleteKeyImages() {
			if err != nil {
				yield(nil, err)
				return
			}
			// Only the key is decoded: the row's other values, however
			// large, are not copied for its delete.
			key, err := k.Values(b.layout, b.keyLayout)
			if err != nil {
				yield(nil, b.errf("decode buffered row: %w", err))
				return
			}
			if !yield(key, nil) {
				return
			}
		}
	}
}

// DeleteKeyImages yields the keys DeleteKeys yields, in its order,
// undecoded: each one's encoding (schema.AppendKey of Layout) and the
// image it decodes from (KeyImage.Values with Layout). Both are valid
// only during the yield.
func (b *Buffer) DeleteKeyImages() iter.Seq2[schema.KeyImage, error] {
	return walk(b, func(yield func(schema.KeyImage, error) bool) error {
		if b.o.Mode == Changelog {
			return nil
		}
		var key []byte
		err := b.eachEntry(func(e *entry) error {
			if !e.del {
				return nil
			}
			key = append(key[:0], e.key...)
			if !yield(schema.KeyImage{Key: key, Image: e.img, KeyOnly: e.dead}, nil) {
				return errStop
			}
			return nil
		})
		if errors.Is(err, errStop) {
			return nil
		}
		return err
	})
}

// NumDeleteKeys is the number of rows DeleteKeys yields.
func (b *Buffer) NumDeleteKeys() int {
	if b.o.Mode == Changelog {
		return 0
	}
	if !b.runs.empty() {
		return b.countEntries().del
	}
	n := 0
	for i := range b.entries {
		if b.entries[i].del {
			n++
		}
	}
	return n
}

// colMap maps a change's layout onto the source columns of the sink layout.
type colMap struct {
	src   []int // sink ordinal -> change ordinal, -1 when absent (NULL)
	width int   // columns in the change's layout
	// from holds, by sink ordinal, the change column's type when its
	// values must be promoted to the sink column's type (schema.Promote)
	// or, with BufferOptions.Narrow, narrowed to it (narrowValue), else
	// nil; from is nil when no column needs either.
	from []iceberg.Type
	// required is set, with BufferOptions.Narrow, when a nullable change
	// column feeds a required sink column: its NULL values are refused.
	required bool
}

// promotes reports whether the value of sink column i is promoted.
func (cm *colMap) promotes(i int) bool { return cm.from != nil && cm.from[i] != nil }

// mapping returns (and caches) the colMap of change layout s. Every column
// of s must be a source column of the sink layout whose type is the
// same or one the change's type promotes to (schema.Promotable); sink
// columns s lacks are NULL, so they must be nullable and not key columns.
func (b *Buffer) mapping(s *schema.Table) (*colMap, error) {
	if cm, ok := b.maps[s]; ok {
		return cm, nil
	}
	if s == nil {
		return nil, b.errf("change without a layout")
	}
	cm := &colMap{src: make([]int, b.n), width: len(s.Columns)}
	for i := range cm.src {
		cm.src[i] = -1
	}
	for j, c := range s.Columns {
		i := b.layout.Index(c.Name)
		if (i < 0 || i >= b.n) && b.o.SkipColumns {
			continue // left out (a column the sink table does not follow)
		}
		if i < 0 || i >= b.n {
			return nil, b.errf("column %s of the change is not in the sink layout %s; the source layout changed and the buffer must be flushed and rebuilt", c.Name, b.layout)
		}
		if want := b.layout.Columns[i].Type; !schema.SameType(want, c.Type) {
			if !schema.Promotable(c.Type, want) && !(b.o.Narrow && schema.Promotable(want, c.Type)) {
				return nil, b.errf("column %s is %s in the change but %s in the sink layout; the buffer must be flushed and rebuilt", c.Name, c.Type, want)
			}
			if cm.from == nil {
				cm.from = make([]iceberg.Type, b.n)
			}
			cm.from[i] = c.Type
		}
		cm.src[i] = j
		if b.o.Narrow && c.Nullable && !b.layout.Columns[i].Nullable {
			cm.required = true
		}
	}
	for i, j := range cm.src {
		if c := b.layout.Columns[i]; j < 0 && (!c.Nullable || b.isKey(i)) {
			return nil, b.errf("column %s of the sink layout is missing from the change", c.Name)
		}
	}
	b.maps[s] = cm
	return cm, nil
}

// project writes the source columns of dst from img, a row in the
// change's layout, promoting values of narrower change columns to the
// sink column's type. A value the sink cannot hold is a *PlaceError.
func (b *Buffer) project(dst schema.Row, cm *colMap, img schema.Row) error {
	if len(img) != cm.width {
		return b.errf("row has %d values, its layout %d columns", len(img), cm.width)
	}
	if cm.required {
		for i, j := range cm.src {
			if j >= 0 && img[j] == nil && !b.layout.Columns[i].Nullable {
				return &PlaceError{Err: b.errf("column %s is NULL in the source but required in the Iceberg table, which does not follow the source's schema changes (pipeline.schema-change-behavior); set it to lenient or evolve, or re-snapshot the table (floe resnapshot)", b.layout.Columns[i].Name)}
			}
		}
	}
	if cm.from == nil {
		for i, j := range cm.src {
			if j < 0 {
				dst[i] = nil
			} else {
				dst[i] = img[j]
			}
		}
		return nil
	}
	for i, j := range cm.src {
		switch {
		case j < 0:
			dst[i] = nil
		case cm.from[i] != nil:
			to := b.layout.Columns[i].Type
			if !schema.Promotable(cm.from[i], to) {
				v, err := narrowValue(img[j], cm.from[i], to)
				if err != nil {
					fix := "set it to lenient or evolve, or re-snapshot the table (floe resnapshot)"
					if b.isKey(i) {
						fix = "re-snapshot the table (floe resnapshot) to take the wider key"
					}
					return &PlaceError{Err: b.errf("column %s: %w; the Iceberg table keeps type %s (pipeline.schema-change-behavior), so the value cannot be written exactly: %s", b.layout.Columns[i].Name, err, to, fix)}
				}
				dst[i] = v
				continue
			}
			dst[i] = schema.Promote(img[j], cm.from[i], to)
		default:
			dst[i] = img[j]
		}
	}
	return nil
}

// appendKey appends the encoded key of r (a row in Layout) to dst.
func (b *Buffer) appendKey(dst []byte, r schema.Row) ([]byte, error) {
	for _, k := range b.layout.Key {
		if schema.IsUnchanged(r[k]) {
			return dst, b.errf("key column %s has no value", b.layout.Columns[k].Name)
		}
	}
	return schema.AppendKey(dst, b.layout, r), nil
}

// keyRow returns a new row holding the key values of r in key order.
func (b *Buffer) keyRow(r schema.Row) schema.Row {
	k := make(schema.Row, len(b.layout.Key))
	for i, o := range b.layout.Key {
		k[i] = r[o]
	}
	return k
}

func (b *Buffer) isKey(i int) bool { return slices.Contains(b.layout.Key, i) }

// formatKey renders a key row for messages: "id=5, region=eu".
func (b *Buffer) formatKey(key schema.Row) string {
	if len(key) == 0 {
		return "(none)"
	}
	var s strings.Builder
	for i, o := range b.layout.Key {
		if i > 0 {
			s.WriteString(", ")
		}
		c := b.layout.Columns[o]
		s.WriteString(c.Name)
		s.WriteByte('=')
		if v := key[i]; v == nil {
			s.WriteString("NULL")
		} else {
			s.WriteString(schema.FormatValue(v, c.Type))
		}
	}
	return s.String()
}
