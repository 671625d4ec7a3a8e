package lakewriter

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/floe-cdc/floe/lakewriter/ledger"
	"github.com/floe-cdc/floe/schema"
)

// Delete modes (Options.DeleteMode, sink.delete-mode).
const (
	// DeleteModeAuto deletes a key whose live row the key index locates
	// by position, a key the index knows is absent not at all, and any
	// other key by equality.
	DeleteModeAuto = "auto"
	// DeleteModeEquality deletes every key by equality (one file per
	// commit on the key columns), as Floe did before position deletes.
	DeleteModeEquality = "equality"
)

// DefaultPositionDeletesMaxKeys bounds the keys the key indexes of all
// tables of a Catalog hold together (about 60 bytes of memory per key
// of 9 bytes, keyMap);
// a table whose index does not fit is deleted from by equality.
const DefaultPositionDeletesMaxKeys = 1_000_000

// errIndexTooLarge stops building or growing an index past the budget.
var errIndexTooLarge = errors.New("the key indexes would hold more keys than sink.position-deletes-max-keys")

// keyBudget is the number of keys a Catalog's key indexes may hold
// together; every key an index holds is counted in used until the index
// is released.
type keyBudget struct {
	max  int64
	used atomic.Int64

	filesRead atomic.Int64 // data files whose keys were read, for tests
}

// fits fails with errIndexTooLarge when rows more keys would take the
// budget past its bound as it stands now. It is checked before a data
// file's keys are read, with the file's row count, so that a file that
// cannot fit is never read: reading it first holds all its keys in memory
// (the commit of one 10M-row transaction peaked at 2.0 GiB of RSS, against
// 466 MiB before the index, until add refused the first key past the
// bound). It reserves nothing; add counts.
func (b *keyBudget) fits(rows int64) error {
	if b.used.Load()+rows > b.max {
		return errIndexTooLarge
	}
	return nil
}

// fileRef is a data file the key index points into, with what a
// position-delete file referencing it must carry: its spec and
// partition (Java and Trino index position deletes by partition).
type fileRef struct {
	path      string
	specID    int
	partition map[int]any
	// moved, once a rewrite the index followed removed the file, holds
	// where the rows the file held live now (see keyIndex.lookup).
	moved *RewriteKeys
}

func newFileRef(df iceberg.DataFile) *fileRef {
	return &fileRef{path: df.FilePath(), specID: int(df.SpecID()), partition: df.Partition()}
}

// rowLoc is where a live row is: its data file and row position.
type rowLoc struct {
	file *fileRef
	pos  int64
}

// keyIndex maps the key (schema.AppendKeyOf encoding) of every live row of
// main at snapshot `snapshot` to the row's location. It is a cache of
// what the table holds, valid only for that snapshot: a Commit uses it
// only when its base is that snapshot, and after the commit lands on it
// the index is moved to the new snapshot (keys deleted removed, rows
// written added); anything else drops it.
//
// A location may be stale: after a rewrite followed from its recorded
// keys (followRecorded), a key still points into a file the rewrite
// removed, whose fileRef.moved says where its row is now. Read locations
// through lookup, which resolves them; resolveSome brings them up to
// date a bounded number at a time, so that no commit pays for the whole
// table at once.
type keyIndex struct {
	snapshot int64 // 0: the table has no snapshot
	budget   *keyBudget
	keys     *keyMap
	files    map[string]*fileRef // the live data files of snapshot
	// resolving are the followed rewrites whose keys may still point
	// into the files they removed, oldest first.
	resolving []*resolveJob
}

// resolveJob is a followed rewrite and how far resolveSome got through
// its keys.
type resolveJob struct {
	keys *RewriteKeys
	next int // the slot of keys.locs to resolve from (keyMap.keysFrom)
}

// errIndexStale reports a key whose location cannot be resolved: the
// index no longer matches the table, and the commit deletes by equality.
var errIndexStale = errors.New("a key of the index is missing from the rewrite that moved its row")

