package checkpoint

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/memsource"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/transform"
)

// slotSource is a fake source that keeps its position on a "server", as
// PostgreSQL's slot does: Start reports From (the slot's confirmed
// position or the resume position, whichever is later), ExportSnapshot
// takes a snapshot at a position of its own, tables have identities, and
// Ack checks the invariant the continuity check rests on: no position
// above what every table committed is acknowledged.
type slotSource struct {
	*tableSource
	t   *testing.T
	cat *lakewriter.Catalog

	mu        sync.Mutex
	confirmed capture.Position // the "slot"; nil: no slot yet
	ids       map[capture.TableID]string
	// onStart replaces ids when Start runs (it re-adds tables to what it
	// carries); nil entries keep the old.
	onStart  map[capture.TableID]string
	exportAt capture.Position
	exported bool
	acks     []capture.Position
	batches  chan capture.Batch
}

var (
	_ capture.TableIdentifier  = (*slotSource)(nil)
	_ capture.SnapshotExporter = (*slotSource)(nil)
)

func (s *slotSource) Start(_ context.Context, req capture.StartRequest) (capture.StartInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, v := range s.onStart {
		s.ids[id] = v
	}
	s.exported = false
	if s.confirmed == nil {
		s.confirmed = memsource.Pos(1)
		return capture.StartInfo{From: memsource.Pos(1), Exact: true}, nil
	}
	return capture.StartInfo{From: laterOf(s.confirmed, req.Resume)}, nil
}

func (s *slotSource) TableIdentities(context.Context) (map[capture.TableID]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[capture.TableID]string{}
	for _, name := range s.names {
		id := capture.TableID{Schema: "s", Name: name}
		out[id] = s.ids[id]
	}
	return out, nil
}

func (s *slotSource) ExportSnapshot(context.Context) (capture.Position, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.exported = true
	return s.exportAt, nil
}

func (s *slotSource) ReadChunk(ctx context.Context, id capture.TableID, ch capture.Chunk) (capture.Batch, error) {
	b, err := s.tableSource.ReadChunk(ctx, id, ch)
	s.mu.Lock()
	if s.exported {
		b.Position = s.exportAt
	} else {
		b.Position = laterOf(s.confirmed, memsource.Pos(1))
	}
	s.mu.Unlock()
	return b, err
}

