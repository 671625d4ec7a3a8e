package transform

import (
	"runtime"
	"strings"
	"testing"

	"github.com/floe-cdc/floe/capture"
)

// TestDeleteKeysDecodeOnlyKeys: the delete keys of rows carrying large
// values are read without copying the values (an equality delete needs
// the key only), whether the rows are in memory or spilled.
func TestDeleteKeysDecodeOnlyKeys(t *testing.T) {
	const rows, size = 4, 8 << 20
	for _, budget := range []int64{0, 1} {
		b := newBuf(t, Upsert, budget)
		value := strings.Repeat("v", size)
		for i := range int64(rows) {
			if err := apply(b, []capture.Change{ins(i, "n", value)}); err != nil {
				t.Fatal(err)
			}
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		n := 0
		for k, err := range b.DeleteKeys() {
			if err != nil {
				t.Fatal(err)
			}
			if len(k) != 1 {
				t.Fatalf("delete key %v is not key-only", k)
			}
			n++
		}
		runtime.ReadMemStats(&after)
		if n != rows {
			t.Fatalf("budget %d: %d delete keys, want %d", budget, n, rows)
		}
		// A spilled buffer reads each entry back from its run (its
		// image's bytes, about 1.5 times the values); the decoded values
		// are what must not be copied again (twice them in all then).
		limit := uint64(1 << 20)
		if budget == 1 {
			limit = uint64(rows*size) * 7 / 4
		}
		if got := after.TotalAlloc - before.TotalAlloc; got > limit {
			t.Fatalf("budget %d: DeleteKeys of %d rows of %d MiB allocated %d MiB, want at most %d MiB", budget, rows, size>>20, got>>20, limit>>20)
		}
	}
}
