package checkpoint

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/memsource"
	"github.com/floe-cdc/floe/lakewriter/ledger"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/transform"
)

// TestContractSnapshotBesideStream: a table re-snapshotted while the
// other streams, from a source that exports snapshots of its own, is read
// beside the stream. While its chunk reads are held, the other table
// commits a change made after they began; changes of the table itself
// made after the export (an update, a delete and an insert in chunks not
// read yet, then more once the reads go on) win over its chunk rows; and
// both tables end equal to the source, in upsert and changelog mode.
func TestContractSnapshotBesideStream(t *testing.T) {
	for _, mode := range []transform.Mode{transform.Upsert, transform.Changelog} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			besideStream(t, mode, func(s *memsource.Source) capture.Source { return memsource.WithExport(s) })
		})
	}
}

func besideStream(t *testing.T, mode transform.Mode, wrap func(*memsource.Source) capture.Source) {
	l, b, ctl, board := resnapshotAsked(t, mode)

	// The second reads b beside the stream: its reads wait for release.
	held := holdReads("b")
	src := l.source(held.config())
	var aChanged, end memsource.Pos
	step := 0
	var logs bytes.Buffer
	defer func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	}()
	err := l.run(wrap(src), runOpts{logs: &logs, wantStream: true, status: board, control: ctl, until: func() bool {
		switch step {
		case 0: // the export is taken and b's first chunk waits
			if !held.began() {
				return false
			}
			l.exec("UPDATE b SET v = 'b1' WHERE id = 95", "DELETE FROM b WHERE id = 96", "INSERT INTO b VALUES (101, 'b1')",
				"UPDATE b SET v = 'b1' WHERE id = 3")
			aChanged = l.exec("UPDATE a SET v = 'a1' WHERE id = 1")
			step++
		case 1: // a commits its change while b's reads are held
			if l.committed("a") < aChanged {
				return false
			}
			held.free()
			l.exec("UPDATE b SET v = 'b2' WHERE id = 95", "DELETE FROM b WHERE id = 97", "UPDATE b SET v = 'b2' WHERE id = 50")
			end = l.db.Sync()
			step++
		case 2: // b's snapshot is complete, and everything is acknowledged
			st, ok := board.Load()
			if !ok || !acked(src, end)() {
				return false
			}
			for _, tl := range st.Tables {
				if tl.Snapshotting {
					return false
				}
			}
			return true
		}
		return false
	}})
	held.free()
	require.NoError(t, err)
	require.False(t, ctl.ResnapshotPending(b))
	l.check("a")
	l.check("b")
	require.Equal(t, "b2", l.row("b", 95), "row 95, updated after the export twice")
	require.Equal(t, "", l.row("b", 96), "row 96, deleted after the export")
	require.Equal(t, "b1", l.row("b", 101), fmt.Sprintf("row 101, inserted after the export (%s mode)", mode))
}

// TestContractSnapshotBesideStreamStopped: a run stopped while a table is
// read beside the stream commits the chunks it applied and the stream's
// changes of the table, also of keys in chunks not read yet; the next
// run, without the exported snapshot, reads the rest before the stream
// (and converges by replay), its rows replacing what the stream wrote
// (capture.SnapshotPlan.Streamed), and the table ends equal to the source
// with every change made before, during and after the stop, no key held
// twice.
func TestContractSnapshotBesideStreamStopped(t *testing.T) {
	gate := func(ctx context.Context, id capture.TableID, ch capture.Chunk) error {
		if id.Name == "b" && ch.Index >= 2 {
			<-ctx.Done() // the read is cancelled, as a server's would be
			return ctx.Err()
		}
		return nil
	}
	t.Run("exported", func(t *testing.T) {
		t.Parallel()
		besideStopped(t, func(s *memsource.Source) capture.Source {
			return gatedSource{Exporting: memsource.WithExport(s), gate: gate}
		}, func(s *memsource.Source) capture.Source { return memsource.WithExport(s) })
	})
}

