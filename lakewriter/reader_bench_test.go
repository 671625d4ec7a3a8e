package lakewriter

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
)

// BenchmarkReadColumns reads every value of an int64, an int32 and a
// string column through newReader, as Table.scan does for each row a
// lookup returns.
func BenchmarkReadColumns(b *testing.B) {
	const rows = 4096
	mem := memory.NewGoAllocator()
	i64 := array.NewInt64Builder(mem)
	i32 := array.NewInt32Builder(mem)
	str := array.NewStringBuilder(mem)
	for i := range rows {
		i64.Append(int64(i) << 20)
		i32.Append(int32(i))
		str.Append("order status")
	}
	cols := []struct {
		arr arrow.Array
		typ iceberg.Type
	}{
		{i64.NewArray(), iceberg.PrimitiveTypes.Int64},
		{i32.NewArray(), iceberg.PrimitiveTypes.Int32},
		{str.NewArray(), iceberg.PrimitiveTypes.String},
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, c := range cols {
			r, err := newReader(c.arr, c.typ)
			if err != nil {
				b.Fatal(err)
			}
			for i := range rows {
				_ = r(i)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows*len(cols)), "ns/value")
}

// BenchmarkReadInt64 reads an int64 column of small values (boxing them
// allocates nothing): what is left is the reader's own cost per value.
func BenchmarkReadInt64(b *testing.B) {
	const rows = 4096
	bld := array.NewInt64Builder(memory.NewGoAllocator())
	for i := range rows {
		bld.Append(int64(i % 200))
	}
	arr := bld.NewArray()
	b.ReportAllocs()
	for b.Loop() {
		r, err := newReader(arr, iceberg.PrimitiveTypes.Int64)
		if err != nil {
			b.Fatal(err)
		}
		for i := range rows {
			_ = r(i)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/value")
}
