package compaction

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	icecompact "github.com/apache/iceberg-go/table/compaction"

	"github.com/floe-cdc/floe/lakewriter"
)

// A pass keeps the rows of large data files where they are. Rewriting a
// data file costs reading, encoding and compressing every row of it;
// while Floe streams an update-heavy table, each checkpoint's equality
// deletes apply to every older data file, so a pass that applied them by
// rewriting rewrote the whole table every time: on the sustained
// benchmark (4 tables, 10,000 changes/s, a pass a minute) 15-20 s of
// each minute, on 2 cores, while the stream fell behind.
//
// A data file of at least TargetFileSize/settledFraction ("settled"),
// and the largest smaller one while the others are much smaller than it
// (tierSmallFiles), is therefore rewritten only
//   - when bin-packing picks it (at least MinInputFiles undersized
//     settled files fit one output file: the files of a table stay
//     bounded), or
//   - when its position deletes already remove rewriteDeleteRatio of
//     its rows, or it has deletes Floe cannot convert (deletion vectors,
//     position-delete files that name other data files too).
//
// Otherwise, once deletes are due (DeleteFileThreshold), its deletes are
// converted, keeping the data file. The pass writes one position-delete
// file for it holding the rows its equality deletes remove (one read of
// its key column) and the positions of some of its position-delete files
// (positionDeletesToMerge), which that file replaces; the equality deletes
// that then apply to no file left unconverted and unrewritten are dropped
// (lakewriter.Table.DeletesAsPositions). With no equality delete on it,
// only its position-delete files are merged, reading the delete files and
// not the data file, and only when there are two or more to merge. Small
// files are rewritten with their deletes applied, as before.
const (
	settledFraction    = 8
	rewriteDeleteRatio = 0.2
	mergeTier          = 4
	smallFloorFraction = 64
)

// conversionTask is a settled data file whose deletes a pass converts:
// its equality deletes, if any, and the position-delete files in merge
// become one position-delete file (lakewriter.Table.DeletesAsPositions).
type conversionTask struct {
	task  table.FileScanTask
	merge []iceberg.DataFile
}

// positionDeletesToMerge chooses which of a data file's position-delete
// files (files, each naming that data file alone) a pass merges into
// the one it writes: all but the largest, or all of them once the others
// together hold at least 1/mergeTier of the largest's rows. A data file
// thus keeps at most two position-delete files after a pass, and a pass
// reads and writes about the positions added since the pass before, not
// every position the data file ever lost; the largest file is rewritten
// only when those have grown by a quarter of it. On the reads benchmark
// (a 2M-row data file, a pass every 15 s) rewriting all of them cost a
// file of up to 300k positions on every pass.
func positionDeletesToMerge(files []iceberg.DataFile) []iceberg.DataFile {
	if len(files) == 0 {
		return nil
	}
	largest := 0
	var rest int64
	for i, f := range files {
		rest += f.Count()
		if f.Count() > files[largest].Count() {
			largest = i
		}
	}
	if rest -= files[largest].Count(); rest*mergeTier >= files[largest].Count() {
		return files
	}
	return slices.Concat(files[:largest], files[largest+1:])
}

// planPass chooses what a pass does with each data file of tasks: the
// groups to rewrite (plan) and the settled data files whose deletes are
// converted (see above). Without positionDeletes (a v3 table, whose
// position deletes must be deletion vectors) nothing is converted.
func planPass(tasks []table.FileScanTask, opts Options, positionDeletes bool) (icecompact.Plan, []conversionTask, error) {
	if !deletesDue(tasks, opts) {
		plan, err := planRewrite(tasks, opts, false)
		return boundPlan(plan, opts), nil, err
	}
	var small, settled []table.FileScanTask
	var convert []conversionTask
	for _, task := range tasks {
		if task.File.FileSizeBytes() < opts.TargetFileSize/settledFraction {
			small = append(small, task)
		} else {
			settled = append(settled, task)
		}
	}
	small, settled = tierSmallFiles(small, settled, opts)
	packed, err := planRewrite(settled, opts, false)
	if err != nil {
		return packed, nil, err
	}
	picked := map[string]bool{}
	for _, g := range packed.Groups {
		for _, task := range g.Tasks {
			picked[task.File.FilePath()] = true
		}
	}
	for _, task := range settled {
		switch {
		case picked[task.File.FilePath()]:
		case !positionDeletes || !convertible(task):
			small = append(small, task) // rewritten with its deletes applied
		default:
			merge := positionDeletesToMerge(task.DeleteFiles)
			if len(task.EqualityDeleteFiles) > 0 || len(merge) > 1 {
				convert = append(convert, conversionTask{task: task, merge: merge})
			}
		}
	}
	plan, err := planRewrite(small, opts, true)
	if err != nil {
		return plan, nil, err
	}
	plan.Groups = append(plan.Groups, packed.Groups...)
	return boundPlan(plan, opts), convert, nil
}

