package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
	"github.com/floe-cdc/floe/schema"
)

// mainSampler counts the rows of an Iceberg table's main branch through
// the lakewriter readers, from its own catalog, until stopped, keeping
// the lowest count seen.
type mainSampler struct {
	mu      sync.Mutex
	min     int
	samples int
	err     error
	stop    chan struct{}
	done    chan struct{}
}

func sampleMain(t *testing.T, tbl *lakewriter.Table) *mainSampler {
	s := &mainSampler{min: -1, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			n := 0
			err := tbl.Scan(context.Background(), func(schema.Row) error { n++; return nil })
			s.mu.Lock()
			if err != nil && s.err == nil {
				s.err = err
			}
			if err == nil && (s.min < 0 || n < s.min) {
				s.min = n
			}
			s.samples++
			s.mu.Unlock()
			select {
			case <-s.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(s.end)
	return s
}

// end stops the sampler and waits for it.
func (s *mainSampler) end() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

// TestResnapshotOneTableStatePostgres: floe resnapshot --online of a
// PostgreSQL table that only grows while it runs (updates and inserts):
// readers of the Iceberg table's main branch, sampled throughout through
// the lakewriter readers, never see fewer rows than it held before, also
// across a SIGKILL of floe run in the middle of the snapshot and the
// restart that resumes it; afterwards the re-snapshot branch is gone and
// floe verify finds both tables equal to the source.
func TestResnapshotOneTableStatePostgres(t *testing.T) {
	needServers(t)
	ctx := context.Background()
	e := newPipelineEnv(t, "onestate", "public.orders, public.items", "upsert", "  snapshot.chunk-rows: 1000\n")
	// Enough rows for the snapshot to span several 1 s checkpoints.
	const rows = 150000
	e.exec(`CREATE TABLE orders (id bigint PRIMARY KEY, n int NOT NULL)`,
		`CREATE TABLE items (id bigint PRIMARY KEY, name text)`,
		`INSERT INTO orders SELECT g, 0 FROM generate_series(1, 100) g`,
		fmt.Sprintf(`INSERT INTO items SELECT g, 'item ' || g || repeat('x', 100) FROM generate_series(1, %d) g`, rows),
		"ALTER TABLE orders OWNER TO u_onestate", "ALTER TABLE items OWNER TO u_onestate")
	a := newAdminEnv(t, e)
	r := a.floe().Start()
	e.waitStreaming(r)
	e.waitCaughtUp(r, 2*time.Minute)

	cat := openTestCatalog(t, e, a.token)
	items := loadSink(t, ctx, cat, "lake.items")
	s := sampleMain(t, items)
	next := rows + 1
	change := func(i int) {
		e.exec(fmt.Sprintf("UPDATE orders SET n = n + 1 WHERE id <= %d", i%100+1),
			fmt.Sprintf("UPDATE items SET name = 'changed %d' WHERE id = %d", i, (i*7919)%rows+1),
			fmt.Sprintf("INSERT INTO items VALUES (%d, 'new %d')", next, i))
		next++
	}
	for i := range 5 {
		change(i)
	}
	a.verb("resnapshot", "--online", "--table", "public.items")
	// Killed in the middle of the snapshot: at a random point within
	// 200 ms of the reset commit (the verb answers once it landed), long
	// before 150 chunks of 1,000 rows are read.
	time.Sleep(time.Duration(rand.IntN(200)) * time.Millisecond)
	e.kill(r)
	killedAt := branchChunksDone(t, ctx, items) // checked below, after what readers saw
	for i := 15; i < 25; i++ {
		change(i)
	}
	// The restart reads the remaining chunks before the stream (the
	// exported snapshot ended with the killed run); main is switched once
	// they are committed. The changes go on until it is.
	r = a.floe().Start()
	deadline := time.Now().Add(3 * time.Minute)
	for i := 25; i < 35 || !strings.Contains(e.tail(1<<30), "re-snapshot published"); i++ {
		if time.Now().After(deadline) {
			t.Fatalf("main was not switched to the re-snapshot within 3 minutes; log:\n%s", e.tail(60))
		}
		change(i)
		time.Sleep(50 * time.Millisecond)
	}
	e.waitCaughtUp(r, 3*time.Minute)
	a.floe().Stop(r)
	s.end()
	t.Logf("floe verify:\n%s", a.mustVerify(2))

	if s.err != nil {
		t.Fatalf("reading main: %v", s.err)
	}
	if s.min < rows {
		t.Fatalf("a reader of main saw %d rows of items (of %d samples), fewer than the %d it held before the re-snapshot; log:\n%s",
			s.min, s.samples, rows, e.tail(60))
	}
	if killedAt < 0 {
		t.Fatalf("the re-snapshot was not in progress on its branch when floe run was killed; log:\n%s", e.tail(60))
	}
	if has, err := items.HasBranch(ctx, lakewriter.ResnapshotBranch); err != nil || has {
		t.Fatalf("the re-snapshot branch is still there after the run (%v); log:\n%s", err, e.tail(60))
	}
	if !strings.Contains(e.tail(1<<30), "re-snapshot published") {
		t.Fatalf("no re-snapshot published in the log:\n%s", e.tail(60))
	}
	t.Logf("main sampled %d times, never below %d rows (lowest %d); killed with %d of 150 chunks on the branch", s.samples, rows, s.min, killedAt)
}

// branchChunksDone returns the chunks the newest commit on tbl's
// re-snapshot branch records done: -1 when the table has no branch or
// that commit holds no plan in progress, 0 before the first branch
// commit or chunk.
func branchChunksDone(t *testing.T, ctx context.Context, tbl *lakewriter.Table) int {
	t.Helper()
	has, err := tbl.HasBranch(ctx, lakewriter.ResnapshotBranch)
	if err != nil {
		t.Fatal(err)
	}
	if !has {
		return -1
	}
	props, err := tbl.LatestPropsOn(ctx, lakewriter.ResnapshotBranch, ledger.CommitOf("onestate"))
	if err != nil {
		t.Fatal(err)
	}
	if props[ledger.PropSnapshot] == "" {
		return -1
	}
	plan, err := capture.DecodeSnapshotPlan(props[ledger.PropSnapshot])
	if err != nil {
		t.Fatal(err)
	}
	if plan.Complete() {
		return -1
	}
	return len(plan.Done)
}
