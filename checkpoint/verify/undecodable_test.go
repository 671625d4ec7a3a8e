package verify

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/transform"
)

// TestUndecodableLeftOut: with LeaveOutUndecodable, source rows that
// cannot be decoded are left out on both sides (the Iceberg table holds an older version of one, and
// none of the other): the table verifies, naming how many were left out;
// every other difference still counts.
func TestUndecodableLeftOut(t *testing.T) {
	id := capture.TableID{Schema: "s", Name: "t"}
	src := &scanSource{tables: []capture.TableInfo{{ID: id, Schema: layout}},
		rows: map[capture.TableID][]schema.Row{id: {{int64(1), "a"}, {int64(2), "bad-update"}, {int64(3), "bad-insert"}}}}
	cat := lake(t, transform.Upsert, "t", upsertRow(1, "a"), upsertRow(2, "old"))
	leaveOut := func() TableReport {
		reports, err := Run(context.Background(), Options{Pipeline: "p", Source: src, Catalog: cat,
			Router: transform.NewRouter("lake", nil), Mode: transform.Upsert, LeaveOutUndecodable: true})
		require.NoError(t, err)
		require.Len(t, reports, 1)
		return reports[0]
	}
	r := leaveOut()
	require.True(t, r.OK(), r.String())
	require.Equal(t, 2, r.Undecodable)
	require.Equal(t, [2]int{1, 1}, [2]int{r.SourceRows, r.SinkRows})
	require.Contains(t, r.String(), "2 source rows with values that cannot be decoded left out")

	src.rows[id][0] = schema.Row{int64(1), "changed"}
	r = leaveOut()
	require.False(t, r.OK(), r.String())
	require.Equal(t, 1, r.Differ)

	// Without LeaveOutUndecodable (pipeline.dead-letter off) every row
	// is compared: the bad ones as the plain scan gives them.
	r = run(t, src, cat, transform.Upsert)[0]
	require.Zero(t, r.Undecodable)
	require.False(t, r.OK(), r.String())
}