func newKeyIndex(snapshot int64, budget *keyBudget) *keyIndex {
	return &keyIndex{snapshot: snapshot, budget: budget, keys: newKeyMap(0), files: make(map[string]*fileRef)}
}

// lookup returns the location of key's live row, following the rewrites
// that moved it (and recording where it is now).
func (x *keyIndex) lookup(key []byte) (rowLoc, bool, error) {
	loc, ok := x.keys.get(key)
	if !ok || loc.file.moved == nil {
		return loc, ok, nil
	}
	for loc.file.moved != nil {
		next, found := loc.file.moved.locs.get(key)
		if !found {
			return rowLoc{}, false, fmt.Errorf("key in %s: %w", loc.file.path, errIndexStale)
		}
		loc = next
	}
	if _, err := x.keys.put(key, loc); err != nil {
		return rowLoc{}, false, err
	}
	return loc, true, nil
}

// resolveSome resolves up to n keys of the followed rewrites (lookup), and
// forgets each rewrite whose keys are all resolved: the memory of its
// recorded keys is then free.
func (x *keyIndex) resolveSome(n int) error {
	for n > 0 && len(x.resolving) > 0 {
		j := x.resolving[0]
		visited := 0
		next, err := j.keys.locs.keysFrom(j.next, n, func(k []byte) error {
			visited++
			_, _, err := x.lookup(k)
			return err
		})
		if err != nil {
			return err
		}
		n -= visited
		j.next = next
		if j.next == j.keys.locs.slotCount() {
			x.resolving[0] = nil
			x.resolving = x.resolving[1:]
		}
	}
	return nil
}

// resolveAll resolves every key (resolveSome without a bound).
func (x *keyIndex) resolveAll() error {
	for len(x.resolving) > 0 {
		if err := x.resolveSome(x.resolving[0].keys.locs.len()); err != nil {
			return err
		}
	}
	return nil
}

// remove drops key.
func (x *keyIndex) remove(key []byte) {
	if x.keys.del(key) {
		x.budget.used.Add(-1)
	}
}

// release gives x's keys back to the budget; x is unusable after.
func (x *keyIndex) release() {
	if x != nil && x.keys != nil {
		x.budget.used.Add(-int64(x.keys.len()))
		x.keys = nil
	}
}

// add records key at loc. It fails when the key is already there (two
// live rows of one key: the table is not keyed as Floe keys it) or the
// index would exceed its bound.
func (x *keyIndex) add(key []byte, loc rowLoc) error {
	if held, dup := x.keys.get(key); dup {
		return fmt.Errorf("two live rows share a key (in %s and %s): %w", held.file.path, loc.file.path, errIndexAmbiguous)
	}
	if x.budget.used.Add(1) > x.budget.max {
		x.budget.used.Add(-1)
		return errIndexTooLarge
	}
	if _, err := x.keys.put(key, loc); err != nil {
		x.budget.used.Add(-1)
		return err
	}
	return nil
}

// mainSnapshotID is the id of tbl's current snapshot of main, 0 when none.
func mainSnapshotID(tbl *table.Table) int64 {
	if s := tbl.CurrentSnapshot(); s != nil {
		return s.SnapshotID
	}
	return 0
}

// buildKeyIndex reads the key columns of every live data file of tbl's
// main snapshot with each row's position, and keeps the rows no delete
// file (equality or position) removes: exactly the live rows. A key whose
// row a file holds twice, or that two live rows share, fails the build.
func buildKeyIndex(ctx context.Context, tbl *table.Table, layout *schema.Table, budget *keyBudget) (*keyIndex, error) {
	x := newKeyIndex(mainSnapshotID(tbl), budget)
	if x.snapshot == 0 {
		return x, nil
	}
	scan := tbl.Scan(table.WithSelectedFields(layout.KeyNames()...))
	tasks, err := scan.PlanFiles(ctx)
	if err != nil {
		return nil, fmt.Errorf("plan the key scan: %w", err)
	}
	// A large file may be split into several tasks; its rows are read
	// whole (positions count from its first row) and its live keys
	// gathered from all of them.
	order, byFile := tasksByFile(tasks)
	for _, p := range order {
		if err := x.addFile(ctx, tbl, layout, byFile[p]); err != nil {
			x.release()
			return nil, err
		}
	}
	return x, nil
}

