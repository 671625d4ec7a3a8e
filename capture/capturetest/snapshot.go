package capturetest

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"testing"

	"github.com/apache/iceberg-go"
	"golang.org/x/sync/errgroup"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

// testDiscover: Discover returns exactly the named tables with their
// layouts and keys; a name that matches no table is an error.
func testDiscover(t *testing.T, e Env) {
	e.Exec(ddlT, ddlU, ddlOther, "CREATE TABLE tt (id bigint PRIMARY KEY)")
	ctx := Context(t)
	infos, err := e.NewSource(Options{}, "t", "u").Discover(ctx)
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	type col struct {
		name     string
		typ      iceberg.Type
		nullable bool
	}
	wants := map[capture.TableID]struct {
		cols []col
		key  []string
	}{
		e.Table("t"): {[]col{
			{"id", iceberg.PrimitiveTypes.Int64, false},
			{"name", iceberg.PrimitiveTypes.String, true},
			{"amount", iceberg.DecimalTypeOf(12, 2), true},
			{"note", iceberg.PrimitiveTypes.String, true},
		}, []string{"id"}},
		e.Table("u"): {[]col{
			{"region", iceberg.PrimitiveTypes.String, false},
			{"id", iceberg.PrimitiveTypes.Int64, false},
			{"qty", iceberg.PrimitiveTypes.Int32, true},
		}, []string{"region", "id"}},
	}
	var got []string
	for _, info := range infos {
		got = append(got, info.ID.String())
	}
	if len(infos) != len(wants) {
		t.Fatalf("Discover returned %v, want exactly %s and %s (not other, nor tt, which a prefix match would take)", got, e.Table("t"), e.Table("u"))
	}
	for _, info := range infos {
		w, ok := wants[info.ID]
		if !ok {
			t.Fatalf("Discover returned %v, want exactly %s and %s", got, e.Table("t"), e.Table("u"))
		}
		if info.Schema == nil {
			t.Fatalf("%s: no layout", info.ID)
		}
		if n := len(info.Schema.Columns); n != len(w.cols) {
			t.Fatalf("%s has %d columns %s, want %d", info.ID, n, info.Schema, len(w.cols))
		}
		for i, c := range info.Schema.Columns {
			wc := w.cols[i]
			if c.Name != wc.name || !c.Type.Equals(wc.typ) || c.Nullable != wc.nullable {
				t.Errorf("%s column %d = %s %s nullable=%v, want %s %s nullable=%v", info.ID, i, c.Name, c.Type, c.Nullable, wc.name, wc.typ, wc.nullable)
			}
		}
		if k := info.Schema.KeyNames(); !slices.Equal(k, w.key) {
			t.Errorf("%s key = %v, want %v", info.ID, k, w.key)
		}
	}

	if _, err := e.NewSource(Options{}, "t", "no_such_table").Discover(ctx); err == nil {
		t.Error("Discover with a name that matches no table succeeded, want an error")
	}
}

