package checkpoint

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/iceberg-go/table"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/memsource"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
	"github.com/floe-cdc/floe/transform"
)

// TestContractRenameAtBarrier: a rename the source states on its DDL's
// Barrier (capture.Batch.Layouts) is in the Iceberg table once the table
// is committed past the DDL, although no change of the table follows it:
// an idle table moved past the rename has the column renamed, with its
// field id, and the commit records floe.schema-change. (Were the rename
// left to the table's next change, a restart from after the DDL would
// only see the new name, and take it for a new column.)
func TestContractRenameAtBarrier(t *testing.T) {
	t.Parallel()
	l := newLake(t, transform.Upsert, "a", "b")
	l.exec(append(inserts("a", "a0", 1, 2), inserts("b", "b0", 1)...)...)
	l.snapshotAll()
	idOf := func(col string) int {
		t.Helper()
		tbl, err := l.cat.LoadTable(context.Background(), lakewriter.Ident{Namespace: "lake", Name: "a"})
		require.NoError(t, err)
		id := 0
		require.NoError(t, tbl.Maintain(context.Background(), func(_ context.Context, it *table.Table) (*table.Table, error) {
			if f, ok := it.Schema().FindFieldByName(col); ok {
				id = f.ID
			}
			return nil, nil
		}))
		return id
	}
	v := idOf("v")
	require.NotZero(t, v)

	// The ALTER runs once the pipeline streams (a heartbeat tells), then
	// only b changes.
	l.db.Heartbeat()
	var streaming atomic.Bool
	src := l.source(memsource.Config{OnBatch: func(context.Context, capture.Batch) { streaming.Store(true) }})
	var rename, end memsource.Pos
	require.NoError(t, l.run(src, runOpts{idle: 50 * time.Millisecond, deadline: 10 * time.Second, wantStream: true,
		until: func() bool {
			if rename == 0 && streaming.Load() {
				rename = l.exec("ALTER TABLE a RENAME COLUMN v TO w")
				l.exec(inserts("b", "b1", 2)...)
				end = l.db.Heartbeat()
			}
			return end != 0 && l.committedAtLeast(end) && acked(src, end)()
		}}))

	require.GreaterOrEqual(t, l.committed("a"), rename)
	require.Equal(t, v, idOf("w"), "the renamed column keeps its field id")
	require.Zero(t, idOf("v"), "no column of the old name")
	hist, err := tableHistory(t, l.cat, "a")
	require.NoError(t, err)
	recorded := ""
	for _, s := range hist {
		recorded += s.Props[ledger.PropSchemaChange]
	}
	require.Contains(t, recorded, "rename column v to w", "floe.schema-change in a commit of the idle table")
	for _, name := range l.tables {
		l.check(name)
	}
}
