package lakewriter

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net/url"
	"sync"

	iceio "github.com/apache/iceberg-go/io"
)

// Local warehouses are written through localFS, iceberg-go's local file
// system IO with one change: a file whose writing fails is removed at
// once. A full disk, a lost permission or a read-only remount therefore
// leaves no empty or partial data, manifest or metadata file behind
// (iceberg-go removes some failed files itself, not all: a Parquet file
// whose final flush fails, or a metadata file, would stay). Files that
// were written completely but whose commit failed are the commit's to
// remove (Table.Commit does so for data and delete files).
func init() {
	factory := func(context.Context, *url.URL, map[string]string) (iceio.IO, error) {
		return localFS{}, nil
	}
	for _, scheme := range []string{"file", ""} {
		iceio.Unregister(scheme)
		iceio.Register(scheme, factory)
	}
}

// localFS is iceio.LocalFS whose Create and WriteFile remove what they
// failed to write.
type localFS struct{ iceio.LocalFS }

// failedWrites holds the names of files removed after a failed write, so
// that the writer's own cleanup (a Remove of the same name) succeeds.
var failedWrites sync.Map

// Create creates name for writing; if the file is new, a failed write or
// close removes it.
func (l localFS) Create(name string) (iceio.FileWriter, error) {
	fresh := l.absent(name)
	w, err := l.LocalFS.Create(name)
	if err != nil || !fresh {
		return w, err
	}
	return &cleanWriter{w: w, drop: func() { l.dropFailed(name) }}, nil
}

// WriteFile writes name; if the file is new and the write fails, it is
// removed.
func (l localFS) WriteFile(name string, p []byte) error {
	fresh := l.absent(name)
	err := l.LocalFS.WriteFile(name, p)
	if err != nil && fresh {
		l.dropFailed(name)
	}
	return err
}

// absent reports whether name does not exist: only files Floe creates
// are removed after a failure, never one that was there before.
func (l localFS) absent(name string) bool {
	_, err := l.LocalFS.Stat(name)
	return errors.Is(err, fs.ErrNotExist)
}

// Remove removes name; a file already removed after its failed write is
// no error.
func (l localFS) Remove(name string) error {
	err := l.LocalFS.Remove(name)
	if _, dropped := failedWrites.LoadAndDelete(name); dropped && errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// dropFailed removes the file name after a failed write (it may not exist).
func (l localFS) dropFailed(name string) {
	if err := l.LocalFS.Remove(name); err == nil {
		failedWrites.Store(name, struct{}{})
	}
}

// cleanWriter is a FileWriter that removes its file when a write or the
// close fails. The file stays open until Close; once removed, writes go
// nowhere and the name is free.
type cleanWriter struct {
	w       iceio.FileWriter
	drop    func()
	dropped bool
}

func (c *cleanWriter) fail() {
	if !c.dropped {
		c.dropped = true
		c.drop()
	}
}

func (c *cleanWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if err != nil {
		c.fail()
	}
	return n, err
}

func (c *cleanWriter) ReadFrom(r io.Reader) (int64, error) {
	n, err := c.w.ReadFrom(r)
	if err != nil {
		c.fail()
	}
	return n, err
}

func (c *cleanWriter) Close() error {
	err := c.w.Close()
	if err != nil {
		c.fail()
	}
	return err
}

var (
	_ iceio.WriteFileIO = localFS{}
	_ iceio.ListableIO  = localFS{}
	_ iceio.StatIO      = localFS{}
)
