package schema

import (
	"math/rand/v2"
	"reflect"
	"testing"
)

// scanLikeDecode fails t unless ScanRow accepts exactly the encodings
// DecodeRow accepts, with the same error, and every value it returns
// boxes to DecodeRow's value of the same Go type, bit for bit.
func scanLikeDecode(t *testing.T, tab *Table, b []byte) bool {
	t.Helper()
	want, werr := DecodeRow(tab, b)
	got, gerr := ScanRow(tab, b, nil)
	if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
		t.Fatalf("encoding %x: ScanRow error %v, DecodeRow error %v", b, gerr, werr)
	}
	if werr != nil {
		if len(got) != 0 {
			t.Fatalf("encoding %x: ScanRow failed but returned %d values", b, len(got))
		}
		return false
	}
	if len(got) != len(want) {
		t.Fatalf("encoding %x: ScanRow returned %d values, DecodeRow %d", b, len(got), len(want))
	}
	for i, v := range got {
		boxed := v.Box()
		if reflect.TypeOf(boxed) != reflect.TypeOf(want[i]) || !reflect.DeepEqual(boxed, want[i]) && !sameValue(boxed, want[i]) {
			t.Fatalf("encoding %x: column %s: ScanRow's value boxes to %#v, DecodeRow gives %#v", b, tab.Columns[i].Name, boxed, want[i])
		}
	}
	return true
}

// TestScanRowLikeDecodeRow checks ScanRow against DecodeRow on every
// canonical type (allTypesRow), on rows of NULLs, and on thousands of
// truncated and corrupted encodings of them.
func TestScanRowLikeDecodeRow(t *testing.T) {
	tab := allTypesTable()
	good, err := AppendRow(nil, tab, allTypesRow())
	if err != nil {
		t.Fatal(err)
	}
	nulls, err := AppendRow(nil, tab, make(Row, len(tab.Columns)))
	if err != nil {
		t.Fatal(err)
	}
	if !scanLikeDecode(t, tab, good) || !scanLikeDecode(t, tab, nulls) {
		t.Fatal("a valid encoding was refused")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	accepted := 0
	for _, base := range [][]byte{good, nulls} {
		for n := range len(base) {
			scanLikeDecode(t, tab, base[:n])
		}
		for range 5000 {
			b := append([]byte{}, base...)
			for range 1 + rng.IntN(3) {
				b[rng.IntN(len(b))] = byte(rng.Uint32())
			}
			if scanLikeDecode(t, tab, b) {
				accepted++
			}
		}
	}
	if accepted == 0 {
		t.Fatal("no corrupted encoding decoded: the comparison of accepted values never ran")
	}
}

// TestScanRowViews: strings and byte slices are views into the encoding
// (nothing copied), and dst is reused when it is large enough.
func TestScanRowViews(t *testing.T) {
	tab := &Table{Columns: []Column{{Name: "s", Type: allTypesTable().Columns[7].Type}, {Name: "bin", Type: allTypesTable().Columns[8].Type}}}
	b, err := AppendRow(nil, tab, Row{"abc", []byte{1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]RawValue, 0, 4)
	got, err := ScanRow(tab, b, dst)
	if err != nil {
		t.Fatal(err)
	}
	if &got[:1][0] != &dst[:1][0] {
		t.Error("ScanRow did not reuse dst")
	}
	if got[0].Kind != RawString || string(got[0].Bytes) != "abc" || got[1].Kind != RawBinary || string(got[1].Bytes) != "\x01\x02" {
		t.Fatalf("values %+v", got)
	}
	b[4] = 'X' // version, count, tag, length, then "abc"
	if string(got[0].Bytes) != "Xbc" {
		t.Errorf("string value %q is not a view into the encoding", got[0].Bytes)
	}
}
