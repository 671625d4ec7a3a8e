package schema

import (
	"testing"

	"github.com/apache/iceberg-go"
)

func BenchmarkAppendDecodeRow(b *testing.B) {
	tab, r := allTypesTable(), allTypesRow()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		buf, err = AppendRow(buf[:0], tab, r)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := DecodeRow(tab, buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHashRow(b *testing.B) {
	tab, r := allTypesTable(), allTypesRow()
	cols := make([]int, len(tab.Columns))
	for i := range cols {
		cols[i] = i
	}
	b.ReportAllocs()
	for b.Loop() {
		HashRow(tab, r, cols)
	}
}

// BenchmarkDecodeRow measures decoding alone: the streaming path decodes
// every queued row (its varints are most of the work for integer columns).
func BenchmarkDecodeRow(b *testing.B) {
	tab, r := allTypesTable(), allTypesRow()
	buf, err := AppendRow(nil, tab, r)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeRow(tab, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeVarints decodes a column of 1000 int64s of every width
// without copying them out: nearly all of its time is the row decoder's
// varint reads.
func BenchmarkDecodeVarints(b *testing.B) {
	tab := &Table{Columns: []Column{{Name: "l", Type: &iceberg.ListType{Element: iceberg.PrimitiveTypes.Int64}, Nullable: true}}}
	vals := make([]any, 1000)
	for i := range vals {
		vals[i] = int64(i*i*i*i*i*i) - int64(i)
	}
	buf, err := AppendRow(nil, tab, Row{vals})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := decodeRow(tab, buf, []bool{false}, nil); err != nil {
			b.Fatal(err)
		}
	}
}
