package transform

import (
	"fmt"
	"testing"

	"github.com/floe-cdc/floe/capture"
)

// BenchmarkBufferApply applies updates in upsert mode over a key space
// smaller than the changes (keys repeat within the checkpoint, as a hot
// table's do) and over one as large (every key new): allocations per
// change are what it is for.
func BenchmarkBufferApply(b *testing.B) {
	for _, keys := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			changes := make([]capture.Change, 100_000)
			for i := range changes {
				changes[i] = upd(int64(i%keys), fmt.Sprintf("name %d", i), "a body of some length")
			}
			opts := BufferOptions{Layout: SinkLayout(src, Upsert), Mode: Upsert, SpillDir: b.TempDir(), Table: "lake.t"}
			meta := Meta{Pos: "p", CommitMicros: 1000}
			b.ReportAllocs()
			for b.Loop() {
				buf, err := NewBuffer(opts)
				if err != nil {
					b.Fatal(err)
				}
				for i, ch := range changes {
					meta.Seq = int64(i)
					if err := buf.Apply(ch, meta); err != nil {
						b.Fatal(err)
					}
				}
				if err := buf.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