// tasksByFile groups scan tasks by data file, in the order files first
// appear.
func tasksByFile(tasks []table.FileScanTask) ([]string, map[string][]table.FileScanTask) {
	var order []string
	byFile := make(map[string][]table.FileScanTask)
	for _, task := range tasks {
		p := task.File.FilePath()
		if _, ok := byFile[p]; !ok {
			order = append(order, p)
		}
		byFile[p] = append(byFile[p], task)
	}
	return order, byFile
}

// followRewrites moves x to tbl's main snapshot when every snapshot since
// x's only rewrote files (operation replace: the same live rows, e.g. a
// compaction pass): keys in data files the rewrites removed are dropped,
// and the live rows of the data files they added are read (with deletes
// applied), instead of the whole table. It reports false, leaving x
// unusable, when the history is anything else or the files disagree with
// the index.
func (x *keyIndex) followRewrites(ctx context.Context, tbl *table.Table, layout *schema.Table) (bool, error) {
	head := mainSnapshotID(tbl)
	if x.snapshot == 0 || !onlyRewritesSince(tbl, x.snapshot) {
		return false, nil
	}
	tasks, err := tbl.Scan(table.WithSelectedFields(layout.KeyNames()...)).PlanFiles(ctx)
	if err != nil {
		return false, fmt.Errorf("plan the key scan: %w", err)
	}
	order, byFile := tasksByFile(tasks)
	if err := x.resolveAll(); err != nil {
		return false, err
	}
	x.keys.each(func(k []byte, loc rowLoc) bool {
		if _, live := byFile[loc.file.path]; !live {
			x.remove(k)
		}
		return true
	})
	old := x.files
	x.files = make(map[string]*fileRef, len(order))
	for _, p := range order {
		if ref := old[p]; ref != nil {
			x.files[p] = ref
			continue
		}
		if err := x.addFile(ctx, tbl, layout, byFile[p]); err != nil {
			return false, err
		}
	}
	x.snapshot = head
	return true, nil
}

// onlyRewritesSince reports whether base is in tbl's main history and
// every snapshot above it kept the live rows where they were
// (keepsLiveRows).
func onlyRewritesSince(tbl *table.Table, base int64) bool {
	for s := range Ancestry(tbl) {
		if s.SnapshotID == base {
			return true
		}
		if !keepsLiveRows(s) {
			return false
		}
	}
	return false
}

// keepsLiveRows reports whether snapshot s left every live row of main
// in the data file and row it was in: a rewrite (operation replace), or
// the position deletes a compaction pass wrote for rows already deleted
// (DeletesAsPositions): a snapshot of a pass (ledger.IsCompaction) that
// added and removed no data file.
func keepsLiveRows(s *table.Snapshot) bool {
	if s.Summary == nil {
		return false
	}
	if s.Summary.Operation == table.OpReplace {
		return true
	}
	p := s.Summary.Properties
	none := func(k string) bool { return p[k] == "" || p[k] == "0" }
	return ledger.IsCompaction(p) && none("added-data-files") && none("deleted-data-files")
}

