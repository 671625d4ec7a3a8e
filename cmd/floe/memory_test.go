package main

import (
	"log/slog"
	"math"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestApplyMemoryLimit: pipeline.memory-limit-mb sets Go's soft limit to
// three quarters of it and gives each table buffer 1/16 of it (at most
// 64 MiB); 0 sets none.
func TestApplyMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	log := slog.New(slog.DiscardHandler)
	for _, c := range []struct {
		mb     int
		limit  int64
		budget int64
	}{
		{512, 384 << 20, 32 << 20},
		{4096, 3072 << 20, 64 << 20},
		{1024, 768 << 20, 64 << 20},
	} {
		cfg := DefaultConfig()
		cfg.Pipeline.MemoryLimitMB = c.mb
		require.Equal(t, c.budget, applyMemoryLimit(cfg, log), "budget for %d MiB", c.mb)
		require.Equal(t, c.limit, debug.SetMemoryLimit(-1), "limit for %d MiB", c.mb)
	}
	debug.SetMemoryLimit(math.MaxInt64)
	cfg := DefaultConfig()
	cfg.Pipeline.MemoryLimitMB = 0
	require.Equal(t, int64(64<<20), applyMemoryLimit(cfg, log))
	require.Equal(t, int64(math.MaxInt64), debug.SetMemoryLimit(-1), "0 must set no limit")
}
