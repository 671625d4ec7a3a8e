package transform

import (
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestBufferSpill applies 300k updates to 100k keys (with unchanged TOAST
// values on most of them) under a 1 MiB budget: the images must spill,
// the heap must stay near the key index, and the rows must be exactly the
// last image of each key.
func TestBufferSpill(t *testing.T) {
	if testing.Short() {
		t.Skip("writes ~150 MB of spill")
	}
	const (
		keys    = 100_000
		updates = 300_000
		budget  = 1 << 20
	)
	payload := strings.Repeat("p", 400) // ~42 MB of live images if kept in memory
	dir := t.TempDir()
	layout := SinkLayout(src, Upsert)
	b, err := NewBuffer(BufferOptions{Layout: layout, Mode: Upsert, SpillDir: dir, MemoryBudget: budget, Table: "lake.t"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	before := heapAlloc()
	ch := capture.Change{Table: tid, Op: capture.OpUpdate, Schema: src, After: make(schema.Row, 3)}
	for i := range updates {
		id := int64(i % keys)
		ch.Op, ch.After[0], ch.After[1], ch.After[2] = capture.OpUpdate, id, "v"+itoa(i), schema.Unchanged
		if i < keys {
			ch.Op, ch.After[2] = capture.OpInsert, payload+itoa(i) // first image per key is complete
		}
		if err := b.Apply(ch, Meta{Pos: "pg.v1:0/1", CommitMicros: 1, Seq: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	grown := int64(heapAlloc()) - int64(before)
	t.Logf("heap grew %d KiB for %d keys; spilled %d MiB; in memory %d KiB", grown>>10, keys, b.SpilledBytes()>>20, b.MemoryBytes()>>10)

	if b.SpilledBytes() < 100<<20 {
		t.Fatalf("spilled only %d bytes", b.SpilledBytes())
	}
	if b.MemoryBytes() > budget {
		t.Fatalf("%d bytes of images in memory, budget %d", b.MemoryBytes(), budget)
	}
	// The key index costs ~150 bytes a key; the images alone would be 42 MB.
	if limit := int64(keys*200 + budget); grown > limit {
		t.Fatalf("heap grew by %d bytes, want < %d", grown, limit)
	}
	if len(b.PendingKeys()) != 0 {
		t.Fatal("pending keys although every key had a complete first image")
	}
	if b.Len() != keys || b.NumDeleteKeys() != keys {
		t.Fatalf("Len=%d NumDeleteKeys=%d, want %d", b.Len(), b.NumDeleteKeys(), keys)
	}

	seen := make([]bool, keys)
	n := 0
	for r, err := range b.Rows() {
		if err != nil {
			t.Fatal(err)
		}
		id := r[0].(int64)
		last := int(id) + (updates/keys-1)*keys // the last update of id
		if seen[id] {
			t.Fatalf("key %d yielded twice", id)
		}
		seen[id] = true
		if r[1] != "v"+itoa(last) || r[2] != payload+itoa(int(id)) || r[3] != "u" || r[6] != int64(last) {
			t.Fatalf("key %d: got %v, want the image of update %d", id, r[:4], last)
		}
		n++
	}
	if n != keys {
		t.Fatalf("%d rows, want %d", n, keys)
	}

	files, _ := os.ReadDir(dir)
	if len(files) != 1 {
		t.Fatalf("spill dir holds %d files, want 1", len(files))
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if files, _ := os.ReadDir(dir); len(files) != 0 {
		t.Fatalf("spill file left after Close: %v", files)
	}
	if err := b.Apply(ch, Meta{}); err == nil {
		t.Fatal("apply after close succeeded")
	}
	for _, err := range b.Rows() {
		if err == nil {
			t.Fatal("rows after close yielded no error")
		}
	}
}

func itoa(i int) string {
	var buf [20]byte
	p := len(buf)
	for {
		p--
		buf[p] = byte('0' + i%10)
		if i /= 10; i == 0 {
			return string(buf[p:])
		}
	}
}

// TestBufferSpillChangelog checks that changelog rows read back from the
// spill file in order, with pending values resolved after spilling.
func TestBufferSpillChangelog(t *testing.T) {
	b := newBuf(t, Changelog, 1024)
	var changes []capture.Change
	for i := range 500 {
		changes = append(changes, upd(int64(i%50), "v"+itoa(i), U))
	}
	if err := apply(b, changes); err != nil {
		t.Fatal(err)
	}
	if b.SpilledBytes() == 0 {
		t.Fatal("nothing spilled with a 1 KiB budget")
	}
	if got := len(b.PendingKeys()); got != 50 {
		t.Fatalf("%d pending keys, want 50", got)
	}
	var found []schema.Row
	for i := range 50 {
		found = append(found, schema.Row{int64(i), "old", "T" + itoa(i), "c"})
	}
	if _, err := b.Resolve(icebergRows(b.layout, found...), nil); err != nil {
		t.Fatal(err)
	}
	i := 0
	for r, err := range b.Rows() {
		if err != nil {
			t.Fatal(err)
		}
		if want := []any{int64(i % 50), "v" + itoa(i), "T" + itoa(i%50)}; r[0] != want[0] || r[1] != want[1] || r[2] != want[2] || r[6] != int64(i) {
			t.Fatalf("row %d = %v, want %v", i, r, want)
		}
		i++
	}
	if i != 500 {
		t.Fatalf("%d rows, want 500", i)
	}
}
