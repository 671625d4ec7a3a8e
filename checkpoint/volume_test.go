package checkpoint

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/memsource"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/transform"
)

// runWithTriggers streams src into the lake with an hour-long checkpoint
// interval and the volume triggers of cfg until until holds, then stops
// the coordinator. Any checkpoint before the stop was cut by a trigger
// (or a barrier).
func runWithTriggers(t *testing.T, l *lake, src capture.Source, cfg Config, until func() bool) {
	t.Helper()
	cfg.Interval, cfg.IdleCommitInterval = time.Hour, time.Hour
	c, err := New(Options{
		Pipeline: "p", Source: src, Catalog: l.cat, Router: transform.NewRouter("lake", nil), Mode: l.mode,
		Config: cfg, SpillDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler), Fencing: l.fencing,
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	deadline := time.After(20 * time.Second)
	for !until() {
		select {
		case err := <-done:
			t.Fatalf("run ended before the trigger's commits: %v", err)
		case <-deadline:
			cancel()
			<-done
			t.Fatal("no commit at the trigger within 20s (the interval is an hour)")
		case <-time.After(5 * time.Millisecond):
		}
	}
	cancel()
	require.NoError(t, <-done)
}

// TestVolumeTriggers: with an hour-long interval, a checkpoint is cut
// as soon as the changes buffered since the last one reach
// MaxCheckpointChanges, or their estimated size MaxCheckpointBytes, and
// not before: of 30 one-row transactions the 10th, 20th and 30th are
// committed, no other. A trigger reached inside a split transaction cuts
// at its end, never inside it.
func TestVolumeTriggers(t *testing.T) {
	t.Parallel()
	value := strings.Repeat("x", 100)
	// The estimate of one insert of (id bigint, v text) with v = value.
	size := int64(capture.Change{Op: capture.OpInsert, After: schema.Row{int64(1), value}}.Size())
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"changes", Config{MaxCheckpointChanges: 10}},
		{"bytes", Config{MaxCheckpointBytes: 10*size - 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newLake(t, transform.Upsert, "a")
			l.snapshotAll()
			pos := make([]memsource.Pos, 30)
			for i := range pos {
				pos[i] = l.exec(inserts("a", value, i+1)...)
			}
			runWithTriggers(t, l, l.source(memsource.Config{}), tc.cfg, func() bool { return l.committed("a") >= pos[29] })
			for i, p := range pos {
				want := (i+1)%10 == 0
				require.Equal(t, want, len(l.commitsAt("a", p)) > 0, "commit at the %d. transaction", i+1)
			}
			l.check("a")

			// One transaction of 25 rows in parts of 7: the trigger is
			// reached in its second part, the cut waits for its end.
			tx := l.db.Begin()
			ids := make([]int, 25)
			for i := range ids {
				ids[i] = 100 + i
			}
			require.NoError(t, tx.Exec(inserts("a", value, ids...)...))
			big, err := tx.Commit()
			require.NoError(t, err)
			before := len(l.checkpoints("a"))
			runWithTriggers(t, l, l.source(memsource.Config{MaxBatchChanges: 7}), tc.cfg, func() bool { return l.committed("a") >= big })
			require.Len(t, l.commitsAt("a", big), 1)
			require.Equal(t, before+1, len(l.checkpoints("a")), "one checkpoint, at the transaction's end")
			l.check("a")
		})
	}
}
