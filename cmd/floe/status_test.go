package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"strings"
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/checkpoint"
	"github.com/floe-cdc/floe/compaction"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
	"github.com/floe-cdc/floe/schema"
)

// TestStatus builds a lake by hand (no source server: status never
// connects to it) with one table mid-snapshot and one streaming and
// compacted, plus a table of another pipeline that must not be listed.
func TestStatus(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	yaml := minimalYAML + fmt.Sprintf("  catalog:\n    uri: sqlite://%s/catalog.db\n  warehouse: %s/warehouse\n", dir, dir)
	cfg, err := ParseConfig("s.yaml", []byte(yaml), nil)
	require.NoError(t, err)

	st, err := pipelineStatus(ctx, cfg, time.Now())
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, printStatus(&out, st))
	require.Equal(t, "pipeline shop has not committed to any table yet\n", out.String())

	// Equality deletes: every commit with keys writes a delete file for
	// the status to count (auto skips the deletes of keys not in the
	// table).
	cat, err := lakewriter.Open(ctx, lakewriter.Options{URI: cfg.Sink.Catalog.URI, Warehouse: cfg.Sink.Warehouse,
		DeleteMode: lakewriter.DeleteModeEquality})
	require.NoError(t, err)
	defer cat.Close()
	layout := &schema.Table{Columns: []schema.Column{{Name: "id", Type: iceberg.PrimitiveTypes.Int64}}, Key: []int{0}}
	open := func(name string) *lakewriter.Table {
		tbl, err := cat.EnsureTable(ctx, lakewriter.Ident{Namespace: "shop", Name: name}, layout, layout.Key)
		require.NoError(t, err)
		return tbl
	}
	commit := func(tbl *lakewriter.Table, props map[string]string, ids ...int64) {
		rows := func(yield func(schema.Row, error) bool) {
			for _, id := range ids {
				if !yield(schema.Row{id}, nil) {
					return
				}
			}
		}
		var keys iter.Seq2[schema.Row, error]
		if len(ids) > 0 {
			keys = rows
		}
		_, err := tbl.Commit(ctx, lakewriter.Commit{Rows: rows, DeleteKeys: keys, Props: props, Token: "floe.checkpoint"})
		require.NoError(t, err)
	}
	plan := &capture.SnapshotPlan{Chunks: []capture.Chunk{{Index: 0, Upper: []string{"10"}}, {Index: 1, Lower: []string{"10"}, Upper: []string{"20"}}, {Index: 2, Lower: []string{"20"}}}}
	plan.MarkDone(0, "")
	snapping := open("orders")
	commit(snapping, map[string]string{"floe.version": "1", "floe.pipeline": "shop", "floe.checkpoint": "3",
		"floe.position": "pg.v1:0/10", "floe.snapshot": plan.Encode(), "floe.source-table": `{"v":1,"table":"public.orders"}`}, 1, 2)

	// The dead-letter table's newest commit of the pipeline counts
	// public.orders' dead letters; another pipeline's is not read.
	dlq, err := cat.EnsureTable(ctx, lakewriter.Ident{Namespace: "shop", Name: checkpoint.DeadLetterTableName}, checkpoint.DeadLetterLayout(), nil)
	require.NoError(t, err)
	for _, d := range []ledger.DeadLetters{
		{Pipeline: "shop", Tables: map[string]ledger.DeadLetterMark{"public.orders": {Position: "pg.v1:0/10", Checkpoint: 3, Count: 2}}},
		{Pipeline: "other", Tables: map[string]ledger.DeadLetterMark{"public.orders": {Position: "pg.v1:0/10", Checkpoint: 9, Count: 5}}},
	} {
		_, err = dlq.Commit(ctx, lakewriter.Commit{Props: d.Props(1, 3), Token: ledger.PropDeadLettersCommit})
		require.NoError(t, err)
	}

	streaming := open("events")
	for cp := 4; cp <= 6; cp++ {
		commit(streaming, map[string]string{"floe.version": "1", "floe.pipeline": "shop", "floe.checkpoint": fmt.Sprint(cp),
			"floe.position": fmt.Sprintf("pg.v1:0/%d", cp*100)}, int64(cp), int64(cp+1))
	}
	_, err = compaction.Compact(ctx, streaming, compaction.Options{MinInputFiles: 2})
	require.NoError(t, err)

	other := open("theirs")
	commit(other, map[string]string{"floe.pipeline": "other", "floe.checkpoint": "1"}, 1)

	st, err = pipelineStatus(ctx, cfg, time.Now())
	require.NoError(t, err)
	require.Len(t, st.Tables, 2, "only this pipeline's tables")
	byName := map[string]TableStatus{}
	for _, ts := range st.Tables {
		byName[ts.Table] = ts
	}
	o, e := byName["shop.orders"], byName["shop.events"]
	require.Equal(t, int64(3), o.Checkpoint)
	require.Equal(t, "1/3 chunks", o.Snapshot)
	require.Equal(t, "pg.v1:0/10", o.Position)
	require.Nil(t, o.LastCompaction)
	require.Equal(t, int64(2), o.DeadLetters)
	require.Zero(t, byName["shop.events"].DeadLetters)
	require.Equal(t, int64(6), e.Checkpoint, "the newest ingestion commit, not the compaction after it")
	require.Equal(t, "pg.v1:0/600", e.Position)
	require.Equal(t, "complete", e.Snapshot)
	require.NotNil(t, e.LastCompaction)
	require.Equal(t, 1, e.DataFiles)
	require.Zero(t, e.DeleteFiles)
	require.Equal(t, 4, e.Snapshots)

	out.Reset()
	require.NoError(t, printStatus(&out, st))
	require.Contains(t, out.String(), "TABLE")
	require.Regexp(t, `shop\.orders\s+3\s+pg\.v1:0/10\s+\S+ \(\d+s ago\)\s+1/3 chunks\s+1\s+1\s+1\s+never\s+2\n`, out.String())

	js, err := json.Marshal(st)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(js), `{"version":1,"pipeline":"shop","tables":[`), string(js))
}
