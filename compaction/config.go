package compaction

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/floe-cdc/floe/schema/problem"
)

// Config is the compaction: section of a configuration file in its own
// units (MiB, durations): whether and how often floe run runs passes in
// the background, and what each pass does (Options).
type Config struct {
	// Enabled: floe run runs passes in the background; nil = true
	// (compaction.enabled).
	Enabled *bool
	// Interval is the time between background passes (compaction.interval).
	Interval time.Duration
	// TargetFileSizeMB is the size rewritten files aim for, in MiB
	// (compaction.target-file-size-mb; Options.TargetFileSize).
	TargetFileSizeMB int
	// MinInputFiles is how many small files are needed to bin-pack
	// (compaction.min-input-files).
	MinInputFiles int
	// DeleteFileThreshold is how many delete files trigger applying them
	// (compaction.delete-file-threshold).
	DeleteFileThreshold int
	// MaxRewriteMB bounds the input one pass rewrites, in MiB; 0 = no
	// bound (compaction.max-rewrite-mb; Options.MaxRewriteBytes).
	MaxRewriteMB int
	// ExpireSnapshotsOlderThan: 0 keeps every snapshot
	// (compaction.expire-snapshots-older-than; Options.ExpireOlderThan).
	ExpireSnapshotsOlderThan time.Duration
	// RetainLast is the number of snapshots expiry always keeps
	// (compaction.retain-last).
	RetainLast int
	// MaxSnapshots bounds the snapshots a table keeps, whatever their age;
	// 0 = no bound (compaction.max-snapshots; Options.MaxSnapshots).
	MaxSnapshots int
	// RemoveOrphansOlderThan: 0 keeps orphan files; otherwise at least
	// MinOrphanAge (compaction.remove-orphans-older-than;
	// Options.OrphansOlderThan).
	RemoveOrphansOlderThan time.Duration
}

// MinOrphanAge is the youngest an orphan may be to be removed: a writer's
// data files are unreferenced until its commit lands, so a shorter age
// could delete files a commit is about to reference.
const MinOrphanAge = time.Hour

// Defaults returns the defaults: a pass every 30 minutes, 128 MiB files,
// bin-pack from 5 small files, apply deletes from the first delete file,
// rewrite at most 2048 MiB per pass, expire snapshots after 24 hours
// keeping the last 20 and at most 2,000, remove orphans older than 3
// days.
//
// The snapshot bound keeps the metadata file small: each snapshot adds
// ~1 KB to the metadata.json every commit writes and every query plans
// from, and at 1 s checkpoints a day of snapshots is 86,400 of them (an
// 86 MB metadata file); 2,000 is 5.5 hours at the default 10 s
// checkpoints and 33 minutes at 1 s.
func Defaults() Config {
	return Config{
		Interval:                 30 * time.Minute,
		TargetFileSizeMB:         128,
		MinInputFiles:            5,
		DeleteFileThreshold:      1,
		MaxRewriteMB:             2048,
		ExpireSnapshotsOlderThan: 24 * time.Hour,
		RetainLast:               20,
		MaxSnapshots:             2000,
		RemoveOrphansOlderThan:   72 * time.Hour,
	}
}

// On reports whether floe run compacts in the background.
func (c Config) On() bool { return c.Enabled == nil || *c.Enabled }

// Validate returns every problem of c, each naming its field in the
// configuration file (compaction.*) and the fix.
func (c Config) Validate() []problem.Problem {
	var v problem.Checks
	v.Positive("compaction.interval", c.Interval)
	v.Between("compaction.target-file-size-mb", c.TargetFileSizeMB, 1, 1<<20)
	v.Between("compaction.min-input-files", c.MinInputFiles, 2, 1<<20)
	v.Between("compaction.max-rewrite-mb", c.MaxRewriteMB, 0, 1<<30)
	v.Between("compaction.delete-file-threshold", c.DeleteFileThreshold, 1, 1<<20)
	v.Between("compaction.retain-last", c.RetainLast, 1, 1<<20)
	if c.MaxSnapshots != 0 {
		v.Between("compaction.max-snapshots", c.MaxSnapshots, max(c.RetainLast, 1), 1<<30)
	}
	v.NotNegative("compaction.expire-snapshots-older-than", c.ExpireSnapshotsOlderThan)
	v.NotNegative("compaction.remove-orphans-older-than", c.RemoveOrphansOlderThan)
	if o := c.RemoveOrphansOlderThan; o > 0 && o < MinOrphanAge {
		v.Add("compaction.remove-orphans-older-than",
			fmt.Sprintf("use %s or more (a writer's files are unreferenced until it commits), or 0 to keep orphans", MinOrphanAge),
			"%s is too short to be safe", o)
	}
	return v.List
}

// Options returns the Options of one pass under c, logging to log.
func (c Config) Options(log *slog.Logger) Options {
	return Options{
		TargetFileSize:      int64(c.TargetFileSizeMB) << 20,
		MinInputFiles:       c.MinInputFiles,
		DeleteFileThreshold: c.DeleteFileThreshold,
		MaxRewriteBytes:     int64(c.MaxRewriteMB) << 20,
		ExpireOlderThan:     c.ExpireSnapshotsOlderThan,
		RetainLast:          c.RetainLast,
		MaxSnapshots:        c.MaxSnapshots,
		OrphansOlderThan:    c.RemoveOrphansOlderThan,
		Logger:              log,
	}
}