// addFile adds the live rows of one data file, read through tasks.
func (x *keyIndex) addFile(ctx context.Context, tbl *table.Table, layout *schema.Table, tasks []table.FileScanTask) error {
	df := tasks[0].File
	if err := x.budget.fits(df.Count()); err != nil { // its live rows are at most its rows
		return err
	}
	ref := newFileRef(df)
	x.files[df.FilePath()] = ref
	pos, dups, err := readFileKeys(ctx, tbl, layout, ref, df, x.budget)
	if err != nil {
		return err
	}
	deletes := false
	for _, t := range tasks {
		deletes = deletes || len(t.DeleteFiles)+len(t.EqualityDeleteFiles)+len(t.DeletionVectorFiles) > 0
	}
	if !deletes {
		if len(dups) > 0 {
			return fmt.Errorf("data file %s holds a key twice: %w", df.FilePath(), errIndexAmbiguous)
		}
		return x.addAll(pos)
	}
	// The live rows are a subset of the file's rows; a key the file
	// holds once is at the position the raw read found.
	return scanKeys(ctx, tbl, layout, tasks, func(k []byte) error {
		if dups[string(k)] {
			return fmt.Errorf("data file %s holds a live key twice: %w", df.FilePath(), errIndexAmbiguous)
		}
		loc, ok := pos.get(k)
		if !ok {
			return fmt.Errorf("data file %s: a live key is missing from the file's rows", df.FilePath())
		}
		return x.add(k, loc)
	})
}

// addAll adds every key of keys (a file's, from readFileKeys).
func (x *keyIndex) addAll(keys *keyMap) error {
	var err error
	keys.each(func(k []byte, loc rowLoc) bool {
		err = x.add(k, loc)
		return err == nil
	})
	return err
}

