package mysql

import (
	"slices"
	"testing"
	"time"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/capturetest"
)

// nextTableBarrier returns the next Barrier batch that names dropped or
// added tables, failing after 20 s or when the stream ends.
func nextTableBarrier(t *testing.T, r *capturetest.Running) capture.Batch {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case b := <-r.Out:
			if b.Barrier && len(b.Dropped)+len(b.Added) > 0 {
				return b
			}
		case err := <-r.Done:
			r.Returned()
			t.Fatalf("Stream ended: %v", err)
		case <-deadline:
			t.Fatal("no table barrier within 20s")
		}
	}
}

// TestDDLTablesDroppedAdded: DROP TABLE of a captured table, DROP of a
// temporary table of its name, CREATE of a table source.tables matches
// (and of one it does not), CREATE OR REPLACE of a captured table and
// RENAME of a table to a matched name reach the consumer as Barrier
// batches naming the tables (capture.Batch.Dropped, Added), in order.
func TestDDLTablesDroppedAdded(t *testing.T) {
	e := newEnv(t)
	e.exec("CREATE TABLE a (id INT PRIMARY KEY)", "CREATE TABLE b (id INT PRIMARY KEY)", "CREATE TABLE other (id INT PRIMARY KEY)")
	s := e.source(e.config(e.db + `\.[ab].*`))
	ctx := testCtx(t)
	if _, err := s.Start(ctx, capture.StartRequest{}); err != nil {
		t.Fatal(err)
	}
	r := startStream(t, s)
	want := func(what string, dropped, added []capture.TableID) {
		t.Helper()
		b := nextTableBarrier(t, r)
		if !slices.Equal(b.Dropped, dropped) || !slices.Equal(b.Added, added) {
			t.Fatalf("%s: dropped %v added %v, want %v and %v", what, b.Dropped, b.Added, dropped, added)
		}
	}
	e.exec("DROP TABLE other", "DROP TABLE b")
	want("DROP TABLE b", []capture.TableID{id(e.db, "b")}, nil)
	e.exec("CREATE TABLE other2 (id INT PRIMARY KEY)", "CREATE TABLE b2 (id INT PRIMARY KEY)")
	want("CREATE TABLE b2", nil, []capture.TableID{id(e.db, "b2")})
	e.exec("CREATE OR REPLACE TABLE a (id INT PRIMARY KEY, v INT)")
	want("CREATE OR REPLACE TABLE a", []capture.TableID{id(e.db, "a")}, []capture.TableID{id(e.db, "a")})
	e.exec("RENAME TABLE other2 TO a3")
	want("RENAME TABLE other2 TO a3", nil, []capture.TableID{id(e.db, "a3")})
}
