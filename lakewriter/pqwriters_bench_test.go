package lakewriter

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	aparquet "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/iceberg-go"
	"github.com/parquet-go/parquet-go"
	pcompress "github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/uncompressed"
	pzstd "github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/schema"
)

// byteCounter counts the bytes a Parquet writer produces.
type byteCounter struct{ n int64 }

func (w *byteCounter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// pqgoSchema is the parquet-go schema of an Iceberg schema (the types of
// ordersLayout only), with field ids, and the position in the row of each
// leaf column in parquet-go's (name-sorted) column order.
func pqgoSchema(sc *iceberg.Schema) (*parquet.Schema, []int, []iceberg.NestedField) {
	g := parquet.Group{}
	for _, f := range sc.Fields() {
		var n parquet.Node
		switch t := f.Type.(type) {
		case iceberg.Int64Type:
			n = parquet.Leaf(parquet.Int64Type)
		case iceberg.Int32Type:
			n = parquet.Leaf(parquet.Int32Type)
		case iceberg.StringType:
			n = parquet.String()
		case iceberg.DecimalType:
			n = parquet.Decimal(t.Scale(), t.Precision(), parquet.Int64Type)
		case iceberg.TimestampTzType:
			n = parquet.TimestampAdjusted(parquet.Microsecond, true)
		case iceberg.TimestampType:
			n = parquet.TimestampAdjusted(parquet.Microsecond, false)
		case iceberg.UUIDType:
			n = parquet.UUID()
		default:
			panic(fmt.Sprintf("type %s", f.Type))
		}
		if f.Required {
			n = parquet.Required(n)
		} else {
			n = parquet.Optional(n)
		}
		g[f.Name] = parquet.FieldID(n, f.ID)
	}
	s := parquet.NewSchema("table", g)
	byName := map[string]int{}
	for i, f := range sc.Fields() {
		byName[f.Name] = i
	}
	var pos []int
	var fields []iceberg.NestedField
	for _, path := range s.Columns() {
		i := byName[path[0]]
		pos = append(pos, i)
		fields = append(fields, sc.Fields()[i])
	}
	return s, pos, fields
}

// pqgoRow appends r as a parquet-go row in column order.
func pqgoRow(dst parquet.Row, r schema.Row, pos []int, fields []iceberg.NestedField) parquet.Row {
	for c, i := range pos {
		v := r[i]
		f := fields[c]
		def := 1
		if f.Required {
			def = 0
		}
		if v == nil {
			dst = append(dst, parquet.NullValue().Level(0, 0, c))
			continue
		}
		var pv parquet.Value
		switch x := v.(type) {
		case int64:
			pv = parquet.Int64Value(x)
		case int32:
			pv = parquet.Int32Value(x)
		case string:
			pv = parquet.ByteArrayValue(unsafeBytes(x))
		case decimal128.Num:
			pv = parquet.Int64Value(int64(x.LowBits()))
		case [16]byte:
			pv = parquet.FixedLenByteArrayValue(x[:])
		default:
			panic(fmt.Sprintf("value %T", v))
		}
		dst = append(dst, pv.Level(0, def, c))
	}
	return dst
}

func unsafeBytes(s string) []byte { return []byte(s) }

// BenchmarkParquetWriters compares arrow-go's Parquet writer (Floe's
// path: rows -> Arrow builders -> pqarrow) with parquet-go's (rows ->
// parquet.Row -> parquet.Writer) on the benchmark's order rows, both
// with zstd level 1, no dictionary, data page v2: CPU per row and bytes.
func BenchmarkParquetWriters(b *testing.B) {
	const rows = 200_000
	data := orderRows(rows)
	l := ordersLayout()
	sc := testSchemaOf(b, l)
	b.Run("arrow", func(b *testing.B) {
		var size int64
		cpu0 := cpuTime()
		b.ResetTimer()
		for range b.N {
			enc := rowOrderEncoder(b, sc, len(l.Columns))
			props := aparquet.NewWriterProperties(aparquet.WithCompression(benchArrowCodec),
				aparquet.WithCompressionLevel(1), aparquet.WithDataPageVersion(aparquet.DataPageV2),
				aparquet.WithDictionaryDefault(false), aparquet.WithMaxRowGroupLength(1<<20))
			cw := &byteCounter{}
			w, err := pqarrow.NewFileWriter(enc.schema, cw, props, pqarrow.DefaultWriterProps())
			require.NoError(b, err)
			for i, r := range data {
				require.NoError(b, enc.append(r))
				if (i+1)%rowsPerBatchBench == 0 || i == len(data)-1 {
					rec := enc.flush()
					require.NoError(b, w.WriteBuffered(rec))
					rec.Release()
				}
			}
			require.NoError(b, w.Close())
			enc.release()
			size = cw.n
		}
		b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N*rows), "cpu-ns/row")
		b.ReportMetric(float64(size)/rows, "B/row")
	})
	b.Run("parquet-go", func(b *testing.B) {
		var size int64
		cpu0 := cpuTime()
		b.ResetTimer()
		for range b.N {
			s, pos, fields := pqgoSchema(sc)
			cw := &byteCounter{}
			w := parquet.NewWriter(cw, s, parquet.Compression(benchPqgoCodec),
				parquet.DataPageVersion(2), parquet.MaxRowsPerRowGroup(1<<20))
			batch := make([]parquet.Row, 0, 1024)
			buf := make([]parquet.Value, 0, 1024*len(pos))
			for i, r := range data {
				start := len(buf)
				buf = pqgoRow(buf, r, pos, fields)
				batch = append(batch, buf[start:len(buf):len(buf)])
				if len(batch) == cap(batch) || i == len(data)-1 {
					_, err := w.WriteRows(batch)
					require.NoError(b, err)
					batch, buf = batch[:0], buf[:0]
				}
			}
			require.NoError(b, w.Close())
			size = cw.n
		}
		b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N*rows), "cpu-ns/row")
		b.ReportMetric(float64(size)/rows, "B/row")
	})
}

