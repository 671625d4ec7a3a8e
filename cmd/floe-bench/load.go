package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"golang.org/x/sync/errgroup"
)

// idRange is a table's live ids [lo, hi) while the workload runs.
type idRange struct{ lo, hi int64 }

// loadStmt is one statement of the initial data load.
type loadStmt struct{ table, sql string }

// benchTable is what the load and the workload need of a generated
// table; each source renders its own SQL dialect from it.
type benchTable struct {
	name  string
	ddl   string  // column definitions
	gen   string  // SELECT list producing a row from the generator's id column
	set   string  // SET list of an update
	share float64 // of the rows requested
}

// loadPlan sizes each table from rows (at least 1000 each), records its
// id range in ranges, and returns the INSERT ... SELECT statements in
// slices of 500,000 ids; rowsOf(lo, hi) is the source's row generator
// clause for ids lo..hi (generate_series, seq_lo_to_hi).
func loadPlan(tables []benchTable, rows int64, ranges map[string]*idRange, rowsOf func(lo, hi int64) string) ([]loadStmt, int64) {
	var stmts []loadStmt
	var total int64
	for _, t := range tables {
		n := max(int64(math.Round(float64(rows)*t.share)), 1000)
		total += n
		ranges[t.name] = &idRange{lo: 1, hi: n + 1}
		for lo := int64(1); lo <= n; lo += 500_000 {
			hi := min(lo+500_000-1, n)
			stmts = append(stmts, loadStmt{t.name, fmt.Sprintf("INSERT INTO %s SELECT %s FROM %s", t.name, t.gen, rowsOf(lo, hi))})
		}
	}
	return stmts, total
}

// runLoad executes stmts on two workers; open gives each worker its
// executor and a function releasing it.
func runLoad(ctx context.Context, stmts []loadStmt, open func(ctx context.Context) (exec func(ctx context.Context, sql string) error, release func(), err error)) error {
	_, err := runWorkers(ctx, stmts, 2, func(ctx context.Context) (func(context.Context, loadStmt) (int64, error), func(), error) {
		exec, release, err := open(ctx)
		if err != nil {
			return nil, nil, err
		}
		return func(ctx context.Context, s loadStmt) (int64, error) {
			if err := exec(ctx, s.sql); err != nil {
				return 0, fmt.Errorf("load %s: %w", s.table, err)
			}
			return 0, nil
		}, release, nil
	})
	return err
}

// rawChunk is one key range of a raw snapshot read: ids in (lo, hi].
type rawChunk struct {
	table  string
	lo, hi int64
}

// rawChunks splits every table's live ids into ranges of chunkRows ids,
// the shape of floe's chunk queries.
func rawChunks(tables []benchTable, ranges map[string]*idRange, chunkRows int) []rawChunk {
	var chunks []rawChunk
	for _, t := range tables {
		r := ranges[t.name]
		for lo := r.lo - 1; lo < r.hi-1; lo += int64(chunkRows) {
			chunks = append(chunks, rawChunk{t.name, lo, min(lo+int64(chunkRows), r.hi-1)})
		}
	}
	return chunks
}

