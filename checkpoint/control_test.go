package checkpoint

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/memsource"
	"github.com/floe-cdc/floe/lakewriter/ledger"
	"github.com/floe-cdc/floe/transform"
)

// pausedOn reports whether the board shows table name paused.
func pausedOn(board *StatusBoard, name string) bool {
	st, ok := board.Load()
	if !ok {
		return false
	}
	for _, tl := range st.Tables {
		if tl.Source == "s."+name {
			return tl.Paused
		}
	}
	return false
}

// TestContractPauseResume: a paused table commits nothing while the
// others stream and checkpoint, and the source is acknowledged nothing
// past its position (so its changes stay there); a resume after it
// missed changes ends the attempt (ErrRestart) and the next one brings
// it up to the source; a run that stops while a table is paused (as after
// a crash: a new process, no pause) loses none of its changes either.
func TestContractPauseResume(t *testing.T) {
	t.Parallel()
	for _, mode := range []transform.Mode{transform.Upsert, transform.Changelog} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			pauseResume(t, mode)
		})
	}
}

func pauseResume(t *testing.T, mode transform.Mode) {
	l := newLake(t, mode, "a", "b")
	l.exec(append(inserts("a", "a0", 1, 2), inserts("b", "b0", 1, 2)...)...)
	l.snapshotAll()
	b := capture.TableID{Schema: "s", Name: "b"}

	ctl, board := NewControl(), NewStatusBoard()
	_, err := ctl.Pause(b)
	require.ErrorContains(t, err, "not recovered its tables yet", "a pause before the run knows its tables")

	// Pause b while the run streams, then change both tables.
	var paused memsource.Pos
	var end memsource.Pos
	src := l.source(memsource.Config{})
	require.NoError(t, l.run(src, runOpts{wantStream: true, status: board, control: ctl, until: func() bool {
		if end == 0 {
			if _, ok := board.Load(); !ok {
				return false
			}
			_, err := ctl.Pause(capture.TableID{Schema: "s", Name: "nope"})
			require.ErrorIs(t, err, ErrUnknownTable)
			changed, err := ctl.Pause(b)
			require.NoError(t, err)
			require.True(t, changed)
			for !pausedOn(board, "b") {
				time.Sleep(5 * time.Millisecond)
			}
			paused = l.committed("b")
			l.exec("UPDATE a SET v = 'a1' WHERE id = 1", "UPDATE b SET v = 'b1' WHERE id = 1", "INSERT INTO b VALUES (3, 'b1')",
				"DELETE FROM b WHERE id = 2", "INSERT INTO a VALUES (3, 'a1')")
			end = l.db.Sync()
		}
		return l.committed("a") >= end
	}}))
	require.Equal(t, paused, l.committed("b"), "the paused table committed")
	require.Less(t, paused, end)
	if a := src.Acked(); a != nil {
		require.LessOrEqual(t, a.Compare(paused), 0, "acknowledged %s past the paused table's %s", a, paused)
	}
	l.check("a")
	l.check("b") // as of its own position: nothing half-applied

	// Still paused in the next attempt of the run; a resume restarts the
	// stream, and the next attempt brings b up.
	l.exec("UPDATE b SET v = 'b2' WHERE id = 3")
	end = l.db.Sync()
	src = l.source(memsource.Config{})
	resumed := false
	err = l.run(src, runOpts{status: board, control: ctl, until: func() bool {
		if !resumed && l.committed("a") >= end {
			require.Equal(t, paused, l.committed("b"), "the paused table committed in the next attempt")
			changed, err := ctl.Resume(b)
			require.NoError(t, err)
			require.True(t, changed)
			resumed = true
		}
		return false
	}, deadline: 10 * time.Second})
	require.ErrorIs(t, err, ErrRestart)
	src = l.source(memsource.Config{})
	require.NoError(t, l.run(src, runOpts{wantStream: true, status: board, control: ctl, until: acked(src, end)}))
	require.False(t, pausedOn(board, "b"))
	l.check("a")
	l.check("b")
	require.Equal(t, end, l.committed("b"))

	// Paused, then the process ends: a new run (no pause) loses nothing.
	ctl = NewControl()
	end = 0
	src = l.source(memsource.Config{})
	require.NoError(t, l.run(src, runOpts{wantStream: true, status: board, control: ctl, until: func() bool {
		if end == 0 {
			if _, ok := board.Load(); !ok {
				return false
			}
			if _, err := ctl.Pause(b); err != nil {
				return false // the new run has not recovered yet
			}
			for !pausedOn(board, "b") {
				time.Sleep(5 * time.Millisecond)
			}
			paused = l.committed("b")
			l.exec("UPDATE b SET v = 'b3' WHERE id = 1", "UPDATE a SET v = 'a3' WHERE id = 1")
			end = l.db.Sync()
		}
		return l.committed("a") >= end
	}}))
	require.Equal(t, paused, l.committed("b"))
	src = l.source(memsource.Config{})
	require.NoError(t, l.run(src, runOpts{wantStream: true, until: acked(src, end)}))
	l.check("a")
	l.check("b")
}

