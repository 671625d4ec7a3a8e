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
// A data file of at least TargetFileSize/settledFraction ("settled") is
// therefore rewritten only
//   - when bin-packing picks it (at least MinInputFiles undersized
//     settled files fit one output file: the files of a table stay
//     bounded), or
//   - when its position deletes already remove rewriteDeleteRatio of
//     its rows, or it has deletes Floe cannot convert (deletion vectors,
//     position-delete files that name other data files too).
//
// Otherwise, once deletes are due (DeleteFileThreshold), its deletes are
// converted. With equality deletes, the rows its equality and position
// deletes remove are written as one position-delete file for it (reading
// only its key column, lakewriter.Table.DeletesAsPositions), its own
// position-delete files are dropped, and equality deletes that then apply
// to no file left unconverted and unrewritten are dropped too. With
// position deletes only (every checkpoint that updates its rows adds one
// while the key index locates them), some of them are merged into one
// (lakewriter.Table.MergePositionDeletes, which reads the deletes, not
// the data file; see positionDeletesToMerge). Small files are rewritten
// with their deletes applied, as before.
const (
	settledFraction    = 8
	rewriteDeleteRatio = 0.2
	mergeTier          = 4
)

// conversionTask is a settled data file whose deletes a pass converts:
// with merge nil, all of task's deletes (lakewriter.Table.DeletesAsPositions);
// otherwise the position-delete files in merge, into one
// (lakewriter.Table.MergePositionDeletes).
type conversionTask struct {
	task  table.FileScanTask
	merge []iceberg.DataFile
}

// positionDeletesToMerge chooses which of a data file's position-delete
// files (files, each naming that data file alone) a pass merges into one:
// all but the largest, or all of them once the others together hold at
// least 1/mergeTier of the largest's rows. A data file thus keeps at most
// two position-delete files after a pass, and a pass reads and writes
// about the positions added since the pass before, not every position the
// data file ever lost; the largest file is rewritten only when those have
// grown by a quarter of it. On the reads benchmark (2M-row data file,
// a pass every 15 s) rewriting all of them cost a 300k-row file on every
// pass. Nil: nothing to merge (fewer than two files would be merged).
func positionDeletesToMerge(files []iceberg.DataFile) []iceberg.DataFile {
	if len(files) < 2 {
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
	if len(files) < 3 {
		return nil
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
		case len(task.EqualityDeleteFiles) > 0:
			convert = append(convert, conversionTask{task: task})
		default:
			if merge := positionDeletesToMerge(task.DeleteFiles); merge != nil {
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
		task, replaced := ct.task, ct.merge
		var c lakewriter.ConvertedDeletes
		if replaced != nil {
			c, err = t.MergePositionDeletes(ctx, base, task.File, replaced)
		} else {
			c, err = t.DeletesAsPositions(ctx, base, task)
			replaced = task.DeleteFiles
		}
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
		conv.replaced = append(conv.replaced, replaced...)
		conv.converted = append(conv.converted, task.File.FilePath())
	}
	return conv, rewrite, nil
}