func (s *slotSource) Stream(ctx context.Context, out chan<- capture.Batch) error {
	for {
		select {
		case b := <-s.batches:
			select {
			case out <- b:
			case <-ctx.Done():
				return ctx.Err()
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Ack runs on the coordinator's goroutine: every table's latest commit
// must be at or after pos.
func (s *slotSource) Ack(pos capture.Position) {
	for _, name := range s.names {
		id := capture.TableID{Schema: "s", Name: name}
		p := latestProps(s.t, s.cat, name)[ledger.PropPosition]
		committed, err := memsource.DecodePosition(p)
		if p == "" || err != nil || committed.Compare(pos) < 0 {
			s.t.Errorf("acknowledged %s while table %s has committed %q", pos, id, p)
		}
	}
	s.mu.Lock()
	s.acks = append(s.acks, pos)
	s.confirmed = laterOf(s.confirmed, pos)
	s.mu.Unlock()
}

func (s *slotSource) lastAck() capture.Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.acks) == 0 {
		return nil
	}
	return s.acks[len(s.acks)-1]
}

// newSlotSource serves tables of n rows each ("name1", ...), with
// identities "name#1".
func newSlotSource(t *testing.T, cat *lakewriter.Catalog, n int64, names ...string) *slotSource {
	s := &slotSource{tableSource: newTableSource(t), t: t, cat: cat, ids: map[capture.TableID]string{}, exportAt: memsource.Pos(1)}
	for _, name := range names {
		s.addTable(name, n, "")
		s.ids[capture.TableID{Schema: "s", Name: name}] = name + "#1"
	}
	return s
}

type runOpts struct {
	mode       transform.Mode
	snapshot   string
	idle       time.Duration
	interval   time.Duration // checkpoint interval; 0: 20ms
	logs       *bytes.Buffer
	until      func() bool   // when to stop; nil: run until Run returns
	wantStream bool          // fail if Run returns before until holds
	deadline   time.Duration // how long until may take; 0: 20s
	// fencing, when set, makes the run an attempt of the run that owns
	// it (see Fencing); nil: a new run, which claims every table.
	fencing *Fencing
	status  *StatusBoard // Options.Status
	control *Control     // Options.Control
	// deadLetter is Config.DeadLetter ("": the default, table).
	deadLetter string
	metrics    *Metrics // Options.Metrics; nil: unregistered ones
	routes     []transform.Route
	behavior   transform.Behavior // Config.SchemaChangeBehavior ("": the default)
	maxChanges int                // Config.MaxCheckpointChanges (0: the default)
}

// runCoordinator runs one coordinator over src until o.until holds, then
// stops it, and returns Run's error.
func runCoordinator(t *testing.T, src capture.Source, cat *lakewriter.Catalog, o runOpts) error {
	t.Helper()
	if o.snapshot == "" {
		o.snapshot = SnapshotInitial
	}
	if o.idle == 0 {
		o.idle = time.Hour
	}
	if o.interval == 0 {
		o.interval = 20 * time.Millisecond
	}
	if o.deadline == 0 {
		o.deadline = 20 * time.Second
	}
	log := slog.New(slog.DiscardHandler)
	if o.logs != nil {
		log = slog.New(slog.NewTextHandler(o.logs, nil))
	}
	c, err := New(Options{
		Pipeline: "p", Source: src, Catalog: cat, Router: transform.NewRouter("lake", o.routes), Mode: o.mode,
		Config: Config{SnapshotMode: o.snapshot, SnapshotParallelism: 2, SnapshotChunkRows: 20,
			Interval: o.interval, IdleCommitInterval: o.idle, DeadLetter: o.deadLetter, SchemaChangeBehavior: o.behavior,
			MaxCheckpointChanges: o.maxChanges},
		SpillDir: t.TempDir(), Logger: log, Fencing: o.fencing, Status: o.status, Control: o.control, Metrics: o.metrics,
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	if o.until == nil {
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			t.Fatal("run did not end within 20s")
		}
	}
	deadline := time.After(o.deadline)
	for !o.until() {
		select {
		case err := <-done:
			if o.wantStream {
				t.Fatalf("run ended before the test's condition held: %v", err)
			}
			return err
		case <-deadline:
			cancel()
			<-done
			t.Fatalf("the test's condition did not hold within %s", o.deadline)
		case <-time.After(5 * time.Millisecond):
		}
	}
	cancel()
	return <-done
}

func position(t *testing.T, cat *lakewriter.Catalog, name string) capture.Position {
	t.Helper()
	p, err := memsource.DecodePosition(latestProps(t, cat, name)[ledger.PropPosition])
	require.NoError(t, err)
	return p
}

func atLeast(t *testing.T, cat *lakewriter.Catalog, p capture.Position, names ...string) func() bool {
	return func() bool {
		ctx := context.Background()
		for _, name := range names {
			tbl, err := cat.LoadTable(ctx, lakewriter.Ident{Namespace: "lake", Name: name})
			if err != nil {
				return false
			}
			ref, err := resnapshotBranch(ctx, tbl) // the ledger recovery reads
			require.NoError(t, err)
			props, err := tbl.LatestPropsOn(ctx, ref, ledger.CommitOf("p"))
			require.NoError(t, err)
			s := props[ledger.PropPosition]
			if s == "" {
				return false
			}
			if q, _ := memsource.DecodePosition(s); q.Compare(p) < 0 {
				return false
			}
		}
		return true
	}
}

// published returns a condition: no table of names has a re-snapshot
// branch (each re-snapshot is published on main).
func published(t *testing.T, cat *lakewriter.Catalog, names ...string) func() bool {
	return func() bool {
		ctx := context.Background()
		for _, name := range names {
			tbl, err := cat.LoadTable(ctx, lakewriter.Ident{Namespace: "lake", Name: name})
			if err != nil {
				return false
			}
			ref, err := resnapshotBranch(ctx, tbl)
			require.NoError(t, err)
			if ref != "" {
				return false
			}
		}
		return true
	}
}

func changeAt(table string, pos int, key int64, v string) capture.Batch {
	id := capture.TableID{Schema: "s", Name: table}
	return capture.Batch{Position: memsource.Pos(pos), CommitTime: time.Now(), Changes: []capture.Change{
		{Table: id, Op: capture.OpUpdate, Schema: fakeLayout, After: schema.Row{key, v}}}}
}

func scanRows(t *testing.T, cat *lakewriter.Catalog, name string) map[int64]string {
	t.Helper()
	ctx := context.Background()
	tbl, err := cat.LoadTable(ctx, lakewriter.Ident{Namespace: "lake", Name: name})
	require.NoError(t, err)
	ref, err := resnapshotBranch(ctx, tbl) // the rows the ledger describes
	require.NoError(t, err)
	got := map[int64]string{}
	require.NoError(t, tbl.ScanOn(ctx, ref, func(r schema.Row) error {
		got[r[0].(int64)] = r[1].(string)
		return nil
	}))
	return got
}

// TestAckOnlyWhatEveryTableCommitted: changes of one table are committed
// at once, but the source is acknowledged no position a quiet table has
// not committed (slotSource.Ack checks every ack against the catalog);
// the quiet tables' idle commits then let acknowledgement catch up, and a
// Sync batch moves every table and the acknowledgement to its position
// at once.
func TestAckOnlyWhatEveryTableCommitted(t *testing.T) {
	cat, _ := openCatalog(t)
	src := newSlotSource(t, cat, 30, "a", "b", "c")
	// Run 1: the initial snapshot at 1.
	require.NoError(t, runCoordinator(t, src, cat, runOpts{mode: transform.Upsert, until: atLeast(t, cat, memsource.Pos(1), "a", "b", "c")}))

	src.batches = make(chan capture.Batch, 16)
	for pos := 2; pos <= 6; pos++ {
		src.batches <- changeAt("a", pos, 1, "a1 at "+strconv.Itoa(pos))
	}
	// Then, with nothing buffered, a heartbeat: still nothing to ack.
	var beatAt time.Time
	require.NoError(t, runCoordinator(t, src, cat, runOpts{mode: transform.Upsert, wantStream: true,
		until: func() bool {
			if beatAt.IsZero() && atLeast(t, cat, memsource.Pos(6), "a")() {
				beatAt = time.Now()
				src.batches <- capture.Batch{Position: memsource.Pos(7), CommitTime: time.Now()}
			}
			return !beatAt.IsZero() && len(src.batches) == 0 && time.Since(beatAt) > 200*time.Millisecond
		}}))
	require.Equal(t, memsource.Pos(1), position(t, cat, "b"), "b is quiet and committed nothing new")
	if ack := src.lastAck(); ack != nil && ack.Compare(memsource.Pos(1)) > 0 {
		t.Fatalf("acknowledged %v while b and c stayed at 1", ack)
	}

	// Run 2: the quiet tables' idle commits move them, and the ack, along.
	src.batches <- changeAt("a", 8, 2, "a2 at 8")
	src.batches <- capture.Batch{Position: memsource.Pos(9), CommitTime: time.Now()}
	require.NoError(t, runCoordinator(t, src, cat, runOpts{mode: transform.Upsert, idle: 50 * time.Millisecond, wantStream: true,
		until: func() bool { a := src.lastAck(); return a != nil && a.Compare(memsource.Pos(9)) >= 0 }}))
	for _, name := range []string{"a", "b", "c"} {
		require.Equal(t, memsource.Pos(9), position(t, cat, name), name)
	}

	// Run 3: a Sync batch commits every table at its position and
	// acknowledges it, without waiting for the idle interval.
	src.batches <- changeAt("b", 10, 1, "b1 at 10")
	src.batches <- capture.Batch{Position: memsource.Pos(12), CommitTime: time.Now(), Sync: true}
	require.NoError(t, runCoordinator(t, src, cat, runOpts{mode: transform.Upsert, wantStream: true,
		until: func() bool { a := src.lastAck(); return a != nil && a.Compare(memsource.Pos(12)) >= 0 }}))
	for _, name := range []string{"a", "b", "c"} {
		require.Equal(t, memsource.Pos(12), position(t, cat, name), name)
	}
	require.Equal(t, "b1 at 10", scanRows(t, cat, "b")[1])
}

// TestContinuityGaps: a table whose identity changed, one the source no
// longer carried and one whose position is behind the source's start are
// each reset (one commit empties it and records the new plan and why) and
// snapshotted again, exactly at an exported position, while the table
// whose continuity holds resumes without being read again; a change of a
// reset table at or before the exported position is skipped, a later one
// applied. With snapshot.mode never the run refuses instead, naming each
// table, its reason and floe resnapshot.
func TestContinuityGaps(t *testing.T) {
	for _, mode := range []transform.Mode{transform.Upsert, transform.Changelog} {
		t.Run(mode.String(), func(t *testing.T) { continuityGaps(t, mode) })
	}
}

func continuityGaps(t *testing.T, mode transform.Mode) {
	cat, _ := openCatalog(t)
	names := []string{"keep", "recreated", "dropped", "behind"}
	src := newSlotSource(t, cat, 30, names...)
	require.NoError(t, runCoordinator(t, src, cat, runOpts{mode: mode, until: atLeast(t, cat, memsource.Pos(1), names...)}))
	for _, name := range names {
		var st ledger.SourceTable
		require.NoError(t, json.Unmarshal([]byte(latestProps(t, cat, name)[ledger.PropSourceTable]), &st))
		require.Equal(t, ledger.SourceTable{Version: 1, Table: "s." + name, Identity: name + "#1"}, st)
	}
	// Every table commits 5, and the slot confirms it; then "behind" is
	// set back to 3, as if something else (another catalog, or a run
	// without it) had acknowledged the slot past it.
	src.batches = make(chan capture.Batch, 16)
	src.batches <- capture.Batch{Position: memsource.Pos(5), CommitTime: time.Now(), Sync: true}
	require.NoError(t, runCoordinator(t, src, cat, runOpts{mode: mode, wantStream: true, until: atLeast(t, cat, memsource.Pos(5), names...)}))
	require.Equal(t, memsource.Pos(5), src.lastAck())
	b, err := cat.LoadTable(context.Background(), lakewriter.Ident{Namespace: "lake", Name: "behind"})
	require.NoError(t, err)
	_, err = b.Commit(context.Background(), lakewriter.Commit{Token: ledger.PropCheckpoint,
		Props: commitMeta{pipeline: "p", checkpoint: 90, pos: memsource.Pos(3), source: ledger.SourceTable{Table: "s.behind", Identity: "behind#1"}}.props()})
	require.NoError(t, err)

	// Meanwhile: "recreated" was dropped and created with other rows,
	// "dropped" left the publication (and Start puts it back), "behind"
	// missed changes.
	src.ids[capture.TableID{Schema: "s", Name: "recreated"}] = "recreated#2"
	src.ids[capture.TableID{Schema: "s", Name: "dropped"}] = ""
	src.onStart = map[capture.TableID]string{{Schema: "s", Name: "dropped"}: "dropped#2"}
	src.setRows("recreated", 12, " new")
	src.setRows("dropped", 40, " later")
	src.setRows("behind", 25, " later")

	// snapshot.mode never refuses, one line per table.
	var logs bytes.Buffer
	err = runCoordinator(t, src, cat, runOpts{mode: mode, snapshot: SnapshotNever, logs: &logs})
	require.Error(t, err)
	for _, want := range []string{
		"table s.recreated cannot be continued: its identity at the source is recreated#2 but its last commit (at mem.v1:5) recorded recreated#1",
		"table s.dropped cannot be continued: the source does not carry its changes",
	} {
		require.Contains(t, err.Error(), want)
	}
	require.Contains(t, err.Error(), "floe resnapshot --config FILE --table s.recreated")
	src.ids[capture.TableID{Schema: "s", Name: "dropped"}] = "" // Start ran: undo its re-adding
	// "behind" is found after Start (its position), also refused.
	src.ids[capture.TableID{Schema: "s", Name: "recreated"}] = "recreated#1"
	src.ids[capture.TableID{Schema: "s", Name: "dropped"}] = "dropped#1"
	err = runCoordinator(t, src, cat, runOpts{mode: mode, snapshot: SnapshotNever})
	require.ErrorContains(t, err, "table s.behind cannot be continued: its committed position mem.v1:3 is behind the source's start mem.v1:5")
	src.ids[capture.TableID{Schema: "s", Name: "recreated"}] = "recreated#2"
	src.ids[capture.TableID{Schema: "s", Name: "dropped"}] = ""

	// snapshot.mode initial resets and re-reads the three, exactly at 8.
	src.exportAt = memsource.Pos(8)
	src.resetReads()
	src.batches = make(chan capture.Batch, 16)
	src.batches <- changeAt("recreated", 7, 1, "at 7: already in the snapshot")
	src.batches <- changeAt("recreated", 8, 2, "at 8: already in the snapshot")
	src.batches <- changeAt("recreated", 9, 3, "at 9")
	src.batches <- capture.Batch{Position: memsource.Pos(10), CommitTime: time.Now(), Sync: true}
	logs.Reset()
	// Until every table committed 10 and the reset ones are published on
	// main: a commit at 10 can land on a re-snapshot branch before the
	// last chunk is read (beside the stream), and main is read below.
	caughtUp, onMain := atLeast(t, cat, memsource.Pos(10), names...), published(t, cat, names...)
	require.NoError(t, runCoordinator(t, src, cat, runOpts{mode: mode, logs: &logs, wantStream: true, until: func() bool { return caughtUp() && onMain() }}))

	reread := map[string]bool{}
	for k := range src.chunkReads() {
		reread[k[:len(k)-2]] = true
	}
	require.Equal(t, map[string]bool{"recreated": true, "dropped": true, "behind": true}, reread, "tables read again")
	causes := map[string]string{"recreated": ledger.CauseIdentity, "dropped": ledger.CauseNotCaptured, "behind": ledger.CausePosition}
	for _, name := range names {
		hist, err := tableHistory(t, cat, name)
		require.NoError(t, err)
		var resets []ledger.Reset
		var first map[string]string // the first commit after the reset
		for i := len(hist) - 1; i >= 0; i-- {
			p := hist[i].Props
			if s := p[ledger.PropReset]; s != "" {
				var r ledger.Reset
				require.NoError(t, json.Unmarshal([]byte(s), &r))
				resets = append(resets, r)
				require.Equal(t, memsource.Pos(8).String(), p[ledger.PropPosition], "%s: the reset commit carries the exported position", name)
				require.NotEmpty(t, p[ledger.PropSnapshot], "%s: the reset commit holds the new plan", name)
				if mode == transform.Upsert {
					require.Equal(t, "0", p["total-records"], "%s: the reset commit empties the table", name)
				}
				if i > 0 {
					first = hist[i-1].Props
				}
			}
		}
		if causes[name] == "" {
			require.Empty(t, resets, name)
			continue
		}
		require.Len(t, resets, 1, name)
		require.Equal(t, causes[name], resets[0].Cause, name)
		require.NotNil(t, first, name)
		// Read beside the stream (the source exports snapshots, and a
		// table streams), the chunks commit with the stream's checkpoints:
		// never before the exported position.
		firstPos, err := memsource.DecodePosition(first[ledger.PropPosition])
		require.NoError(t, err)
		require.GreaterOrEqual(t, firstPos.Compare(memsource.Pos(8)), 0, "%s: chunks commit at or after the exported position", name)
		require.NotContains(t, first, ledger.PropConvergeUntil, "%s: an exact snapshot does not converge", name)
		require.Contains(t, logs.String(), "table lost continuity with its source")
		require.Contains(t, logs.String(), "table=s."+name+" cause="+causes[name])
	}
	if mode == transform.Upsert {
		want := map[int64]string{}
		for k := int64(1); k <= 12; k++ {
			want[k] = "recreated" + strconv.FormatInt(k, 10) + " new"
		}
		want[3] = "at 9"
		require.Equal(t, want, scanRows(t, cat, "recreated"))
		require.Len(t, scanRows(t, cat, "dropped"), 40)
		require.Equal(t, "behind25 later", scanRows(t, cat, "behind")[25])
	} else {
		checkResetLog(t, cat, "recreated")
	}
	var st ledger.SourceTable
	require.NoError(t, json.Unmarshal([]byte(latestProps(t, cat, "dropped")[ledger.PropSourceTable]), &st))
	require.Equal(t, "dropped#2", st.Identity, "the identity after Start is recorded")
}

// checkResetLog checks the changelog of a reset table: ordered by
// position and sequence, a truncate row comes before every snapshot row
// of the new snapshot.
func checkResetLog(t *testing.T, cat *lakewriter.Catalog, name string) {
	ctx := context.Background()
	tbl, err := cat.LoadTable(ctx, lakewriter.Ident{Namespace: "lake", Name: name})
	require.NoError(t, err)
	layout := tbl.Layout()
	op, pos, seq := layout.Index(transform.ColOp), layout.Index(transform.ColPos), layout.Index(transform.ColSeq)
	type row struct {
		op, pos string
		seq     int64
	}
	var rows []row
	require.NoError(t, tbl.Scan(ctx, func(r schema.Row) error {
		rows = append(rows, row{r[op].(string), r[pos].(string), r[seq].(int64)})
		return nil
	}))
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].pos != rows[j].pos {
			return rows[i].pos < rows[j].pos
		}
		return rows[i].seq < rows[j].seq
	})
	var truncates, reads, after int
	for _, r := range rows {
		switch {
		case r.op == "t":
			require.Equal(t, memsource.Pos(8).String(), r.pos)
			require.Equal(t, int64(-1), r.seq)
			truncates++
		case r.pos == memsource.Pos(8).String() && r.op == "r":
			require.Equal(t, 1, truncates, "a snapshot row of the new snapshot before the truncate")
			reads++
		case r.pos > memsource.Pos(8).String():
			after++
		}
	}
	require.Equal(t, 1, truncates)
	require.Equal(t, 12, reads)
	require.Equal(t, 1, after, "the change at 9")
}