// snapshotFixture fills t, u and empty_t and returns their expected rows
// by key.
func snapshotFixture(e Env) (tWant, uWant map[string]schema.Row) {
	tWant, uWant = map[string]schema.Row{}, map[string]schema.Row{}
	var rows []tRow
	for i := int64(1); i <= 1000; i++ {
		r := tRow{ID: i*7 - 3500, Name: fmt.Sprintf("n%d", i), Cents: i*13 - 5000, Note: fmt.Sprintf("note %d", i)}
		switch i % 5 {
		case 0:
			r.Note = nil
		case 1:
			r.Note = "" // empty, not NULL
		case 2:
			r.Note = fmt.Sprintf("żółw 🐢 %d 'quoted'", i)
		}
		rows = append(rows, r)
	}
	// Extremes of the key and the decimal.
	rows = append(rows, tRow{ID: math.MinInt64, Name: "min", Cents: -999999999999, Note: "min"},
		tRow{ID: math.MaxInt64, Name: "max", Cents: 999999999999},
		tRow{ID: 5_000_000, Name: "small", Cents: -5}, tRow{ID: 5_000_001, Name: "", Cents: 5})
	var stmts []string
	for i := 0; i < len(rows); i += 250 {
		stmts = append(stmts, insertT(rows[i:min(i+250, len(rows))]...))
	}
	// Some updates and deletes, so the key space has holes.
	stmts = append(stmts, "UPDATE t SET name = 'changed' WHERE id BETWEEN 0 AND 700",
		"DELETE FROM t WHERE id < -3000", "DELETE FROM t WHERE id BETWEEN 1000 AND 1400")
	for _, r := range rows {
		switch {
		case r.ID < -3000 || (r.ID >= 1000 && r.ID <= 1400):
			continue
		case r.ID >= 0 && r.ID <= 700:
			r.Name = "changed"
		}
		tWant[keyString(tLayout, r.row())] = r.row()
	}
	var urows []uRow
	for _, region := range []string{"us", "ap", "eu", "o'x", "żółw", "Ab", "ab c", ""} {
		for id := int64(1); id <= 100; id++ {
			q := int32(id * 2)
			if id%10 == 0 {
				q = -1
			}
			urows = append(urows, uRow{Region: region, ID: id, Qty: q})
		}
	}
	stmts = append(stmts, insertU(urows...))
	for _, r := range urows {
		uWant[keyString(uLayout, r.row())] = r.row()
	}
	e.Exec(append([]string{ddlT, ddlU, ddlEmpty}, stmts...)...)
	return tWant, uWant
}

// testSnapshot: PlanChunks covers the key space with contiguous chunks,
// concurrent ReadChunk calls return every row exactly once, and the stream
// then starts where the snapshot left off.
func testSnapshot(t *testing.T, e Env) {
	tWant, uWant := snapshotFixture(e)
	src, info := start(t, e, Options{}, capture.StartRequest{Snapshot: true}, "t", "u", "empty_t")
	// A change committed after Start: the stream must deliver it; an
	// exact snapshot must not contain it.
	late := tRow{ID: 10_000_000, Name: "late", Cents: 1}
	e.Exec(insertT(late))

	sn, ok := src.(capture.Snapshotter)
	if !ok {
		t.Fatalf("%T does not implement capture.Snapshotter", src)
	}
	ctx := Context(t)
	tWantLate := map[string]schema.Row{}
	for k, v := range tWant {
		tWantLate[k] = v
	}
	tWantLate[keyString(tLayout, late.row())] = late.row()

	got := readAllChunks(ctx, t, e, sn, info, "t", 64, 5)
	switch {
	case equalRows(got, tWant):
	case !info.Exact && equalRows(got, tWantLate):
	default:
		t.Errorf("chunks of t hold %d rows, want the %d rows of the table (exact=%v)%s", len(got), len(tWant), info.Exact, diffRows(got, tWant))
	}
	if got := readAllChunks(ctx, t, e, sn, info, "u", 40, 5); !equalRows(got, uWant) {
		t.Errorf("chunks of u hold %d rows, want %d%s", len(got), len(uWant), diffRows(got, uWant))
	}
	if got := readAllChunks(ctx, t, e, sn, info, "empty_t", 10, 1); len(got) != 0 {
		t.Errorf("chunks of empty_t hold %d rows, want none", len(got))
	}
	if err := sn.EndSnapshot(ctx); err != nil {
		t.Fatalf("EndSnapshot: %v", err)
	}
	s := startStream(t, e, src, info.From, "t", "u", "empty_t")
	s.expect(e, want{table: "t", op: capture.OpInsert, after: late.row()})
}

