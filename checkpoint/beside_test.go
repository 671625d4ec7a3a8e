package checkpoint

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/memsource"
	"github.com/floe-cdc/floe/lakewriter/ledger"
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
	reading, release := make(chan struct{}), make(chan struct{})
	var readOnce, releaseOnce sync.Once
	cfg := memsource.Config{
		OnReadChunk: func(id capture.TableID, _ capture.Chunk) error {
			if id.Name != "b" {
				return nil
			}
			readOnce.Do(func() { close(reading) })
			select {
			case <-release:
			case <-time.After(30 * time.Second): // the test failed; let the run stop
			}
			return nil
		},
	}
	src := l.source(cfg)
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
			select {
			case <-reading:
			default:
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
			releaseOnce.Do(func() { close(release) })
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
	releaseOnce.Do(func() { close(release) })
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
