package lakewriter

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	iceio "github.com/apache/iceberg-go/io"
)

func TestClassifyStorage(t *testing.T) {
	wrap := func(errno syscall.Errno) error {
		return fmt.Errorf("write data: %w", &fs.PathError{Op: "write", Path: "/lake/f.parquet", Err: errno})
	}
	for _, c := range []struct {
		err   error
		kind  StorageKind
		heals bool
	}{
		{wrap(syscall.ENOSPC), NoSpace, true},
		{wrap(syscall.EDQUOT), NoQuota, true},
		{wrap(syscall.EACCES), NoPermission, false},
		{wrap(syscall.EPERM), NoPermission, false},
		{wrap(syscall.EROFS), ReadOnly, false},
		{wrap(syscall.ENOTDIR), NotDirectory, false},
	} {
		f, ok := ClassifyStorage(c.err)
		require.True(t, ok, c.err.Error())
		require.Equal(t, c.kind, f.Kind, c.err.Error())
		require.Equal(t, c.heals, f.Heals(), c.err.Error())
		require.Equal(t, "/lake/f.parquet", f.Path)
		require.NotEmpty(t, f.Fix())
		require.True(t, errors.Is(f, syscall.Errno(0)) || errors.Unwrap(f) != nil)
	}
	for _, err := range []error{
		wrap(syscall.ENOENT),
		errors.New("no space left on device"),
		// a refused socket carries EACCES too, and is no storage fault
		&os.SyscallError{Syscall: "connect", Err: syscall.EACCES},
		io.ErrUnexpectedEOF,
	} {
		_, ok := ClassifyStorage(err)
		require.False(t, ok, err.Error())
	}
	full, ok := ClassifyStorage(fmt.Errorf("commit: %w", provokeSQLite(t, false)))
	require.True(t, ok)
	require.Equal(t, NoSpace, full.Kind)
	require.Equal(t, "", full.Path)
	ro, ok := ClassifyStorage(provokeSQLite(t, true))
	require.True(t, ok)
	require.Equal(t, ReadOnly, ro.Kind)
}

// provokeSQLite returns a real SQLite error: SQLITE_FULL from a database
// whose page count is capped, or SQLITE_READONLY from a read-only one.
func provokeSQLite(t *testing.T, readOnly bool) error {
	t.Helper()
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec("CREATE TABLE t (v text)")
	require.NoError(t, err)
	if readOnly {
		ro, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
		require.NoError(t, err)
		defer ro.Close()
		_, err = ro.Exec("INSERT INTO t VALUES ('x')")
		var se *sqlite.Error
		require.ErrorAs(t, err, &se)
		require.Equal(t, sqlite3.SQLITE_READONLY, se.Code()&0xff, err.Error())
		return err
	}
	_, err = db.Exec("PRAGMA max_page_count = 3")
	require.NoError(t, err)
	_, err = db.Exec("INSERT INTO t SELECT hex(randomblob(10000))")
	var se *sqlite.Error
	require.ErrorAs(t, err, &se)
	require.Equal(t, sqlite3.SQLITE_FULL, se.Code()&0xff, err.Error())
	return err
}

// failingWriter fails every write after ok bytes, like a full disk.
type failingWriter struct {
	ok     int
	closed bool
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.ok {
		n := w.ok
		w.ok = 0
		return n, &fs.PathError{Op: "write", Path: "f", Err: syscall.ENOSPC}
	}
	w.ok -= len(p)
	return len(p), nil
}

func (w *failingWriter) ReadFrom(r io.Reader) (int64, error) {
	return io.Copy(struct{ io.Writer }{w}, r)
}
func (w *failingWriter) Close() error { w.closed = true; return nil }