// tierSmallFiles takes the largest of the small data files out of the
// rewrite, as if it were settled (its deletes are then converted, and it
// is rewritten only when they remove a fifth of its rows), while the other
// small files together are under 1/mergeTier of its size and it holds at
// least 1/smallFloorFraction of the target size. The other small files
// are packed into a file of their own; once they add up to a quarter of
// it, all are packed together. Without it, every pass packed the file the
// pass before had written together with the checkpoints' new files, so
// the rows of a streamed table's recent changes were rewritten on every
// pass until their file reached 1/settledFraction of the target size: on
// the reads benchmark, passes of 9-18 s rewriting 12-17 MB each 15 s.
func tierSmallFiles(small, settled []table.FileScanTask, opts Options) ([]table.FileScanTask, []table.FileScanTask) {
	if len(small) == 0 {
		return small, settled
	}
	largest := 0
	var rest int64
	for i, task := range small {
		rest += task.File.FileSizeBytes()
		if task.File.FileSizeBytes() > small[largest].File.FileSizeBytes() {
			largest = i
		}
	}
	size := small[largest].File.FileSizeBytes()
	if rest -= size; size < opts.TargetFileSize/smallFloorFraction || rest*mergeTier >= size {
		return small, settled
	}
	return slices.Concat(small[:largest], small[largest+1:]), append(settled, small[largest])
}

// deletesDue reports whether tasks carry at least opts.DeleteFileThreshold
// distinct delete files (and at least one).
func deletesDue(tasks []table.FileScanTask, opts Options) bool {
	deletes := map[string]bool{}
	for _, task := range tasks {
		for _, files := range [][]iceberg.DataFile{task.EqualityDeleteFiles, task.DeleteFiles, task.DeletionVectorFiles} {
			for _, d := range files {
				deletes[d.FilePath()] = true
			}
		}
	}
	return len(deletes) > 0 && len(deletes) >= opts.DeleteFileThreshold
}

// convertible reports whether a settled data file's deletes may be
// converted instead of applied by a rewrite: no deletion vectors, every
// position-delete file names this data file alone, and they remove less
// than rewriteDeleteRatio of its rows.
func convertible(task table.FileScanTask) bool {
	if len(task.DeletionVectorFiles) > 0 || task.File.Count() == 0 {
		return false
	}
	var removed int64
	for _, d := range task.DeleteFiles {
		if ref, ok := lakewriter.ReferencedDataFile(d); !ok || ref != task.File.FilePath() {
			return false
		}
		removed += d.Count()
	}
	return float64(removed) < rewriteDeleteRatio*float64(task.File.Count())
}

// boundPlan puts the groups that apply deletes first and keeps the
// prefix within opts.MaxRewriteBytes (at least one group).
func boundPlan(plan icecompact.Plan, opts Options) icecompact.Plan {
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
	return plan
}

// conversion is what a pass converted: the position-delete files it
// wrote, the position-delete files they replace, and the data files whose
// deletes they now carry (which equality deletes no longer need).
type conversion struct {
	added     []iceberg.DataFile
	replaced  []iceberg.DataFile
	converted []string
	rows      int64
}

// convertDeletes converts the deletes of each task (see planPass) from
// base. A file whose removed rows cannot be told by key
// (lakewriter.ErrRowsNotPlaceable) is returned in rewrite instead, for
// the pass to rewrite it.
func convertDeletes(ctx context.Context, t *lakewriter.Table, base *table.Table, tasks []conversionTask, opts Options) (conv conversion, rewrite []table.FileScanTask, err error) {
	for _, ct := range tasks {
		task := ct.task
		c, err := t.DeletesAsPositions(ctx, base, task, ct.merge)
		if errors.Is(err, lakewriter.ErrRowsNotPlaceable) {
			opts.Logger.Warn("compaction: rewriting a data file instead of converting its deletes", "table", t.Ident().String(), "err", err)
			rewrite = append(rewrite, task)
			continue
		}
		if err != nil { // the files written so far are left for orphan removal
			return conversion{}, nil, fmt.Errorf("convert the deletes of %s: %w", task.File.FilePath(), err)
		}
		if c.File != nil {
			conv.added = append(conv.added, c.File)
			conv.rows += c.Rows
		}
		conv.replaced = append(conv.replaced, ct.merge...)
		conv.converted = append(conv.converted, task.File.FilePath())
	}
	return conv, rewrite, nil
}
