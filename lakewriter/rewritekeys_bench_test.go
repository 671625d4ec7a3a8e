package lakewriter

import (
	"fmt"
	"testing"

	"github.com/floe-cdc/floe/schema"
)

// BenchmarkFollowRecorded moves an index of 1M keys, all in rewritten
// files, over a recorded rewrite: the work the first checkpoint after a
// compaction pass does inside the commit lock.
func BenchmarkFollowRecorded(b *testing.B) {
	const n = 1_000_000
	l := simpleLayout()
	keys := make([]string, n)
	for i := range keys {
		keys[i] = string(schema.AppendKeyOf(nil, l, schema.Row{int64(i)}))
	}
	old := make([]*fileRef, 60)
	removed := map[string]bool{}
	for i := range old {
		old[i] = &fileRef{path: fmt.Sprintf("file:///warehouse/bench.db/orders/data/00000-%d-5b9f0c1e-2f7c-4a51-9c7e-0d2f3e4a5b6c-0-00001.parquet", i)}
		removed[old[i].path] = true
	}
	nf := &fileRef{path: "file:///warehouse/bench.db/orders/data/new.parquet"}
	rk := &RewriteKeys{files: map[string]bool{nf.path: true}, locs: make(map[string]rowLoc, n)}
	for i, k := range keys {
		rk.locs[k] = rowLoc{file: nf, pos: int64(i)}
	}
	for b.Loop() {
		b.StopTimer()
		x := &keyIndex{snapshot: 1, budget: &keyBudget{max: 2 * n}, keys: make(map[string]rowLoc, n), files: map[string]bool{}}
		for i, k := range keys {
			x.keys[k] = rowLoc{file: old[i%len(old)], pos: int64(i)}
		}
		b.StartTimer()
		if !x.followRecorded(&landedRewrite{parent: 1, snapshot: 2, removed: removed, keys: rk}) {
			b.Fatal("not followed")
		}
	}
}
