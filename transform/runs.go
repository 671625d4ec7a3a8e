package transform

import (
	"bufio"
	"bytes"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"sort"
	"strings"
)

// Sorted runs keep a Buffer's per-key state past its memory budget on
// disk, so that the memory of a checkpoint does not grow with the number
// of keys it touches (a 10M-row transaction costs disk, not RAM).
//
// A run is one file of records in ascending key order, each key once:
//
//	record = keyLen:uvarint key valLen:uvarint val
//
// Run files live only while their Buffer does (removed by Close, and the
// spill directory is emptied at start), so the format is not versioned.
// In memory a run keeps a Bloom filter (runBloomBits bits a key) and a
// sparse index (the first key of every runBlock bytes), so a point lookup
// reads at most one block of each run whose filter admits the key.

const (
	runBlock     = 16 << 10 // bytes of run between sparse index entries
	runBloomBits = 10       // Bloom filter bits per key (~1% false positives with 4 probes)
	runProbes    = 4
	// maxRuns bounds the runs of a set: reaching it merges them into one,
	// so lookups probe at most maxRuns filters and a merge reads at most
	// maxRuns files at once.
	maxRuns = 64
	// runReadBuffer is the read buffer of each run in a merge or scan.
	runReadBuffer = 64 << 10
)

// runSet is an ordered set of sorted runs (oldest first). The newest run
// holding a key has its current value.
type runSet struct {
	dir  string
	seed maphash.Seed
	runs []*run
	// combine merges the values of one key when runs are merged (newer
	// first); it may modify and return newer. nil keeps newer.
	combine func(newer, older []byte) []byte
	written int64 // bytes written to run files, for SpilledBytes
	scratch []byte
}

// run is one sorted run file.
type run struct {
	f      *os.File
	size   int64
	n      int      // records
	bloom  []uint64 // runBloomBits*n bits (rounded up)
	blocks []runIndexEntry
}

type runIndexEntry struct {
	key string
	off int64
}

// empty reports whether the set holds no run.
func (s *runSet) empty() bool { return len(s.runs) == 0 }

// records is the number of records over all runs (an upper bound of the
// distinct keys when there is more than one run).
func (s *runSet) records() int {
	n := 0
	for _, r := range s.runs {
		n += r.n
	}
	return n
}

// memBytes estimates the memory the runs keep (filters and indexes).
func (s *runSet) memBytes() int64 {
	var n int64
	for _, r := range s.runs {
		n += int64(len(r.bloom)) * 8
		for _, b := range r.blocks {
			n += int64(len(b.key)) + 24
		}
	}
	return n
}

// hash is the Bloom filter hash of key.
func (s *runSet) hash(key string) uint64 { return maphash.String(s.seed, key) }

func (r *run) mayHold(h uint64) bool {
	if len(r.bloom) == 0 {
		return false
	}
	m := uint64(len(r.bloom)) * 64
	a, b := h, h>>32|1
	for i := uint64(0); i < runProbes; i++ {
		bit := (a + i*b) % m
		if r.bloom[bit/64]&(1<<(bit%64)) == 0 {
			return false
		}
	}
	return true
}

func (r *run) addHash(h uint64) {
	m := uint64(len(r.bloom)) * 64
	a, b := h, h>>32|1
	for i := uint64(0); i < runProbes; i++ {
		bit := (a + i*b) % m
		r.bloom[bit/64] |= 1 << (bit % 64)
	}
}

// runWriter writes one run; records must come in ascending key order.
type runWriter struct {
	s        *runSet
	r        *run
	w        *bufio.Writer
	off      int64
	lastKey  []byte
	nextMark int64 // offset from which the next record starts a block
	hdr      [2 * binary.MaxVarintLen64]byte
}

