package transform

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// rowLog is an append-only sequence of records, each addressed by its
// offset in the log: the newest records stay in memory (the tail) until
// they reach limit bytes, then the tail is appended to a file. A
// Changelog Buffer keeps its rows in one, so its memory does not grow
// with the rows of a checkpoint.
//
//	record = len:uvarint bytes
//
// The file lives only while its Buffer does, so the format is not
// versioned.
type rowLog struct {
	dir   string
	limit int
	f     *os.File
	fsize int64  // bytes in the file: offsets below it are on disk
	tail  []byte // the records from fsize on
	hdr   [binary.MaxVarintLen64]byte
}

// append adds rec and returns its offset.
func (l *rowLog) append(rec []byte) (int64, error) {
	off := l.fsize + int64(len(l.tail))
	n := binary.PutUvarint(l.hdr[:], uint64(len(rec)))
	l.tail = append(append(l.tail, l.hdr[:n]...), rec...)
	if len(l.tail) >= l.limit {
		if err := l.flush(); err != nil {
			return 0, err
		}
	}
	return off, nil
}

// flush moves the tail to the file.
func (l *rowLog) flush() error {
	if len(l.tail) == 0 {
		return nil
	}
	if l.f == nil {
		f, err := os.CreateTemp(l.dir, "floe-buffer-*.log")
		if err != nil {
			return fmt.Errorf("create spill log: %w", err)
		}
		l.f = f
	}
	if _, err := l.f.WriteAt(l.tail, l.fsize); err != nil {
		return fmt.Errorf("write spill log %s: %w", l.f.Name(), err)
	}
	l.fsize += int64(len(l.tail))
	if cap(l.tail) > 2*max(l.limit, 64<<10) {
		l.tail = nil // a huge record grew it: let it go
	} else {
		l.tail = l.tail[:0]
	}
	return nil
}

// read returns the record at off (a new slice).
func (l *rowLog) read(off int64) ([]byte, error) {
	if off >= l.fsize {
		b := l.tail[off-l.fsize:]
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, fmt.Errorf("spill log: %w at %d", errCorruptRun, off)
		}
		return append([]byte(nil), b[k:k+int(n)]...), nil
	}
	br := bufio.NewReaderSize(io.NewSectionReader(l.f, off, l.fsize-off), 512)
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return nil, fmt.Errorf("read spill log %s at %d: %w", l.f.Name(), off, err)
	}
	k := int64(binary.PutUvarint(l.hdr[:], n))
	b, err := readN(io.NewSectionReader(l.f, off+k, l.fsize-off-k), nil, n)
	if err != nil {
		return nil, fmt.Errorf("read spill log %s at %d: %w", l.f.Name(), off, err)
	}
	return b, nil
}

// scan calls fn with every record in order; rec is valid during the call
// only.
func (l *rowLog) scan(fn func(off int64, rec []byte) error) error {
	if l.f != nil {
		br := bufio.NewReaderSize(io.NewSectionReader(l.f, 0, l.fsize), runReadBuffer)
		var (
			off int64
			buf []byte
		)
		for off < l.fsize {
			n, err := binary.ReadUvarint(br)
			if err == nil {
				buf, err = readN(br, buf, n)
			}
			if err != nil {
				return fmt.Errorf("read spill log %s at %d: %w", l.f.Name(), off, err)
			}
			if err := fn(off, buf); err != nil {
				return err
			}
			off += int64(binary.PutUvarint(l.hdr[:], n)) + int64(n)
		}
	}
	for i := 0; i < len(l.tail); {
		n, k := binary.Uvarint(l.tail[i:])
		if k <= 0 || n > uint64(len(l.tail)-i-k) {
			return fmt.Errorf("spill log: %w at %d", errCorruptRun, l.fsize+int64(i))
		}
		if err := fn(l.fsize+int64(i), l.tail[i+k:i+k+int(n)]); err != nil {
			return err
		}
		i += k + int(n)
	}
	return nil
}

// close removes the file. Safe to call more than once.
func (l *rowLog) close() error {
	l.tail = nil
	if l.f == nil {
		return nil
	}
	name := l.f.Name()
	err := l.f.Close()
	l.f = nil
	if rmErr := os.Remove(name); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) && err == nil {
		err = rmErr
	}
	if err != nil {
		return fmt.Errorf("remove spill log: %w", err)
	}
	return nil
}