func tableHistory(t *testing.T, cat *lakewriter.Catalog, name string) ([]lakewriter.Snapshot, error) {
	tbl, err := cat.LoadTable(context.Background(), lakewriter.Ident{Namespace: "lake", Name: name})
	require.NoError(t, err)
	ref, err := resnapshotBranch(context.Background(), tbl) // the ledger recovery reads
	require.NoError(t, err)
	return tbl.HistoryOn(context.Background(), ref)
}

// TestIdentityChangeWhileStreaming: a table that leaves the publication
// while the pipeline streams stops it before any table commits past that
// point, naming the table; the next run then resets it.
func TestIdentityChangeWhileStreaming(t *testing.T) {
	cat, _ := openCatalog(t)
	src := newSlotSource(t, cat, 10, "a", "b")
	require.NoError(t, runCoordinator(t, src, cat, runOpts{mode: transform.Upsert, until: atLeast(t, cat, memsource.Pos(1), "a", "b")}))

	src.batches = make(chan capture.Batch, 16)
	src.batches <- changeAt("a", 2, 1, "at 2")
	src.batches <- capture.Batch{Position: memsource.Pos(3), CommitTime: time.Now(), Sync: true}
	var gone sync.Once
	err := runCoordinator(t, src, cat, runOpts{mode: transform.Upsert, until: func() bool {
		if atLeast(t, cat, memsource.Pos(3), "a", "b")() {
			gone.Do(func() {
				src.mu.Lock()
				src.ids[capture.TableID{Schema: "s", Name: "b"}] = ""
				src.mu.Unlock()
				src.batches <- changeAt("a", 4, 1, "at 4")
			})
		}
		return false
	}})
	require.True(t, errors.Is(err, errIdentityChanged), "%v", err)
	require.ErrorContains(t, err, "table s.b left the publication while floe ran (it was b#1)")
	for _, name := range []string{"a", "b"} {
		require.Equal(t, memsource.Pos(3), position(t, cat, name), "%s committed past the change", name)
	}

	src.onStart = map[capture.TableID]string{{Schema: "s", Name: "b"}: "b#2"}
	src.exportAt = memsource.Pos(5)
	var logs bytes.Buffer
	require.NoError(t, runCoordinator(t, src, cat, runOpts{mode: transform.Upsert, logs: &logs, until: atLeast(t, cat, memsource.Pos(5), "b")}))
	require.Contains(t, logs.String(), "table=s.b cause="+ledger.CauseNotCaptured)
}

