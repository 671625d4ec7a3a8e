package transform

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestSortedKeysInByteOrder: the run order of entries is the bytewise
// order of their keys, also for keys that share their first 8 bytes,
// keys shorter than 8 bytes, and keys that differ only by trailing zero
// bytes (which the 0-padded prefix cannot tell apart).
func TestSortedKeysInByteOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	keys := []string{"", "\x00", "a", "a\x00", "a\x00\x00\x00\x00\x00\x00\x00", "a\x00\x00\x00\x00\x00\x00\x00\x00",
		"abcdefgh", "abcdefgh\x00", "abcdefghi", "abcdefgg\xff", "\xff\xff\xff\xff\xff\xff\xff\xff\xff"}
	for range 2000 {
		var b []byte
		switch rng.IntN(3) {
		case 0: // varint integer keys, as schema.AppendKey writes a BIGINT
			b = binary.AppendVarint([]byte{6}, rng.Int64N(1<<40))
		case 1: // a shared 8-byte prefix, different tails
			b = append([]byte("prefix:\x01"), byte(rng.IntN(256)), byte(rng.IntN(256)))
		default:
			b = make([]byte, rng.IntN(12))
			for i := range b {
				b[i] = byte(rng.IntN(4)) // few values: many equal prefixes
			}
		}
		keys = append(keys, string(b))
	}
	rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	entries := make([]entry, len(keys))
	for i, k := range keys {
		entries[i].key = k
	}
	var got []string
	for _, r := range sortedKeys(entries) {
		got = append(got, entries[r.entry].key)
	}
	want := slices.Clone(keys)
	slices.SortFunc(want, strings.Compare)
	if !slices.Equal(got, want) {
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("position %d: key %q, want %q", i, got[i], want[i])
			}
		}
	}
}

// BenchmarkSortEntries compares sortedKeys with sorting the entries
// themselves by strings.Compare (what flushRun did before), on varint
// keys as a BIGINT key gives.
func BenchmarkSortEntries(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	entries := make([]entry, 100_000)
	for i := range entries {
		entries[i].key = string(binary.AppendVarint([]byte{6}, rng.Int64N(1<<32)))
	}
	b.Run("refs", func(b *testing.B) {
		for b.Loop() {
			sortedKeys(entries)
		}
	})
	b.Run("entries", func(b *testing.B) {
		work := make([]entry, len(entries))
		for b.Loop() {
			copy(work, entries)
			slices.SortFunc(work, func(x, y entry) int { return strings.Compare(x.key, y.key) })
		}
	})
}
