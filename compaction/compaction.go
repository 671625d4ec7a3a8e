package compaction

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/apache/iceberg-go"
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
	// bins; at least one bin always), and with it how long a pass holds
	// the table's commit lock. Deletes whose data files are left for a
	// later pass stay until then. Zero: no bound (DefaultOptions: 2 GiB).
	MaxRewriteBytes int64
	// ExpireOlderThan expires snapshots older than this, keeping at least
	// RetainLast and always the newest snapshot an ingestion commit wrote;
	// files only they referenced are deleted. Zero: no expiry.
	ExpireOlderThan time.Duration
	// RetainLast is the number of newest snapshots expiry always keeps.
	RetainLast int
	// OrphansOlderThan removes files under the table location that no
	// snapshot references and that are older than this. It must exceed
	// the longest time a writer takes from writing a file to committing
	// it (hours, not seconds). Zero: no orphan removal.
	OrphansOlderThan time.Duration
	// Logger receives one line per pass; nil discards.
	Logger *slog.Logger
}

// DefaultOptions returns the Options of a pass under Defaults(): 128 MiB
// files, bin-pack from 5 small files, apply deletes from the first delete
// file, rewrite at most 2 GiB, expire snapshots after 24 hours keeping the
// last 20, remove orphans older than 3 days.
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
	BytesBefore        int64
	BytesAfter         int64
	ExpiredSnapshots   int
	RemovedOrphans     int
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
	if opts.ExpireOlderThan > 0 {
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
		"bytes_before", res.BytesBefore, "bytes_after", res.BytesAfter,
		"expired_snapshots", res.ExpiredSnapshots, "removed_orphans", res.RemovedOrphans,
		"duration", time.Since(start).Round(time.Millisecond).String())
	return res, nil
}

// rewrite bin-packs small data files and applies delete files into the
// data files they cover, in one rewrite snapshot. Rows never change: the
// output holds exactly the live rows of the input. The snapshot is
// validated against commits that landed meanwhile (iceberg-go rejects
// it when any of them added deletes), so a delete committed during the
// rewrite is never lost and a deleted row never comes back.
func rewrite(ctx context.Context, t *lakewriter.Table, opts Options, res *Result) error {
	return t.Maintain(ctx, func(ctx context.Context, tbl *table.Table) (*table.Table, error) {
		snap := tbl.CurrentSnapshot()
		if snap == nil {
			return nil, nil
		}
		tasks, err := tbl.Scan().PlanFiles(ctx)
		if err != nil {
			return nil, fmt.Errorf("plan files: %w", err)
		}
		plan, err := planRewrite(tasks, opts)
		if err != nil {
			return nil, err
		}
		if len(plan.Groups) == 0 {
			return nil, nil
		}
		groups := make([]table.CompactionTaskGroup, len(plan.Groups))
		rewritten := map[string]struct{}{}
		for i, g := range plan.Groups {
			groups[i] = table.CompactionTaskGroup{PartitionKey: g.PartitionKey, Tasks: g.Tasks, TotalSizeBytes: g.TotalSizeBytes}
			for _, task := range g.Tasks {
				rewritten[task.File.FilePath()] = struct{}{}
			}
		}
		fs, err := tbl.FS(ctx)
		if err != nil {
			return nil, fmt.Errorf("open table io: %w", err)
		}
		dead, err := icecompact.CollectDeadEqualityDeletesWithSpecs(ctx, fs, tbl.Metadata(), snap, rewritten)
		if err != nil {
			return nil, fmt.Errorf("find deletes the rewrite makes dead: %w", err)
		}
		id := passID()
		props := iceberg.Properties(ledger.CompactionProps(id))
		tx := tbl.NewTransaction()
		rr, err := tx.RewriteDataFiles(ctx, groups, table.RewriteDataFilesOptions{
			SnapshotProps:            props,
			ExtraDeleteFilesToRemove: dead,
			GroupOptions:             []table.CompactionGroupOption{table.WithCompactionTargetFileSize(opts.TargetFileSize)},
		})
		if err != nil {
			return nil, fmt.Errorf("rewrite data files: %w", err)
		}
		if rr.RewrittenGroups == 0 {
			return nil, nil
		}
		next, err := tx.Commit(ctx)
		if err != nil {
			// Any failure may have landed all the same; the table's history
			// decides. Files written by a pass that did not land are left
			// for orphan removal.
			landedID, moved, ok := findPass(ctx, t, id, snap.SnapshotID)
			if !ok {
				if moved {
					return nil, fmt.Errorf("commit rewrite: %w (%w)", ErrConflict, err)
				}
				return nil, fmt.Errorf("commit rewrite: %w", err)
			}
			res.SnapshotID = landedID
		} else {
			res.SnapshotID = next.CurrentSnapshot().SnapshotID
		}
		res.RewrittenDataFiles, res.AddedDataFiles = rr.RemovedDataFiles, rr.AddedDataFiles
		res.RemovedDeleteFiles = rr.RemovedEqualityDeleteFiles + rr.RemovedPositionDeleteFiles + rr.RemovedDeletionVectorFiles
		res.BytesBefore, res.BytesAfter = rr.BytesBefore, rr.BytesAfter
		return next, nil
	})
}

