package mysql

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/capture"
)

// TestStreamReadsAheadBounded: while the consumer takes nothing, the
// stream holds a few binlog events, not the backlog: 48 transactions of a
// 1 MiB row written meanwhile grow the heap by well under their size,
// and all of them arrive once the consumer reads.
func TestStreamReadsAheadBounded(t *testing.T) {
	e := newEnv(t)
	out, done := streamTable(t, e, "CREATE TABLE t (id INT PRIMARY KEY, v LONGBLOB)") // nobody reads until the end
	base := heapAlloc()
	const rows, size = 48, 1 << 20
	value := strings.Repeat("b", size)
	for i := range rows {
		e.exec(fmt.Sprintf("INSERT INTO t VALUES (%d, '%s')", i, value))
	}
	// A source that reads ahead without bound holds the backlog within
	// moments; give it a few seconds, checking all along.
	var peak int64
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		peak = max(peak, heapAlloc()-base)
		if peak > 16<<20 {
			t.Fatalf("with no consumer the stream holds %d MiB of a %d MiB backlog: it reads ahead without bound", peak>>20, rows*size>>20)
		}
	}
	t.Logf("heap grew by %d MiB at most while %d MiB waited in the binlog", peak>>20, rows*size>>20)
	for i := range rows {
		select {
		case b := <-out:
			if len(b.Changes) != 1 || b.Changes[0].After[0] != int32(i) {
				t.Fatalf("batch %d: %d changes; want one, of row %d", i, len(b.Changes), i)
			}
		case err := <-done:
			t.Fatalf("stream ended: %v", err)
		case <-time.After(30 * time.Second):
			t.Fatalf("row %d never arrived", i)
		}
	}
}

// TestStreamKeepsNoRowsItHandedOver: once the consumer has taken the
// batches and dropped them, the stream holds none of their values: 48
// transactions of a 1 MiB row leave the heap well under their size. (The
// decoded rows of rows events share arrays; one the stream kept across
// events held every row decoded into it, applied or not.)
func TestStreamKeepsNoRowsItHandedOver(t *testing.T) {
	e := newEnv(t)
	out, done := streamTable(t, e, "CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20), v LONGTEXT, b LONGBLOB)")
	base := heapAlloc()
	const rows, size = 48, 1 << 19
	value := strings.Repeat("v", size)
	for i := range rows {
		e.exec(fmt.Sprintf("INSERT INTO t VALUES (%d, 'row %d', '%s', '%s')", i, i, value, value))
		select {
		case b := <-out:
			if len(b.Changes) != 1 || b.Changes[0].After[0] != int32(i) {
				t.Fatalf("batch %d: %d changes; want one, of row %d", i, len(b.Changes), i)
			}
		case err := <-done:
			t.Fatalf("stream ended: %v", err)
		case <-time.After(30 * time.Second):
			t.Fatalf("row %d never arrived", i)
		}
	}
	if grew := heapAlloc() - base; grew > 16<<20 {
		t.Fatalf("after the consumer dropped %d rows of %d MiB each, the heap is %d MiB larger: the stream keeps rows it handed over", rows, 2*size>>20, grew>>20)
	} else {
		t.Logf("heap grew by %d MiB after %d MiB of rows were handed over and dropped", grew>>20, rows*2*size>>20)
	}
}

// streamTable creates table t with create, starts a source capturing it
// and streams into the returned channel, unbuffered, until the test ends;
// done receives what Stream returned.
func streamTable(t *testing.T, e *testEnv, create string) (out chan capture.Batch, done chan error) {
	t.Helper()
	e.exec(create)
	s := e.source(e.config(e.db + `\.t`))
	ctx, cancel := context.WithCancel(testCtx(t))
	if _, err := s.Start(ctx, capture.StartRequest{}); err != nil {
		cancel()
		t.Fatal(err)
	}
	out, done = make(chan capture.Batch), make(chan error, 1)
	finished := make(chan struct{}) // also when the test took Stream's error from done
	go func() {
		done <- s.Stream(ctx, out)
		close(finished)
	}()
	t.Cleanup(func() {
		cancel()
		<-finished
	})
	return out, done
}

// heapAlloc returns the heap's live bytes after a collection.
func heapAlloc() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}