// newWriter starts a run for at most n records.
func (s *runSet) newWriter(n int) (*runWriter, error) {
	f, err := os.CreateTemp(s.dir, "floe-buffer-*.run")
	if err != nil {
		return nil, fmt.Errorf("create spill run: %w", err)
	}
	words := (max(n, 1)*runBloomBits + 63) / 64
	return &runWriter{s: s, r: &run{f: f, bloom: make([]uint64, words)}, w: bufio.NewWriterSize(f, runReadBuffer)}, nil
}

func (w *runWriter) add(key string, val []byte) error {
	if w.r.n > 0 && key <= string(w.lastKey) {
		return fmt.Errorf("spill run %s: keys out of order", w.r.f.Name())
	}
	if w.off >= w.nextMark {
		// The index outlives the caller's key, which may be a view of a
		// larger buffer (byteArena): it keeps a copy.
		w.r.blocks = append(w.r.blocks, runIndexEntry{key: strings.Clone(key), off: w.off})
		w.nextMark = w.off + runBlock
	}
	h := binary.PutUvarint(w.hdr[:], uint64(len(key)))
	_, err := w.w.Write(w.hdr[:h])
	if err == nil {
		_, err = w.w.WriteString(key)
	}
	v := binary.PutUvarint(w.hdr[:], uint64(len(val)))
	if err == nil {
		_, err = w.w.Write(w.hdr[:v])
	}
	if err == nil {
		_, err = w.w.Write(val)
	}
	if err != nil {
		return fmt.Errorf("write spill run %s: %w", w.r.f.Name(), err)
	}
	w.off += int64(h + len(key) + v + len(val))
	w.r.n++
	w.r.addHash(w.s.hash(key))
	w.lastKey = append(w.lastKey[:0], key...)
	return nil
}

// finish flushes the run and returns it; abort removes it.
func (w *runWriter) finish() (*run, error) {
	if err := w.w.Flush(); err != nil {
		w.abort()
		return nil, fmt.Errorf("write spill run %s: %w", w.r.f.Name(), err)
	}
	w.r.size = w.off
	w.s.written += w.off
	return w.r, nil
}

func (w *runWriter) abort() { _ = w.r.remove() }

func (r *run) remove() error {
	name := r.f.Name()
	err := r.f.Close()
	if rmErr := os.Remove(name); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) && err == nil {
		err = rmErr
	}
	return err
}

// add writes n records (at most), which each calls add with in ascending
// key order, each key once, as the newest run; reaching maxRuns runs
// merges them into one.
func (s *runSet) add(n int, each func(add func(key string, val []byte) error) error) error {
	if n == 0 {
		return nil
	}
	w, err := s.newWriter(n)
	if err != nil {
		return err
	}
	if err := each(w.add); err != nil {
		w.abort()
		return err
	}
	r, err := w.finish()
	if err != nil {
		return err
	}
	s.runs = append(s.runs, r)
	if len(s.runs) >= maxRuns {
		return s.merge()
	}
	return nil
}

// get returns the newest value of key, or ok=false. The value is the
// caller's.
func (s *runSet) get(key string) (val []byte, ok bool, err error) {
	if len(s.runs) == 0 {
		return nil, false, nil
	}
	h := s.hash(key)
	for i := len(s.runs) - 1; i >= 0; i-- {
		r := s.runs[i]
		if !r.mayHold(h) {
			continue
		}
		val, ok, err := s.find(r, key)
		if err != nil || ok {
			return val, ok, err
		}
	}
	return nil, false, nil
}

// find looks key up in the one block of r that may hold it.
func (s *runSet) find(r *run, key string) ([]byte, bool, error) {
	j := sort.Search(len(r.blocks), func(i int) bool { return r.blocks[i].key > key }) - 1
	if j < 0 {
		return nil, false, nil
	}
	start, end := r.blocks[j].off, r.size
	if j+1 < len(r.blocks) {
		end = r.blocks[j+1].off
	}
	if int64(cap(s.scratch)) < end-start {
		s.scratch = make([]byte, end-start)
	}
	buf := s.scratch[:end-start]
	if _, err := r.f.ReadAt(buf, start); err != nil {
		return nil, false, fmt.Errorf("read spill run %s at %d: %w", r.f.Name(), start, err)
	}
	for len(buf) > 0 {
		k, v, rest, err := splitRecord(buf)
		if err != nil {
			return nil, false, fmt.Errorf("spill run %s: %w", r.f.Name(), err)
		}
		switch {
		case string(k) == key:
			return bytes.Clone(v), true, nil
		case string(k) > key:
			return nil, false, nil
		}
		buf = rest
	}
	return nil, false, nil
}

