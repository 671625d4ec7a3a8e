package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
)

const lakeNamespace = "bench"

// observation is when a table was first seen at a committed position.
type observation struct {
	at  time.Time
	pos pos
}

// lakePoller reads each table's newest committed floe.position every
// interval and keeps the changes it saw.
type lakePoller struct {
	cat      *lakewriter.Catalog
	tables   map[string]*lakewriter.Table
	pipeline string
	decode   func(string) (pos, error)
	every    time.Duration
	log      *slog.Logger
	obs      map[string][]observation
	// seen is each table's metadata location at its last read: a table
	// whose location has not moved has no new commit, and its metadata
	// file (~1 KB a snapshot: 600 KB per table at the end of the
	// sustained run, parsed for 4 tables 10 times a second) is not read
	// again. Parsing it every round took CPU from floe and the server on
	// a 2-core machine and delayed the round that saw a commit.
	seen map[string]string
}

// openLake opens a pipeline's catalog (read-only use beside floe).
func openLake(ctx context.Context, d *pipelineDir) (*lakewriter.Catalog, error) {
	cat, err := lakewriter.Open(ctx, d.lakeOptions())
	if err != nil {
		return nil, fmt.Errorf("open lake of %s: %w", d.name, err)
	}
	return cat, nil
}

func newLakePoller(ctx context.Context, cat *lakewriter.Catalog, tables []string, pipeline string, decode func(string) (pos, error), every time.Duration, log *slog.Logger) (*lakePoller, error) {
	open, err := loadLakeTables(ctx, cat, tables)
	if err != nil {
		return nil, err
	}
	return &lakePoller{cat: cat, tables: open, pipeline: pipeline, decode: decode, every: every, log: log, obs: map[string][]observation{},
		seen: map[string]string{}}, nil
}

// loadLakeTable loads the pipeline's table name (in lakeNamespace).
func loadLakeTable(ctx context.Context, cat *lakewriter.Catalog, name string) (*lakewriter.Table, error) {
	t, err := cat.LoadTable(ctx, lakewriter.Ident{Namespace: lakeNamespace, Name: name})
	if err != nil {
		return nil, fmt.Errorf("load %s.%s: %w", lakeNamespace, name, err)
	}
	return t, nil
}

// loadLakeTables loads the pipeline's tables named names, by name.
func loadLakeTables(ctx context.Context, cat *lakewriter.Catalog, names []string) (map[string]*lakewriter.Table, error) {
	open := make(map[string]*lakewriter.Table, len(names))
	for _, name := range names {
		t, err := loadLakeTable(ctx, cat, name)
		if err != nil {
			return nil, err
		}
		open[name] = t
	}
	return open, nil
}

// run polls until ctx is done. A failed read is logged and retried.
func (lp *lakePoller) run(ctx context.Context) {
	tick := time.NewTicker(lp.every)
	defer tick.Stop()
	for {
		for name, t := range lp.tables {
			loc, err := lp.cat.MetadataLocation(ctx, t.Ident())
			if err == nil && loc == lp.seen[name] {
				continue
			}
			p, err := committedPos(ctx, t, lp.pipeline, lp.decode)
			if err != nil {
				if ctx.Err() == nil {
					lp.log.Warn("poll lake", "table", name, "err", err)
				}
				continue
			}
			lp.seen[name] = loc
			at := time.Now()
			o := lp.obs[name]
			if len(o) == 0 || o[len(o)-1].pos < p {
				lp.obs[name] = append(o, observation{at: at, pos: p})
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// committedPos is the table's newest floe.position of pipeline (0: none).
func committedPos(ctx context.Context, t *lakewriter.Table, pipeline string, decode func(string) (pos, error)) (pos, error) {
	props, err := t.LatestProps(ctx, func(p map[string]string) bool {
		return ledger.IsCommitOf(p, pipeline) && p[ledger.PropPosition] != ""
	})
	if err != nil || props == nil {
		return 0, err
	}
	return decode(props[ledger.PropPosition])
}

// visibleAt is when table was first seen at a position at or after end.
func (lp *lakePoller) visibleAt(table string, end pos) (time.Time, bool) {
	for _, o := range lp.obs[table] {
		if o.pos >= end {
			return o.at, true
		}
	}
	return time.Time{}, false
}

// delays returns, per transaction, the seconds from its source commit to
// the poll that first saw every table it touched committed past it, and
// how many transactions were never seen.
func (lp *lakePoller) delays(txns []txnInfo) (out []float64, missing int) {
	for _, tx := range txns {
		var seen time.Time
		ok := true
		for _, t := range tx.Tables {
			at, found := lp.visibleAt(t, tx.End)
			if !found {
				ok = false
				break
			}
			if at.After(seen) {
				seen = at
			}
		}
		if !ok || len(tx.Tables) == 0 {
			missing++
			continue
		}
		out = append(out, seen.Sub(tx.Commit).Seconds())
	}
	return out, missing
}

// lakeRows sums the live row counts (total-records of each table's newest
// snapshot of pipeline).
func lakeRows(ctx context.Context, cat *lakewriter.Catalog, tables []string, pipeline string) (int64, error) {
	var total int64
	for _, name := range tables {
		t, err := loadLakeTable(ctx, cat, name)
		if err != nil {
			return 0, err
		}
		props, err := t.LatestProps(ctx, ledger.CommitOf(pipeline))
		if err != nil {
			return 0, fmt.Errorf("read history of %s: %w", name, err)
		}
		n, err := strconv.ParseInt(props["total-records"], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("total-records of %s: %w", name, err)
		}
		total += n
	}
	return total, nil
}

// waitCommitted waits until every table of the pipeline has committed a
// position after marker (the marker transaction touches every table, so
// this is when all changes up to it are readable), polling every 50 ms.
// It returns when that was first seen.
func waitCommitted(ctx context.Context, d *pipelineDir, tables []string, decode func(string) (pos, error), p *floeProc, marker pos, timeout time.Duration) (time.Time, error) {
	cat, err := openLake(ctx, d)
	if err != nil {
		return time.Time{}, err
	}
	defer cat.Close()
	var open []*lakewriter.Table
	for _, name := range tables {
		t, err := loadLakeTable(ctx, cat, name)
		if err != nil {
			return time.Time{}, err
		}
		open = append(open, t)
	}
	deadline := time.Now().Add(timeout)
	for {
		done := 0
		for _, t := range open {
			at, err := committedPos(ctx, t, d.name, decode)
			if err != nil {
				return time.Time{}, fmt.Errorf("read position of %s: %w", t.Ident(), err)
			}
			if at <= marker {
				break
			}
			done++
		}
		if done == len(open) {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("floe did not commit past the marker within %s", timeout)
		}
		select {
		case <-p.Exited:
			return time.Time{}, fmt.Errorf("floe exited before committing past the marker: %v", p.Err)
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
