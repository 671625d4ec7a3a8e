package lakewriter

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/schema/bytebound"
)

// Commit is one atomic change to a table. See Table.Commit.
type Commit struct {
	// Rows are the data rows to add, in Layout order; nil means none.
	Rows iter.Seq2[schema.Row, error]
	// Encoded, when set, are data rows to add as well, in the row
	// encoding (schema.AppendRow) of the table's Layout: written without
	// being decoded into a Row, each value straight into its Arrow
	// builder. They are validated as Rows are, with the same errors.
	Encoded *EncodedRows
	// DeleteKeys are key-only rows (values in Layout().Key order); every
	// live row with one of these keys that was committed before this
	// commit is deleted (one equality-delete file). Rows added by this same
	// commit are not affected. Ignored when DeleteAll is set. It may be
	// read more than once (a retry on a changed table reads it again)
	// and must yield the same keys each time.
	DeleteKeys iter.Seq2[schema.Row, error]
	// DeleteKeyImages, when set, are the keys DeleteKeys yields, in its
	// order, undecoded: the key index looks each one up by its encoding,
	// and only the keys it finds are decoded. DeleteKeys is still read
	// where keys are written by equality, and in place of these when the
	// key columns of their Layout are not the table's.
	DeleteKeyImages *KeyImages
	// Data are data files a DataWriter of this table wrote ahead (see
	// DataWriter.Close); they are added in the same snapshot as Rows.
	// They must match the table's current schema and partition spec, or
	// the commit fails. A failed Commit does not remove them.
	Data []*WrittenData
	// DeleteAll drops every existing row (truncate) in the same snapshot.
	DeleteAll bool
	// Props go into the summary of the snapshot this commit creates.
	Props map[string]string
	// Token is the Props key whose value identifies this commit; it must
	// be set and unique in the table's history (e.g. a checkpoint id).
	Token string
	// Fence, when set, refuses the commit with a FencedError once the
	// table records a newer epoch of the writer's pipeline (see Fence).
	Fence *Fence
	// Branch, when set and not main, is the branch the snapshot is
	// committed to (created from main's head when the table has none):
	// main stays as it is, and the commit's base, truncate, landed check
	// and Fence read the branch's history (see FastForward).
	Branch string
}

// EncodedRows are data rows in the row encoding of schema.AppendRow.
type EncodedRows struct {
	// Layout is the table the rows are encoded as: it must have the
	// columns of the Table's Layout, names and types in order, or the
	// commit fails.
	Layout *schema.Table
	// Rows yields each row's encoding, which need stay unchanged only
	// until the next row is asked for.
	Rows iter.Seq2[[]byte, error]
}

// KeyImages are delete keys as a keyed buffer holds them.
type KeyImages struct {
	// Layout is the table the keys are encoded as (schema.KeyImage).
	Layout *schema.Table
	// Keys yields each key, which need stay unchanged only until the next
	// one is asked for.
	Keys iter.Seq2[schema.KeyImage, error]
}

// CommitResult describes a successful commit.
type CommitResult struct {
	SnapshotID  int64 // the snapshot that carries Props
	Rows        int64 // data rows written
	Deletes     int64 // delete keys written (by position and by equality)
	DataFiles   int
	DeleteFiles int
	Attempts    int  // catalog commit attempts made
	Recovered   bool // an attempt reported an error but had in fact landed
	// PositionDeletes and EqualityDeletes split Deletes by kind;
	// SkippedDeletes are delete keys the table was known not to hold
	// (new keys), which needed no delete (see Options.DeleteMode).
	PositionDeletes int64
	EqualityDeletes int64
	SkippedDeletes  int64
}

// maxAttempts bounds catalog commit attempts per Commit; backoff between
// attempts starts at firstBackoff and doubles up to maxBackoff.
const (
	maxAttempts  = 6
	firstBackoff = 100 * time.Millisecond
	maxBackoff   = 3 * time.Second
)

