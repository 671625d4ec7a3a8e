package lakewriter

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"syscall"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/schema"
)

// ordersLayout is the benchmark's orders table (cmd/floe-bench, 40% of its
// rows) as Floe writes it in upsert mode, metadata columns included.
func ordersLayout() *schema.Table {
	return &schema.Table{Columns: []schema.Column{
		{Name: "id", Type: iceberg.PrimitiveTypes.Int64},
		{Name: "customer_id", Type: iceberg.PrimitiveTypes.Int64},
		{Name: "status", Type: iceberg.PrimitiveTypes.String, Nullable: true},
		{Name: "amount", Type: iceberg.DecimalTypeOf(12, 2), Nullable: true},
		{Name: "qty", Type: iceberg.PrimitiveTypes.Int32, Nullable: true},
		{Name: "placed_at", Type: iceberg.PrimitiveTypes.TimestampTz, Nullable: true},
		{Name: "shipped_at", Type: iceberg.PrimitiveTypes.Timestamp, Nullable: true},
		{Name: "ref", Type: iceberg.PrimitiveTypes.UUID, Nullable: true},
		{Name: "comment", Type: iceberg.PrimitiveTypes.String, Nullable: true},
		{Name: "_floe_op", Type: iceberg.PrimitiveTypes.String},
		{Name: "_floe_ts", Type: iceberg.PrimitiveTypes.TimestampTz},
		{Name: "_floe_pos", Type: iceberg.PrimitiveTypes.String},
		{Name: "_floe_seq", Type: iceberg.PrimitiveTypes.Int64},
	}, Key: []int{0}}
}

// orderRow is row g as the benchmark generates it (md5-derived uuid and
// comment, as in cmd/floe-bench/pg.go), read by a snapshot chunk.
func orderRow(g int64) schema.Row {
	sum := md5.Sum([]byte(fmt.Sprint(g)))
	sum7 := md5.Sum([]byte(fmt.Sprint(g * 7)))
	return schema.Row{
		g, 1 + g%500000, []string{"new", "paid", "shipped", "done"}[g%4], decimal128.FromI64(g % 99991 * 10),
		int32(1 + g%7), int64(1609459200_000000 + g*11_000000), int64(1609545600_000000 + g*13_000000),
		[16]byte(sum), "order " + hex.EncodeToString(sum7[:]),
		"r", int64(1732950000_000000), "pg.v1:0/47A0CC0", g % 50000,
	}
}

// orderRows are rows 1..n of the benchmark's orders table (orderRow).
func orderRows(n int) []schema.Row {
	data := make([]schema.Row, n)
	for i := range data {
		data[i] = orderRow(int64(i + 1))
	}
	return data
}

// BenchmarkCodec compares Parquet codecs on benchmark-shaped rows through
// the snapshot path (RowEncoder -> DataWriter): rows/s and bytes a row.
// Run: go test -run '^$' -bench Codec -benchtime 3x ./lakewriter/
func BenchmarkCodec(b *testing.B) {
	const rows = 200_000
	data := orderRows(rows)
	for _, codec := range []struct{ name, codec, level string }{
		{"zstd-default", "zstd", ""}, {"zstd-1", "zstd", "1"}, {"snappy", "snappy", ""}, {"uncompressed", "uncompressed", ""},
	} {
		b.Run(codec.name, func(b *testing.B) {
			ctx := context.Background()
			c, _ := openTestCatalog(b)
			l := ordersLayout()
			tbl, err := c.EnsureTable(ctx, Ident{Namespace: "db", Name: "orders"}, l, l.Key)
			require.NoError(b, err)
			require.NoError(b, tbl.Maintain(ctx, func(ctx context.Context, it *table.Table) (*table.Table, error) {
				p := iceberg.Properties{table.ParquetCompressionKey: codec.codec}
				if codec.level != "" {
					p[table.ParquetCompressionLevelKey] = codec.level
				}
				tx := it.NewTransaction()
				if err := tx.SetProperties(p); err != nil {
					return nil, err
				}
				return tx.Commit(ctx)
			}))
			var size int64
			cpu0 := cpuTime()
			b.ResetTimer()
			for range b.N {
				enc, err := tbl.NewRowEncoder()
				require.NoError(b, err)
				w, err := tbl.NewDataWriter(ctx)
				require.NoError(b, err)
				for i, r := range data {
					require.NoError(b, enc.Append(r))
					if (i+1)%rowsPerBatchBench == 0 || i == len(data)-1 {
						rb, err := enc.Batch()
						require.NoError(b, err)
						require.NoError(b, w.Write(rb))
					}
				}
				wd, err := w.Close(ctx)
				require.NoError(b, err)
				enc.Release()
				size = 0
				for _, f := range wd.files {
					size += f.FileSizeBytes()
				}
				w.Abort(ctx) // drop the files: only their size matters
			}
			// CPU time is what a shared machine's noise spares.
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N*rows), "cpu-ns/row")
			b.ReportMetric(float64(b.N*rows)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(size)/rows, "B/row")
		})
	}
}

const rowsPerBatchBench = 64 * 1024

// cpuTime is the process's user+system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