// TestLocalFSRemovesFailedFiles: a new file whose write, copy or close
// fails is removed at once, and the writer's own cleanup of the same name
// then succeeds; a file that existed before is never removed.
func TestLocalFSRemovesFailedFiles(t *testing.T) {
	dir := t.TempDir()
	var l localFS

	// Through the real file system: a failed close removes the file.
	name := filepath.Join(dir, "data", "a.parquet")
	w, err := l.Create(name)
	require.NoError(t, err)
	cw, ok := w.(*cleanWriter)
	require.True(t, ok, "a new file is written through a cleanWriter")
	_, err = cw.Write([]byte("PAR1"))
	require.NoError(t, err)
	require.NoError(t, cw.w.Close()) // closing twice fails the second close
	require.Error(t, cw.Close())
	_, err = os.Stat(name)
	require.ErrorIs(t, err, fs.ErrNotExist, "the file whose close failed is still there")
	require.NoError(t, l.Remove(name), "the writer's own cleanup of a file removed after its failure")
	require.ErrorIs(t, l.Remove(name), fs.ErrNotExist, "a second remove")

	// A failing write or copy (ENOSPC after 4 bytes) drops the file at once.
	for _, viaCopy := range []bool{false, true} {
		dropped := 0
		cw := &cleanWriter{w: &failingWriter{ok: 4}, drop: func() { dropped++ }}
		if viaCopy {
			_, err = cw.ReadFrom(strings.NewReader("PAR1 and more"))
		} else {
			_, err = cw.Write([]byte("PAR1 and more"))
		}
		require.ErrorIs(t, err, syscall.ENOSPC)
		require.NoError(t, cw.Close())
		require.Equal(t, 1, dropped, "copy=%v: a failed write dropped the file %d times", viaCopy, dropped)
	}

	// Only new files are written through a cleanWriter: one that existed
	// before is never removed.
	kept := filepath.Join(dir, "kept.json")
	require.NoError(t, os.WriteFile(kept, []byte("{}"), 0o644))
	w, err = l.Create(kept)
	require.NoError(t, err)
	_, isClean := w.(*cleanWriter)
	require.False(t, isClean, "an existing file would be removed after a failed write")
	require.NoError(t, w.Close())

	// The local schemes are served by localFS.
	for _, loc := range []string{"file://" + dir, dir} {
		fsys, err := iceio.LoadFS(context.Background(), nil, loc)
		require.NoError(t, err)
		_, ok := fsys.(localFS)
		require.True(t, ok, "%s is served by %T", loc, fsys)
	}
}

// TestCatalogFileIdentity: a SQLite catalog whose file is deleted or
// replaced after Open fails every later operation with ErrCatalogGone.
func TestCatalogFileIdentity(t *testing.T) {
	ctx := context.Background()
	for _, replace := range []bool{false, true} {
		t.Run(fmt.Sprintf("replaced=%v", replace), func(t *testing.T) {
			c, dir := openTestCatalog(t)
			tbl := ensureSimple(t, c, "t")
			_, err := tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(1, "a")), Props: map[string]string{"k": "1"}, Token: "k"})
			require.NoError(t, err)

			file := filepath.Join(dir, "catalog", "catalog.db")
			require.NoError(t, os.Remove(file))
			if replace {
				require.NoError(t, os.WriteFile(file, nil, 0o644))
			}
			_, err = tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(2, "b")), Props: map[string]string{"k": "2"}, Token: "k"})
			require.ErrorIs(t, err, ErrCatalogGone)
			require.Contains(t, err.Error(), "sink.catalog.uri: ")
			require.Contains(t, err.Error(), file)
			_, err = c.EnsureTable(ctx, Ident{Namespace: "db", Name: "u"}, simpleLayout(), simpleLayout().Key)
			require.ErrorIs(t, err, ErrCatalogGone)
			_, err = tbl.LatestProps(ctx, func(map[string]string) bool { return true })
			require.ErrorIs(t, err, ErrCatalogGone)
		})
	}
}

// TestCheckWritable: a local warehouse Floe may not write fails with a
// StorageFault naming the directory.
func TestCheckWritable(t *testing.T) {
	c, dir := openTestCatalog(t)
	require.NoError(t, c.CheckWritable())
	entries, err := os.ReadDir(filepath.Join(dir, "warehouse"))
	require.NoError(t, err)
	require.Empty(t, entries, "the probe left a file behind")
	if os.Geteuid() == 0 {
		t.Skip("root writes any directory; floe's integration test runs floe as nobody instead")
	}
	require.NoError(t, os.Chmod(filepath.Join(dir, "warehouse"), 0o555))
	err = c.CheckWritable()
	var f *StorageFault
	require.ErrorAs(t, err, &f)
	require.Equal(t, NoPermission, f.Kind)
	require.Equal(t, filepath.Join(dir, "warehouse"), f.Path)
}
