package lakewriter

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"math/bits"
)

// keyMap maps encoded keys (schema.AppendKeyOf) to row locations, holding
// no pointer per key: its slots are plain values and the keys' bytes live
// in one arena, so the garbage collector neither scans it nor counts its
// keys as objects. The key index of a table of millions of rows is the
// largest structure Floe keeps; as a Go map[string]rowLoc (a string and a
// *fileRef per key) the collector rescanned all of it in every cycle:
// with 6M keys, garbage collection took 60 % of floe's CPU on the reads
// benchmark (2 cores, streaming at 2,000 changes/s with compaction every
// 15 s), and the map about 100 bytes a key (this one: about 60 for a
// BIGINT key, TestKeyMapIsNotScanned).
//
// It is an open-addressing table with linear probing. A removed key
// leaves a tombstone and its bytes in the arena; both are dropped when
// the table is rebuilt, which put does when live keys and tombstones
// fill three quarters of the slots or removed keys hold half the arena.
// Not safe for concurrent use.
type keyMap struct {
	seed  maphash.Seed
	slots []keySlot // len 0 or a power of two
	arena []byte
	refs  []*fileRef          // keySlot.ref-1 indexes it; nil: free
	uses  []int32             // the slots pointing at each of refs
	free  []uint32            // the free indexes+1 of refs
	refIx map[*fileRef]uint32 // the index+1 of each ref in refs
	live  int                 // keys held
	used  int                 // slots holding a key or a tombstone
	dead  int                 // arena bytes of removed keys
}

// keySlot is one slot of a keyMap: empty (ref 0), a tombstone
// (ref tombstone) or a key at arena[at>>24:][:at&maxKeyLen] whose row is
// refs[ref-1] at pos.
type keySlot struct {
	at   uint64 // arena offset << 24 | key length
	pos  int64
	ref  uint32
	hash uint32 // the low bits of the key's hash
}

const (
	tombstone = ^uint32(0)
	maxKeyLen = 1<<24 - 1
	minSlots  = 64
)

// errKeyTooLong refuses a key the index cannot hold; like a table over
// the key budget, the table then deletes by equality.
var errKeyTooLong = fmt.Errorf("a key's encoding is 16 MiB or longer: %w", errIndexTooLarge)

func newKeyMap(capacity int) *keyMap {
	m := &keyMap{seed: maphash.MakeSeed(), refIx: map[*fileRef]uint32{}}
	m.rebuild(capacity)
	return m
}

// len is the number of keys held.
func (m *keyMap) len() int { return m.live }

func (m *keyMap) key(s *keySlot) []byte {
	return m.arena[s.at>>24:][:s.at&maxKeyLen]
}

// find returns the slot of key (-1 when absent) and the key's hash.
func (m *keyMap) find(key []byte) (int, uint64) {
	h := maphash.Bytes(m.seed, key)
	mask := len(m.slots) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		s := &m.slots[i]
		switch {
		case s.ref == 0:
			return -1, h
		case s.ref != tombstone && s.hash == uint32(h) && bytes.Equal(m.key(s), key):
			return i, h
		}
	}
}

// get returns the location of key.
func (m *keyMap) get(key []byte) (rowLoc, bool) {
	i, _ := m.find(key)
	if i < 0 {
		return rowLoc{}, false
	}
	s := &m.slots[i]
	return rowLoc{file: m.refs[s.ref-1], pos: s.pos}, true
}

// put sets the location of key (copied), and reports whether it is new.
func (m *keyMap) put(key []byte, loc rowLoc) (bool, error) {
	i, h := m.find(key)
	if i >= 0 {
		old := m.slots[i].ref
		m.slots[i].ref, m.slots[i].pos = m.refOf(loc.file), loc.pos
		m.unref(old)
		return false, nil
	}
	if len(key) > maxKeyLen {
		return false, errKeyTooLong
	}
	if (m.used+1)*4 > len(m.slots)*3 || (m.dead > 1<<20 && m.dead*2 > len(m.arena)) {
		m.rebuild(m.live + 1)
	}
	mask := len(m.slots) - 1
	i = int(h) & mask
	for m.slots[i].ref != 0 && m.slots[i].ref != tombstone {
		i = (i + 1) & mask
	}
	if m.slots[i].ref == 0 {
		m.used++
	}
	m.slots[i] = keySlot{at: uint64(len(m.arena))<<24 | uint64(len(key)), pos: loc.pos, ref: m.refOf(loc.file), hash: uint32(h)}
	m.arena = append(m.arena, key...)
	m.live++
	return true, nil
}

