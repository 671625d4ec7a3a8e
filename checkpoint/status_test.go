package checkpoint

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture/memsource"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/transform"
)

// TestStatusBoard: while a coordinator streams, another goroutine reads
// its per-table state from the board (race-free: run with -race); once
// the stream is acknowledged, the board holds each table's last commit as
// Iceberg does (position, checkpoint, snapshot id) and the acknowledged
// position.
func TestStatusBoard(t *testing.T) {
	t.Parallel()
	l := newLake(t, transform.Upsert, "a", "b")
	board := NewStatusBoard()
	_, ok := board.Load()
	require.False(t, ok, "nothing published before a run")

	l.exec(append(inserts("a", "a0", 1, 2, 3), inserts("b", "b0", 1)...)...)
	l.exec("UPDATE a SET v = 'a1' WHERE id = 1", "INSERT INTO b VALUES (4, 'b1')")
	end := l.db.Sync()
	src := l.source(memsource.Config{})
	reads := 0
	until := func() bool {
		st, ok := board.Load()
		if ok {
			reads++
		}
		return ok && st.Acknowledged == end.String() && acked(src, end)()
	}
	require.NoError(t, l.run(src, runOpts{wantStream: true, until: until, status: board}))
	require.Positive(t, reads)

	st, ok := board.Load()
	require.True(t, ok)
	require.Equal(t, end.String(), st.Applied)
	require.Len(t, st.Tables, 2)
	ctx := context.Background()
	for i, name := range []string{"a", "b"} {
		tl := st.Tables[i]
		require.Equal(t, "lake."+name, tl.Sink)
		require.Equal(t, l.committed(name).String(), tl.Position, name)
		cps := l.checkpoints(name)
		require.Equal(t, cps[len(cps)-1], tl.Checkpoint, name)
		tbl, err := l.cat.LoadTable(ctx, lakewriter.Ident{Namespace: "lake", Name: name})
		require.NoError(t, err)
		hist, err := tbl.History(ctx)
		require.NoError(t, err)
		require.Equal(t, hist[0].ID, tl.SnapshotID, "%s: the board's snapshot is the table's last", name)
		require.False(t, tl.Snapshotting, name)
		require.Equal(t, [2]int{0, 0}, [2]int{tl.ChunksDone, tl.ChunksTotal}, name)
	}
}
