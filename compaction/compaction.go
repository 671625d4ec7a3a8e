package compaction

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/apache/iceberg-go"
	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	icecompact "github.com/apache/iceberg-go/table/compaction"

	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
)

// Options configures one maintenance pass. Zero values take the defaults
// of DefaultOptions, except MaxRewriteBytes, ExpireOlderThan and
// OrphansOlderThan, where zero turns the bound or the step off.
type Options struct {
	// TargetFileSize is the size rewritten data files aim for, in bytes.
	TargetFileSize int64
	// MinInputFiles is how many undersized data files (below 3/4 of
	// TargetFileSize) must fit into one output file before they are
	// bin-packed; values below 2 count as 2.
	MinInputFiles int
	// DeleteFileThreshold: once the table holds this many delete files,
	// every data file a delete applies to is rewritten with the deletes
	// applied, and the delete files that no longer apply to anything are
	// dropped in the same snapshot.
	DeleteFileThreshold int
	// MaxRewriteBytes bounds the input bytes one pass rewrites (whole
	// bins; at least one bin always), and with it a pass's time and
	// memory. Deletes whose data files are left for a later pass stay
	// until then. Zero: no bound (DefaultOptions: 2 GiB).
	MaxRewriteBytes int64
	// ExpireOlderThan expires snapshots older than this, keeping at least
	// RetainLast and always the newest snapshot an ingestion commit wrote;
	// files only they referenced are deleted. Zero: no expiry.
	ExpireOlderThan time.Duration
	// RetainLast is the number of newest snapshots expiry always keeps.
	RetainLast int
	// MaxSnapshots expires every snapshot beyond the newest MaxSnapshots,
	// whatever its age (never the newest ingestion commit or those after
	// it): each snapshot adds ~1 KB to the metadata file every commit
	// writes and every reader reads. Zero: no bound.
	MaxSnapshots int
	// OrphansOlderThan removes files under the table location that no
	// snapshot references and that are older than this. It must exceed
	// the longest time a writer takes from writing a file to committing
	// it (hours, not seconds). Zero: no orphan removal.
	OrphansOlderThan time.Duration
	// ReadConcurrency is how many data files a rewrite reads at once.
	// Zero: as many as there are cores (iceberg-go's default), for `floe
	// compact`, which has the machine to itself. The background passes of
	// `floe run` read one at a time (encoding the output still runs beside
	// the reading), leaving a core to the stream they share the machine with.
	ReadConcurrency int
	// Logger receives one line per pass; nil discards.
	Logger *slog.Logger
}

// DefaultOptions returns the Options of a pass under Defaults(): 128 MiB
// files, bin-pack from 5 small files, apply deletes from the first delete
// file, rewrite at most 2 GiB, expire snapshots after 24 hours keeping the
// last 20 and at most 2,000, remove orphans older than 3 days.
func DefaultOptions() Options { return Defaults().Options(nil) }

