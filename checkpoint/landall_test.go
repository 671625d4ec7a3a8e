package checkpoint

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/memsource"
	"github.com/floe-cdc/floe/transform"
)

// TestCheckpointTablesLandConcurrently: the tables of one checkpoint
// commit at the same time, not one after the other (four tables at
// 0.3-0.6 s each made 2-4 s checkpoints of a 1 s interval on the
// sustained benchmark): the commits of a and b each wait, at the start of
// landing, for the other to start too. One after the other, the first
// would wait out the minute and the test fail; and the tables still hold
// exactly the source's rows.
func TestCheckpointTablesLandConcurrently(t *testing.T) {
	l := newLake(t, transform.Upsert, "a", "b")
	l.exec(append(inserts("a", "a0", 1, 2), inserts("b", "b0", 1, 2)...)...)
	l.snapshotAll()

	var (
		mu      sync.Mutex
		started = map[string]chan struct{}{"a": make(chan struct{}), "b": make(chan struct{})}
		met     = map[string]bool{}
	)
	prev := landHook
	landHook = func(id capture.TableID) {
		mu.Lock()
		ch, ok := started[id.Name]
		if ok {
			delete(started, id.Name)
			close(ch)
		}
		mu.Unlock()
		if !ok {
			return // a later checkpoint
		}
		other := map[string]string{"a": "b", "b": "a"}[id.Name]
		mu.Lock()
		otherCh, waiting := started[other]
		mu.Unlock()
		if waiting {
			select {
			case <-otherCh:
			case <-time.After(time.Minute):
				return
			}
		}
		mu.Lock()
		met[id.Name] = true
		mu.Unlock()
	}
	t.Cleanup(func() { landHook = prev })

	l.exec("UPDATE a SET v = 'a1' WHERE id = 1", "UPDATE b SET v = 'b1' WHERE id = 2")
	end := l.db.Sync()
	src := l.source(memsource.Config{})
	require.NoError(t, l.run(src, runOpts{wantStream: true, until: acked(src, end)}))
	mu.Lock()
	require.True(t, met["a"] && met["b"], "the commits of a and b did not overlap: %v", met)
	mu.Unlock()
	for _, name := range l.tables {
		l.check(name)
	}
}
