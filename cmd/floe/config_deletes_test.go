package main

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/lakewriter"
)

// TestConfigDeleteMode: sink.delete-mode defaults to auto and reaches
// lakewriter.Options with position-deletes-max-keys; a bad value names
// its field and the fix.
func TestConfigDeleteMode(t *testing.T) {
	base := string(readTestdata(t, "minimal.yaml"))
	cfg, err := ParseConfig("minimal.yaml", []byte(base), nil)
	require.NoError(t, err)
	require.Equal(t, "auto", cfg.Sink.DeleteMode)
	require.Equal(t, lakewriter.DefaultPositionDeletesMaxKeys, sinkOptions(cfg).PositionDeletesMaxKeys)

	cfg, err = ParseConfig("c.yaml", []byte(base+"  delete-mode: equality\n  position-deletes-max-keys: 1000\n"), nil)
	require.NoError(t, err)
	opts := sinkOptions(cfg)
	require.Equal(t, "equality", opts.DeleteMode)
	require.Equal(t, 1000, opts.PositionDeletesMaxKeys)

	_, err = ParseConfig("c.yaml", []byte(base+"  delete-mode: position\n  position-deletes-max-keys: -5\n"), nil)
	var ce *ConfigError
	require.True(t, errors.As(err, &ce), "%v", err)
	require.ErrorContains(t, err, `sink.delete-mode: unknown value "position"`)
	require.ErrorContains(t, err, "use auto or equality")
	require.ErrorContains(t, err, "sink.position-deletes-max-keys: -5 is negative")
}
