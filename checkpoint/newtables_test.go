package checkpoint

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/memsource"
	"github.com/floe-cdc/floe/transform"
)

// lookingSource is a memsource.Source that is also a capture.NewTableFinder.
// NewTables answers found, or, when hang is set, waits for its context to
// end, as an ask to a source that stopped answering (a half-open
// connection) does for its connect timeout. Its Stream fails with
// streamErr once a look has started (the stream noticed the same dead
// source), when streamErr is set.
type lookingSource struct {
	*memsource.Source
	found     []capture.TableID
	hang      bool
	streamErr error
	asked     chan struct{} // closed when the first look starts
	once      sync.Once
}

// lookingLake is a lake with table a (3 rows) snapshotted, and a
// lookingSource over it.
func lookingLake(t *testing.T) (*lake, *lookingSource) {
	l := newLake(t, transform.Upsert, "a")
	l.exec(inserts("a", "a0", 1, 2, 3)...)
	l.snapshotAll()
	return l, &lookingSource{Source: l.source(memsource.Config{}), asked: make(chan struct{})}
}

func (s *lookingSource) NewTables(ctx context.Context) ([]capture.TableID, error) {
	s.once.Do(func() { close(s.asked) })
	if !s.hang {
		return s.found, nil
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

func (s *lookingSource) Stream(ctx context.Context, out chan<- capture.Batch) error {
	if s.streamErr == nil {
		return s.Source.Stream(ctx, out)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Source.Stream(sctx, out) }()
	select {
	case <-s.asked:
		cancel()
		<-done
		return s.streamErr
	case err := <-done:
		cancel()
		return err
	}
}

// TestContractStreamEndSeenWhileLookingForTables: the look for new
// tables runs beside the coordinator, so a stream that fails while a
// look waits for a source that stopped answering ends the attempt with
// the stream's error at once. (Asked on the coordinator's goroutine, the
// look held it for the source's connect timeout, again and again, and a
// half-open PostgreSQL connection went unnoticed for minutes.)
func TestContractStreamEndSeenWhileLookingForTables(t *testing.T) {
	t.Parallel()
	l, src := lookingLake(t)
	src.hang = true
	src.streamErr = errors.New("injected: the stream stalled")
	err := l.run(src, runOpts{interval: 10 * time.Millisecond})
	require.ErrorIs(t, err, src.streamErr)
	l.check("a")
}

// TestContractStopWhileLookingForTables: a stop signal while a look for
// new tables hangs stops the run after its final checkpoint; the look is
// cancelled.
func TestContractStopWhileLookingForTables(t *testing.T) {
	t.Parallel()
	l, src := lookingLake(t)
	src.hang = true
	looking := func() bool {
		select {
		case <-src.asked:
			return true
		default:
			return false
		}
	}
	require.NoError(t, l.run(src, runOpts{interval: 10 * time.Millisecond, wantStream: true, until: looking}))
	l.check("a")
}

// TestContractNewTableRestarts: a look that finds a table the run does
// not capture restarts the stream (ErrRestart) at the next tick, after
// its commits, so the next attempt discovers and snapshots the table.
func TestContractNewTableRestarts(t *testing.T) {
	t.Parallel()
	l, src := lookingLake(t)
	src.found = []capture.TableID{{Schema: "s", Name: "a"}, {Schema: "s", Name: "b"}}
	l.exec("UPDATE a SET v = 'a1' WHERE id = 2")
	end := l.db.Sync()
	err := l.run(src, runOpts{interval: 10 * time.Millisecond})
	require.ErrorIs(t, err, ErrRestart)
	require.GreaterOrEqual(t, l.committed("a"), end, "the changes before the restart are committed")
	l.check("a")
}
