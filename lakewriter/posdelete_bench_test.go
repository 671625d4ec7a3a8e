package lakewriter

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/schema"
)

// BenchmarkScanAfterUpserts reads (Scan) a table after many upsert
// checkpoints written with each delete mode, and reports the delete files
// the table holds and the time its checkpoints took. Updates hit keys
// uniformly ("uniform": every data file is touched by every checkpoint,
// the worst case for file-scoped deletes) or the newest 2,000 keys
// ("recent"). go test -run '^$' -bench ScanAfterUpserts -benchtime 5x
// ./lakewriter
func BenchmarkScanAfterUpserts(b *testing.B) {
	for _, tc := range []struct{ mode, keys string }{
		{DeleteModeEquality, "uniform"}, {DeleteModeAuto, "uniform"},
		{DeleteModeEquality, "recent"}, {DeleteModeAuto, "recent"},
	} {
		mode := tc.mode
		b.Run(tc.mode+"/"+tc.keys, func(b *testing.B) {
			ctx := context.Background()
			dir := b.TempDir()
			c, err := Open(ctx, Options{
				URI: "sqlite://" + filepath.Join(dir, "catalog.db"), Warehouse: filepath.Join(dir, "warehouse"),
				DeleteMode: mode, Logger: slog.New(slog.DiscardHandler),
			})
			require.NoError(b, err)
			defer c.Close()
			tbl := ensureSimple(b, c, "bench")
			const rows, checkpoints, updates, inserts = 20_000, 60, 200, 20
			initial := make([]schema.Row, rows)
			for i := range initial {
				initial[i] = simpleRow(int64(i), "v0")
			}
			_, err = tbl.Commit(ctx, Commit{Rows: seqOf(initial...), Props: props("0"), Token: "floe.checkpoint"})
			require.NoError(b, err)
			rng := rand.New(rand.NewPCG(1, 2))
			next := int64(rows)
			start := time.Now()
			for cp := 1; cp <= checkpoints; cp++ {
				seen := map[int64]bool{}
				var changed []schema.Row
				var keys []int64
				for len(keys) < updates {
					k := rng.Int64N(next)
					if tc.keys == "recent" {
						k = next - 1 - rng.Int64N(2000)
					}
					if !seen[k] {
						seen[k] = true
						keys = append(keys, k)
						changed = append(changed, simpleRow(k, fmt.Sprint("v", cp)))
					}
				}
				for range inserts {
					keys = append(keys, next)
					changed = append(changed, simpleRow(next, "new"))
					next++
				}
				_, err := tbl.Commit(ctx, Commit{Rows: seqOf(changed...), DeleteKeys: keysOf(keys...),
					Props: props(fmt.Sprint(cp)), Token: "floe.checkpoint"})
				require.NoError(b, err)
			}
			commitTime := time.Since(start)
			pos, eq := liveDeletes(b, tbl)
			data, _, err := liveFiles(ctx, tbl.current())
			require.NoError(b, err)
			for b.Loop() {
				n := 0
				require.NoError(b, tbl.Scan(ctx, func(schema.Row) error { n++; return nil }))
				require.Equal(b, int(next), n)
			}
			b.ReportMetric(float64(len(data)), "data-files")
			b.ReportMetric(float64(len(pos)), "pos-delete-files")
			b.ReportMetric(float64(len(eq)), "eq-delete-files")
			b.ReportMetric(commitTime.Seconds()/checkpoints*1000, "ms/checkpoint")
		})
	}
}
