package checkpoint

import (
	"log/slog"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/memsource"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/transform"
)

// TestBesideChunkWindow: the capture.BesideWatermarker contract for a
// chunk read in a watermark window (MySQL): low watermark L 6, W 10. The
// source sent every change after L, and the chunk has no row and no
// delete of the keys those changed (7 updated at 8, 9 deleted at 9); it
// has rows as of L for the others (1 changed at 5, 3 never, 2 changed
// at 12, after W) and a delete of 4 (inserted at 5, the stream sent it;
// deleted at 6, the source dropped that). Applied once the stream has
// applied W (upsert mode), the table ends as the source: a key with
// neither row nor delete keeps the stream's image.
func TestBesideChunkWindow(t *testing.T) {
	layout := &schema.Table{Columns: []schema.Column{
		{Name: "id", Type: iceberg.PrimitiveTypes.Int64}, {Name: "v", Type: iceberg.PrimitiveTypes.String}}, Key: []int{0}}
	id := capture.TableID{Schema: "s", Name: "b"}
	row := func(n int64, v string) schema.Row { return schema.Row{n, v} }
	tbl := &tableRun{id: id, beside: &besideTable{changed: map[string]capture.Position{}, byWatermark: true, left: 1}}
	table := map[int64]string{} // the Iceberg table, emptied by the reset
	apply := func(ch capture.Change) {
		if ch.Before != nil {
			delete(table, ch.Before[0].(int64))
		}
		if ch.After != nil {
			table[ch.After[0].(int64)] = ch.After[1].(string)
		}
	}
	stream := []struct {
		at int
		ch capture.Change
	}{
		{5, capture.Change{Op: capture.OpUpdate, Before: row(1, "r"), After: row(1, "s5")}},
		{5, capture.Change{Op: capture.OpInsert, After: row(4, "s5")}},
		{8, capture.Change{Op: capture.OpUpdate, Before: row(7, "r"), After: row(7, "s8")}},
		{9, capture.Change{Op: capture.OpDelete, Before: row(9, "r")}},
		{12, capture.Change{Op: capture.OpUpdate, Before: row(2, "r"), After: row(2, "s12")}},
	}
	c := &Coordinator{log: slog.New(slog.DiscardHandler), tables: map[capture.TableID]*tableRun{id: tbl}, opts: Options{Mode: transform.Upsert}}
	for _, s := range stream {
		s.ch.Table, s.ch.Schema = id, layout
		tbl.noteBesideChange(s.ch, memsource.Pos(s.at))
		apply(s.ch)
		c.lastPos = memsource.Pos(s.at)
	}
	r := chunkRead{batch: capture.Batch{Position: memsource.Pos(10), Chunk: &capture.ChunkRef{Table: id}, Changes: []capture.Change{
		{Table: id, Op: capture.OpRead, Schema: layout, After: row(1, "s5")},
		{Table: id, Op: capture.OpRead, Schema: layout, After: row(2, "r")},
		{Table: id, Op: capture.OpRead, Schema: layout, After: row(3, "r")},
		{Table: id, Op: capture.OpDelete, Schema: layout, Before: schema.Row{int64(4), nil}, BeforeKeyOnly: true},
	}}}
	require.False(t, c.besideWaits(r), "the stream has applied W")
	c.dropSuperseded(tbl, &r)
	for _, ch := range r.batch.Changes {
		apply(ch)
	}
	require.Equal(t, map[int64]string{1: "s5", 2: "s12", 3: "r", 7: "s8"}, table)

	// Why the source leaves such a row out: the coordinator replaces the
	// stream's image of a key changed at or before W with the chunk's row.
	stale := chunkRead{batch: capture.Batch{Position: memsource.Pos(10), Chunk: &capture.ChunkRef{Table: id}, Changes: []capture.Change{
		{Table: id, Op: capture.OpRead, Schema: layout, After: row(7, "r")},
	}}}
	c.dropSuperseded(tbl, &stale)
	for _, ch := range stale.batch.Changes {
		apply(ch)
	}
	require.Equal(t, "r", table[7], "a row of 7 as of L would have undone its change in the window")
}

// TestBesideChangelogMarksSuperseded: in changelog mode, a chunk read
// beside the stream under an exported snapshot at F 10 keeps every row,
// but marks Superseded the rows of keys the stream changed after F (2,
// updated at 12), so that they never become their key's last image; after
// a truncate past F every row is marked. Upsert mode leaves those rows out.
func TestBesideChangelogMarksSuperseded(t *testing.T) {
	layout := &schema.Table{Columns: []schema.Column{
		{Name: "id", Type: iceberg.PrimitiveTypes.Int64}, {Name: "v", Type: iceberg.PrimitiveTypes.String}}, Key: []int{0}}
	id := capture.TableID{Schema: "s", Name: "b"}
	row := func(n int64, v string) schema.Row { return schema.Row{n, v} }
	chunk := func() chunkRead {
		return chunkRead{batch: capture.Batch{Position: memsource.Pos(10), Chunk: &capture.ChunkRef{Table: id}, Changes: []capture.Change{
			{Table: id, Op: capture.OpRead, Schema: layout, After: row(1, "r")},
			{Table: id, Op: capture.OpRead, Schema: layout, After: row(2, "r")},
			{Table: id, Op: capture.OpRead, Schema: layout, After: row(3, "r")},
		}}}
	}
	for _, mode := range []transform.Mode{transform.Changelog, transform.Upsert} {
		tbl := &tableRun{id: id, beside: &besideTable{changed: map[string]capture.Position{}, left: 2}}
		c := &Coordinator{log: slog.New(slog.DiscardHandler), tables: map[capture.TableID]*tableRun{id: tbl}, opts: Options{Mode: mode}}
		tbl.noteBesideChange(capture.Change{Table: id, Op: capture.OpUpdate, Schema: layout, After: row(2, "s12")}, memsource.Pos(12))
		r := chunk()
		c.dropSuperseded(tbl, &r)
		if mode == transform.Changelog {
			require.Len(t, r.batch.Changes, 3)
			require.Equal(t, []bool{false, true, false}, r.superseded)
		} else {
			require.Len(t, r.batch.Changes, 2)
			require.Nil(t, r.superseded)
		}

		tbl.noteBesideChange(capture.Change{Table: id, Op: capture.OpTruncate}, memsource.Pos(13))
		r = chunk()
		c.dropSuperseded(tbl, &r)
		if mode == transform.Changelog {
			require.Equal(t, []bool{true, true, true}, r.superseded, "after a truncate past F")
		} else {
			require.Empty(t, r.batch.Changes, "after a truncate past F")
		}
	}
}
