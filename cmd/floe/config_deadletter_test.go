package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/checkpoint"
)

// TestDeadLetterConfig: pipeline.dead-letter defaults to table, reaches
// checkpoint.Config, is rendered by Redacted, and a bad value is refused
// naming the field and the values it takes.
func TestDeadLetterConfig(t *testing.T) {
	def, err := ParseConfig("m.yaml", []byte(minimalYAML), nil)
	require.NoError(t, err)
	require.Equal(t, checkpoint.DeadLetterTable, checkpointConfig(def).DeadLetter)

	cfg, err := ParseConfig("t.yaml", withPipeline("  dead-letter: off\n"), nil)
	require.NoError(t, err)
	require.Equal(t, checkpoint.DeadLetterOff, checkpointConfig(cfg).DeadLetter)
	require.Contains(t, cfg.Redacted(), "dead-letter: off\n")
	again, err := ParseConfig("r.yaml", []byte(cfg.Redacted()), nil)
	require.NoError(t, err)
	require.Equal(t, cfg.Pipeline, again.Pipeline)

	_, err = ParseConfig("bad.yaml", withPipeline("  dead-letter: tabel\n"), nil)
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	found := false
	for _, p := range ce.Problems {
		found = found || p.Field == "pipeline.dead-letter" && strings.Contains(p.Fix, "table")
	}
	require.True(t, found, "want pipeline.dead-letter with a fix naming table in %v", ce.Problems)
}
