package pgtype

import (
	"testing"

	"github.com/floe-cdc/floe/schema"
)

// typicalRow is one row of an orders-like table as PostgreSQL prints it.
var typicalRow = []struct {
	src  Type
	text string
}{
	{pgType("int8", 20), "1234567890"},
	{pgType("text", 25), "Ada Lovelace"},
	{pgNumeric(12, 2), "12345.67"},
	{pgType("timestamptz", 1184), "2024-01-02 03:04:05.123456+00"},
	{pgType("bool", 16), "t"},
	{pgType("int4", 23), "42"},
	{pgType("uuid", 2950), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
	{pgType("date", 1082), "2024-01-02"},
	{pgType("float8", 701), "3.14159"},
	{pgArray(pgType("text", 25)), `{red,green,"light blue"}`},
}

func BenchmarkDecodeTypicalRow(b *testing.B) {
	decoders := make([]schema.Decoder, len(typicalRow))
	texts := make([][]byte, len(typicalRow))
	for i, c := range typicalRow {
		decoders[i] = mustDecoder(b, mustColumn(b, c.src))
		texts[i] = []byte(c.text)
	}
	row := make(schema.Row, len(typicalRow))
	b.ReportAllocs()
	for b.Loop() {
		for i, d := range decoders {
			v, err := d(texts[i])
			if err != nil {
				b.Fatal(err)
			}
			row[i] = v
		}
	}
}

// TestDecoderAllocations pins the hot path: scalar decoders allocate only
// the interface box of their result.
func TestDecoderAllocations(t *testing.T) {
	for _, c := range typicalRow {
		switch c.src.Name {
		case "text", "_text":
			continue
		}
		d := mustDecoder(t, mustColumn(t, c.src))
		text := []byte(c.text)
		if n := testing.AllocsPerRun(100, func() { _, _ = d(text) }); n > 1 {
			t.Errorf("%s decoder: %v allocations, want at most 1", c.src.Name, n)
		}
	}
}