// readAllChunks plans the table's chunks, checks they are contiguous and
// cover the key space (at least minChunks of them), reads them four at a
// time and returns the rows by key, failing on a key read twice.
func readAllChunks(ctx context.Context, t *testing.T, e Env, sn capture.Snapshotter, info capture.StartInfo, name string, perChunk, minChunks int) map[string]schema.Row {
	t.Helper()
	id := e.Table(name)
	chunks, err := sn.PlanChunks(ctx, id, perChunk)
	if err != nil {
		t.Fatalf("PlanChunks(%s): %v", id, err)
	}
	if len(chunks) < minChunks {
		t.Fatalf("PlanChunks(%s, %d) = %d chunks, want at least %d", id, perChunk, len(chunks), minChunks)
	}
	for i, c := range chunks {
		switch {
		case c.Index != i:
			t.Fatalf("%s chunk %d has index %d", id, i, c.Index)
		case i == 0 && c.Lower != nil:
			t.Fatalf("%s first chunk has lower bound %q, want unbounded", id, c.Lower)
		case i == len(chunks)-1 && c.Upper != nil:
			t.Fatalf("%s last chunk has upper bound %q, want unbounded", id, c.Upper)
		case i > 0 && (c.Lower == nil || !slices.Equal(c.Lower, chunks[i-1].Upper)):
			t.Fatalf("%s chunk %d starts at %q, the previous one ends at %q: not contiguous", id, i, c.Lower, chunks[i-1].Upper)
		}
	}
	batches := make([]capture.Batch, len(chunks))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i, c := range chunks {
		g.Go(func() error {
			b, err := sn.ReadChunk(gctx, id, c)
			if err != nil {
				return fmt.Errorf("ReadChunk(%s, %d): %w", id, c.Index, err)
			}
			batches[i] = b
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	out := map[string]schema.Row{}
	for i, b := range batches {
		c := chunks[i]
		if b.Chunk == nil || *b.Chunk != (capture.ChunkRef{Table: id, Index: c.Index}) {
			t.Fatalf("ReadChunk(%s, %d) batch names chunk %+v", id, c.Index, b.Chunk)
		}
		// A Watermarker's chunk may carry a position of its own, after From.
		_, marks := sn.(capture.Watermarker)
		if b.Position == nil || b.More || b.Position.Compare(info.From) < 0 || (!marks && b.Position.Compare(info.From) != 0) {
			t.Fatalf("ReadChunk(%s, %d) batch at %v (more=%v), want StartInfo.From %s (or after it, from a capture.Watermarker)", id, c.Index, b.Position, b.More, info.From)
		}
		for _, ch := range b.Changes {
			if ch.Op != capture.OpRead || ch.Table != id || ch.Schema == nil || ch.Before != nil || len(ch.After) != len(ch.Schema.Columns) {
				t.Fatalf("ReadChunk(%s, %d) change %s, want an OpRead of %s with a full After", id, c.Index, fmtChange(ch), id)
			}
			if name == "t" {
				checkInChunk(t, id, c, ch.After[0].(int64))
			}
			k := keyString(ch.Schema, ch.After)
			if _, dup := out[k]; dup {
				t.Fatalf("%s key %s read twice (second time in chunk %d)", id, k, c.Index)
			}
			out[k] = ch.After
		}
	}
	return out
}

// checkInChunk checks Lower < id <= Upper for t's bigint key.
func checkInChunk(t *testing.T, id capture.TableID, c capture.Chunk, key int64) {
	t.Helper()
	bound := func(b []string) int64 {
		n, err := strconv.ParseInt(b[0], 10, 64)
		if len(b) != 1 || err != nil {
			t.Fatalf("%s chunk %d bound %q is not one bigint", id, c.Index, b)
		}
		return n
	}
	if (c.Lower != nil && key <= bound(c.Lower)) || (c.Upper != nil && key > bound(c.Upper)) {
		t.Fatalf("%s chunk %d (%q, %q] holds key %d", id, c.Index, c.Lower, c.Upper, key)
	}
}

func equalRows(got, want map[string]schema.Row) bool {
	if len(got) != len(want) {
		return false
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok || fmtRow(g) != fmtRow(w) {
			return false
		}
	}
	return true
}

// diffRows describes up to five differences.
func diffRows(got, want map[string]schema.Row) string {
	var out string
	n := 0
	for k, w := range want {
		if g, ok := got[k]; !ok || fmtRow(g) != fmtRow(w) {
			out += fmt.Sprintf("\n  key %s: got %s want %s", k, fmtRow(g), fmtRow(w))
			n++
		}
		if n == 5 {
			return out
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			out += fmt.Sprintf("\n  key %s: got %s, not in the table", k, fmtRow(g))
			n++
		}
		if n == 5 {
			break
		}
	}
	return out
}