// planRewrite chooses the files to rewrite. Once the table holds
// DeleteFileThreshold delete files, every data file a delete applies to
// is rewritten, packed together with the undersized files (below 3/4 of
// TargetFileSize); groups holding deletes come first. Otherwise
// undersized files are bin-packed when at least MinInputFiles (never
// fewer than 2: rewriting one small file alone gains nothing) fill a bin.
// MaxRewriteBytes then keeps a prefix of the groups.
func planRewrite(tasks []table.FileScanTask, opts Options) (icecompact.Plan, error) {
	cfg := icecompact.DefaultConfig()
	cfg.TargetFileSizeBytes = opts.TargetFileSize
	cfg.MinFileSizeBytes = opts.TargetFileSize * 3 / 4
	cfg.MaxFileSizeBytes = opts.TargetFileSize * 9 / 5
	cfg.DeleteRatioThreshold = 0
	deletes := map[string]bool{}
	for _, task := range tasks {
		for _, files := range [][]iceberg.DataFile{task.EqualityDeleteFiles, task.DeleteFiles, task.DeletionVectorFiles} {
			for _, d := range files {
				deletes[d.FilePath()] = true
			}
		}
	}
	if len(deletes) >= opts.DeleteFileThreshold && len(deletes) > 0 {
		cfg.DeleteFileThreshold, cfg.MinInputFiles = 1, 1
	} else {
		cfg.DeleteFileThreshold = 1 << 30
		cfg.MinInputFiles = uint(max(opts.MinInputFiles, 2))
	}
	plan, err := cfg.PlanCompaction(tasks)
	if err != nil {
		return plan, fmt.Errorf("plan rewrite: %w", err)
	}
	slices.SortStableFunc(plan.Groups, func(a, b icecompact.Group) int {
		return cmp.Compare(min(b.DeleteFileCount, 1), min(a.DeleteFileCount, 1))
	})
	if opts.MaxRewriteBytes > 0 {
		var bytes int64
		for i, g := range plan.Groups {
			if bytes += g.TotalSizeBytes; i > 0 && bytes > opts.MaxRewriteBytes {
				plan.Groups = plan.Groups[:i]
				break
			}
		}
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
// newest opts.RetainLast, never the newest snapshot an ingestion commit
// wrote (nor any after it): recovery reads the committed positions from
// there. Files only the expired snapshots referenced are deleted.
func expire(ctx context.Context, t *lakewriter.Table, opts Options, res *Result) error {
	return t.Maintain(ctx, func(ctx context.Context, tbl *table.Table) (*table.Table, error) {
		before := len(tbl.Metadata().Snapshots())
		// Keep every snapshot from the oldest ledger entry recovery reads.
		keep := max(opts.RetainLast, sinceLedger(tbl))
		if before <= keep {
			return nil, nil
		}
		tx := tbl.NewTransaction()
		if err := tx.ExpireSnapshots(table.WithOlderThan(opts.ExpireOlderThan), table.WithRetainLast(keep)); err != nil {
			return nil, fmt.Errorf("expire snapshots: %w", err)
		}
		next, err := tx.Commit(ctx)
		if err != nil && (next == nil || len(next.Metadata().Snapshots()) >= before) {
			return nil, fmt.Errorf("commit snapshot expiry: %w", err)
		}
		if next == nil {
			return nil, errors.New("commit snapshot expiry: the catalog returned no table")
		}
		// With no snapshot older than opts.ExpireOlderThan beyond the kept
		// ones, the commit succeeds and removes nothing: not an error.
		if err != nil {
			// The catalog took the expiry; removing the files that only
			// expired snapshots referenced failed for some. iceberg-go also
			// tries files an earlier expiry already removed (a data file a
			// rewrite replaced is listed again by the rewrite's manifest),
			// which fails as "no such file". What is left is an orphan for
			// orphan removal.
			opts.Logger.Debug("expiry left files behind", "table", res.Table, "err", err)
		}
		res.ExpiredSnapshots = before - len(next.Metadata().Snapshots())
		return next, nil
	})
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
func removeOrphans(ctx context.Context, t *lakewriter.Table, opts Options, res *Result) error {
	return t.Maintain(ctx, func(ctx context.Context, tbl *table.Table) (*table.Table, error) {
		out, err := tbl.DeleteOrphanFiles(ctx, table.WithFilesOlderThan(opts.OrphansOlderThan))
		if err != nil {
			return nil, fmt.Errorf("remove orphan files: %w", err)
		}
		res.RemovedOrphans = len(out.DeletedFiles)
		if len(out.DeletedFiles) > 0 {
			opts.Logger.Debug("removed orphan files", "table", res.Table, "files", out.DeletedFiles)
		}
		return nil, nil
	})
}
