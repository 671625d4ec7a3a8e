package transform

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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

// TestMergeHoldsOneLargeValue: merging runs whose records carry large
// values reads each value when it is written out, so the merge holds about
// one of them, not the head value of every run.
func TestMergeHoldsOneLargeValue(t *testing.T) {
	const runs, size = 16, 8 << 20
	s := runSet{dir: t.TempDir(), seed: maphash.MakeSeed(), combine: combineEntries}
	defer s.reset()
	for i := range runs {
		val := bytes.Repeat([]byte{byte(i)}, size)
		err := s.add(1, func(add func(string, []byte) error) error { return add(fmt.Sprintf("k%02d", i), val) })
		if err != nil {
			t.Fatal(err)
		}
	}
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	// The live heap each collection found (not the heap's total, which
	// also counts unswept garbage and grows with the machine's load).
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	read := func() int64 { metrics.Read(sample); return int64(sample[0].Value.Uint64()) }
	base := read()
	var peak atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			peak.Store(max(peak.Load(), read()-base))
			if len(s.runs) == 1 {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	if err := s.merge(); err != nil {
		t.Fatal(err)
	}
	<-done
	t.Logf("heap grew by %d MiB at most merging %d runs of one %d MiB value", peak.Load()>>20, runs, size>>20)
	if peak.Load() > 6*size {
		t.Fatalf("merging %d runs of one %d MiB value grew the heap by %d MiB: the merge holds every run's value", runs, size>>20, peak.Load()>>20)
	}
	n := 0
	err := s.scan(func(key string, val []byte) error {
		if want := fmt.Sprintf("k%02d", n); key != want || len(val) != size || val[0] != byte(n) {
			return fmt.Errorf("record %d: key %s, %d bytes; want %s", n, key, len(val), want)
		}
		n++
		return nil
	})
	if err != nil || n != runs {
		t.Fatalf("after the merge: %d records, %v", n, err)
	}
}