// runWorkers hands items to n workers and returns the sum of what they
// counted; open gives each worker its function and a release.
func runWorkers[T any](ctx context.Context, items []T, n int, open func(ctx context.Context) (do func(context.Context, T) (int64, error), release func(), err error)) (int64, error) {
	jobs := make(chan T)
	counts := make([]int64, n)
	g, gctx := errgroup.WithContext(ctx)
	for w := range n {
		g.Go(func() error {
			do, release, err := open(gctx)
			if err != nil {
				return err
			}
			defer release()
			for item := range jobs {
				c, err := do(gctx, item)
				if err != nil {
					return err
				}
				counts[w] += c
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(jobs)
		for _, item := range items {
			select {
			case jobs <- item:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return 0, err
	}
	var total int64
	for _, c := range counts {
		total += c
	}
	return total, nil
}

// txnMix is how many rows one workload transaction inserts, updates and
// deletes.
type txnMix struct{ ins, upd, del int64 }

func (m txnMix) changes() int64 { return m.ins + m.upd + m.del }

// workloadMix is the transaction shape for txnChanges changes: the
// default 2:2:1 insert:update:delete, or with updateHeavy 1:8:1 (the
// reads scenario: every update is an equality delete and a new row).
func workloadMix(txnChanges int, updateHeavy bool) txnMix {
	if updateHeavy {
		u := max(int64(txnChanges)*4/5, 2)
		return txnMix{ins: max(u/8, 1), upd: u, del: max(u/8, 1)}
	}
	k := max(int64(txnChanges)*2/5, 2)
	return txnMix{ins: k, upd: k, del: k / 2}
}

// workloadTxn returns the statements of one workload transaction on t:
// delete the m.del oldest rows, insert m.ins new ones, update m.upd live
// ones at a random place. It advances r.
func workloadTxn(t benchTable, r *idRange, rng *rand.Rand, m txnMix, rowsOf func(lo, hi int64) string) (del, ins, upd string) {
	del = fmt.Sprintf("DELETE FROM %s WHERE id >= %d AND id < %d", t.name, r.lo, r.lo+m.del)
	ins = fmt.Sprintf("INSERT INTO %s SELECT %s FROM %s", t.name, t.gen, rowsOf(r.hi, r.hi+m.ins-1))
	r.lo += m.del
	r.hi += m.ins
	a := r.lo + rng.Int64N(max(r.hi-r.lo-m.upd+1, 1))
	upd = fmt.Sprintf("UPDATE %s SET %s WHERE id >= %d AND id < %d", t.name, t.set, a, a+m.upd)
	return del, ins, upd
}

// applyWorkload writes w's changes with exec, one call per transaction,
// and counts them in res: a BigInsert as one INSERT ... SELECT into
// tables[1] (rows generated by rowsOf), otherwise workload transactions
// (txnSQL, see workloadTxn) on tables in turn, paced at w.Rate when set,
// until w's duration or change count is reached or w.Stop is closed. It
// returns when the load started; errors name the transaction.
func applyWorkload(ctx context.Context, w workload, tables []benchTable, ranges map[string]*idRange, rowsOf func(lo, hi int64) string,
	exec func(sql string) error, txnSQL func(t benchTable, m txnMix) string, res *applyResult) (time.Time, error) {
	start := time.Now()
	if w.BigInsert > 0 {
		t := tables[1]
		r := ranges[t.name]
		if err := exec(fmt.Sprintf("INSERT INTO %s SELECT %s FROM %s", t.name, t.gen, rowsOf(r.hi, r.hi+w.BigInsert-1))); err != nil {
			return start, fmt.Errorf("insert %d rows into %s: %w", w.BigInsert, t.name, err)
		}
		r.hi += w.BigInsert
		res.Changes, res.Txns = w.BigInsert, 1
		return start, nil
	}
	mix := workloadMix(w.TxnChanges, w.UpdateHeavy)
	per := mix.changes()
	var every time.Duration
	if w.Rate > 0 {
		every = time.Duration(float64(per) / w.Rate * float64(time.Second))
	}
	for i := 0; ; i++ {
		if w.Duration > 0 && time.Since(start) >= w.Duration || w.Duration <= 0 && res.Changes >= w.Changes || stopped(w.Stop) {
			return start, nil
		}
		if every > 0 {
			if err := sleepUntil(ctx, start.Add(time.Duration(i)*every)); err != nil {
				return start, err
			}
		}
		if err := exec(txnSQL(tables[i%len(tables)], mix)); err != nil {
			return start, fmt.Errorf("workload transaction %d: %w", i, err)
		}
		res.Changes += per
		res.Txns++
	}
}
