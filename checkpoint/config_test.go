package checkpoint

import (
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/transform"
)

// TestConfigDefaults pins the documented defaults (README:
// pipeline.checkpoint-interval, pipeline.schema-change-behavior,
// source.snapshot.*) and that zero fields
// take them.
func TestConfigDefaults(t *testing.T) {
	want := Config{Interval: 10 * time.Second, SchemaChangeBehavior: transform.Lenient, SnapshotMode: "initial", SnapshotParallelism: 2, SnapshotChunkRows: 50000,
		MaxCheckpointChanges: 1_000_000, MemoryBudget: 64 << 20, IdleCommitInterval: 5 * time.Minute,
		UnfollowableChange: "resnapshot", DeadLetter: "table"}
	if d := Defaults(); d != want {
		t.Fatalf("Defaults() = %+v, want %+v", d, want)
	}
	if c := (Config{Interval: time.Second}).withDefaults(); c.Interval != time.Second || c.SnapshotChunkRows != 50000 {
		t.Fatalf("withDefaults = %+v", c)
	}
}

// TestConfigValidate: a bad value names its field and the fix.
func TestConfigValidate(t *testing.T) {
	if ps := Defaults().Validate(); len(ps) != 0 {
		t.Fatalf("problems of the defaults: %v", ps)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"interval", func(c *Config) { c.Interval = -time.Second }, "pipeline.checkpoint-interval: -1s is not positive (fix: use a positive duration such as 10s)"},
		{"behavior", func(c *Config) { c.SchemaChangeBehavior = "evolved" }, `pipeline.schema-change-behavior: unknown value "evolved" (fix: use lenient or exception or evolve or try_evolve or ignore (did you mean evolve?))`},
		{"mode", func(c *Config) { c.SnapshotMode = "initial-only" }, `source.snapshot.mode: unknown value "initial-only" (fix: use initial or never or initial_only (did you mean initial_only?))`},
		{"parallelism", func(c *Config) { c.SnapshotParallelism = 65 }, "source.snapshot.parallelism: 65 is out of range (fix: use a value from 1 to 64)"},
		{"dead letter", func(c *Config) { c.DeadLetter = "tables" }, `pipeline.dead-letter: unknown value "tables" (fix: use table or off (did you mean table?))`},
		{"chunk rows", func(c *Config) { c.SnapshotChunkRows = 0 }, "source.snapshot.chunk-rows: 0 is out of range"},
		{"max changes", func(c *Config) { c.MaxCheckpointChanges = -1 }, "pipeline.checkpoint-max-changes: -1 is out of range"},
		{"max bytes", func(c *Config) { c.MaxCheckpointBytes = -1 }, "pipeline.checkpoint-max-mb: -1 bytes is negative (fix: use a positive size, or 0 for no byte trigger)"},
		{"memory", func(c *Config) { c.MemoryBudget = -1 }, "MemoryBudget: -1 is not positive"},
		{"idle", func(c *Config) { c.IdleCommitInterval = -time.Minute }, "IdleCommitInterval: -1m0s is not positive"},
		{"unfollowable", func(c *Config) { c.UnfollowableChange = "resnap" }, `pipeline.on-unfollowable-change: unknown value "resnap" (fix: use resnapshot or stop)`},
	} {
		c := Defaults()
		tc.edit(&c)
		ps := c.Validate()
		if len(ps) != 1 || !strings.HasPrefix(ps[0].Error(), tc.want) || ps[0].Fix == "" {
			t.Errorf("%s: problems %v, want one starting %q", tc.name, ps, tc.want)
		}
	}
	// New refuses a bad Config, naming the field.
	cat, _ := openCatalog(t)
	_, err := New(Options{Pipeline: "p", Source: (*tableSource)(nil), Catalog: cat, Router: transform.NewRouter("lake", nil),
		Config: Config{SnapshotMode: "sometimes"}})
	if err == nil || !strings.Contains(err.Error(), `source.snapshot.mode: unknown value "sometimes"`) {
		t.Fatalf("New with a bad snapshot mode: %v", err)
	}
}
