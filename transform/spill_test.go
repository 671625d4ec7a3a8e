package transform

import (
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"regexp"
	"runtime"
	"slices"
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
// values on most of them, filled from images already spilled) under a
// 1 MiB budget: the images and the key index must spill, the heap must
// stay near the budget (a key index in memory alone would cost ~15 MB),
// and the rows must be exactly the last image of each key.
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
	// The budget, plus the runs' filters and indexes (~2 bytes a key).
	if limit := int64(budget + keys*4); b.MemoryBytes() > limit {
		t.Fatalf("%d bytes of buffered state in memory, want <= %d", b.MemoryBytes(), limit)
	}
	if limit := int64(2*budget + keys*8); grown > limit {
		t.Fatalf("heap grew by %d bytes, want < %d", grown, limit)
	}
	if len(b.PendingKeys()) != 0 {
		t.Fatal("pending keys although every key had a complete first image")
	}
	if b.Len() != keys || b.NumDeleteKeys() != keys {
		t.Fatalf("Len=%d NumDeleteKeys=%d, want %d", b.Len(), b.NumDeleteKeys(), keys)
	}

	requireEncodedLikeRows(t, b)
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
		t.Fatalf("spill dir holds %d files, want 1 (the merged run)", len(files))
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
	requireEncodedLikeRows(t, b)
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

// TestBufferSpillEqualsMemory applies random change streams (inserts,
// updates with and without unchanged TOAST values, key changes, deletes,
// truncates, converging replays) to a buffer that keeps everything in
// memory and to buffers that spill (a budget of one byte: every entry;
// a few hundred bytes: every few entries), then resolves both from the
// same Iceberg and source rows. Every result must be equal: Apply and
// Resolve errors, pending and reread keys, dropped images, rows (upsert:
// as a set; changelog: in order), delete keys and counts.
func TestBufferSpillEqualsMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("creates thousands of spill files")
	}
	for _, mode := range []Mode{Upsert, Changelog} {
		for seed := range uint64(40) {
			rng := rand.New(rand.NewPCG(seed, 7))
			changes := randomChanges(rng, 20+rng.IntN(150))
			converging := rng.IntN(3) == 0
			ref := runStream(t, mode, 64<<20, changes, converging)
			for _, budget := range []int64{1, 300} {
				if budget == 1 && seed%4 != 0 {
					continue // a file per change: slow
				}
				got := runStream(t, mode, budget, changes, converging)
				if !reflect.DeepEqual(got, ref) {
					t.Fatalf("%s seed %d budget %d:\n got %+v\nwant %+v", mode, seed, budget, got, ref)
				}
			}
		}
	}
}

// streamResult is everything a Buffer's caller sees after a stream.
type streamResult struct {
	ApplyErr, ResolveErr, RowsErr string
	Pending, Reread               []string
	Dropped, Len, NumDel          int
	Rows, Dels                    []string
	Trunc, Spilled                bool
}

