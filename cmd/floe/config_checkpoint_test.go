package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/checkpoint"
)

// withPipeline returns minimalYAML with lines added to its pipeline:
// section.
func withPipeline(lines string) []byte {
	return []byte(strings.Replace(minimalYAML, "  name: shop\n", "  name: shop\n"+lines, 1))
}

// TestCheckpointTriggersConfig: pipeline.checkpoint-max-changes and
// pipeline.checkpoint-max-mb reach checkpoint.Config (MiB as bytes),
// default to the package's defaults (no size trigger), are rendered by
// Redacted, and bad values are refused naming the field.
func TestCheckpointTriggersConfig(t *testing.T) {
	def, err := ParseConfig("m.yaml", []byte(minimalYAML), nil)
	require.NoError(t, err)
	cc := checkpointConfig(def)
	require.Equal(t, checkpoint.Defaults().MaxCheckpointChanges, cc.MaxCheckpointChanges)
	require.Equal(t, int64(0), cc.MaxCheckpointBytes, "no size trigger by default")

	cfg, err := ParseConfig("t.yaml", withPipeline("  checkpoint-interval: 5m\n  checkpoint-max-changes: 200000\n  checkpoint-max-mb: 512\n"), nil)
	require.NoError(t, err)
	cc = checkpointConfig(cfg)
	require.Equal(t, 200000, cc.MaxCheckpointChanges)
	require.Equal(t, int64(512)<<20, cc.MaxCheckpointBytes)
	require.Contains(t, cfg.Redacted(), "checkpoint-max-changes: 200000\n  checkpoint-max-mb: 512\n")
	again, err := ParseConfig("r.yaml", []byte(cfg.Redacted()), nil)
	require.NoError(t, err)
	require.Equal(t, cfg.Pipeline, again.Pipeline)

	for _, tc := range []struct{ yaml, field, message string }{
		{"  checkpoint-max-changes: 0\n", "pipeline.checkpoint-max-changes", ""},
		{"  checkpoint-max-changes: 10\n", "pipeline.checkpoint-max-changes", "fewer than the minimum of 1000"},
		{"  checkpoint-max-changes: lots\n", "pipeline.checkpoint-max-changes", "expected an integer"},
		{"  checkpoint-max-mb: -1\n", "pipeline.checkpoint-max-mb", "is negative"},
		{"  checkpoint-max-mb: 1.5\n", "pipeline.checkpoint-max-mb", "expected an integer"},
	} {
		_, err := ParseConfig("bad.yaml", withPipeline(tc.yaml), nil)
		var ce *ConfigError
		require.ErrorAs(t, err, &ce, tc.yaml)
		found := false
		for _, p := range ce.Problems {
			found = found || p.Field == tc.field && strings.Contains(p.Message, tc.message)
		}
		require.True(t, found, "%q: want %s: %s in %v", tc.yaml, tc.field, tc.message, ce.Problems)
	}
}
