package lakewriter

import (
	"context"
	"fmt"
	"iter"
	"maps"
	"slices"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/floe-cdc/floe/schema"
)

// deletePlan is how one Commit deletes its keys when the table's key
// index is valid for the commit's base (DeleteModeAuto): a key whose live
// row the index locates by a position delete, a key the index does not
// hold (absent from the base) not at all.
//
// A located key whose data file a rewrite in flight replaces
// (Table.ReplacingFiles) is deleted by equality instead.
//
// The plan holds only the keys it located, never more than the index
// holds: a key absent from the base is counted and dropped, so a commit of
// many new keys (a 10M-row transaction: every insert is an upsert's
// delete key too) plans in the memory of its located keys.
//
// The positions and absences hold for the snapshot base only. A commit
// attempt staged on another base first restages the plan (restage): a
// position delete whose data file is no longer live there becomes an
// equality delete of its key; and unless every snapshot since base only
// rewrote files or added none, every key of the commit does, read again
// from the commit's DeleteKeys.
type deletePlan struct {
	base     int64                            // main snapshot the plan describes
	all      iter.Seq2[schema.Row, error]     // the commit's DeleteKeys, re-read by restage
	keys     map[string]bool                  // the located keys (encoded), for the index update
	byFile   map[string][]schema.Row          // keys deleted by position, by data file path
	posFiles map[string]iceberg.DataFile      // their position-delete files, by data file path
	eqFiles  []iceberg.DataFile               // equality deletes: keys in files being rewritten, or converted
	restaged bool                             // staged on another base than the index's
	counts   struct{ pos, eq, skipped int64 } // keys deleted by position, by equality, not at all
}

// planDeletes reads keys (c.DeleteKeys), or images in their place (the
// keys of c.DeleteKeyImages, see keyImages), locates each key in idx (valid
// for tbl's main snapshot) and writes the position-delete files.
func (t *Table) planDeletes(ctx context.Context, tbl *table.Table, idx *keyIndex, keys iter.Seq2[schema.Row, error], images iter.Seq2[schema.KeyImage, error]) (*deletePlan, error) {
	layout := t.layout
	// Keys are validated as an equality delete's would be: a key of a
	// non-canonical type would otherwise miss the index and be taken
	// for a new key. Keys from images were encoded from their values,
	// so they are found by their encoding; only those located are
	// written, and validated.
	enc, _, err := t.keyEncoder(tbl)
	if err != nil {
		return nil, err
	}
	defer enc.release()
	p := &deletePlan{base: idx.snapshot, all: keys, keys: make(map[string]bool), byFile: make(map[string][]schema.Row)}
	marks := t.cat.marks(t.id)
	var byEquality []schema.Row // located keys deleted by equality (below)
	var locs []rowLoc
	validate := func(k schema.Row) error {
		if err := enc.append(k); err != nil {
			return err
		}
		if enc.full() {
			enc.flush().Release()
		}
		return nil
	}
	// locate plans the delete of the key encoded as key, whose values
	// values gives.
	locate := func(key []byte, values func() (schema.Row, error)) error {
		loc, ok, err := idx.lookup(key)
		if err != nil {
			return err
		}
		if !ok {
			p.counts.skipped++
			return nil
		}
		if p.keys[string(key)] {
			return nil // a key yielded twice is deleted once
		}
		p.keys[string(key)] = true
		k, err := values()
		if err != nil {
			return err
		}
		if marks.has(loc.file.path) {
			byEquality = append(byEquality, k)
			return nil
		}
		p.byFile[loc.file.path] = append(p.byFile[loc.file.path], k)
		locs = append(locs, loc)
		p.counts.pos++
		return nil
	}
	n := 0
	if images != nil {
		var cur schema.KeyImage
		kt := schema.KeyTable(layout)
		values := func() (schema.Row, error) {
			k, err := cur.Values(layout, kt)
			if err != nil {
				return nil, fmt.Errorf("decode key %x: %w", cur.Key, err)
			}
			return k, validate(k)
		}
		for k, err := range images {
			if err != nil {
				return nil, fmt.Errorf("read key %d: %w", n, err)
			}
			cur = k
			if err := locate(k.Key, values); err != nil {
				return nil, fmt.Errorf("key %d: %w", n, err)
			}
			n++
		}
	} else {
		var cur schema.Row
		values := func() (schema.Row, error) { return slices.Clone(cur), nil }
		var buf []byte
		for k, err := range keys {
			if err != nil {
				return nil, fmt.Errorf("read row %d: %w", n, err)
			}
			if err := validate(k); err != nil {
				return nil, fmt.Errorf("row %d: %w", n, err)
			}
			cur = k
			buf = schema.AppendKeyOf(buf[:0], layout, k)
			if err := locate(buf, values); err != nil {
				return nil, fmt.Errorf("row %d: %w", n, err)
			}
			n++
		}
	}
	// Located keys go by equality, in one file, when a rewrite in flight
	// replaces their file, and all of them when they spread over more
	// than MaxPositionDeleteFiles data files.
	if len(p.byFile) > MaxPositionDeleteFiles {
		for _, ks := range p.byFile {
			byEquality = append(byEquality, ks...)
		}
		p.byFile, locs, p.counts.pos = map[string][]schema.Row{}, nil, 0
	}
	if len(byEquality) > 0 {
		eq, n, err := t.writeDeletes(ctx, tbl, rowSeq(byEquality))
		if err != nil {
			t.removeFiles(ctx, tbl, eq)
			return nil, fmt.Errorf("equality deletes of %d located keys: %w", len(byEquality), err)
		}
		p.eqFiles, p.counts.eq = eq, n
	}
	files, err := t.writePosDeletes(ctx, tbl, locs)
	if err != nil {
		t.removeFiles(ctx, tbl, p.eqFiles)
		return nil, err
	}
	p.posFiles = files
	return p, nil
}

