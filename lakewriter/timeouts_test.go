package lakewriter

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// silentServer accepts connections and reads whatever they send, but
// never answers nor closes them: a half-open peer. It counts accepts.
type silentServer struct {
	ln       net.Listener
	mu       sync.Mutex
	accepted int
	conns    []net.Conn
}

func startSilentServer(t *testing.T) *silentServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &silentServer{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.accepted++
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			go func() { _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, c := range s.conns {
			c.Close()
		}
	})
	return s
}

func (s *silentServer) addr() string { return s.ln.Addr().String() }

func (s *silentServer) accepts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// within runs fn and fails the test when it has not returned after limit:
// the call hung on a half-open connection.
func within(t *testing.T, limit time.Duration, what string, fn func() error) (time.Duration, error) {
	t.Helper()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return time.Since(start), err
	case <-time.After(limit):
		t.Fatalf("%s still waiting on a half-open connection after %v", what, limit)
		return 0, nil
	}
}

// TestIdleConnTimeout: a read that gets nothing for the timeout fails
// with a timeoutError naming the endpoint; one that keeps receiving
// lives longer than the timeout; a deadline the user set still applies
// and is reported as the user's.
func TestIdleConnTimeout(t *testing.T) {
	s := startSilentServer(t)
	raw, err := net.Dial("tcp", s.addr())
	require.NoError(t, err)
	c := newIdleConn(raw, "catalog database "+s.addr(), 200*time.Millisecond)
	defer c.Close()
	_, err = c.Write([]byte("hello"))
	require.NoError(t, err)
	start := time.Now()
	_, err = c.Read(make([]byte, 1))
	var te *timeoutError
	require.ErrorAs(t, err, &te)
	require.Less(t, time.Since(start), 3*time.Second)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	require.True(t, ne.Timeout())
	require.Contains(t, err.Error(), "catalog database "+s.addr())
	require.Contains(t, err.Error(), "sink.timeout")

	// The user's deadline: an already expired one fails at once, as the
	// plain deadline error.
	require.NoError(t, c.SetReadDeadline(time.Now().Add(-time.Second)))
	_, err = c.Read(make([]byte, 1))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.False(t, errors.As(err, &te), "the user's deadline reported as the idle timeout: %v", err)
	require.NoError(t, c.SetReadDeadline(time.Time{}))

	// A connection that keeps receiving lives past the bound: the bound
	// applies to each Read, not to the connection. The peer is parked in
	// its next Write while the reader spends longer than the bound
	// between Reads, so every Read finds a byte at once; a writer that
	// had to be scheduled inside the bound failed this under load (a
	// 50 ms sleeper missed a 200 ms bound at load 14 on 2 cores).
	a, b := net.Pipe()
	defer a.Close()
	go func() {
		defer b.Close()
		for range 4 {
			if _, err := b.Write([]byte{1}); err != nil {
				return
			}
		}
	}()
	slow := newIdleConn(a, "s3 test", 200*time.Millisecond)
	start = time.Now()
	for got := 0; got < 4; {
		time.Sleep(300 * time.Millisecond) // longer than the bound, outside Read
		n, err := slow.Read(make([]byte, 8))
		require.NoError(t, err, "after %d bytes", got)
		got += n
	}
	require.Greater(t, time.Since(start), 4*200*time.Millisecond, "the connection lived past its bound")
}

// TestPostgresCatalogSilentServer: a catalog database that accepts the
// connection and never answers fails Open within the timeout, naming the
// database; without a timeout Open waited forever.
func TestPostgresCatalogSilentServer(t *testing.T) {
	s := startSilentServer(t)
	took, err := within(t, 30*time.Second, "Open", func() error {
		c, err := Open(context.Background(), Options{
			URI:       "postgres://floe:pw@" + s.addr() + "/catalog?sslmode=disable",
			Warehouse: filepath.Join(t.TempDir(), "wh"), Timeout: time.Second,
		})
		if err == nil {
			c.Close()
		}
		return err
	})
	require.Error(t, err)
	require.Contains(t, err.Error(), "connect to catalog database")
	require.Contains(t, err.Error(), s.addr())
	t.Logf("Open failed after %v: %v", took.Round(time.Millisecond), err)
}

// TestS3SilentServer: with an S3 endpoint that accepts connections and
// never answers, creating a table (which writes its metadata to S3) fails
// after the SDK's attempts, each bounded by the timeout, instead of
// hanging.
func TestS3SilentServer(t *testing.T) {
	s := startSilentServer(t)
	dir := t.TempDir()
	c, err := Open(context.Background(), Options{
		URI: "sqlite://" + filepath.Join(dir, "catalog.db"), Warehouse: "s3://bucket/wh", Timeout: 500 * time.Millisecond,
		S3: S3Options{Endpoint: "http://" + s.addr(), AccessKeyID: "k", SecretAccessKey: "secret-key"},
	})
	require.NoError(t, err)
	defer c.Close()
	took, err := within(t, 60*time.Second, "EnsureTable", func() error {
		_, err := c.EnsureTable(context.Background(), Ident{Namespace: "ns", Name: "t"}, simpleLayout(), []int{0})
		return err
	})
	require.Error(t, err)
	require.Contains(t, err.Error(), "timeout")
	require.GreaterOrEqual(t, s.accepts(), 1, "the S3 server saw no connection: the test shows nothing")
	t.Logf("EnsureTable failed after %v (%d connections): %v", took.Round(time.Millisecond), s.accepts(),
		strings.ReplaceAll(err.Error(), "\n", " "))
}

// TestExportedMethodsBoundIO: every exported method of Catalog, Table and
// DataWriter that takes a context puts the bounded S3 client into it
// (ioContext) first; one that forgot would reach S3 through iceberg-go's
// own client, which waits forever on a half-open connection.
func TestExportedMethodsBoundIO(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		require.NoError(t, err)
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || !fn.Name.IsExported() || fn.Body == nil || !takesContext(fn) {
				continue
			}
			recv := types.ExprString(fn.Recv.List[0].Type)
			if recv != "*Catalog" && recv != "*Table" && recv != "*DataWriter" {
				continue
			}
			checked++
			calls := false
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "ioContext" {
					calls = true
				}
				return !calls
			})
			if !calls {
				t.Errorf("%s: (%s).%s takes a context but does not call ioContext", fset.Position(fn.Pos()), recv, fn.Name.Name)
			}
		}
	}
	require.Greater(t, checked, 10, "found too few methods: the check shows nothing")
}

func takesContext(fn *ast.FuncDecl) bool {
	for _, p := range fn.Type.Params.List {
		if types.ExprString(p.Type) == "context.Context" {
			return true
		}
	}
	return false
}