func besideStopped(t *testing.T, gated, plain func(*memsource.Source) capture.Source) {
	l, _, ctl, board := resnapshotAsked(t, transform.Upsert)

	// Chunks after the first two wait until the run is stopped; it stops
	// once b has committed changes of keys in them (99, 98, 101).
	var changedAt memsource.Pos
	err := l.run(gated(l.source(memsource.Config{})), runOpts{wantStream: true, status: board, control: ctl, until: func() bool {
		if changedAt != 0 {
			return l.committed("b") >= changedAt
		}
		if !l.snapshotting("b") {
			return false
		}
		hist, err := tableHistory(t, l.cat, "b")
		require.NoError(t, err)
		plan, err := capture.DecodeSnapshotPlan(hist[0].Props[ledger.PropSnapshot])
		require.NoError(t, err)
		if len(plan.Done) < 2 {
			return false
		}
		changedAt = l.exec("UPDATE b SET v = 'b1' WHERE id = 1", "UPDATE b SET v = 'b1' WHERE id = 99", "DELETE FROM b WHERE id = 98",
			"INSERT INTO b VALUES (101, 'b1')")
		return false
	}})
	require.NoError(t, err)
	require.True(t, l.snapshotting("b"), "stopped with chunks left")

	l.exec("UPDATE b SET v = 'b2' WHERE id = 99", "INSERT INTO b VALUES (102, 'b2')")
	end := l.db.Sync()
	src := l.source(memsource.Config{})
	require.NoError(t, l.run(plain(src), runOpts{wantStream: true, status: board, control: ctl, until: func() bool {
		return acked(src, end)() && !l.snapshotting("b")
	}}))
	l.check("a")
	l.check("b")
}

// heldReads holds a memsource's chunk reads of one table until free.
type heldReads struct {
	table             string
	reading, release  chan struct{}
	readOnce, freeOne sync.Once
}

func holdReads(table string) *heldReads {
	return &heldReads{table: table, reading: make(chan struct{}), release: make(chan struct{})}
}

// config is a memsource.Config whose chunk reads of the table wait until
// free (or 30 s, when the test failed and the run is to stop).
func (h *heldReads) config() memsource.Config {
	return memsource.Config{
		OnReadChunk: func(id capture.TableID, _ capture.Chunk) error {
			if id.Name != h.table {
				return nil
			}
			h.readOnce.Do(func() { close(h.reading) })
			select {
			case <-h.release:
			case <-time.After(30 * time.Second):
			}
			return nil
		},
	}
}

// began reports whether a read of the table has begun.
func (h *heldReads) began() bool {
	select {
	case <-h.reading:
		return true
	default:
		return false
	}
}

// free lets the reads go on; calling it again does nothing.
func (h *heldReads) free() { h.freeOne.Do(func() { close(h.release) }) }

// gatedSource holds chunk reads of an exporting memsource at gate, which
// sees the read's context.
type gatedSource struct {
	memsource.Exporting
	gate func(ctx context.Context, id capture.TableID, ch capture.Chunk) error
}

func (g gatedSource) ReadChunk(ctx context.Context, id capture.TableID, ch capture.Chunk) (capture.Batch, error) {
	if err := g.gate(ctx, id, ch); err != nil {
		return capture.Batch{}, err
	}
	return g.Exporting.ReadChunk(ctx, id, ch)
}

// resnapshotAsked sets up tables a (3 rows) and b (100 rows: 5 chunks of
// 20), snapshots both, and runs a first attempt that ends for a
// re-snapshot of b asked through the returned Control (ErrRestart). b's
// new snapshot is at a later position than its first: in changelog mode,
// rows of two snapshots at one position could not be told apart by
// (_floe_pos, _floe_seq).
func resnapshotAsked(t *testing.T, mode transform.Mode) (*lake, capture.TableID, *Control, *StatusBoard) {
	t.Helper()
	l := newLake(t, mode, "a", "b")
	ids := make([]int, 100)
	for i := range ids {
		ids[i] = i + 1
	}
	l.exec(append(inserts("a", "a0", 1, 2), inserts("b", "b0", ids...)...)...)
	l.snapshotAll()
	l.exec(inserts("a", "a0", 3)...)
	b := capture.TableID{Schema: "s", Name: "b"}
	ctl, board := NewControl(), NewStatusBoard()
	asked := false
	var logs bytes.Buffer
	err := l.run(l.source(memsource.Config{}), runOpts{logs: &logs, status: board, control: ctl, deadline: 10 * time.Second, until: func() bool {
		if _, ok := board.Load(); ok && !asked {
			require.NoError(t, ctl.Resnapshot(b))
			asked = true
		}
		return false
	}})
	require.ErrorIs(t, err, ErrRestart, "first attempt; log:\n%s", logs.String())
	return l, b, ctl, board
}