// del removes key and reports whether it was there.
func (m *keyMap) del(key []byte) bool {
	i, _ := m.find(key)
	if i < 0 {
		return false
	}
	m.dead += int(m.slots[i].at & maxKeyLen)
	m.unref(m.slots[i].ref)
	m.slots[i] = keySlot{ref: tombstone}
	m.live--
	return true
}

// each calls fn with every key and its location, until fn returns false.
// fn may del the key it is given (and no other) but not put; the key is
// valid until the next put.
func (m *keyMap) each(fn func(key []byte, loc rowLoc) bool) {
	for i := range m.slots {
		if s := &m.slots[i]; s.ref != 0 && s.ref != tombstone {
			if !fn(m.key(s), rowLoc{file: m.refs[s.ref-1], pos: s.pos}) {
				return
			}
		}
	}
}

// keysFrom calls fn with the keys of slots [from, len) in slot order, at
// most n of them, and returns the slot after the last one visited (len:
// none left). Its keys are valid until the next put.
func (m *keyMap) keysFrom(from, n int, fn func(key []byte) error) (int, error) {
	i := from
	for ; i < len(m.slots) && n > 0; i++ {
		if s := &m.slots[i]; s.ref != 0 && s.ref != tombstone {
			n--
			if err := fn(m.key(s)); err != nil {
				return i, err
			}
		}
	}
	return i, nil
}

// slotCount is where keysFrom ends.
func (m *keyMap) slotCount() int { return len(m.slots) }

// refOf returns ref's index+1 in m.refs, adding it, and counts one more
// slot pointing at it.
func (m *keyMap) refOf(ref *fileRef) uint32 {
	i, ok := m.refIx[ref]
	switch {
	case ok:
	case len(m.free) > 0:
		i, m.free = m.free[len(m.free)-1], m.free[:len(m.free)-1]
		m.refs[i-1] = ref
		m.refIx[ref] = i
	default:
		m.refs, m.uses = append(m.refs, ref), append(m.uses, 0)
		i = uint32(len(m.refs))
		m.refIx[ref] = i
	}
	m.uses[i-1]++
	return i
}

// unref counts one slot less pointing at refs[i-1] and frees the entry
// when none is left, so that a file no key is in any more (and a
// rewrite's recorded keys it holds, fileRef.moved) is not kept alive.
func (m *keyMap) unref(i uint32) {
	if m.uses[i-1]--; m.uses[i-1] == 0 {
		delete(m.refIx, m.refs[i-1])
		m.refs[i-1] = nil
		m.free = append(m.free, i)
	}
}

// rebuild makes the table room for keys keys at a load of at most a
// half, without tombstones, and compacts the arena and the refs to what
// the live keys use.
func (m *keyMap) rebuild(keys int) {
	n := max(minSlots, 1<<bits.Len(uint(keys*2)))
	old, oldArena, oldRefs := m.slots, m.arena, m.refs
	m.slots, m.arena, m.refs, m.uses, m.free, m.refIx = make([]keySlot, n), make([]byte, 0, len(oldArena)-m.dead), nil, nil, nil, map[*fileRef]uint32{}
	m.used, m.dead = m.live, 0
	mask := n - 1
	for _, s := range old {
		if s.ref == 0 || s.ref == tombstone {
			continue
		}
		key := oldArena[s.at>>24:][:s.at&maxKeyLen]
		i := int(maphash.Bytes(m.seed, key)) & mask
		for m.slots[i].ref != 0 {
			i = (i + 1) & mask
		}
		m.slots[i] = keySlot{at: uint64(len(m.arena))<<24 | uint64(len(key)), pos: s.pos, ref: m.refOf(oldRefs[s.ref-1]), hash: s.hash}
		m.arena = append(m.arena, key...)
	}
}
