package main

import (
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/floe-cdc/floe/transform"
)

// The memory a pipeline may use (pipeline.memory-limit-mb). See the
// README's memory model: a table buffer holds at most its budget whatever
// the checkpoint's size, writers and the source queue are bounded by
// bytes, and the Go heap's garbage headroom is what the soft limit trims.
const (
	defaultMemoryLimitMB = 1024
	minMemoryLimitMB     = 128
	// bufferShare: each table's buffer gets this share of the limit.
	bufferShare = 16
)

// applyMemoryLimit sets the process's soft memory limit from the config
// (unless it sets none and GOMEMLIMIT does) and returns the memory budget
// of each table buffer.
func applyMemoryLimit(cfg *Config, log *slog.Logger) int64 {
	mb := int64(cfg.Pipeline.MemoryLimitMB)
	if mb <= 0 {
		if env := os.Getenv("GOMEMLIMIT"); env != "" {
			log.Info("memory limit from GOMEMLIMIT", "gomemlimit", env)
		}
		return transform.DefaultMemoryBudget
	}
	limit := mb << 20
	debug.SetMemoryLimit(limit)
	budget := min(int64(transform.DefaultMemoryBudget), limit/bufferShare)
	log.Info("memory limit", "limit_mib", mb, "table_buffer_mib", budget>>20)
	return budget
}