// reservedProps are summary keys iceberg-go writes itself; Props must not
// use them.
var reservedProps = map[string]bool{
	"operation": true, "added-data-files": true, "added-delete-files": true,
	"added-equality-deletes": true, "added-files-size": true, "added-position-deletes": true,
	"added-position-delete-files": true, "added-records": true, "added-equality-delete-files": true,
	"deleted-data-files": true, "deleted-records": true, "removed-delete-files": true,
	"removed-equality-deletes": true, "removed-equality-delete-files": true, "removed-files-size": true,
	"removed-position-deletes": true, "removed-position-delete-files": true,
	"total-equality-deletes": true, "total-position-deletes": true, "total-data-files": true,
	"total-delete-files": true, "total-records": true, "total-files-size": true,
	"changed-partition-count": true, "iceberg-version": true,
	iceberg.EnvironmentEngineNameKey: true, iceberg.EnvironmentEngineVersionKey: true,
}

func checkCommit(c Commit) error {
	if c.Token == "" || c.Props[c.Token] == "" {
		return fmt.Errorf("commit token: Token must name a non-empty Props value (Token=%q)", c.Token)
	}
	for k := range c.Props {
		if reservedProps[k] {
			return fmt.Errorf("commit props: key %q is reserved by iceberg", k)
		}
	}
	return nil
}

