package lakewriter

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestKeyMapMatchesAMap runs random puts, updates and removals (enough
// to rebuild the table, reuse tombstones and compact the arena many
// times) against a Go map and requires the two to hold the same keys and
// locations after every step of a sample, and at the end through get,
// each and keysFrom.
func TestKeyMapMatchesAMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	refs := []*fileRef{{path: "a"}, {path: "b"}, {path: "c"}}
	m := newKeyMap(0)
	model := map[string]rowLoc{}
	keyOf := func() []byte { // short and long keys, some empty
		n := rng.IntN(3000)
		if rng.IntN(50) == 0 {
			return []byte(fmt.Sprintf("long-%0200d", n))
		}
		if n == 0 {
			return []byte{}
		}
		return []byte(fmt.Sprint(n))
	}
	for step := range 200_000 {
		k := keyOf()
		switch op := rng.IntN(10); {
		case op < 6:
			loc := rowLoc{file: refs[rng.IntN(len(refs))], pos: rng.Int64N(1 << 40)}
			added, err := m.put(k, loc)
			require.NoError(t, err)
			_, had := model[string(k)]
			require.Equal(t, !had, added, "step %d: put %q", step, k)
			model[string(k)] = loc
		default:
			_, had := model[string(k)]
			require.Equal(t, had, m.del(k), "step %d: del %q", step, k)
			delete(model, string(k))
		}
		if step%997 == 0 {
			loc, ok := m.get(k)
			want, had := model[string(k)]
			require.Equal(t, had, ok)
			require.Equal(t, want, loc)
		}
	}
	require.Equal(t, len(model), m.len())
	for k, want := range model {
		loc, ok := m.get([]byte(k))
		require.True(t, ok, "%q", k)
		require.Equal(t, want, loc)
	}
	seen := map[string]rowLoc{}
	m.each(func(k []byte, loc rowLoc) bool {
		_, twice := seen[string(k)]
		require.False(t, twice, "%q twice", k)
		seen[string(k)] = loc
		return true
	})
	require.Equal(t, model, seen)
	visited := map[string]bool{}
	for from := 0; from < m.slotCount(); {
		var err error
		from, err = m.keysFrom(from, 7, func(k []byte) error {
			visited[string(k)] = true
			return nil
		})
		require.NoError(t, err)
	}
	require.Len(t, visited, len(model))
	inUse := map[*fileRef]bool{}
	for _, loc := range model {
		inUse[loc.file] = true
	}
	held := 0
	for _, r := range m.refs {
		if r != nil {
			held++
			require.True(t, inUse[r], "%s is held with no key in it", r.path)
		}
	}
	require.Equal(t, len(inUse), held)
}

// TestKeyMapLetsGoOfFiles: once no key points into a file any more, the
// map holds no reference to it (nor to the rewrite's keys it carries).
func TestKeyMapLetsGoOfFiles(t *testing.T) {
	m := newKeyMap(0)
	a, b := &fileRef{path: "a"}, &fileRef{path: "b"}
	for i := range 100 {
		_, err := m.put([]byte(fmt.Sprint(i)), rowLoc{file: a, pos: int64(i)})
		require.NoError(t, err)
	}
	for i := range 100 {
		if i%2 == 0 {
			require.True(t, m.del([]byte(fmt.Sprint(i))))
			continue
		}
		added, err := m.put([]byte(fmt.Sprint(i)), rowLoc{file: b, pos: int64(i)})
		require.NoError(t, err)
		require.False(t, added)
	}
	require.NotContains(t, m.refs, a)
	require.NotContains(t, m.refIx, a)
	_, err := m.put([]byte("x"), rowLoc{file: a, pos: 1}) // reuses the freed entry
	require.NoError(t, err)
	require.Len(t, m.refs, 2)
}

// TestKeyMapDeleteWhileIterating: each may remove the key it is given.
func TestKeyMapDeleteWhileIterating(t *testing.T) {
	m := newKeyMap(0)
	ref := &fileRef{path: "f"}
	for i := range 1000 {
		_, err := m.put([]byte(fmt.Sprint(i)), rowLoc{file: ref, pos: int64(i)})
		require.NoError(t, err)
	}
	m.each(func(k []byte, loc rowLoc) bool {
		if loc.pos%2 == 0 {
			require.True(t, m.del(k))
		}
		return true
	})
	require.Equal(t, 500, m.len())
	for i := range 1000 {
		_, ok := m.get([]byte(fmt.Sprint(i)))
		require.Equal(t, i%2 == 1, ok, "key %d", i)
	}
}

// TestKeyMapIsNotScanned: a map of a million keys is a handful of
// objects without pointers (the slots and the arena), which the garbage
// collector does not scan, and takes less memory than the Go map it
// replaced (a string and a rowLoc per key).
func TestKeyMapIsNotScanned(t *testing.T) {
	const n = 1_000_000
	ref := &fileRef{path: "f"}
	heap := func() runtime.MemStats {
		var s runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&s)
		return s
	}
	before := heap()
	m := newKeyMap(0)
	var k []byte
	for i := range n {
		k = fmt.Appendf(k[:0], "%09d", i)
		if _, err := m.put(k, rowLoc{file: ref, pos: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	after := heap()
	require.Less(t, int64(after.HeapObjects)-int64(before.HeapObjects), int64(1000), "objects for a million keys")
	perKey := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
	runtime.KeepAlive(m)
	m = nil

	before = heap()
	gomap := map[string]rowLoc{}
	for i := range n {
		gomap[fmt.Sprintf("%09d", i)] = rowLoc{file: ref, pos: int64(i)}
	}
	after = heap()
	goPerKey := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
	runtime.KeepAlive(gomap)
	t.Logf("%.1f bytes a key, a Go map %.1f", perKey, goPerKey)
	require.Less(t, perKey, 0.8*goPerKey, "bytes per key")
}