var errCorruptRun = errors.New("corrupt record")

func splitRecord(b []byte) (key, val, rest []byte, err error) {
	kl, n := binary.Uvarint(b)
	if n <= 0 || kl > uint64(len(b)-n) {
		return nil, nil, nil, errCorruptRun
	}
	key, b = b[n:n+int(kl)], b[n+int(kl):]
	vl, n := binary.Uvarint(b)
	if n <= 0 || vl > uint64(len(b)-n) {
		return nil, nil, nil, errCorruptRun
	}
	return key, b[n : n+int(vl)], b[n+int(vl):], nil
}

// runReader reads a run's records in order. In a merge (lazy) a value of
// lazyValueBytes or more is read only when asked for (value), and then
// into a buffer the reader does not keep: a merge holds the head record of
// every run, and must not hold every run's large value with it.
type runReader struct {
	r       *run
	br      *bufio.Reader
	lazy    bool
	key     []byte
	val     []byte // the value, when read
	pending uint64 // length of a large value not read yet (0: none)
	src     int    // position of the run in its set (merge order)
}

// lazyValueBytes is the value size from which a runReader reads values
// only on demand.
const lazyValueBytes = 1 << 20

func newRunReader(r *run, src int) *runReader {
	return &runReader{r: r, br: bufio.NewReaderSize(io.NewSectionReader(r.f, 0, r.size), runReadBuffer), src: src}
}

// next reads the next record's key (and a small value); io.EOF at the
// end. key is valid until the next call.
func (rr *runReader) next() error {
	if rr.pending > 0 {
		if _, err := rr.br.Discard(int(rr.pending)); err != nil {
			return rr.fail(err)
		}
		rr.pending = 0
	}
	kl, err := binary.ReadUvarint(rr.br)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return io.EOF
		}
		return rr.fail(err)
	}
	if rr.key, err = readN(rr.br, rr.key, kl); err != nil {
		return rr.fail(err)
	}
	vl, err := binary.ReadUvarint(rr.br)
	if err != nil {
		return rr.fail(err)
	}
	if rr.lazy && vl >= lazyValueBytes {
		if vl > 1<<40 {
			return rr.fail(errCorruptRun)
		}
		rr.val, rr.pending = nil, vl
		return nil
	}
	if rr.val, err = readN(rr.br, rr.val, vl); err != nil {
		return rr.fail(err)
	}
	return nil
}

// value returns the current record's value. owned reports that it is a
// large value read into a new buffer, which the caller may keep;
// otherwise it is valid until the next call of next. Called once per
// record.
func (rr *runReader) value() (val []byte, owned bool, err error) {
	if rr.pending == 0 {
		return rr.val, false, nil
	}
	n := rr.pending
	rr.pending = 0
	if val, err = readN(rr.br, nil, n); err != nil {
		return nil, false, rr.fail(err)
	}
	return val, true, nil
}

func (rr *runReader) fail(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("read spill run %s: %w", rr.r.f.Name(), err)
}

