package lakewriter

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkCommit measures upsert commit throughput: each iteration
// commits 100k new rows plus an equality delete of 10k keys.
func BenchmarkCommit(b *testing.B) {
	ctx := context.Background()
	c, _ := openTestCatalog(b)
	tbl := ensureSimple(b, c, "bench")
	const rows = 100_000
	var next int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		from := next
		next += rows
		keys := make([]int64, 0, 10_000)
		for k := from - 10_000; k < from && k >= 0; k++ {
			keys = append(keys, k)
		}
		_, err := tbl.Commit(ctx, Commit{
			Rows: genRows(from, next), DeleteKeys: keysOf(keys...),
			Props: props(strconv.Itoa(i)), Token: "floe.checkpoint",
		})
		require.NoError(b, err)
	}
	b.ReportMetric(float64(b.N*rows)/b.Elapsed().Seconds(), "rows/s")
}
