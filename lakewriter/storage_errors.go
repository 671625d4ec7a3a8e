package lakewriter

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"syscall"
	"time"

	"modernc.org/sqlite"
)

// StorageKind is what is wrong with the storage under a failed write.
type StorageKind int

// The storage faults Floe tells apart. NoSpace and NoQuota heal when
// space is freed; the others need the operator.
const (
	NoSpace      StorageKind = iota + 1 // ENOSPC, SQLITE_FULL
	NoQuota                             // EDQUOT
	NoPermission                        // EACCES, EPERM
	ReadOnly                            // EROFS, SQLITE_READONLY
	NotDirectory                        // ENOTDIR: a path component is a file
)

// StorageFault is a storage error classified by what the operator must do
// about it. Path is the file or directory concerned ("" when the error
// does not say).
type StorageFault struct {
	Kind StorageKind
	Path string
	Err  error
}

// Heals reports whether the fault can go away without the operator
// changing Floe's configuration (space or quota freed): such a write is
// retried, anything else stops Floe.
func (f *StorageFault) Heals() bool { return f.Kind == NoSpace || f.Kind == NoQuota }

// What says what is wrong, as the operating system says it ("no space
// left on device").
func (f *StorageFault) What() string {
	return map[StorageKind]string{
		NoSpace:      "no space left on device",
		NoQuota:      "disk quota exceeded",
		NoPermission: "permission denied",
		ReadOnly:     "read-only file system",
		NotDirectory: "not a directory",
	}[f.Kind]
}

// Error is What and the path ("permission denied: /lake/t/data/f.parquet").
func (f *StorageFault) Error() string {
	if f.Path == "" {
		return f.What()
	}
	return f.What() + ": " + f.Path
}

// Unwrap returns the underlying error.
func (f *StorageFault) Unwrap() error { return f.Err }

// Fix says what the operator can do.
func (f *StorageFault) Fix() string {
	switch f.Kind {
	case NoSpace:
		return "free space on that file system or grow it; Floe retries and resumes from the committed positions"
	case NoQuota:
		return "raise the quota of the user Floe runs as, or free space; Floe retries"
	case NoPermission:
		return "let the user Floe runs as create and write files there (owner or mode), then start Floe again"
	case ReadOnly:
		return "mount that file system read-write, or point the setting at a writable location, then start Floe again"
	default:
		return "a part of that path is a file: point the setting at a directory, or move the file away, then start Floe again"
	}
}

// ClassifyStorage finds a storage fault in err's chain: an errno of a
// failed file operation, or SQLite's own full / read-only codes (the
// SQLite catalog; Path is then "").
func ClassifyStorage(err error) (*StorageFault, bool) {
	var sf *StorageFault
	if errors.As(err, &sf) {
		return sf, true
	}
	// Only errors of file operations: a refused socket can carry EACCES
	// too, and is no storage fault.
	var errno syscall.Errno
	if path, ok := failedPath(err); ok && errors.As(err, &errno) {
		kind, ok := errnoKinds[errno]
		if !ok {
			return nil, false
		}
		return &StorageFault{Kind: kind, Path: path, Err: err}, true
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case 13: // SQLITE_FULL
			return &StorageFault{Kind: NoSpace, Err: err}, true
		case 8: // SQLITE_READONLY
			return &StorageFault{Kind: ReadOnly, Err: err}, true
		}
	}
	return nil, false
}

var errnoKinds = map[syscall.Errno]StorageKind{
	syscall.ENOSPC:  NoSpace,
	syscall.EDQUOT:  NoQuota,
	syscall.EACCES:  NoPermission,
	syscall.EPERM:   NoPermission,
	syscall.EROFS:   ReadOnly,
	syscall.ENOTDIR: NotDirectory,
}

// failedPath is the path of the outermost file operation in err's chain,
// and false when err is not the error of a file operation.
func failedPath(err error) (string, bool) {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Path, true
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.New, true
	}
	return "", false
}

// sqliteBusyWait bounds how long pingCatalog waits for a SQLite catalog
// file another process holds locked (the DSN's busy_timeout).
const sqliteBusyWait = 10 * time.Second

// pingCatalog opens the catalog database's first connection (ping),
// trying again for up to sqliteBusyWait while SQLite answers SQLITE_BUSY.
// SQLite waits out busy_timeout for most locks, but not everywhere: two
// floe runs opening one new catalog file at the same moment (shards
// started together) stopped one of them with "database is locked (5)
// (SQLITE_BUSY)" at this first connection (TestShardingTableOwnership,
// once in a fresh-clone make test; switching a new file to WAL takes an
// exclusive lock without the busy handler). Other errors return at once.
func pingCatalog(ctx context.Context, ping func(context.Context) error) error {
	deadline := time.Now().Add(sqliteBusyWait)
	for {
		err := ping(ctx)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != 5 || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(20 * time.Millisecond):
		}
	}
}