// watermarkBeside is a source that reads chunks at watermarks beside the
// stream (capture.BesideWatermarker) and exports no snapshot, as MariaDB.
type watermarkBeside struct {
	*memsource.Source
	reads bool // ReadsAtWatermarks' answer
}

var _ capture.BesideWatermarker = watermarkBeside{}

func (s watermarkBeside) SetWatermarks(context.Context, map[capture.TableID]*capture.SnapshotPlan) error {
	return nil
}

func (s watermarkBeside) ReadsAtWatermarks(capture.TableID) bool { return s.reads }

// TestBesideEligibleByWatermark: without an exported snapshot, tables are
// read beside the stream only when the source reads every chunk of each
// of them at a watermark of its own.
func TestBesideEligibleByWatermark(t *testing.T) {
	db := memsource.NewDB("s")
	order := []*tableRun{{id: capture.TableID{Schema: "s", Name: "a"}}, {id: capture.TableID{Schema: "s", Name: "b"}, needsSnapshot: true}}
	for _, tc := range []struct {
		name string
		src  capture.Source
		want bool
	}{
		{"plain source", memsource.New(db, memsource.Config{}), false},
		{"exporting source", memsource.WithExport(memsource.New(db, memsource.Config{})), true},
		{"watermarks, not this table's", watermarkBeside{Source: memsource.New(db, memsource.Config{})}, false},
		{"watermarks", watermarkBeside{Source: memsource.New(db, memsource.Config{}), reads: true}, true},
	} {
		c := &Coordinator{order: order, opts: Options{Source: tc.src}}
		require.Equal(t, tc.want, c.besideEligible(capture.StartInfo{From: memsource.Pos(1)}), tc.name)
	}
}

// TestBesideChunkByWatermark: a chunk read at watermark W beside the
// stream waits until the stream has applied W; its rows and the source's
// deletes of keys gone at W are then kept or left out by what the stream
// applied of each key: in upsert mode a row of a key changed at or before
// W replaces its image (a delete first) and one changed after W is left
// out; in both modes a delete is kept only for a key the stream changed
// at or before W and not after.
func TestBesideChunkByWatermark(t *testing.T) {
	layout := &schema.Table{Columns: []schema.Column{
		{Name: "id", Type: iceberg.PrimitiveTypes.Int64}, {Name: "v", Type: iceberg.PrimitiveTypes.String}}, Key: []int{0}}
	id := capture.TableID{Schema: "s", Name: "b"}
	key := func(n int64) string { return string(schema.AppendKey(nil, layout, schema.Row{n, nil})) }
	read := func(n int64) capture.Change {
		return capture.Change{Table: id, Op: capture.OpRead, Schema: layout, After: schema.Row{n, "r"}}
	}
	gone := func(n int64) capture.Change {
		return capture.Change{Table: id, Op: capture.OpDelete, Schema: layout, Before: schema.Row{n, nil}, BeforeKeyOnly: true}
	}
	// Changed before W (5, 8), after it (12), never (3, 6).
	changed := map[string]capture.Position{key(1): memsource.Pos(5), key(2): memsource.Pos(12), key(4): memsource.Pos(8), key(5): memsource.Pos(12)}
	chunk := []capture.Change{read(1), read(2), read(3), gone(4), gone(5), gone(6)}
	describe := func(chs []capture.Change) []string {
		var out []string
		for _, ch := range chs {
			row := ch.After
			if row == nil {
				row = ch.Before
			}
			out = append(out, fmt.Sprintf("%s %d", ch.Op, row[0]))
		}
		return out
	}
	for _, tc := range []struct {
		mode transform.Mode
		want []string
	}{
		{transform.Upsert, []string{"d 1", "r 1", "r 3", "d 4"}},
		{transform.Changelog, []string{"r 1", "r 2", "r 3", "d 4"}},
	} {
		tbl := &tableRun{id: id, beside: &besideTable{changed: maps.Clone(changed), byWatermark: true, left: 1}}
		c := &Coordinator{log: slog.New(slog.DiscardHandler), tables: map[capture.TableID]*tableRun{id: tbl}, opts: Options{Mode: tc.mode}}
		r := chunkRead{batch: capture.Batch{Position: memsource.Pos(10), Chunk: &capture.ChunkRef{Table: id, Index: 0}, Changes: slices.Clone(chunk)}}
		c.lastPos = memsource.Pos(9)
		require.True(t, c.besideWaits(r), "%s: a chunk at 10 waits while the stream is at 9", tc.mode)
		c.lastPos = memsource.Pos(10)
		require.False(t, c.besideWaits(r), "%s: a chunk at 10 goes once the stream is at 10", tc.mode)
		c.dropSuperseded(tbl, &r)
		require.Equal(t, tc.want, describe(r.batch.Changes), tc.mode.String())
	}
	// A chunk of an exported snapshot (PostgreSQL) never waits.
	tbl := &tableRun{id: id, beside: &besideTable{changed: map[string]capture.Position{}}}
	c := &Coordinator{tables: map[capture.TableID]*tableRun{id: tbl}, lastPos: memsource.Pos(1)}
	require.False(t, c.besideWaits(chunkRead{batch: capture.Batch{Position: memsource.Pos(10), Chunk: &capture.ChunkRef{Table: id}}}))
}

