package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
)

// fileSampler counts each table's live data and delete files every
// interval while floe runs, keeping the most seen: "files per table stays
// bounded" is visible only over the whole run, not at its end.
type fileSampler struct {
	tables map[string]*lakewriter.Table
	every  time.Duration
	log    *slog.Logger

	mu  sync.Mutex
	max map[string]TableFiles
}

// newFileSampler loads the pipeline's tables from cat (a catalog of its
// own: the sampler runs beside the freshness poller).
func newFileSampler(ctx context.Context, cat *lakewriter.Catalog, tables []string, every time.Duration, log *slog.Logger) (*fileSampler, error) {
	open, err := loadLakeTables(ctx, cat, tables)
	if err != nil {
		return nil, err
	}
	return &fileSampler{tables: open, every: every, log: log, max: map[string]TableFiles{}}, nil
}

// run samples until ctx is done. A failed count is logged and retried.
func (fs *fileSampler) run(ctx context.Context) {
	tick := time.NewTicker(fs.every)
	defer tick.Stop()
	for {
		for name, t := range fs.tables {
			data, deletes, err := t.FileCounts(ctx)
			if err != nil {
				if ctx.Err() == nil {
					fs.log.Warn("count files", "table", name, "err", err)
				}
				continue
			}
			fs.observe(name, data, deletes)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// observe records one sample of a table.
func (fs *fileSampler) observe(table string, data, deletes int) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	m := fs.max[table]
	m.Table, m.MaxData, m.MaxDeletes = table, max(m.MaxData, data), max(m.MaxDeletes, deletes)
	fs.max[table] = m
}

// finish counts every table's files once more (floe has stopped) and
// its compaction snapshots since it was created, and returns the tables
// in order with their counts at the end and the most seen, and the
// compaction passes of all tables.
func (fs *fileSampler) finish(ctx context.Context, order []string) ([]TableFiles, int, error) {
	var out []TableFiles
	passes := 0
	for _, name := range order {
		t := fs.tables[name]
		data, deletes, err := t.FileCounts(ctx)
		if err != nil {
			return nil, 0, fmt.Errorf("count files of %s: %w", name, err)
		}
		fs.observe(name, data, deletes)
		hist, err := t.History(ctx)
		if err != nil {
			return nil, 0, fmt.Errorf("history of %s: %w", name, err)
		}
		// A pass that converts deletes commits two snapshots with its id.
		ids := map[string]bool{}
		for _, s := range hist {
			if id := s.Props[ledger.PropCompaction]; id != "" && !ids[id] {
				ids[id] = true
				passes++
			}
		}
		fs.mu.Lock()
		m := fs.max[name]
		fs.mu.Unlock()
		m.Data, m.Deletes = data, deletes
		out = append(out, m)
	}
	return out, passes, nil
}

// sampling is a file sampler running in the background on its own
// catalog connection.
type sampling struct {
	fs   *fileSampler
	cat  *lakewriter.Catalog
	stop context.CancelFunc
	done chan struct{}
}

// startSampling starts counting the files of d's tables every b.o.filesEvery.
func (b *bench) startSampling(ctx context.Context, d *pipelineDir) (*sampling, error) {
	cat, err := openLake(ctx, d)
	if err != nil {
		return nil, err
	}
	fs, err := newFileSampler(ctx, cat, b.tables, b.o.filesEvery, b.log)
	if err != nil {
		cat.Close()
		return nil, err
	}
	sctx, stop := context.WithCancel(ctx)
	s := &sampling{fs: fs, cat: cat, stop: stop, done: make(chan struct{})}
	go func() { defer close(s.done); fs.run(sctx) }()
	return s, nil
}

// halt stops the background sampling (safe to call twice).
func (s *sampling) halt() {
	s.stop()
	<-s.done
}

// finish stops sampling, takes the final counts (floe must have
// stopped) and closes the catalog.
func (s *sampling) finish(ctx context.Context, tables []string) ([]TableFiles, int, error) {
	s.halt()
	defer s.cat.Close()
	return s.fs.finish(ctx, tables)
}