// TestResumeInPlace: a table resumed before any change of it went by
// resumes without a restart.
func TestResumeInPlace(t *testing.T) {
	t.Parallel()
	l := newLake(t, transform.Upsert, "a", "b")
	l.exec(append(inserts("a", "a0", 1), inserts("b", "b0", 1)...)...)
	l.snapshotAll()
	b := capture.TableID{Schema: "s", Name: "b"}
	ctl, board := NewControl(), NewStatusBoard()
	var end memsource.Pos
	src := l.source(memsource.Config{})
	err := l.run(src, runOpts{wantStream: true, status: board, control: ctl, until: func() bool {
		if end == 0 {
			if _, ok := board.Load(); !ok {
				return false
			}
			_, err := ctl.Pause(b)
			require.NoError(t, err)
			for !pausedOn(board, "b") {
				time.Sleep(5 * time.Millisecond)
			}
			l.exec("UPDATE a SET v = 'a1' WHERE id = 1")
			mid := l.db.Sync()
			for l.committed("a") < mid {
				time.Sleep(5 * time.Millisecond)
			}
			_, err = ctl.Resume(b)
			require.NoError(t, err)
			for pausedOn(board, "b") {
				time.Sleep(5 * time.Millisecond)
			}
			l.exec("UPDATE b SET v = 'b1' WHERE id = 1")
			end = l.db.Sync()
		}
		return acked(src, end)()
	}})
	require.False(t, errors.Is(err, ErrRestart))
	require.NoError(t, err)
	l.check("a")
	l.check("b")
}

// TestContractResnapshotRequested: a re-snapshot asked of a running
// coordinator ends its attempt (ErrRestart) after committing; the next
// attempt empties the table in one commit recording the request
// (floe.reset, cause requested), reads it again while the other table
// keeps what it holds, and both end equal to the source; the request is
// gone once the reset commit landed.
func TestContractResnapshotRequested(t *testing.T) {
	t.Parallel()
	l := newLake(t, transform.Upsert, "a", "b")
	l.exec(append(inserts("a", "a0", 1, 2), inserts("b", "b0", 1, 2, 3)...)...)
	l.snapshotAll()
	b := capture.TableID{Schema: "s", Name: "b"}
	ctl, board := NewControl(), NewStatusBoard()
	require.ErrorContains(t, ctl.Resnapshot(b), "not recovered")

	l.exec("UPDATE b SET v = 'b1' WHERE id = 1")
	asked := false
	src := l.source(memsource.Config{})
	err := l.run(src, runOpts{status: board, control: ctl, deadline: 10 * time.Second, until: func() bool {
		if _, ok := board.Load(); ok && !asked {
			require.NoError(t, ctl.Resnapshot(b))
			asked = true
		}
		return false
	}})
	require.ErrorIs(t, err, ErrRestart)
	require.True(t, ctl.ResnapshotPending(b))

	l.exec("UPDATE a SET v = 'a1' WHERE id = 1", "DELETE FROM b WHERE id = 2")
	end := l.db.Sync()
	src = l.source(memsource.Config{})
	require.NoError(t, l.run(src, runOpts{wantStream: true, status: board, control: ctl, until: acked(src, end)}))
	require.False(t, ctl.ResnapshotPending(b))
	l.check("a")
	l.check("b")
	hist, err := tableHistory(t, l.cat, "b")
	require.NoError(t, err)
	resets := 0
	for _, s := range hist {
		if v := s.Props[ledger.PropReset]; v != "" {
			r, err := ledger.ParseReset(v)
			require.NoError(t, err)
			require.Equal(t, ledger.CauseRequested, r.Cause)
			resets++
		}
	}
	require.Equal(t, 1, resets)
}
