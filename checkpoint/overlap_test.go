package checkpoint

import (
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/memsource"
	"github.com/floe-cdc/floe/transform"
)

// counterSum is the sum of the counters of v.
func counterSum(v *prometheus.CounterVec) float64 {
	ch := make(chan prometheus.Metric, 16)
	go func() { v.Collect(ch); close(ch) }()
	var sum float64
	for m := range ch {
		var d dto.Metric
		if m.Write(&d) == nil {
			sum += d.GetCounter().GetValue()
		}
	}
	return sum
}

// holdFirstLanding makes the first commit that lands wait, as it starts,
// until the stream has applied more than applied changes (metrics.Changes),
// then run then (nil: nothing). It reports whether that happened within a
// minute: were the commit landing in the foreground, nothing more would be
// applied until it landed.
func holdFirstLanding(t *testing.T, metrics *Metrics, applied float64, then func()) (overlapped func() bool) {
	var (
		mu         sync.Mutex
		started    bool
		sawApplied bool
	)
	prev := landHook
	landHook = func(capture.TableID) {
		mu.Lock()
		first := !started
		started = true
		mu.Unlock()
		if !first {
			return
		}
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if counterSum(metrics.Changes) > applied {
				mu.Lock()
				sawApplied = true
				mu.Unlock()
				if then != nil {
					then()
				}
				return
			}
		}
	}
	t.Cleanup(func() { landHook = prev })
	return func() bool {
		mu.Lock()
		defer mu.Unlock()
		return sawApplied
	}
}

// TestStreamAppliesWhileCheckpointLands: a checkpoint of streamed changes
// lands in the background while the stream applies the next transactions
// (overlap.go). A checkpoint is due after every transaction; the first
// one's commit waits, as it starts landing, for a change of a later
// transaction to be applied. The acknowledgements keep their rule
// (checkAck, at each one: every table holds exactly the source's rows up
// to it), and the table ends with exactly the source's rows.
func TestStreamAppliesWhileCheckpointLands(t *testing.T) {
	l := newLake(t, transform.Upsert, "a")
	l.exec(inserts("a", "a0", 1, 2, 3)...)
	l.snapshotAll()

	metrics := NewMetrics(nil)
	overlapped := holdFirstLanding(t, metrics, 1, nil)
	end := l.exec("UPDATE a SET v = 'a1' WHERE id = 1", "UPDATE a SET v = 'a2' WHERE id = 2",
		"UPDATE a SET v = 'a3' WHERE id = 3", "UPDATE a SET v = 'a4' WHERE id = 1")
	src := l.source(memsource.Config{})
	require.NoError(t, l.run(src, runOpts{wantStream: true, maxChanges: 1, metrics: metrics, until: acked(src, end)}))
	require.True(t, overlapped(), "no change was applied while the first checkpoint landed")
	require.Positive(t, l.acks.Load(), "nothing was acknowledged")
	require.Equal(t, end, l.committed("a"))
	l.check("a")
}

// TestLandingCommitFailureEndsTheRun: a commit that fails while it lands
// in the background ends the run with its error, after the stream applied
// changes past it; nothing past the table's committed position is
// acknowledged, and the next run replays what was applied meanwhile:
// exactly the source's rows.
func TestLandingCommitFailureEndsTheRun(t *testing.T) {
	l := newLake(t, transform.Upsert, "a")
	l.exec(inserts("a", "a0", 1, 2, 3)...)
	l.snapshotAll()
	before := l.committed("a")

	f := l.faults()
	metrics := NewMetrics(nil)
	overlapped := holdFirstLanding(t, metrics, 1, func() { f.refuse("a") })
	l.exec("UPDATE a SET v = 'a1' WHERE id = 1", "DELETE FROM a WHERE id = 2", "UPDATE a SET v = 'a3' WHERE id = 3")
	src := l.source(memsource.Config{})
	err := l.run(src, runOpts{maxChanges: 1, metrics: metrics})
	require.ErrorContains(t, err, "injected: commit of a refused")
	require.True(t, overlapped(), "no change was applied while the first checkpoint landed")
	require.Equal(t, before, l.committed("a"), "the refused commit landed")
	if a := src.Acked(); a != nil {
		require.LessOrEqual(t, a.Compare(before), 0, "acknowledged %s past a's committed %s", a, before)
	}

	f.heal("a")
	end := l.exec("INSERT INTO a VALUES (4, 'a4')")
	src = l.source(memsource.Config{})
	require.NoError(t, l.run(src, runOpts{wantStream: true, until: acked(src, end)}))
	require.Equal(t, end, l.committed("a"))
	l.check("a")
}