// TestBesideInterruptedPlanRestarts: an incomplete plan read beside the
// stream resumes (its rows replacing the stream's) only from a source
// that exports snapshots; from one that reads at watermarks the table is
// reset and planned anew, and a complete or ordinary plan is left alone.
func TestBesideInterruptedPlanRestarts(t *testing.T) {
	db := memsource.NewDB("s")
	plan := func(streamed bool, done ...int) *capture.SnapshotPlan {
		p := &capture.SnapshotPlan{Chunks: []capture.Chunk{{Index: 0}, {Index: 1}}, Done: map[int]bool{}, Streamed: streamed}
		for _, i := range done {
			p.Done[i] = true
		}
		return p
	}
	for _, tc := range []struct {
		name      string
		src       capture.Source
		plan      *capture.SnapshotPlan
		wantReset bool
	}{
		{"watermarks, interrupted", watermarkBeside{Source: memsource.New(db, memsource.Config{}), reads: true}, plan(true, 0), true},
		{"watermarks, nothing read", watermarkBeside{Source: memsource.New(db, memsource.Config{}), reads: true}, plan(true), true},
		{"watermarks, complete", watermarkBeside{Source: memsource.New(db, memsource.Config{}), reads: true}, plan(true, 0, 1), false},
		{"watermarks, read before the stream", watermarkBeside{Source: memsource.New(db, memsource.Config{}), reads: true}, plan(false, 0), false},
		{"exported snapshot", memsource.WithExport(memsource.New(db, memsource.Config{})), plan(true, 0), false},
	} {
		tbl := &tableRun{id: capture.TableID{Schema: "s", Name: "b"}, plan: tc.plan, needsSnapshot: !tc.plan.Complete(), committed: memsource.Pos(7)}
		c := &Coordinator{order: []*tableRun{tbl}, opts: Options{Source: tc.src}}
		c.restartBesidePlans()
		if !tc.wantReset {
			require.Nil(t, tbl.reset, tc.name)
			require.Same(t, tc.plan, tbl.plan, tc.name)
			continue
		}
		require.NotNil(t, tbl.reset, tc.name)
		require.Equal(t, CauseBesideInterrupted, tbl.reset.Cause, tc.name)
		require.Equal(t, memsource.Pos(7).String(), tbl.reset.Previous, tc.name)
		require.Nil(t, tbl.plan, tc.name)
		require.True(t, tbl.needsSnapshot, tc.name)
	}
}