// TestUndecodableChange: a change the source could not decode is skipped
// when its table's snapshot already holds it (at or before the table's
// committed position) and otherwise stops the pipeline naming the table,
// the value and the fix.
func TestUndecodableChange(t *testing.T) {
	cat, _ := openCatalog(t)
	src := newSlotSource(t, cat, 10, "a", "b")
	src.confirmed, src.exportAt = memsource.Pos(2), memsource.Pos(4) // a slot exists; the snapshot is exported at 4
	bad := func(table string, pos int) capture.Batch {
		return capture.Batch{Position: memsource.Pos(pos), CommitTime: time.Now(), Changes: []capture.Change{{
			Table: capture.TableID{Schema: "s", Name: table}, Op: capture.OpInsert, Schema: fakeLayout,
			Err: fmt.Errorf(`column v (int4[]): value "{{1,2},{3,4}}": multi-dimensional arrays cannot be stored as an Iceberg list`)}}}
	}
	src.batches = make(chan capture.Batch, 16)
	src.batches <- bad("a", 3) // before the snapshot: skipped
	src.batches <- changeAt("a", 5, 1, "at 5")
	src.batches <- capture.Batch{Position: memsource.Pos(6), CommitTime: time.Now(), Sync: true}
	require.NoError(t, runCoordinator(t, src, cat, runOpts{mode: transform.Upsert, wantStream: true, until: atLeast(t, cat, memsource.Pos(6), "a", "b")}))
	require.Equal(t, "at 5", scanRows(t, cat, "a")[1])

	src.batches <- bad("b", 7)
	err := runCoordinator(t, src, cat, runOpts{mode: transform.Upsert, until: func() bool { return false }})
	require.ErrorContains(t, err, `change of s.b at mem.v1:7: column v (int4[]): value "{{1,2},{3,4}}": multi-dimensional`)
	require.ErrorContains(t, err, "fix: correct or delete the row at the source, then re-snapshot the table with `floe resnapshot --config FILE --table s.b`")
}