// Commit writes c as one snapshot: Parquet data files from c.Rows, one
// equality-delete file on the key columns from c.DeleteKeys (when it
// yields keys), removal of every existing file when c.DeleteAll, and
// c.Props in the snapshot summary. A commit with nothing to write still
// creates a snapshot carrying c.Props.
//
// Rows are validated while they are written: a NULL in a required column,
// schema.Unchanged or a non-canonical value fails the commit with an
// error naming the table, row and column, and nothing is committed.
//
// Files are written once. When the catalog commit fails, the table is
// reloaded: if a snapshot newer than the starting one carries c.Props
// (same token value), the commit landed and Commit succeeds; otherwise
// it is retried on the new base with the same files, up to maxAttempts
// times with backoff, honouring ctx.
func (t *Table) Commit(ctx context.Context, c Commit) (CommitResult, error) {
	ctx = t.cat.ioContext(ctx)
	t.commitMu.Lock()
	defer t.commitMu.Unlock()
	var res CommitResult
	if err := checkCommit(c); err != nil {
		return res, fmt.Errorf("commit %s: %w", t.id, err)
	}
	base, err := t.refresh(ctx)
	if err != nil {
		return res, err
	}
	baseView, err := onRef(base, c.Branch)
	if err != nil {
		return res, fmt.Errorf("commit %s: %w", t.id, err)
	}
	var baseID *int64
	if s := baseView.CurrentSnapshot(); s != nil {
		id := s.SnapshotID
		baseID = &id
	}
	start := time.Now()
	// The key index follows only commits that land; every other outcome
	// drops it (advanceIndex replaces it after a landing).
	defer func() {
		if res.SnapshotID == 0 {
			t.setIndex(nil)
		}
	}()
	idx := t.indexFor(ctx, base, c)
	dataFiles, delFiles, plan, err := t.writeFiles(ctx, base, c, idx, &res)
	if err != nil {
		return res, err
	}

	tbl := base
	backoff := firstBackoff
	for {
		res.Attempts++
		view, err := onRef(tbl, c.Branch)
		if err != nil {
			return res, fmt.Errorf("commit %s: %w", t.id, err)
		}
		if err := c.Fence.checkRef(tbl, view, t.id); err != nil {
			return res, err
		}
		if plan != nil {
			// Position deletes hold only on the snapshot they were
			// planned on; on another base, restage them.
			if delFiles, err = t.restage(ctx, view, plan); err != nil {
				return res, fmt.Errorf("commit %s: %w", t.id, err)
			}
			plan.result(&res, len(delFiles))
		}
		if t.commitVia != nil {
			tbl = t.commitVia(tbl)
		}
		next, err := commitOnce(ctx, tbl, view, c, dataFiles, delFiles)
		if err == nil {
			res, err = t.recordLanded(ctx, next, c, plan, dataFiles, res, start)
			return res, err
		}
		// The outcome is unknown: the catalog may have applied the commit
		// and failed afterwards. The token in the history decides.
		fresh, lerr := t.refresh(ctx)
		var freshView *table.Table
		if lerr == nil {
			freshView, lerr = onRef(fresh, c.Branch)
		}
		if lerr == nil {
			if id, ok := landed(freshView, baseID, c.Props); ok {
				res.SnapshotID, res.Recovered = id, true
				t.setIndex(nil) // not followed: the next commit rebuilds it
				t.log.Warn("commit reported an error but landed", "snapshot_id", id, "error", err)
				t.logCommit(res, start)
				return res, nil
			}
			tbl = fresh
		}
		if res.Attempts >= maxAttempts || ctx.Err() != nil {
			return res, fmt.Errorf("commit %s: gave up after %d attempts: %w", t.id, res.Attempts, errors.Join(err, lerr))
		}
		t.log.Debug("commit attempt failed; retrying", "attempt", res.Attempts, "error", err, "reload_error", lerr)
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("commit %s: %w (last attempt: %w)", t.id, ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// recordLanded records c, which the catalog accepted as next: unless the catalog
// file was deleted while the commit ran (it took the commit with it: it
// must not count as durable), next becomes the table's current state,
// res gets the snapshot of c's branch, and the key index follows.
func (t *Table) recordLanded(ctx context.Context, next *table.Table, c Commit, plan *deletePlan, dataFiles []iceberg.DataFile,
	res CommitResult, start time.Time) (CommitResult, error) {
	if err := t.cat.checkFile(); err != nil {
		return res, fmt.Errorf("commit %s: %w", t.id, err)
	}
	t.setCurrent(next)
	head := next.CurrentSnapshot()
	if c.Branch != "" {
		head = next.SnapshotByName(c.Branch)
	}
	res.SnapshotID = head.SnapshotID
	t.advanceIndex(ctx, next, c, plan, dataFiles)
	t.logCommit(res, start)
	return res, nil
}

// writeFiles writes c's rows and delete keys into new files of base's
// table and adds the files of c.Data; it fills res's counts. With idx
// (valid for base's main snapshot) the keys are deleted as a deletePlan
// says, which it returns; otherwise by equality. On an error every file it
// wrote is removed again.
func (t *Table) writeFiles(ctx context.Context, base *table.Table, c Commit, idx *keyIndex, res *CommitResult) (dataFiles, delFiles []iceberg.DataFile, plan *deletePlan, err error) {
	dataFiles, rows, err := t.writeData(ctx, base, c.Rows, c.Encoded)
	if err != nil {
		t.removeFiles(ctx, base, dataFiles)
		return nil, nil, nil, fmt.Errorf("commit %s: write data: %w", t.id, err)
	}
	var dels int64
	switch {
	case c.DeleteAll || c.DeleteKeys == nil:
	case idx != nil:
		plan, err = t.planDeletes(ctx, base, idx, c.DeleteKeys, t.keyImages(c.DeleteKeyImages))
		if errors.Is(err, errIndexStale) {
			// The index no longer matches the table: drop it (the next
			// commit rebuilds it) and delete every key by equality.
			t.log.Warn("the key index does not match the table; this commit deletes by equality, the next one rebuilds the index", "err", err)
			t.setIndex(nil)
			delFiles, dels, err = t.writeDeletes(ctx, base, c.DeleteKeys)
			if err != nil {
				t.removeFiles(ctx, base, append(dataFiles, delFiles...))
				return nil, nil, nil, fmt.Errorf("commit %s: write deletes: %w", t.id, err)
			}
			break
		}
		if err != nil {
			t.removeFiles(ctx, base, dataFiles)
			return nil, nil, nil, fmt.Errorf("commit %s: write position deletes: %w", t.id, err)
		}
		delFiles = plan.files()
	default:
		delFiles, dels, err = t.writeDeletes(ctx, base, c.DeleteKeys)
		if err != nil {
			t.removeFiles(ctx, base, append(dataFiles, delFiles...))
			return nil, nil, nil, fmt.Errorf("commit %s: write deletes: %w", t.id, err)
		}
	}
	for _, w := range c.Data {
		if err := w.fits(base); err != nil {
			t.removeFiles(ctx, base, append(dataFiles, delFiles...))
			return nil, nil, nil, fmt.Errorf("commit %s: %w", t.id, err)
		}
		dataFiles = append(dataFiles, w.files...)
		rows += w.rows
	}
	res.Rows, res.DataFiles = rows, len(dataFiles)
	res.Deletes, res.EqualityDeletes, res.DeleteFiles = dels, dels, len(delFiles)
	if plan != nil {
		plan.result(res, len(delFiles))
	}
	return dataFiles, delFiles, plan, nil
}

func (t *Table) logCommit(res CommitResult, start time.Time) {
	t.log.Debug("committed", "snapshot_id", res.SnapshotID, "rows", res.Rows, "deletes", res.Deletes,
		"position_deletes", res.PositionDeletes, "equality_deletes", res.EqualityDeletes, "skipped_deletes", res.SkippedDeletes,
		"data_files", res.DataFiles, "delete_files", res.DeleteFiles, "attempts", res.Attempts,
		"duration", time.Since(start))
}

// landed reports whether tbl's main history above baseID (exclusive; nil =
// the whole history) holds a snapshot whose summary carries every entry
// of props, and returns its id.
func landed(tbl *table.Table, baseID *int64, props map[string]string) (int64, bool) {
	for s := range Ancestry(tbl) {
		if baseID != nil && s.SnapshotID == *baseID {
			return 0, false
		}
		if s.Summary == nil {
			continue
		}
		match := true
		for k, v := range props {
			if got, ok := s.Summary.Properties[k]; !ok || got != v {
				match = false
				break
			}
		}
		if match {
			return s.SnapshotID, true
		}
	}
	return 0, false
}

// commitOnce stages the snapshot for c on top of tbl (on c.Branch when
// set; view is tbl as that branch's reader sees it) and commits it.
func commitOnce(ctx context.Context, tbl, view *table.Table, c Commit, dataFiles, delFiles []iceberg.DataFile) (*table.Table, error) {
	ref := table.MainBranch
	if c.Branch != "" {
		ref = c.Branch
	}
	tx, err := tbl.NewTransactionOnBranchWithError(ref)
	if err != nil {
		return nil, fmt.Errorf("open a transaction on %s: %w", ref, err)
	}
	// Compare-and-swap on the ref even if the table enables iceberg-go's
	// own retries, which would otherwise restage the commit on a newer
	// head (past a Fence's claim) without this code seeing it. On a
	// branch not yet created it requires that it still not exist.
	if err := tx.AssertRefSnapshotID(ref); err != nil {
		return nil, fmt.Errorf("pin the base snapshot: %w", err)
	}
	if c.Fence != nil {
		if err := c.Fence.stage(tx, tbl); err != nil {
			return nil, err
		}
	}
	props := iceberg.Properties(maps.Clone(c.Props))
	var liveData, liveDel []iceberg.DataFile
	if c.DeleteAll {
		var err error
		liveData, liveDel, err = liveFiles(ctx, view)
		if err != nil {
			return nil, err
		}
	}
	switch {
	case len(liveData)+len(liveDel) > 0:
		// Truncate: drop every live file in the same snapshot. Delete keys
		// are not written; they could only match rows being dropped.
		err = tx.ReplaceFiles(ctx, liveData, dataFiles, liveDel, props)
	case len(dataFiles)+len(delFiles) > 0:
		err = tx.NewRowDelta(props).AddRows(dataFiles...).AddDeletes(delFiles...).Commit(ctx)
	default:
		err = tx.AddFiles(ctx, nil, props, false) // empty snapshot carrying props
	}
	if err != nil {
		return nil, fmt.Errorf("stage snapshot: %w", err)
	}
	next, err := tx.Commit(ctx)
	if err != nil {
		return nil, fmt.Errorf("commit snapshot: %w", err)
	}
	return next, nil
}

// liveFiles lists the live data and delete files of tbl's current snapshot.
func liveFiles(ctx context.Context, tbl *table.Table) (data, deletes []iceberg.DataFile, err error) {
	s := tbl.CurrentSnapshot()
	if s == nil {
		return nil, nil, nil
	}
	fs, err := tbl.FS(ctx)
	if err != nil {
		return nil, nil, err
	}
	manifests, err := s.Manifests(fs)
	if err != nil {
		return nil, nil, fmt.Errorf("read manifest list: %w", err)
	}
	for _, m := range manifests {
		for e, err := range m.Entries(fs, true) {
			if err != nil {
				return nil, nil, fmt.Errorf("read manifest %s: %w", m.FilePath(), err)
			}
			df := e.DataFile()
			if df.ContentType() == iceberg.EntryContentData {
				data = append(data, df)
			} else {
				deletes = append(deletes, df)
			}
		}
	}
	return data, deletes, nil
}

// rowBatches turns rows into Arrow batches of at most batchRows rows,
// add appending each row to enc. It never yields an error (some
// iceberg-go writers panic on one); instead it stops and records the
// error, which the caller reads with the returned function once the
// writer is done.
func rowBatches[R any](rows iter.Seq2[R, error], add func(R) error, enc *encoder, count *int64) (iter.Seq2[arrow.RecordBatch, error], func() error) {
	var mu sync.Mutex
	var failed error
	seq := func(yield func(arrow.RecordBatch, error) bool) {
		fail := func(err error) {
			mu.Lock()
			failed = err
			mu.Unlock()
		}
		var n int64
		defer func() {
			mu.Lock()
			*count = n
			mu.Unlock()
		}()
		for r, err := range rows {
			if err != nil {
				fail(fmt.Errorf("read row %d: %w", n, err))
				return
			}
			if err := add(r); err != nil {
				fail(fmt.Errorf("row %d: %w", n, err))
				return
			}
			n++
			if enc.full() && !yield(enc.flush(), nil) {
				return
			}
		}
		if enc.rows > 0 {
			yield(enc.flush(), nil)
		}
	}
	return seq, func() error {
		mu.Lock()
		defer mu.Unlock()
		return failed
	}
}

// writeData writes rows and then the encoded rows as Parquet data files
// for tbl's current schema. It returns the files written so far even on
// error, for cleanup.
func (t *Table) writeData(ctx context.Context, tbl *table.Table, rows iter.Seq2[schema.Row, error], encoded *EncodedRows) ([]iceberg.DataFile, int64, error) {
	if rows == nil && encoded == nil {
		return nil, 0, nil
	}
	if encoded != nil {
		if err := sameColumns(encoded.Layout, t.layout); err != nil {
			return nil, 0, fmt.Errorf("encoded rows: %w", err)
		}
	}
	enc, err := t.layoutEncoder(tbl.Schema())
	if err != nil {
		return nil, 0, err
	}
	defer enc.release()
	view, failures, err := writeView(tbl)
	if err != nil {
		return nil, 0, err
	}
	return writeEncoded(dataRows(rows, encoded), enc.add, enc, func(batches iter.Seq2[arrow.RecordBatch, error], failed func() error) ([]iceberg.DataFile, error) {
		large := newLargeWriter(ctx, view, enc.schema)
		var files []iceberg.DataFile
		// One batch queued at the writer: the rows wait in the buffer (or
		// its spill files), not in Arrow memory.
		for df, err := range table.WriteRecords(ctx, view, enc.schema, large.filter(batches), table.WithRecordBatchBufferSize(1)) {
			if err != nil {
				more, _ := large.close(true)
				return append(files, more...), failures.explain(ctx, err)
			}
			files = append(files, df)
		}
		more, err := large.close(failed() != nil)
		return append(files, more...), err
	})
}

// dataRow is one data row to write: a Row, or the encoding of one.
type dataRow struct {
	row       schema.Row
	encoded   []byte
	isEncoded bool
}

// dataRows yields rows, then the encoded rows.
func dataRows(rows iter.Seq2[schema.Row, error], encoded *EncodedRows) iter.Seq2[dataRow, error] {
	return func(yield func(dataRow, error) bool) {
		if rows != nil {
			for r, err := range rows {
				if !yield(dataRow{row: r}, err) || err != nil {
					return
				}
			}
		}
		if encoded == nil {
			return
		}
		for b, err := range encoded.Rows {
			if !yield(dataRow{encoded: b, isEncoded: true}, err) || err != nil {
				return
			}
		}
	}
}

// sameColumns fails unless got has want's columns: names and types, in
// order.
func sameColumns(got, want *schema.Table) error {
	if got == nil {
		return errors.New("no layout")
	}
	if len(got.Columns) != len(want.Columns) {
		return fmt.Errorf("layout of %d columns, the table's has %d", len(got.Columns), len(want.Columns))
	}
	for i, c := range got.Columns {
		if w := want.Columns[i]; c.Name != w.Name || !c.Type.Equals(w.Type) {
			return fmt.Errorf("layout column %d is %s %s, the table's is %s %s", i, c.Name, c.Type, w.Name, w.Type)
		}
	}
	return nil
}

// keyImages returns the keys of ki when their key columns are the
// table's, nil (none: DeleteKeys is read) otherwise: a key encoded as
// another type would not be found by its encoding.
func (t *Table) keyImages(ki *KeyImages) iter.Seq2[schema.KeyImage, error] {
	if ki == nil || ki.Layout == nil || sameColumns(schema.KeyTable(ki.Layout), schema.KeyTable(t.layout)) != nil {
		return nil
	}
	return ki.Keys
}

// writeEncoded encodes rows into Arrow batches with enc, add appending
// each row (rowBatches), and hands them to write, which also gets the
// encoding's error function. It returns the files write made (also on
// error, for cleanup) and, when neither write nor the encoding failed,
// the number of rows.
func writeEncoded[R any](rows iter.Seq2[R, error], add func(R) error, enc *encoder, write func(iter.Seq2[arrow.RecordBatch, error], func() error) ([]iceberg.DataFile, error)) ([]iceberg.DataFile, int64, error) {
	var n int64
	batches, failed := rowBatches(rows, add, enc, &n)
	files, err := write(batches, failed)
	if err != nil {
		return files, 0, err
	}
	if err := failed(); err != nil {
		return files, 0, err
	}
	return files, n, nil
}

// A DataWriter holds at most dataWriterQueue RowBatches before Write
// blocks (besides the one its Parquet writer is compressing), and Write
// also waits while those queued hold dataWriterQueueBytes or more: a
// batch of large values (a 100 MB row) then waits, encoded, in its
// producer until the one before it is written, rather than several
// queuing up.
const (
	dataWriterQueue      = 2
	dataWriterQueueBytes = 8 << 20
)

// DataWriter writes RowBatches to Parquet data files of one table ahead of
// the Commit that adds them (Commit.Data), on goroutines of its own, so
// that compression overlaps with whatever produces the rows. The files
// belong to no snapshot until that Commit lands: Abort removes them, and
// after a crash they are orphans for maintenance to remove (they are
// younger than any orphan age limit, which must exceed the time from
// writing a file to committing it).
//
// Write and Close must be called from one goroutine, Close at most once.
// Abort may follow Close, to remove files that will not be committed;
// it must not once they were given to a Commit.
type DataWriter struct {
	t        *Table
	tbl      *table.Table
	failures *writeFailures // of tbl's file writes
	schemaID int
	in       chan arrow.RecordBatch
	done     chan struct{}
	cancel   context.CancelFunc
	rows     int64
	closed   bool

	queued *bytebound.Bound // bytes of the batches in `in`

	// Set by the writing goroutine before done is closed.
	files []iceberg.DataFile
	err   error
}

// WrittenData is what a DataWriter wrote: data files for Commit.Data.
type WrittenData struct {
	files    []iceberg.DataFile
	rows     int64
	schemaID int
	specID   int
}

// Rows is the number of rows in the files.
func (w *WrittenData) Rows() int64 { return w.rows }

// Files is the number of data files.
func (w *WrittenData) Files() int { return len(w.files) }

// fits checks that the files were written for tbl's current schema and
// partition spec.
func (w *WrittenData) fits(tbl *table.Table) error {
	if id := tbl.Schema().ID; id != w.schemaID {
		return fmt.Errorf("data files written for schema %d, the table now has schema %d", w.schemaID, id)
	}
	spec := tbl.Spec()
	if id := spec.ID(); id != w.specID {
		return fmt.Errorf("data files written for partition spec %d, the table now has spec %d", w.specID, id)
	}
	return nil
}

// NewDataWriter starts a writer for the table's current schema and
// partition spec. Cancelling ctx aborts the writing; the caller still
// calls Close or Abort.
func (t *Table) NewDataWriter(ctx context.Context) (*DataWriter, error) {
	ctx = t.cat.ioContext(ctx)
	tbl, err := t.refresh(ctx)
	if err != nil {
		return nil, err
	}
	sc := tbl.Schema()
	asc, err := table.SchemaToArrowSchema(sc, nil, true, false)
	if err != nil {
		return nil, fmt.Errorf("data writer for %s: arrow schema: %w", t.id, err)
	}
	view, failures, err := writeView(tbl)
	if err != nil {
		return nil, fmt.Errorf("data writer for %s: %w", t.id, err)
	}
	wctx, cancel := context.WithCancel(ctx)
	w := &DataWriter{
		t: t, tbl: view, failures: failures, schemaID: sc.ID, cancel: cancel,
		in: make(chan arrow.RecordBatch, dataWriterQueue), done: make(chan struct{}),
		queued: bytebound.New(dataWriterQueueBytes),
	}
	go w.run(wctx, asc)
	return w, nil
}

func (w *DataWriter) run(ctx context.Context, asc *arrow.Schema) {
	defer close(w.done)
	recs := func(yield func(arrow.RecordBatch, error) bool) {
		for rec := range w.in {
			n := recordBytes(rec)
			ok := yield(rec, nil) // WriteRecords releases what it is given
			w.queued.Release(n)
			if !ok {
				return
			}
		}
	}
	large := newLargeWriter(ctx, w.tbl, asc)
	for df, err := range table.WriteRecords(ctx, w.tbl, asc, large.filter(recs), table.WithRecordBatchBufferSize(1)) {
		if err != nil {
			w.err = w.failures.explain(ctx, err)
			more, _ := large.close(true)
			w.files = append(w.files, more...)
			return
		}
		w.files = append(w.files, df)
	}
	more, err := large.close(ctx.Err() != nil)
	w.files = append(w.files, more...)
	if err == nil {
		err = ctx.Err()
	}
	w.err = err
}

// Write hands b to the writer (which releases it), blocking while the
// writer is behind. An error means the writer failed; Abort it.
func (w *DataWriter) Write(b *RowBatch) error {
	if w.closed {
		b.Release()
		return errors.New("write to a closed data writer")
	}
	if b.Len() == 0 {
		b.Release()
		return nil
	}
	if b.schemaID != w.schemaID {
		b.Release()
		return fmt.Errorf("data writer for %s: rows encoded for schema %d, the writer writes schema %d", w.t.id, b.schemaID, w.schemaID)
	}
	n := b.Len()
	size := recordBytes(b.rec)
	stopped := func() error {
		b.Release()
		if w.err != nil {
			return fmt.Errorf("data writer for %s: %w", w.t.id, w.err)
		}
		return fmt.Errorf("data writer for %s stopped", w.t.id)
	}
	if !w.queued.Wait(w.done) {
		return stopped()
	}
	w.queued.Add(size)
	select {
	case w.in <- b.rec:
		b.rec = nil
		w.rows += n
		return nil
	case <-w.done:
		return stopped()
	}
}

// recordBytes is the memory of rec's buffers.
func recordBytes(rec arrow.RecordBatch) int64 {
	var n int64
	for _, c := range rec.Columns() {
		n += int64(c.Data().SizeInBytes())
	}
	return n
}

// finish ends the input and waits for the writing goroutine.
func (w *DataWriter) finish() {
	if !w.closed {
		w.closed = true
		close(w.in)
	}
	<-w.done
	for rec := range w.in { // left over when the writer stopped early
		rec.Release()
	}
}

// Close finishes the files and returns them for Commit.Data. On error
// the files written are removed.
func (w *DataWriter) Close(ctx context.Context) (*WrittenData, error) {
	ctx = w.t.cat.ioContext(ctx)
	w.finish()
	w.cancel()
	if w.err != nil {
		w.t.removeFiles(ctx, w.tbl, w.files)
		return nil, fmt.Errorf("data writer for %s: %w", w.t.id, w.err)
	}
	spec := w.tbl.Spec()
	return &WrittenData{files: w.files, rows: w.rows, schemaID: w.schemaID, specID: spec.ID()}, nil
}

// Abort stops the writer and removes the files it wrote.
func (w *DataWriter) Abort(ctx context.Context) {
	ctx = w.t.cat.ioContext(ctx)
	w.cancel()
	w.finish()
	w.t.removeFiles(ctx, w.tbl, w.files)
}

// writeDeletes writes key-only rows as equality-delete files on the
// layout's key columns.
func (t *Table) writeDeletes(ctx context.Context, tbl *table.Table, keys iter.Seq2[schema.Row, error]) ([]iceberg.DataFile, int64, error) {
	enc, ids, err := t.keyEncoder(tbl)
	if err != nil {
		return nil, 0, err
	}
	defer enc.release()
	return writeEncoded(keys, enc.append, enc, func(batches iter.Seq2[arrow.RecordBatch, error], _ func() error) ([]iceberg.DataFile, error) {
		// The writer gathers a whole file's batches in memory before
		// writing it (iceberg-go packs batches into files of the target
		// size), so the delete files of this throwaway transaction are
		// kept small.
		// Equality deletes are written in the table's unpartitioned spec,
		// where they apply to every partition (deleteView).
		view, err := deleteView(tbl)
		if err != nil {
			return nil, fmt.Errorf("delete file spec: %w", err)
		}
		tx := view.NewTransaction()
		if err := tx.SetProperties(writeProps(tbl, deleteFileBytes)); err != nil {
			return nil, fmt.Errorf("delete file properties: %w", err)
		}
		return tx.WriteEqualityDeletes(ctx, ids, batches)
	})
}

// keyEncoder returns the encoder of key-only rows (Layout().Key order)
// into tbl's key columns, which validates them as data rows are, and the
// key columns' field ids.
func (t *Table) keyEncoder(tbl *table.Table) (*encoder, []int, error) {
	names := t.layout.KeyNames()
	if len(names) == 0 {
		return nil, nil, errors.New("the table has no key columns to delete by")
	}
	sc := tbl.Schema()
	delSc, err := sc.Select(true, names...)
	if err != nil {
		return nil, nil, fmt.Errorf("key schema: %w", err)
	}
	ids := make([]int, len(names))
	for i, name := range names {
		f, ok := sc.FindFieldByName(name)
		if !ok {
			return nil, nil, fmt.Errorf("key column %s is not in the table", name)
		}
		ids[i] = f.ID
	}
	fields := delSc.Fields()
	pos := make([]int, len(fields))
	for i, f := range fields {
		for j, name := range names {
			if name == f.Name {
				pos[i] = j
			}
		}
	}
	enc, err := newEncoder(delSc, pos, len(names))
	if err != nil {
		return nil, nil, err
	}
	return enc, ids, nil
}

// Memory of Parquet writing. A writer buffers a whole row group's pages
// (compressed) before it writes them, and iceberg-go gathers a whole
// equality-delete file's Arrow batches before writing it; Floe bounds both
// for its own writes unless the table sets the property itself (then the
// table's value is used, and so is its memory).
const (
	rowGroupBytes   = 16 << 20 // write.parquet.row-group-size-bytes
	deleteFileBytes = 32 << 20 // write.target-file-size-bytes of equality-delete files
)

// writeProps returns the write properties Floe sets for one write to tbl:
// the row-group size, and (targetFile > 0) the target file size, each
// only when the table does not set it.
func writeProps(tbl *table.Table, targetFile int64) iceberg.Properties {
	own := tbl.Metadata().Properties()
	out := iceberg.Properties{}
	if _, ok := own[table.ParquetRowGroupSizeBytesKey]; !ok {
		out[table.ParquetRowGroupSizeBytesKey] = strconv.Itoa(rowGroupBytes)
	}
	if _, ok := own[table.WriteTargetFileSizeBytesKey]; !ok && targetFile > 0 {
		out[table.WriteTargetFileSizeBytesKey] = strconv.FormatInt(targetFile, 10)
	}
	return out
}

// writeView returns tbl with Floe's write properties (writeProps) set in
// memory, for writing data files through table.WriteRecords; it is never
// committed. Its IO records the first error of the files it writes (see
// writeFailures), which the returned writeFailures explains.
func writeView(tbl *table.Table) (*table.Table, *writeFailures, error) {
	failures := &writeFailures{}
	md := tbl.Metadata()
	if props := writeProps(tbl, 0); len(props) > 0 {
		b, err := table.MetadataBuilderFromBase(tbl.Metadata(), tbl.MetadataLocation())
		if err != nil {
			return nil, nil, fmt.Errorf("write properties: %w", err)
		}
		if err := b.SetProperties(props); err != nil {
			return nil, nil, fmt.Errorf("write properties: %w", err)
		}
		if md, err = b.Build(); err != nil {
			return nil, nil, fmt.Errorf("write properties: %w", err)
		}
	}
	return table.New(tbl.Identifier(), md, tbl.MetadataLocation(), failures.recordingFS(tbl.FS), nil), failures, nil
}

// removeFiles deletes files that were written but will not be committed.
// Failures only leave orphans for maintenance to remove.
func (t *Table) removeFiles(ctx context.Context, tbl *table.Table, files []iceberg.DataFile) {
	if len(files) == 0 {
		return
	}
	fs, err := tbl.FS(ctx)
	if err != nil {
		return
	}
	for _, f := range files {
		if err := fs.Remove(f.FilePath()); err != nil {
			t.log.Debug("remove uncommitted file", "path", f.FilePath(), "error", err)
		}
	}
}