func (o *Options) setDefaults() {
	d := DefaultOptions()
	if o.TargetFileSize <= 0 {
		o.TargetFileSize = d.TargetFileSize
	}
	if o.MinInputFiles <= 0 {
		o.MinInputFiles = d.MinInputFiles
	}
	if o.DeleteFileThreshold <= 0 {
		o.DeleteFileThreshold = d.DeleteFileThreshold
	}
	if o.RetainLast <= 0 {
		o.RetainLast = d.RetainLast
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Result reports what one pass did to one table.
type Result struct {
	Table string
	// SnapshotID is the rewrite snapshot; 0 when nothing was rewritten.
	SnapshotID         int64
	RewrittenDataFiles int
	AddedDataFiles     int
	RemovedDeleteFiles int
	// ConvertedDataFiles are the data files left in place whose deletes
	// the pass wrote as one position-delete file each; ConvertedDeleteRows
	// the rows those files delete.
	ConvertedDataFiles  int
	ConvertedDeleteRows int64
	BytesBefore         int64
	BytesAfter          int64
	ExpiredSnapshots    int
	RemovedOrphans      int
}

// ErrConflict reports that a writer in another process committed deletes
// while the pass rewrote the files they apply to; the rewrite was not
// committed and nothing changed. A later pass retries.
var ErrConflict = errors.New("a concurrent commit added deletes to the files being rewritten")

// Compact runs one maintenance pass on t: rewrite, then snapshot expiry,
// then orphan removal. Each step commits on its own; a step that fails
// leaves the table as the previous step left it (never a lost or
// resurrected row) and the error names the step.
func Compact(ctx context.Context, t *lakewriter.Table, opts Options) (Result, error) {
	opts.setDefaults()
	res := Result{Table: t.Ident().String()}
	start := time.Now()
	// A table re-snapshotted on a branch gets main replaced by the
	// branch's head when it is complete: rewriting main meanwhile is
	// wasted, and the branch is Floe's to write. Expiry keeps the
	// branch's head (and every snapshot the branch's retention keeps),
	// and orphan removal counts every snapshot's files.
	onBranch, err := t.HasBranch(ctx, lakewriter.ResnapshotBranch)
	if err != nil {
		return res, fmt.Errorf("compact %s: %w", res.Table, err)
	}
	if onBranch {
		opts.Logger.Info("rewrite skipped: the table is being re-snapshotted on a branch that replaces main once complete",
			"table", res.Table, "branch", lakewriter.ResnapshotBranch)
	} else if err := rewrite(ctx, t, opts, &res); err != nil {
		return res, err
	}
	if opts.ExpireOlderThan > 0 || opts.MaxSnapshots > 0 {
		if err := expire(ctx, t, opts, &res); err != nil {
			return res, err
		}
	}
	if opts.OrphansOlderThan > 0 {
		if err := removeOrphans(ctx, t, opts, &res); err != nil {
			return res, err
		}
	}
	opts.Logger.Info("compaction pass", "table", res.Table, "rewritten_data_files", res.RewrittenDataFiles,
		"added_data_files", res.AddedDataFiles, "removed_delete_files", res.RemovedDeleteFiles,
		"converted_data_files", res.ConvertedDataFiles, "converted_delete_rows", res.ConvertedDeleteRows,
		"bytes_before", res.BytesBefore, "bytes_after", res.BytesAfter,
		"expired_snapshots", res.ExpiredSnapshots, "removed_orphans", res.RemovedOrphans,
		"duration", time.Since(start).Round(time.Millisecond).String())
	return res, nil
}

// rewrite bin-packs small data files and applies delete files into the
// data files they cover, in one rewrite snapshot. Rows never change: the
// output holds exactly the live rows of the input.
//
// It reads and writes outside the table's commit lock, from the newest
// state when it starts (base), and commits under the lock on the newest
// state then (head), so this process's ingestion commits go on while it
// runs: measured on the benchmark, one pass over 1,303 data and 1,331
// delete files held the lock, and so every checkpoint, for 8 min 33 s.
// The new files carry base's data sequence number, so an equality delete
// committed since applies to them as it applies to the files they
// replace. A position delete committed since names a file the pass
// replaces, which would drop it: the pass marks its files
// (lakewriter.Table.ReplacingFiles) so that this process's commits
// delete from them by equality, and refuses to commit, with ErrConflict,
// when head added a position delete to one of them anyway (another
// process) or replaced or removed data files since base.
func rewrite(ctx context.Context, t *lakewriter.Table, opts Options, res *Result) error {
	var (
		base      *table.Table
		plan      icecompact.Plan
		convert   []conversionTask
		rewritten = map[string]struct{}{}
		release   = func() {}
	)
	// Choose and mark the files under the lock, so that no commit of this
	// process adds a position delete to them between the two.
	err := t.Maintain(ctx, func(ctx context.Context, tbl *table.Table) (*table.Table, error) {
		if tbl.CurrentSnapshot() == nil {
			return nil, nil
		}
		tasks, err := tbl.Scan().PlanFiles(ctx)
		if err != nil {
			return nil, fmt.Errorf("plan files: %w", err)
		}
		if plan, convert, err = planPass(tasks, opts, tbl.Metadata().Version() < 3); err != nil || len(plan.Groups)+len(convert) == 0 {
			return nil, err
		}
		for _, g := range plan.Groups {
			for _, task := range g.Tasks {
				rewritten[task.File.FilePath()] = struct{}{}
			}
		}
		base, release = tbl, t.ReplacingFiles(slices.Collect(maps.Keys(rewritten)))
		return nil, nil
	})
	defer func() { release() }()
	if err != nil || base == nil {
		return err
	}
	conv, unplaceable, err := convertDeletes(ctx, t, base, convert, opts)
	if err != nil {
		return err
	}
	if len(unplaceable) > 0 {
		more, err := markLate(ctx, t, unplaceable, rewritten, &plan)
		if err != nil {
			return err
		}
		prev := release
		release = func() { prev(); more() }
	}
	snap := base.CurrentSnapshot()
	var results []table.CompactionGroupResult
	for _, g := range plan.Groups {
		groupOpts := []table.CompactionGroupOption{table.WithCompactionTargetFileSize(opts.TargetFileSize)}
		if opts.ReadConcurrency > 0 {
			groupOpts = append(groupOpts, table.WithCompactionScanConcurrency(opts.ReadConcurrency))
		}
		gr, err := table.ExecuteCompactionGroup(ctx, base,
			table.CompactionTaskGroup{PartitionKey: g.PartitionKey, Tasks: g.Tasks, TotalSizeBytes: g.TotalSizeBytes},
			groupOpts...)
		if err != nil {
			return fmt.Errorf("rewrite data files: %w", err)
		}
		if len(gr.OldDataFiles) > 0 || len(gr.NewDataFiles) > 0 {
			results = append(results, gr)
		}
	}
	fs, err := base.FS(ctx)
	if err != nil {
		return fmt.Errorf("open table io: %w", err)
	}
	applied := maps.Clone(rewritten)
	for _, p := range conv.converted {
		applied[p] = struct{}{}
	}
	dead, err := icecompact.CollectDeadEqualityDeletesWithSpecs(ctx, fs, base.Metadata(), snap, applied)
	if err != nil {
		return fmt.Errorf("find deletes the rewrite makes dead: %w", err)
	}
	if len(results) == 0 && len(conv.added)+len(conv.replaced)+len(dead) == 0 {
		return nil
	}
	// The key index of this table (held by the pipeline's Table) follows
	// the pass from the keys read here, not by reading the new files
	// inside the next checkpoint's commit.
	var added []iceberg.DataFile
	for _, gr := range results {
		added = append(added, gr.NewDataFiles...)
	}
	keys, err := t.ReadRewriteKeys(ctx, base, added)
	if err != nil {
		opts.Logger.Warn("compaction: could not read back the keys of the files it wrote; the next commit reads them", "table", t.Ident().String(), "err", err)
		keys = nil
	}
	rewriteHook()
	return t.Maintain(ctx, func(ctx context.Context, head *table.Table) (*table.Table, error) {
		return commitRewrite(ctx, t, head, snap, passFiles{rewritten: rewritten, results: results, conv: conv, dead: dead}, keys, res)
	})
}

// markLate adds tasks, files whose deletes could not be converted, to
// the pass's rewrite: to rewritten and as groups of one to plan, marked
// (lakewriter.Table.ReplacingFiles) from now on. A position delete
// another commit added to one of them since the pass read the table
// makes its commit refuse (noConflictSince).
func markLate(ctx context.Context, t *lakewriter.Table, tasks []table.FileScanTask, rewritten map[string]struct{}, plan *icecompact.Plan) (release func(), err error) {
	paths := make([]string, len(tasks))
	for i, task := range tasks {
		paths[i] = task.File.FilePath()
		rewritten[paths[i]] = struct{}{}
		plan.Groups = append(plan.Groups, icecompact.Group{Tasks: []table.FileScanTask{task}, TotalSizeBytes: task.File.FileSizeBytes()})
	}
	err = t.Maintain(ctx, func(context.Context, *table.Table) (*table.Table, error) {
		release = t.ReplacingFiles(paths)
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	return release, nil
}

// rewriteHook runs between a rewrite's files being written and its
// commit; tests set it to commit beside the pass.
var rewriteHook = func() {}

// passFiles is what a pass wrote and what it replaces: the data files
// it rewrote (by path) and the groups' results, the deletes it converted
// and the equality deletes that no longer apply to any file.
type passFiles struct {
	rewritten map[string]struct{}
	results   []table.CompactionGroupResult
	conv      conversion
	dead      []iceberg.DataFile
}

// commitRewrite commits the files a pass wrote from snapshot base on
// head (see rewrite) and fills res; once it lands, the keys of its files
// (nil when none were read) go to the table's key index
// (lakewriter.Table.RewriteLanded). Files of a pass that does not land
// are left for orphan removal.
//
// The position deletes a conversion wrote are committed first, in a
// snapshot of their own (operation delete) in the same transaction, as
// iceberg-go's rewrite does not turn equality deletes into position
// deletes. They remove only rows that were already deleted, so that
// snapshot reads exactly like head; the rewrite snapshot after it drops
// the deletes they replace. Both carry the pass's id.
func commitRewrite(ctx context.Context, t *lakewriter.Table, head *table.Table, base *table.Snapshot, f passFiles,
	keys *lakewriter.RewriteKeys, res *Result) (*table.Table, error) {
	if err := noConflictSince(ctx, head, base.SnapshotID, f.rewritten); err != nil {
		return nil, err
	}
	id := passID()
	props := iceberg.Properties(ledger.CompactionProps(id))
	tx := head.NewTransaction()
	if len(f.conv.added) > 0 {
		if err := tx.NewRowDelta(props).AddDeletes(f.conv.added...).Commit(ctx); err != nil {
			return nil, fmt.Errorf("stage converted position deletes: %w", err)
		}
	}
	rw := tx.NewRewrite(props).DataSequenceNumber(base.SequenceNumber)
	removed := map[string]bool{}
	r := Result{ConvertedDataFiles: len(f.conv.converted), ConvertedDeleteRows: f.conv.rows}
	for _, gr := range f.results {
		rw.ApplyResult(gr)
		r.RewrittenDataFiles += len(gr.OldDataFiles)
		r.AddedDataFiles += len(gr.NewDataFiles)
		r.BytesBefore += gr.BytesBefore
		r.BytesAfter += gr.BytesAfter
		for _, d := range slices.Concat(gr.SafePosDeletes, gr.SafeDeletionVectors) {
			removed[d.FilePath()] = true
		}
	}
	for _, d := range slices.Concat(f.conv.replaced, f.dead) {
		if !removed[d.FilePath()] {
			removed[d.FilePath()] = true
			rw.DeleteFile(d)
		}
	}
	r.RemovedDeleteFiles = len(removed)
	if len(f.results) > 0 || len(removed) > 0 {
		if err := rw.Commit(ctx); err != nil {
			return nil, fmt.Errorf("stage rewrite: %w", err)
		}
	}
	headID := head.CurrentSnapshot().SnapshotID
	next, err := tx.Commit(ctx)
	if err != nil {
		// Any failure may have landed all the same; the table's history
		// decides.
		landedID, moved, ok := findPass(ctx, t, id, headID)
		if !ok {
			if moved {
				return nil, fmt.Errorf("commit rewrite: %w (%w)", ErrConflict, err)
			}
			return nil, fmt.Errorf("commit rewrite: %w", err)
		}
		r.SnapshotID = landedID
	} else {
		r.SnapshotID = next.CurrentSnapshot().SnapshotID
		t.RewriteLanded(keys, headID, r.SnapshotID, slices.Collect(maps.Keys(f.rewritten)))
	}
	r.Table = res.Table
	*res = r
	return next, nil
}

// noConflictSince fails with ErrConflict unless base is in head's main
// history and no snapshot above it removed data files (a rewrite, a
// truncate, a delete of whole files) or added a position delete or
// deletion vector to a file in rewritten, or one whose data file it
// cannot tell. Equality deletes and new data files above base are no
// conflict (see rewrite).
func noConflictSince(ctx context.Context, head *table.Table, base int64, rewritten map[string]struct{}) error {
	fs, err := head.FS(ctx)
	if err != nil {
		return fmt.Errorf("open table io: %w", err)
	}
	for s := range lakewriter.Ancestry(head) {
		if s.SnapshotID == base {
			return nil
		}
		if s.Summary == nil || s.Summary.Operation == table.OpReplace {
			return fmt.Errorf("%w: snapshot %d rewrote files since the pass read the table", ErrConflict, s.SnapshotID)
		}
		if n := s.Summary.Properties["deleted-data-files"]; n != "" && n != "0" {
			return fmt.Errorf("%w: snapshot %d removed data files since the pass read the table", ErrConflict, s.SnapshotID)
		}
		// Writers set the summary's added-* counts when they are not zero:
		// a snapshot that added no delete file, or only equality deletes,
		// added no position delete.
		added, eq := s.Summary.Properties["added-delete-files"], s.Summary.Properties["added-equality-delete-files"]
		if added == "" || added == "0" || added == eq {
			continue
		}
		if err := positionDeletesAvoid(fs, s, rewritten); err != nil {
			return err
		}
	}
	return fmt.Errorf("%w: the snapshot the pass read, %d, is no longer in the table's history", ErrConflict, base)
}

// positionDeletesAvoid fails with ErrConflict when snapshot s added a
// position delete or deletion vector whose data file is in rewritten, or
// does not name one.
func positionDeletesAvoid(fs iceio.IO, s *table.Snapshot, rewritten map[string]struct{}) error {
	manifests, err := s.Manifests(fs)
	if err != nil {
		return fmt.Errorf("read manifests of snapshot %d: %w", s.SnapshotID, err)
	}
	for _, m := range manifests {
		if m.ManifestContent() != iceberg.ManifestContentDeletes || m.SnapshotID() != s.SnapshotID {
			continue
		}
		for e, err := range m.Entries(fs, true) {
			if err != nil {
				return fmt.Errorf("read manifest %s: %w", m.FilePath(), err)
			}
			df := e.DataFile()
			if e.Status() != iceberg.EntryStatusADDED || df.ContentType() != iceberg.EntryContentPosDeletes {
				continue
			}
			ref, ok := lakewriter.ReferencedDataFile(df)
			if !ok {
				return fmt.Errorf("%w: snapshot %d added position deletes (%s) that do not name their data file", ErrConflict, s.SnapshotID, df.FilePath())
			}
			if _, ok := rewritten[ref]; ok {
				return fmt.Errorf("%w: snapshot %d added position deletes to %s, which the pass rewrote", ErrConflict, s.SnapshotID, ref)
			}
		}
	}
	return nil
}

// planRewrite bin-packs tasks with iceberg-go's planner. forced: every
// data file a delete applies to is rewritten, packed together with the
// undersized files (below 3/4 of TargetFileSize), each of which is
// rewritten even alone. Otherwise undersized files are bin-packed when at
// least MinInputFiles (never fewer than 2: rewriting one small file alone
// gains nothing) fill a bin, and deletes are applied only to the files
// packed.
func planRewrite(tasks []table.FileScanTask, opts Options, forced bool) (icecompact.Plan, error) {
	cfg := icecompact.DefaultConfig()
	cfg.TargetFileSizeBytes = opts.TargetFileSize
	cfg.MinFileSizeBytes = opts.TargetFileSize * 3 / 4
	cfg.MaxFileSizeBytes = opts.TargetFileSize * 9 / 5
	cfg.DeleteRatioThreshold = 0
	if forced {
		cfg.DeleteFileThreshold, cfg.MinInputFiles = 1, 1
	} else {
		cfg.DeleteFileThreshold = 1 << 30
		cfg.MinInputFiles = uint(max(opts.MinInputFiles, 2))
	}
	plan, err := cfg.PlanCompaction(tasks)
	if err != nil {
		return plan, fmt.Errorf("plan rewrite: %w", err)
	}
	return plan, nil
}

// findPass looks for the snapshot pass id wrote in t's history and
// returns its id. When the pass did not land, moved reports whether the
// table's current snapshot is no longer base, i.e. another commit landed
// first.
func findPass(ctx context.Context, t *lakewriter.Table, id string, base int64) (snapshot int64, moved, ok bool) {
	hist, err := t.History(ctx)
	if err != nil || len(hist) == 0 {
		return 0, false, false
	}
	for _, s := range hist {
		if ledger.IsPass(s.Props, id) {
			return s.ID, false, true
		}
	}
	return 0, hist[0].ID != base, false
}

// passID returns a random id for one rewrite snapshot.
func passID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// expire removes snapshots older than opts.ExpireOlderThan beyond the
// newest opts.RetainLast, or, when the table holds more than
// opts.MaxSnapshots, every snapshot beyond the newest MaxSnapshots; never
// the newest snapshot an ingestion commit wrote (nor any after it):
// recovery reads the committed positions from there. Files only the expired snapshots referenced are deleted after
// the expiry committed, outside the commit lock: reading the expired
// snapshots' manifests to find them takes seconds on a table of hundreds
// of snapshots, and no writer can reference those files again.
func expire(ctx context.Context, t *lakewriter.Table, opts Options, res *Result) error {
	var (
		pre, next *table.Table
		expired   []int64
	)
	err := t.Maintain(ctx, func(ctx context.Context, tbl *table.Table) (*table.Table, error) {
		before := tbl.Metadata().Snapshots()
		// Keep every snapshot from the oldest ledger entry recovery reads.
		keep := max(opts.RetainLast, sinceLedger(tbl))
		olderThan := opts.ExpireOlderThan
		if opts.MaxSnapshots > 0 && len(before) > max(opts.MaxSnapshots, keep) {
			olderThan, keep = 0, max(opts.MaxSnapshots, keep)
		} else if olderThan == 0 {
			return nil, nil // within MaxSnapshots, and no expiry by age
		}
		if len(before) <= keep {
			return nil, nil
		}
		tx := tbl.NewTransaction()
		if err := tx.ExpireSnapshots(table.WithOlderThan(olderThan), table.WithRetainLast(keep), table.WithPostCommit(false)); err != nil {
			return nil, fmt.Errorf("expire snapshots: %w", err)
		}
		committed, err := tx.Commit(ctx)
		if err != nil {
			return nil, fmt.Errorf("commit snapshot expiry: %w", err)
		}
		// With no snapshot older than opts.ExpireOlderThan beyond the kept
		// ones, the commit succeeds and removes nothing: not an error.
		expired = expiredSnapshots(before, committed)
		pre, next = tbl, committed
		res.ExpiredSnapshots = len(expired)
		return committed, nil
	})
	if err != nil || len(expired) == 0 {
		return err
	}
	// What this leaves behind (a failed delete; a file an earlier expiry
	// already removed, which iceberg-go tries again when a rewrite's
	// manifest lists it) is an orphan for orphan removal.
	if err := table.NewRemoveSnapshotsUpdate(expired, true).PostCommit(ctx, pre, next); err != nil {
		opts.Logger.Debug("expiry left files behind", "table", res.Table, "err", err)
	}
	return nil
}

// expiredSnapshots returns the ids of before that next no longer holds.
func expiredSnapshots(before []table.Snapshot, next *table.Table) []int64 {
	var ids []int64
	for _, s := range before {
		if next.Metadata().SnapshotByID(s.SnapshotID) == nil {
			ids = append(ids, s.SnapshotID)
		}
	}
	return ids
}

// sinceLedger counts the snapshots of main's history from the current one
// back to the oldest that recovery still reads, inclusive (0 when none):
// the newest ingestion commit (the pipeline property), and on a
// dead-letter table, which the pipelines of a namespace share, the newest
// dead-letters commit of each pipeline (ledger.PropDeadLetters: its
// marks and counts). Expiring one of those would lose a table's committed
// position, or a pipeline's dead-letter marks.
func sinceLedger(tbl *table.Table) int {
	n, keep := 0, 0
	ingested := false
	deadLetters := map[string]bool{} // pipelines whose newest dead-letters commit was seen
	for s := range lakewriter.Ancestry(tbl) {
		n++
		if s.Summary == nil {
			continue
		}
		props := s.Summary.Properties
		if !ingested && ledger.IsCommit(props) {
			ingested, keep = true, n
		}
		if v, ok := props[ledger.PropDeadLetters]; ok {
			d, err := ledger.ParseDeadLetters(v)
			if err != nil || !deadLetters[d.Pipeline] { // an unreadable one is kept too
				deadLetters[d.Pipeline], keep = true, n
			}
		}
	}
	return keep
}

// removeOrphans deletes files under the table location that no snapshot
// references and that are older than opts.OrphansOlderThan. Files a
// writer has written but not committed yet (an ingestion checkpoint's,
// whose snapshot chunks are written ahead of the commit for up to a
// checkpoint interval, or another process's) are protected by that age
// limit alone, which must exceed the longest such wait.
//
// It runs without the commit lock (lakewriter.Table.Inspect): it lists
// every file under the table location and reads every snapshot's
// manifests, seconds on a table of hundreds of snapshots, and the age
// limit, not the lock, is what protects a writer's files.
func removeOrphans(ctx context.Context, t *lakewriter.Table, opts Options, res *Result) error {
	return t.Inspect(ctx, func(ctx context.Context, tbl *table.Table) error {
		out, err := tbl.DeleteOrphanFiles(ctx, table.WithFilesOlderThan(opts.OrphansOlderThan))
		if err != nil {
			return fmt.Errorf("remove orphan files: %w", err)
		}
		res.RemovedOrphans = len(out.DeletedFiles)
		if len(out.DeletedFiles) > 0 {
			opts.Logger.Debug("removed orphan files", "table", res.Table, "files", out.DeletedFiles)
		}
		return nil
	})
}
