package main

import (
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/floe-cdc/floe/transform"
)

// The memory a pipeline may use (pipeline.memory-limit-mb). See the
// README's memory section: a table buffer holds at most its budget
// whatever the checkpoint's size, writers and the source queue are bounded
// by bytes, and Go's collector is told to keep the heap within a share of
// the limit, so that the garbage it lets pile up between collections does
// not take the process past it.
const (
	defaultMemoryLimitMB = 1024
	minMemoryLimitMB     = 128
	// bufferShare: each table's buffer gets this share of the limit.
	bufferShare = 16
	// goShareNum/goShareDen: Go's soft memory limit is this share of the
	// limit. The rest is for what the runtime does not count: the
	// binary's code and data in memory (50-70 MiB for floe), and what
	// the heap overshoots while a collection catches up with large
	// allocations.
	goShareNum, goShareDen = 3, 4
)

// applyMemoryLimit sets the process's soft memory limit from the config
// (unless it sets none and GOMEMLIMIT does) and returns the memory budget
// of each table buffer (tableBufferBudget).
func applyMemoryLimit(cfg *Config, log *slog.Logger) int64 {
	mb := int64(cfg.Pipeline.MemoryLimitMB)
	budget := tableBufferBudget(cfg)
	if mb <= 0 {
		if env := os.Getenv("GOMEMLIMIT"); env != "" {
			log.Info("memory limit from GOMEMLIMIT", "gomemlimit", env)
		}
		return budget
	}
	limit := mb << 20
	debug.SetMemoryLimit(limit / goShareDen * goShareNum)
	log.Info("memory limit", "limit_mib", mb, "go_heap_limit_mib", limit/goShareDen*goShareNum>>20, "table_buffer_mib", budget>>20)
	return budget
}

// tableBufferBudget is the memory budget of each table buffer: 1/16 of
// pipeline.memory-limit-mb, at most transform.DefaultMemoryBudget (which
// it is without a limit).
func tableBufferBudget(cfg *Config) int64 {
	mb := int64(cfg.Pipeline.MemoryLimitMB)
	if mb <= 0 {
		return transform.DefaultMemoryBudget
	}
	return min(int64(transform.DefaultMemoryBudget), mb<<20/bufferShare)
}
