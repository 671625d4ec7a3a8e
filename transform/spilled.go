package transform

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Upsert entries in sorted runs: the value of a key's record is
//
//	flags:byte [lookupLen:uvarint lookup]  (when flagPend)  img
const (
	flagDead byte = 1 << iota
	flagDel
	flagPend
	flagConv
)

// encode appends e's run value to dst.
func (e *entry) encode(dst []byte) []byte {
	var f byte
	for _, x := range []struct {
		on  bool
		bit byte
	}{{e.dead, flagDead}, {e.del, flagDel}, {e.pend, flagPend}, {e.conv, flagConv}} {
		if x.on {
			f |= x.bit
		}
	}
	dst = append(dst, f)
	if e.pend {
		dst = binary.AppendUvarint(dst, uint64(len(e.lookup)))
		dst = append(dst, e.lookup...)
	}
	return append(dst, e.img...)
}

// decodeEntry decodes a run value; img aliases val.
func decodeEntry(key string, val []byte) (entry, error) {
	if len(val) == 0 {
		return entry{}, errCorruptRun
	}
	f := val[0]
	e := entry{key: key, dead: f&flagDead != 0, del: f&flagDel != 0, pend: f&flagPend != 0, conv: f&flagConv != 0}
	val = val[1:]
	if e.pend {
		n, k := binary.Uvarint(val)
		if k <= 0 || n > uint64(len(val)-k) {
			return entry{}, errCorruptRun
		}
		e.lookup, val = string(val[k:k+int(n)]), val[k+int(n):]
	}
	e.img = val
	return e, nil
}

// combineEntries merges two run values of one key: the newer state wins,
// and an equality delete is still needed when either needed one.
func combineEntries(newer, older []byte) []byte {
	if len(newer) > 0 && len(older) > 0 {
		newer[0] |= older[0] & flagDel
	}
	return newer
}

// flushRun writes the in-memory entries to a new sorted run.
func (b *Buffer) flushRun() error {
	order := sortedKeys(b.entries)
	var buf []byte
	err := b.runs.add(len(b.entries), func(add func(string, []byte) error) error {
		for _, r := range order {
			e := &b.entries[r.entry]
			buf = e.encode(buf[:0])
			if err := add(e.key, buf); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return b.errf("%w", err)
	}
	clear(b.entries)
	b.entries = b.entries[:0]
	clear(b.index)
	b.memBytes = 0
	return nil
}

// keyRef is an entry's place in the order of keys: the first 8 bytes of
// its key, big-endian (0-padded), and the entry's index.
type keyRef struct {
	prefix uint64
	entry  int
}

// sortedKeys returns the entries' indexes in the order of their keys
// (bytewise). It sorts the small keyRefs by their prefixes, comparing
// whole keys only when the prefixes are equal, rather than moving the
// entries themselves: sorting the entries by strings.Compare took 7 % of
// the CPU of the bench's MariaDB 1M-row transaction, whose buffer spills.
// (Keys do not come in their byte order even from an ascending integer
// key: schema.AppendKey encodes integers as varints.)
func sortedKeys(entries []entry) []keyRef {
	order := make([]keyRef, len(entries))
	for i := range entries {
		var p [8]byte
		copy(p[:], entries[i].key)
		order[i] = keyRef{prefix: binary.BigEndian.Uint64(p[:]), entry: i}
	}
	slices.SortFunc(order, func(x, y keyRef) int {
		switch {
		case x.prefix < y.prefix:
			return -1
		case x.prefix > y.prefix:
			return 1
		}
		return strings.Compare(entries[x.entry].key, entries[y.entry].key)
	})
	return order
}

// seal prepares the entries for reading: when some are in runs, the ones
// in memory join them and all are merged into one run.
func (b *Buffer) seal() error {
	if b.runs.empty() {
		return nil
	}
	if len(b.entries) > 0 {
		if err := b.flushRun(); err != nil {
			return err
		}
	}
	if err := b.runs.merge(); err != nil {
		return b.errf("%w", err)
	}
	return nil
}

// errStop ends an iteration early without an error.
var errStop = errors.New("stop")

// eachEntry calls fn with every entry (Upsert mode), from memory or, once
// some were spilled, from the merged run in key order; an entry from a
// run is valid during the call only, and fn must not modify it.
func (b *Buffer) eachEntry(fn func(e *entry) error) error {
	if b.runs.empty() {
		for i := range b.entries {
			if err := fn(&b.entries[i]); err != nil {
				return err
			}
		}
		return nil
	}
	if err := b.seal(); err != nil {
		return err
	}
	var failed error // fn's own error
	var e entry      // one for all: an entry from a run is valid during fn only
	err := b.runs.scan(func(key string, val []byte) error {
		var err error
		e, err = decodeEntry(key, val)
		if err != nil {
			return fmt.Errorf("spill run: %w", err)
		}
		if err := fn(&e); err != nil {
			failed = err
			return errStop
		}
		return nil
	})
	if failed != nil {
		return failed
	}
	if err != nil {
		return b.errf("%w", err)
	}
	return nil
}

// entryCounts are the numbers of merged entries and of delete keys.
type entryCounts struct{ n, del int }

// countEntries counts the entries of the merged runs once (Apply and
// Resolve forget the counts). A read failure is kept in b.failed and
// reported by the next call that returns an error.
func (b *Buffer) countEntries() entryCounts {
	if b.counts != nil {
		return *b.counts
	}
	var c entryCounts
	err := b.eachEntry(func(e *entry) error {
		c.n++
		if e.del {
			c.del++
		}
		return nil
	})
	if err != nil {
		b.fail(err)
		return entryCounts{n: 1, del: 1} // make the caller read, and meet the error
	}
	b.counts = &c
	return c
}

// fail keeps the first error of a call that cannot return one.
func (b *Buffer) fail(err error) {
	if b.failed == nil {
		b.failed = err
	}
}
