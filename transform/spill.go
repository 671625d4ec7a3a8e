package transform

import (
	"bufio"
	"errors"
	"fmt"
	"os"
)

// ref locates one encoded record: in memory, or at off in the spill file.
type ref struct {
	mem  []byte
	off  int64
	n    int32
	disk bool
}

// spill stores encoded records in memory up to a byte budget and appends
// the rest to a temporary file. Records are immutable; replacing one
// frees its memory (spilled bytes stay in the file until close).
type spill struct {
	dir     string
	budget  int64
	mem     int64 // bytes of in-memory records
	f       *os.File
	w       *bufio.Writer
	size    int64 // bytes appended to f
	flushed int64 // bytes of f visible to ReadAt
}

// put stores a copy of b.
func (s *spill) put(b []byte) (ref, error) {
	if s.mem+int64(len(b)) <= s.budget {
		s.mem += int64(len(b))
		return ref{mem: append(make([]byte, 0, len(b)), b...)}, nil
	}
	if s.f == nil {
		f, err := os.CreateTemp(s.dir, "floe-buffer-*.spill")
		if err != nil {
			return ref{}, fmt.Errorf("create spill file: %w", err)
		}
		s.f, s.w = f, bufio.NewWriterSize(f, 256<<10)
	}
	if _, err := s.w.Write(b); err != nil {
		return ref{}, fmt.Errorf("write spill file: %w", err)
	}
	r := ref{off: s.size, n: int32(len(b)), disk: true}
	s.size += int64(len(b))
	return r, nil
}

// get returns the bytes of r. A spilled record is read into a new slice
// (decoded rows may alias it).
func (s *spill) get(r ref) ([]byte, error) {
	if !r.disk {
		return r.mem, nil
	}
	if end := r.off + int64(r.n); end > s.flushed {
		if err := s.w.Flush(); err != nil {
			return nil, fmt.Errorf("flush spill file: %w", err)
		}
		s.flushed = s.size
	}
	b := make([]byte, r.n)
	if n, err := s.f.ReadAt(b, r.off); n < len(b) {
		return nil, fmt.Errorf("read spill file at %d: %w", r.off, err)
	}
	return b, nil
}

// free releases the memory of r.
func (s *spill) free(r ref) {
	if !r.disk {
		s.mem -= int64(len(r.mem))
	}
}

// close removes the spill file. Safe to call more than once.
func (s *spill) close() error {
	if s.f == nil {
		return nil
	}
	name := s.f.Name()
	err := s.f.Close()
	s.f, s.w = nil, nil
	if rmErr := os.Remove(name); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) && err == nil {
		err = rmErr
	}
	if err != nil {
		return fmt.Errorf("remove spill file: %w", err)
	}
	return nil
}