// TestParquetGoFileReadByArrow checks that the parquet-go file of the
// benchmark is the file Floe's own writer would give a reader: arrow-go
// reads back every value (NULLs included) through lakewriter's readers,
// and every column carries its Iceberg field id.
func TestParquetGoFileReadByArrow(t *testing.T) {
	l := ordersLayout()
	sc := testSchemaOf(t, l)
	s, pos, fields := pqgoSchema(sc)
	var out bytes.Buffer
	w := parquet.NewWriter(&out, s, parquet.Compression(&pzstd.Codec{Level: pzstd.SpeedFastest}), parquet.DataPageVersion(2))
	var want []schema.Row
	var rows []parquet.Row
	for i := range 1000 {
		r := orderRow(int64(i + 1))
		if i%10 == 0 {
			r[8] = nil // a NULL comment
		}
		want = append(want, r)
		rows = append(rows, pqgoRow(nil, r, pos, fields))
	}
	_, err := w.WriteRows(rows)
	require.NoError(t, err)
	require.NoError(t, w.Close())

	rd, err := file.NewParquetReader(bytes.NewReader(out.Bytes()))
	require.NoError(t, err)
	fr, err := pqarrow.NewFileReader(rd, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	require.NoError(t, err)
	tbl, err := fr.ReadTable(context.Background())
	require.NoError(t, err)
	defer tbl.Release()
	require.EqualValues(t, len(want), tbl.NumRows())

	for j, f := range sc.Fields() {
		idx := tbl.Schema().FieldIndices(f.Name)
		require.Len(t, idx, 1, "column %s", f.Name)
		field := tbl.Schema().Field(idx[0])
		id, ok := field.Metadata.GetValue("PARQUET:field_id")
		require.True(t, ok, "column %s has no field id", f.Name)
		require.Equal(t, fmt.Sprint(f.ID), id, "field id of %s", f.Name)
		chunks := tbl.Column(idx[0]).Data().Chunks()
		require.Len(t, chunks, 1, "column %s", f.Name)
		read, err := newReader(chunks[0], l.Columns[j].Type)
		require.NoError(t, err, "column %s", f.Name)
		for i, r := range want {
			require.Equal(t, r[j], read(i), "row %d column %s", i, f.Name)
		}
	}
}

// rowOrderEncoder is Floe's Arrow encoder of rows whose values are in
// the schema's column order.
func rowOrderEncoder(tb testing.TB, sc *iceberg.Schema, columns int) *encoder {
	pos := make([]int, columns)
	for i := range pos {
		pos[i] = i
	}
	enc, err := newEncoder(sc, pos, columns)
	require.NoError(tb, err)
	return enc
}

func testSchemaOf(tb testing.TB, l *schema.Table) *iceberg.Schema {
	sc, err := icebergSchema(l, l.Key)
	require.NoError(tb, err)
	return sc
}

var (
	benchArrowCodec                 = compress.Codecs.Zstd
	benchPqgoCodec  pcompress.Codec = &pzstd.Codec{Level: pzstd.SpeedFastest}
)

func init() {
	if os.Getenv("FLOE_BENCH_CODEC") == "none" {
		benchArrowCodec = compress.Codecs.Uncompressed
		benchPqgoCodec = &uncompressed.Codec{}
	}
}

// BenchmarkRowConversions measures only the conversion of rows into each
// writer's input: Arrow builders (Floe's encoder) or parquet.Row values.
func BenchmarkRowConversions(b *testing.B) {
	const rows = 200_000
	data := orderRows(rows)
	l := ordersLayout()
	sc := testSchemaOf(b, l)
	b.Run("arrow-encoder", func(b *testing.B) {
		cpu0 := cpuTime()
		for range b.N {
			enc := rowOrderEncoder(b, sc, len(l.Columns))
			for i, r := range data {
				require.NoError(b, enc.append(r))
				if (i+1)%rowsPerBatchBench == 0 || i == len(data)-1 {
					enc.flush().Release()
				}
			}
			enc.release()
		}
		b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N*rows), "cpu-ns/row")
	})
	b.Run("parquet-go-rows", func(b *testing.B) {
		cpu0 := cpuTime()
		_, pos, fields := pqgoSchema(sc)
		buf := make([]parquet.Value, 0, 1024*len(pos))
		for range b.N {
			for i, r := range data {
				buf = pqgoRow(buf, r, pos, fields)
				if i%1024 == 1023 {
					buf = buf[:0]
				}
			}
		}
		b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N*rows), "cpu-ns/row")
	})
}
