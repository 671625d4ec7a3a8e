package compaction

import (
	"strings"
	"testing"
	"time"
)

// TestConfigDefaults pins the documented defaults (README: compaction:)
// and that a pass under them is the DefaultOptions pass: one default, in
// one place, for floe run and for the library.
func TestConfigDefaults(t *testing.T) {
	d := Defaults()
	want := Config{Interval: 30 * time.Minute, TargetFileSizeMB: 128, MinInputFiles: 5, DeleteFileThreshold: 1, MaxRewriteMB: 2048,
		ExpireSnapshotsOlderThan: 24 * time.Hour, RetainLast: 20, MaxSnapshots: 2000, RemoveOrphansOlderThan: 72 * time.Hour}
	if d != want {
		t.Fatalf("Defaults() = %+v, want %+v", d, want)
	}
	if !d.On() {
		t.Fatal("compaction is on by default")
	}
	o := DefaultOptions()
	if o.TargetFileSize != 128<<20 || o.MaxRewriteBytes != 2048<<20 || o.MinInputFiles != 5 || o.DeleteFileThreshold != 1 ||
		o.ExpireOlderThan != 24*time.Hour || o.RetainLast != 20 || o.MaxSnapshots != 2000 || o.OrphansOlderThan != 72*time.Hour {
		t.Fatalf("DefaultOptions() = %+v", o)
	}
	// Zero turns the rewrite bound off, as max-rewrite-mb: 0 does.
	var zero Options
	zero.setDefaults()
	if zero.MaxRewriteBytes != 0 || zero.TargetFileSize != o.TargetFileSize {
		t.Fatalf("zero Options after defaults = %+v", zero)
	}
}

// TestConfigValidate: a bad value names its field and the fix.
func TestConfigValidate(t *testing.T) {
	if ps := Defaults().Validate(); len(ps) != 0 {
		t.Fatalf("problems of the defaults: %v", ps)
	}
	off := false
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"interval", func(c *Config) { c.Interval = 0 }, "compaction.interval: 0s is not positive"},
		{"target", func(c *Config) { c.TargetFileSizeMB = 0 }, "compaction.target-file-size-mb: 0 is out of range (fix: use a value from 1 to 1048576)"},
		{"min input", func(c *Config) { c.MinInputFiles = 1 }, "compaction.min-input-files: 1 is out of range (fix: use a value from 2 to"},
		{"max rewrite", func(c *Config) { c.MaxRewriteMB = -1 }, "compaction.max-rewrite-mb: -1 is out of range"},
		{"deletes", func(c *Config) { c.DeleteFileThreshold = 0 }, "compaction.delete-file-threshold: 0 is out of range"},
		{"retain", func(c *Config) { c.RetainLast = 0 }, "compaction.retain-last: 0 is out of range"},
		{"expire", func(c *Config) { c.ExpireSnapshotsOlderThan = -time.Hour }, "compaction.expire-snapshots-older-than: -1h0m0s is negative"},
		{"orphans", func(c *Config) { c.RemoveOrphansOlderThan = 10 * time.Minute }, "compaction.remove-orphans-older-than: 10m0s is too short to be safe (fix: use 1h0m0s or more"},
	} {
		c := Defaults()
		c.Enabled = &off
		tc.edit(&c)
		ps := c.Validate()
		if len(ps) != 1 || !strings.HasPrefix(ps[0].Error(), tc.want) || ps[0].Fix == "" {
			t.Errorf("%s: problems %v, want one starting %q", tc.name, ps, tc.want)
		}
	}
	c := Defaults()
	c.MaxRewriteMB, c.ExpireSnapshotsOlderThan, c.RemoveOrphansOlderThan = 0, 0, 0
	if ps := c.Validate(); len(ps) != 0 {
		t.Fatalf("0 turns a bound or step off: %v", ps)
	}
}