// readN reads n bytes into buf (reusing its capacity).
func readN(r io.Reader, buf []byte, n uint64) ([]byte, error) {
	if n > 1<<40 {
		return nil, errCorruptRun
	}
	if uint64(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	_, err := io.ReadFull(r, buf)
	return buf, err
}

// scan calls fn with every record of the set's single run in key order
// (call merge first when there may be more); key and val are valid during
// the call only.
func (s *runSet) scan(fn func(key string, val []byte) error) error {
	switch len(s.runs) {
	case 0:
		return nil
	case 1:
	default:
		return errors.New("scan of unmerged spill runs")
	}
	rr := newRunReader(s.runs[0], 0)
	for {
		err := rr.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		val, _, err := rr.value()
		if err != nil {
			return err
		}
		if err := fn(string(rr.key), val); err != nil {
			return err
		}
	}
}

// rewrite replaces the set's single run with what fn writes while it is
// scanned: fn gets every record and the writer of the new run.
func (s *runSet) rewrite(fn func(key string, val []byte, w *runWriter) error) error {
	if len(s.runs) != 1 {
		return errors.New("rewrite of unmerged spill runs")
	}
	old := s.runs[0]
	w, err := s.newWriter(old.n)
	if err != nil {
		return err
	}
	err = s.scan(func(key string, val []byte) error { return fn(key, val, w) })
	if err != nil {
		w.abort()
		return err
	}
	r, err := w.finish()
	if err != nil {
		return err
	}
	s.runs[0] = r
	if err := old.remove(); err != nil {
		return fmt.Errorf("remove spill run: %w", err)
	}
	return nil
}

// mergeHeap orders run readers by key, newer runs first on equal keys.
type mergeHeap []*runReader

func (h mergeHeap) Len() int { return len(h) }
func (h mergeHeap) Less(i, j int) bool {
	if c := bytes.Compare(h[i].key, h[j].key); c != 0 {
		return c < 0
	}
	return h[i].src > h[j].src
}
func (h mergeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap) Push(x any)   { *h = append(*h, x.(*runReader)) }
func (h *mergeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// merge replaces every run with one holding each key once, with its
// newest value (combined with the older ones by combine).
func (s *runSet) merge() error {
	if len(s.runs) <= 1 {
		return nil
	}
	w, err := s.newWriter(s.records())
	if err != nil {
		return err
	}
	if err := s.mergeInto(w); err != nil {
		w.abort()
		return err
	}
	r, err := w.finish()
	if err != nil {
		return err
	}
	old := s.runs
	s.runs = []*run{r}
	var rmErr error
	for _, o := range old {
		rmErr = errors.Join(rmErr, o.remove())
	}
	if rmErr != nil {
		return fmt.Errorf("remove spill run: %w", rmErr)
	}
	return nil
}

func (s *runSet) mergeInto(w *runWriter) error {
	h := make(mergeHeap, 0, len(s.runs))
	for i, r := range s.runs {
		rr := newRunReader(r, i)
		rr.lazy = true
		switch err := rr.next(); {
		case errors.Is(err, io.EOF):
		case err != nil:
			return err
		default:
			h = append(h, rr)
		}
	}
	heap.Init(&h)
	var key string
	var val []byte
	have := false
	flush := func() error {
		if !have {
			return nil
		}
		have = false
		return w.add(key, val)
	}
	for h.Len() > 0 {
		top := h[0]
		if have && key == string(top.key) {
			if s.combine != nil {
				older, _, err := top.value()
				if err != nil {
					return err
				}
				val = s.combine(val, older)
			}
		} else {
			if err := flush(); err != nil {
				return err
			}
			v, owned, err := top.value()
			if err != nil {
				return err
			}
			if owned {
				val = v // a large value: taken over, not copied
			} else {
				val = append(val[:0], v...)
			}
			key, have = string(top.key), true
		}
		switch err := top.next(); {
		case errors.Is(err, io.EOF):
			heap.Pop(&h)
		case err != nil:
			return err
		default:
			heap.Fix(&h, 0)
		}
	}
	return flush()
}

// reset removes every run.
func (s *runSet) reset() error {
	var err error
	for _, r := range s.runs {
		err = errors.Join(err, r.remove())
	}
	s.runs = nil
	if err != nil {
		return fmt.Errorf("remove spill run: %w", err)
	}
	return nil
}
