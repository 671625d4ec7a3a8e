package lakewriter

import (
	"fmt"
	"testing"

	"github.com/floe-cdc/floe/schema"
)

// BenchmarkFollowRecorded: what the first checkpoint after a compaction
// pass does inside the commit lock for a table of 1M keys, all in
// rewritten files: follow the recorded rewrite and resolve
// resolvePerCommit keys.
func BenchmarkFollowRecorded(b *testing.B) {
	const n = 1_000_000
	l := simpleLayout()
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = schema.AppendKeyOf(nil, l, schema.Row{int64(i)})
	}
	nf := &fileRef{path: "file:///warehouse/bench.db/orders/data/new.parquet"}
	rk := &RewriteKeys{files: map[string]*fileRef{nf.path: nf}, locs: newKeyMap(n)}
	for i, k := range keys {
		if _, err := rk.locs.put(k, rowLoc{file: nf, pos: int64(i)}); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		b.StopTimer()
		old := make([]*fileRef, 60)
		x := &keyIndex{snapshot: 1, budget: &keyBudget{max: 2 * n}, keys: newKeyMap(n), files: map[string]*fileRef{}}
		removed := map[string]bool{}
		for i := range old {
			old[i] = &fileRef{path: fmt.Sprintf("file:///warehouse/bench.db/orders/data/00000-%d-5b9f0c1e-0-00001.parquet", i)}
			x.files[old[i].path] = old[i]
			removed[old[i].path] = true
		}
		for i, k := range keys {
			if _, err := x.keys.put(k, rowLoc{file: old[i%len(old)], pos: int64(i)}); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if !x.followRecorded(&landedRewrite{parent: 1, snapshot: 2, removed: removed, keys: rk}) {
			b.Fatal("not followed")
		}
		if err := x.resolveSome(resolvePerCommit); err != nil {
			b.Fatal(err)
		}
	}
}