// MaxPositionDeleteFiles is the most data files one commit deletes rows
// of by position. Position-delete files are file-scoped, one per data
// file, so a commit whose deleted keys are spread over many data files
// (updates of random keys) would add that many delete files, which
// Trino opens at every full scan: measured with Trino 476 (README,
// Performance), 60 checkpoints touching ~25 files each made 1,542 delete
// files and full scans 1.4x as slow as one equality-delete file per
// checkpoint. Such a commit deletes its located keys by equality instead;
// keys the index knows absent still need no delete.
const MaxPositionDeleteFiles = 4

// result sets res's delete counts from p (deleteFiles: how many files).
func (p *deletePlan) result(res *CommitResult, deleteFiles int) {
	res.PositionDeletes, res.EqualityDeletes, res.SkippedDeletes = p.counts.pos, p.counts.eq, p.counts.skipped
	res.Deletes, res.DeleteFiles = p.counts.pos+p.counts.eq, deleteFiles
}

// files returns the plan's delete files, in a stable order.
func (p *deletePlan) files() []iceberg.DataFile {
	out := slices.Collect(maps.Values(p.posFiles))
	sortDataFiles(out)
	return append(out, p.eqFiles...)
}

// restage makes p correct on view (main as a commit attempt is staged on
// it) and returns its delete files there. See deletePlan.
func (t *Table) restage(ctx context.Context, view *table.Table, p *deletePlan) ([]iceberg.DataFile, error) {
	head := mainSnapshotID(view)
	if head == p.base {
		return p.files(), nil
	}
	p.restaged = true
	if !keysStayAbsent(view, p.base) {
		// A key absent from base may be live on view: every key of the
		// commit is deleted by equality, as without an index.
		eq, n, err := t.writeDeletes(ctx, view, p.all)
		if err != nil {
			t.removeFiles(ctx, view, eq)
			return nil, fmt.Errorf("restage deletes: %w", err)
		}
		t.log.Info("deletes restaged as equality deletes: the table gained rows under the commit",
			"keys", n, "base_snapshot_id", head)
		p.byFile, p.posFiles, p.eqFiles = map[string][]schema.Row{}, map[string]iceberg.DataFile{}, eq
		p.counts.pos, p.counts.eq, p.counts.skipped = 0, n, 0
		p.base = head
		return p.files(), nil
	}
	live, _, err := liveFiles(ctx, view)
	if err != nil {
		return nil, fmt.Errorf("restage deletes: %w", err)
	}
	paths := make(map[string]bool, len(live))
	for _, df := range live {
		paths[df.FilePath()] = true
	}
	var convert []schema.Row
	for path, keys := range p.byFile {
		if !paths[path] {
			convert = append(convert, keys...)
			delete(p.byFile, path)
			delete(p.posFiles, path)
		}
	}
	p.base = head
	if len(convert) == 0 {
		return p.files(), nil
	}
	eq, n, err := t.writeDeletes(ctx, view, rowSeq(convert))
	if err != nil {
		t.removeFiles(ctx, view, eq)
		return nil, fmt.Errorf("restage deletes: %w", err)
	}
	t.log.Info("position deletes restaged as equality deletes: their data files were rewritten under the commit",
		"keys", n, "base_snapshot_id", head)
	p.eqFiles = append(p.eqFiles, eq...)
	p.counts.eq += n
	p.counts.pos = 0
	for _, keys := range p.byFile {
		p.counts.pos += int64(len(keys))
	}
	return p.files(), nil
}

// rowSeq yields rows as the sequence writeDeletes reads.
func rowSeq(rows []schema.Row) iter.Seq2[schema.Row, error] {
	return func(yield func(schema.Row, error) bool) {
		for _, r := range rows {
			if !yield(r, nil) {
				return
			}
		}
	}
}

// keysStayAbsent reports whether every snapshot of view's main history
// above base only rewrote files (operation replace: same rows) or added
// no data file, so that a key base does not hold is still absent. It is
// false when base is not in that history.
func keysStayAbsent(view *table.Table, base int64) bool {
	for s := range Ancestry(view) {
		if s.SnapshotID == base {
			return true
		}
		if s.Summary == nil {
			return false
		}
		if s.Summary.Operation == table.OpReplace {
			continue
		}
		if n := s.Summary.Properties["added-data-files"]; n != "" && n != "0" {
			return false
		}
	}
	return base == 0
}