func runStream(t *testing.T, mode Mode, budget int64, changes []capture.Change, converging bool) streamResult {
	t.Helper()
	b := newBuf(t, mode, budget)
	var res streamResult
	for i, ch := range changes {
		m := Meta{Pos: fmt.Sprintf("p%d", i), CommitMicros: int64(i), Seq: int64(i), Converging: converging && i%2 == 0}
		if err := b.Apply(ch, m); err != nil {
			res.ApplyErr = fmt.Sprintf("change %d: %v", i, err)
			return res
		}
	}
	keys := func(rows []schema.Row) []string {
		var out []string
		for _, k := range rows {
			out = append(out, fmt.Sprint(k))
		}
		slices.Sort(out)
		return out
	}
	res.Pending = keys(b.PendingKeys())
	rr, err := b.RereadKeys()
	if err != nil {
		t.Fatal(err)
	}
	res.Reread = keys(rr)
	// Iceberg holds keys 0..29 (not 30..39); the source now holds the
	// even keys only.
	var found, current []schema.Row
	for k := int64(0); k < 40; k++ {
		if k < 30 {
			found = append(found, schema.Row{k, "ice" + itoa(int(k)), "T" + itoa(int(k)), "u"})
		}
		if k%2 == 0 {
			current = append(current, schema.Row{k, "src", "S" + itoa(int(k))})
		}
	}
	res.Dropped, err = b.Resolve(icebergRows(b.layout, found...), reread(b.layout, current...))
	if err != nil {
		// Which unresolvable key is met first depends on the order.
		res.ResolveErr = regexp.MustCompile(`id=\d+`).ReplaceAllString(err.Error(), "id=N")
		res.Dropped = 0
		return res
	}
	requireEncodedLikeRows(t, b)
	requireKeyImagesLikeKeys(t, b)
	for r, err := range b.Rows() {
		if err != nil {
			res.RowsErr = err.Error()
			break
		}
		res.Rows = append(res.Rows, fmt.Sprint(r))
	}
	if mode == Upsert {
		slices.Sort(res.Rows)
	}
	for k, err := range b.DeleteKeys() {
		if err != nil {
			t.Fatal(err)
		}
		res.Dels = append(res.Dels, fmt.Sprint(k))
	}
	slices.Sort(res.Dels)
	res.Len, res.NumDel, res.Trunc = b.Len(), b.NumDeleteKeys(), b.Truncated()
	res.Spilled = budget > 1<<20 || b.SpilledBytes() > 0 // the in-memory one must not, the others must
	return res
}

// randomChanges is a stream over keys 0..39 in which the values the
// source leaves out (unchanged TOAST) can mostly be filled from an earlier
// image, Iceberg or the source; about one stream in ten also has one that
// cannot (a key deleted or truncated earlier), which must fail alike.
func randomChanges(rng *rand.Rand, n int) []capture.Change {
	var out []capture.Change
	// gone: keys deleted in this stream, or every key not alive after a
	// truncate; an unchanged value of such a key has nothing to fill from.
	gone := map[int64]bool{}
	truncated := false
	fillable := func(k int64) bool { return !gone[k] && !(truncated && !aliveAfterTrunc[k]) }
	aliveAfterTrunc = map[int64]bool{}
	key := func() int64 { return int64(rng.IntN(40)) }
	body := func(i int, k int64) any {
		if rng.IntN(3) == 0 && (fillable(k) || rng.IntN(40) == 0) {
			return U
		}
		return "b" + itoa(i)
	}
	alive := func(k int64) {
		delete(gone, k)
		if truncated {
			aliveAfterTrunc[k] = true
		}
	}
	for i := range n {
		k := key()
		switch r := rng.IntN(100); {
		case r < 30:
			out = append(out, ins(k, "n"+itoa(i), "b"+itoa(i)))
			alive(k)
		case r < 60:
			out = append(out, upd(k, "n"+itoa(i), body(i, k)))
			alive(k)
		case r < 70:
			out = append(out, updFull(img(k, "old", "B"+itoa(i)), img(k, "n"+itoa(i), body(i, k))))
			alive(k)
		case r < 80:
			to := key()
			out = append(out, move(k, img(to, "m"+itoa(i), body(i, k))))
			if to != k {
				gone[k] = true
				delete(aliveAfterTrunc, k)
			}
			alive(to)
		case r < 94:
			out = append(out, del(k))
			gone[k] = true
			delete(aliveAfterTrunc, k)
		case r < 95:
			out = append(out, trunc())
			truncated = true
			clear(aliveAfterTrunc)
		default:
			out = append(out, read(k, "r"+itoa(i), strings.Repeat("x", rng.IntN(3000))))
			alive(k)
		}
	}
	return out
}

// aliveAfterTrunc is randomChanges' set of keys with an image after the
// stream's last truncate.
var aliveAfterTrunc map[int64]bool
