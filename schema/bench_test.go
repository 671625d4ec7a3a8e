package schema

import "testing"

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