// readFileKeys reads the key of every row of data file df (ref), deletes
// not applied, and returns each key's row (and the keys the file holds
// more than once, which have no single position: the last one is kept).
// It counts the read in budget.filesRead.
func readFileKeys(ctx context.Context, tbl *table.Table, layout *schema.Table, ref *fileRef, df iceberg.DataFile, budget *keyBudget) (*keyMap, map[string]bool, error) {
	budget.filesRead.Add(1)
	pos := newKeyMap(int(df.Count()))
	var dups map[string]bool
	var n int64
	task := table.FileScanTask{File: df, Start: 0, Length: df.FileSizeBytes()}
	err := scanKeys(ctx, tbl, layout, []table.FileScanTask{task}, func(k []byte) error {
		added, err := pos.put(k, rowLoc{file: ref, pos: n})
		if err != nil {
			return err
		}
		if !added {
			if dups == nil {
				dups = make(map[string]bool)
			}
			dups[string(k)] = true
		}
		n++
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if n != df.Count() {
		return nil, nil, fmt.Errorf("data file %s: read %d rows, its manifest entry counts %d", df.FilePath(), n, df.Count())
	}
	return pos, dups, nil
}

// scanKeys reads the key columns of tasks in order (deletes the tasks
// carry applied) and calls fn with each row's key encoding, which is
// valid only during the call.
func scanKeys(ctx context.Context, tbl *table.Table, layout *schema.Table, tasks []table.FileScanTask, fn func([]byte) error) error {
	names := layout.KeyNames()
	_, batches, err := tbl.Scan(table.WithSelectedFields(names...)).ReadTasks(ctx, tasks)
	if err != nil {
		return fmt.Errorf("read keys of %s: %w", tasks[0].File.FilePath(), err)
	}
	readers := make([]valueReader, len(names))
	key := make(schema.Row, len(names))
	var buf []byte
	for rec, err := range batches {
		if err != nil {
			return fmt.Errorf("read keys of %s: %w", tasks[0].File.FilePath(), err)
		}
		err := func() error {
			defer rec.Release()
			for j, name := range names {
				idx := rec.Schema().FieldIndices(name)
				if len(idx) != 1 {
					return fmt.Errorf("key column %s is missing from the key scan", name)
				}
				r, err := newReader(rec.Column(idx[0]), layout.Columns[layout.Key[j]].Type)
				if err != nil {
					return fmt.Errorf("key column %s: %w", name, err)
				}
				readers[j] = r
			}
			for i := range int(rec.NumRows()) {
				for j, r := range readers {
					key[j] = r(i)
				}
				buf = schema.AppendKeyOf(buf[:0], layout, key)
				if err := fn(buf); err != nil {
					return err
				}
			}
			return nil
		}()
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}

// errIndexAmbiguous stops building an index of a table whose rows are not
// one per key (a file holding a key twice, two live rows of one key).
var errIndexAmbiguous = errors.New("the table does not hold one live row per key")

// onMain reports whether a Commit to branch goes to main.
func onMain(branch string) bool { return branch == "" || branch == table.MainBranch }

// setIndex makes x the table's key index, releasing the one it replaces.
// Called with commitMu held.
func (t *Table) setIndex(x *keyIndex) {
	if t.idx != nil && t.idx != x {
		t.idx.release()
	}
	t.cat.follows(t.id).indexChanged(t.idx != nil, x != nil)
	t.idx = x
}

// indexFor returns the key index valid for base's main snapshot when c
// may delete by position: the one held, moved over rewrites since
// (followRecorded, followRewrites), or one rebuilt from base (another
// writer, a restart); nil when c deletes by equality. A Commit without
// delete keys moves the index too but never rebuilds it. Called with
// commitMu held.
func (t *Table) indexFor(ctx context.Context, base *table.Table, c Commit) *keyIndex {
	if t.cat.deleteMode != DeleteModeAuto || t.idxOff || !onMain(c.Branch) || c.DeleteAll {
		t.setIndex(nil)
		return nil
	}
	head := mainSnapshotID(base)
	start := time.Now()
	if t.idx != nil && t.idx.snapshot != head {
		t.followTo(ctx, base, head, start)
	}
	if t.idx != nil {
		if err := t.idx.resolveSome(resolvePerCommit); err != nil {
			t.setIndex(nil)
			t.log.Warn("the key index does not match the table; rebuilding it", "err", err)
		}
	}
	if t.idx != nil || c.DeleteKeys == nil {
		return t.idx
	}
	if tooManyDataFiles(base) {
		return nil
	}
	idx, err := buildKeyIndex(ctx, base, t.layout, t.cat.indexKeys)
	if err != nil {
		if errors.Is(err, errIndexTooLarge) || errors.Is(err, errIndexAmbiguous) {
			t.disableIndex(err)
		} else if ctx.Err() == nil {
			t.log.Warn("could not build the key index; this commit deletes by equality, the next one tries again",
				"snapshot_id", head, "err", err)
		}
		return nil
	}
	t.log.Info("key index built", "snapshot_id", head, "keys", idx.keys.len(),
		"duration", time.Since(start).Round(time.Millisecond).String())
	t.setIndex(idx)
	t.idxBuilds++
	return idx
}

// followTo moves the held key index to base's main snapshot head over
// the rewrites since: from the keys the newest one recorded
// (RewriteLanded) when it is the only one, otherwise by reading the files
// they added. It drops the index when it cannot. Called with commitMu
// held.
func (t *Table) followTo(ctx context.Context, base *table.Table, head int64, start time.Time) {
	if r := t.cat.follows(t.id).take(); r != nil && r.parent == t.idx.snapshot && t.idx.followRecorded(r) {
		t.log.Debug("key index followed a rewrite from its recorded keys", "snapshot_id", r.snapshot, "keys", t.idx.keys.len(),
			"duration", time.Since(start).Round(time.Millisecond).String())
		if t.idx.snapshot == head {
			return
		}
	}
	ok, err := t.idx.followRewrites(ctx, base, t.layout)
	if ok {
		t.log.Debug("key index followed rewrites", "snapshot_id", head, "keys", t.idx.keys.len(),
			"duration", time.Since(start).Round(time.Millisecond).String())
		return
	}
	t.setIndex(nil)
	if err != nil && ctx.Err() == nil {
		t.log.Debug("key index could not follow rewrites; rebuilding it", "err", err)
	}
}

// resolvePerCommit is how many keys of followed rewrites each Commit
// resolves (keyIndex.resolveSome): tens of milliseconds, so a table of 1M
// keys is up to date ten commits after a compaction pass.
var resolvePerCommit = 100_000 // a variable for tests

// MaxIndexedDataFiles is the most live data files a table may have for
// a key index to be built, and the most data files one commit may add
// for the index to follow it. Building the index reads every data file
// of the table, and following a commit reads every data file the commit
// adds: measured on a loaded 2-core machine, a partitioned table of 424
// small files took 81 s to index (inside the commit lock, after every
// restart) and each of its commits, adding ~400 files, 6 s to follow,
// where its deletes spread over far more than MaxPositionDeleteFiles
// files and went by equality anyway. A table with more data files and
// no index deletes by equality until compaction brings it back under.
//
// An index already held keeps following commits of a few files each past
// the bound: a table at 1 s checkpoints and compaction every minute
// holds 60-65 data files just before each pass, and dropping the index
// there made the first checkpoint after the pass rebuild it inside the
// commit lock (1.5 s for 375k keys on the sustained benchmark).
const MaxIndexedDataFiles = 64

// tooManyDataFiles reports whether tbl's main snapshot records more than
// MaxIndexedDataFiles live data files (its summary's total-data-files).
func tooManyDataFiles(tbl *table.Table) bool {
	s := tbl.CurrentSnapshot()
	if s == nil || s.Summary == nil {
		return false
	}
	n, err := strconv.Atoi(s.Summary.Properties["total-data-files"])
	return err == nil && n > MaxIndexedDataFiles
}

// disableIndex stops position deletes for the table for the life of this
// Table, saying why once.
func (t *Table) disableIndex(why error) {
	t.setIndex(nil)
	t.idxOff = true
	t.log.Warn("position deletes off for this table; it is deleted from by equality until floe restarts",
		"reason", why.Error(), "max_keys", t.cat.indexKeys.max,
		"fix", "raise sink.position-deletes-max-keys if the tables outgrew it")
}

// advanceIndex moves the key index to the snapshot c just created (next's
// main head), or drops it: it follows only a commit to main staged on the
// snapshot the index describes whose deletes were all planned against it
// (plan, nil when c deleted nothing by key), or a truncate. The rows of
// dataFiles (every data file c added) are read back for their positions.
// Called with commitMu held, only after the commit landed.
func (t *Table) advanceIndex(ctx context.Context, next *table.Table, c Commit, plan *deletePlan, dataFiles []iceberg.DataFile) {
	prev := t.idx
	head := next.CurrentSnapshot()
	if t.cat.deleteMode != DeleteModeAuto || t.idxOff || !onMain(c.Branch) || head == nil || len(dataFiles) > MaxIndexedDataFiles {
		t.setIndex(nil)
		return
	}
	var x *keyIndex
	switch {
	case c.DeleteAll:
		x = newKeyIndex(head.SnapshotID, t.cat.indexKeys)
	case prev == nil || head.ParentSnapshotID == nil || *head.ParentSnapshotID != prev.snapshot,
		plan == nil && c.DeleteKeys != nil, plan != nil && plan.restaged:
		t.setIndex(nil)
		return
	default:
		x = prev
		if plan != nil {
			for k := range plan.keys {
				x.remove([]byte(k))
			}
		}
		x.snapshot = head.SnapshotID
	}
	for _, df := range dataFiles {
		if err := x.addWritten(ctx, next, t.layout, df); err != nil {
			if x != prev {
				x.release()
			}
			if errors.Is(err, errIndexTooLarge) || errors.Is(err, errIndexAmbiguous) {
				t.disableIndex(err)
			} else {
				t.setIndex(nil)
				t.log.Warn("could not read back the positions of rows written; the next commit rebuilds the key index",
					"path", df.FilePath(), "err", err)
			}
			return
		}
	}
	t.setIndex(x)
}

// addWritten adds every row of df, a data file just committed (no delete
// applies to it).
func (x *keyIndex) addWritten(ctx context.Context, tbl *table.Table, layout *schema.Table, df iceberg.DataFile) error {
	if err := x.budget.fits(df.Count()); err != nil {
		return err
	}
	ref := newFileRef(df)
	pos, dups, err := readFileKeys(ctx, tbl, layout, ref, df, x.budget)
	if err != nil {
		return err
	}
	if len(dups) > 0 {
		return fmt.Errorf("data file %s: %w", df.FilePath(), errIndexAmbiguous)
	}
	x.files[df.FilePath()] = ref
	return x.addAll(pos)
}
