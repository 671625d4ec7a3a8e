package postgres

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"golang.org/x/sync/errgroup"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/internal/toolkit"
	"github.com/floe-cdc/floe/schema"
)

// readAll reads every chunk concurrently and returns the rows of the
// batches concatenated in chunk order.
func readAll(t *testing.T, s *Source, id capture.TableID, chunks []capture.Chunk, from capture.Position) []schema.Row {
	t.Helper()
	ctx := testCtx(t)
	batches := make([]capture.Batch, len(chunks))
	var g errgroup.Group
	for i, c := range chunks {
		g.Go(func() error {
			b, err := s.ReadChunk(ctx, id, c)
			batches[i] = b
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	var rows []schema.Row
	for i, b := range batches {
		if b.Chunk == nil || *b.Chunk != (capture.ChunkRef{Table: id, Index: chunks[i].Index}) {
			t.Errorf("batch %d: Chunk = %v", i, b.Chunk)
		}
		if b.Position == nil || b.Position.Compare(from) != 0 {
			t.Errorf("batch %d: Position = %v, want %v", i, b.Position, from)
		}
		if b.CommitTime.IsZero() || time.Since(b.CommitTime) > time.Hour || b.CommitTime.Location() != time.UTC {
			t.Errorf("batch %d: CommitTime = %v", i, b.CommitTime)
		}
		for _, ch := range b.Changes {
			if ch.Op != capture.OpRead || ch.Table != id || ch.Before != nil || ch.Schema == nil {
				t.Fatalf("batch %d: bad change %+v", i, ch)
			}
			rows = append(rows, ch.After)
		}
	}
	return rows
}

func TestSnapshotCompositeKeyChunks(t *testing.T) {
	e := newEnv(t)
	const n = 1000
	e.exec(`CREATE TABLE orders (region text, id int8, qty int4 NOT NULL, price numeric(10,2), at timestamptz, tags text[], PRIMARY KEY (region, id))`,
		fmt.Sprintf(`INSERT INTO orders SELECT (ARRAY['eu','us','apac'])[1 + g %% 3], g, g %% 7, g * 1.25,
			timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute', ARRAY['t' || g, NULL]
			FROM generate_series(1, %d) g`, n),
		`CREATE TABLE empty (id int PRIMARY KEY)`)
	ctx := testCtx(t)
	s := e.source(e.config(`public\.orders`, `public\.empty`))
	infos, err := s.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 2 || infos[1].ID.Name != "orders" {
		t.Fatalf("Discover = %v", infos)
	}
	layout := infos[1].Schema
	if got := layout.KeyNames(); !reflect.DeepEqual(got, []string{"region", "id"}) {
		t.Fatalf("key = %v, want [region id]", got)
	}
	info, err := s.Start(ctx, capture.StartRequest{Snapshot: true})
	if err != nil {
		t.Fatal(err)
	}
	if !info.Exact || info.From.(Position).LSN == 0 {
		t.Fatalf("StartInfo = %+v, want Exact with a position", info)
	}

	id := capture.TableID{Schema: "public", Name: "orders"}
	chunks, err := s.PlanChunks(ctx, id, 97)
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) != n/97+1 {
		t.Errorf("%d chunks, want %d", len(chunks), n/97+1)
	}
	for i, c := range chunks {
		if c.Index != i {
			t.Errorf("chunk %d has index %d", i, c.Index)
		}
		if (i == 0) != (c.Lower == nil) || (i == len(chunks)-1) != (c.Upper == nil) {
			t.Errorf("chunk %d bounds %v..%v: only the first Lower and the last Upper may be nil", i, c.Lower, c.Upper)
		}
		if i > 0 && !reflect.DeepEqual(c.Lower, chunks[i-1].Upper) {
			t.Errorf("chunk %d Lower %v != chunk %d Upper %v", i, c.Lower, i-1, chunks[i-1].Upper)
		}
	}
	got := readAll(t, s, id, chunks, info.From)

	type key struct {
		region string
		id     int
	}
	regions := []string{"eu", "us", "apac"}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	var keys []key
	want := map[key]schema.Row{}
	for g := 1; g <= n; g++ {
		k := key{regions[g%3], g}
		keys = append(keys, k)
		want[k] = schema.Row{k.region, int64(g), int32(g % 7), decimal128.FromI64(int64(g * 125)), base + int64(g)*60_000_000, []any{fmt.Sprint("t", g), nil}}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].region != keys[j].region {
			return keys[i].region < keys[j].region
		}
		return keys[i].id < keys[j].id
	})
	if len(got) != n {
		t.Fatalf("read %d rows, want %d", len(got), n)
	}
	for i, k := range keys {
		if !reflect.DeepEqual(got[i], want[k]) {
			t.Fatalf("row %d = %#v, want %#v", i, got[i], want[k])
		}
	}

	var scanned []schema.Row
	if err := s.ScanTable(ctx, id, func(r schema.Row) error { scanned = append(scanned, r); return nil }, nil); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(scanned, got) {
		t.Errorf("ScanTable differs from the concatenated chunks (%d vs %d rows)", len(scanned), len(got))
	}

	// ReadRows finds rows by composite key and leaves out missing keys.
	byKey, _, err := s.ReadRows(ctx, id, []schema.Row{{"us", int64(1)}, {"eu", int64(3)}, {"eu", int64(4)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(byKey) != 2 {
		t.Fatalf("ReadRows returned %d rows, want 2 (eu/4 does not exist)", len(byKey))
	}
	for _, r := range byKey {
		k := key{r[0].(string), int(r[1].(int64))}
		if !reflect.DeepEqual(r, want[k]) {
			t.Errorf("ReadRows row %#v, want %#v", r, want[k])
		}
	}
	pos, err := s.CurrentPosition(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if pos.Compare(info.From) < 0 {
		t.Errorf("CurrentPosition %s is before the snapshot's %s", pos, info.From)
	}

	emptyID := capture.TableID{Schema: "public", Name: "empty"}
	ec, err := s.PlanChunks(ctx, emptyID, 97)
	if err != nil {
		t.Fatal(err)
	}
	if len(ec) != 1 || ec[0].Lower != nil || ec[0].Upper != nil {
		t.Fatalf("empty table chunks = %+v, want one unbounded chunk", ec)
	}
	if rows := readAll(t, s, emptyID, ec, info.From); len(rows) != 0 {
		t.Fatalf("empty table read %d rows", len(rows))
	}

	if err := s.EndSnapshot(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadChunk(ctx, id, chunks[0]); !errors.Is(err, capture.ErrSnapshotEnded) {
		t.Fatalf("ReadChunk after EndSnapshot: %v, want capture.ErrSnapshotEnded", err)
	}
}

// TestSnapshotExact checks the exported snapshot: rows changed after the
// slot was created are seen by the stream, not by the chunks.
func TestSnapshotExact(t *testing.T) {
	e := newEnv(t)
	e.exec(`CREATE TABLE items (id int PRIMARY KEY, v text)`,
		`INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 100) g`)
	ctx := testCtx(t)
	s := e.source(e.config(`public\.items`))
	info, err := s.Start(ctx, capture.StartRequest{Snapshot: true})
	if err != nil {
		t.Fatal(err)
	}
	e.exec(`UPDATE items SET v = 'changed' WHERE id = 5`, `DELETE FROM items WHERE id = 6`, `INSERT INTO items VALUES (101, 'new')`)

	id := capture.TableID{Schema: "public", Name: "items"}
	chunks, err := s.PlanChunks(ctx, id, 30)
	if err != nil {
		t.Fatal(err)
	}
	rows := readAll(t, s, id, chunks, info.From)
	if len(rows) != 100 {
		t.Fatalf("snapshot has %d rows, want 100 (as of slot creation)", len(rows))
	}
	for i, r := range rows {
		if r[0] != int32(i+1) || r[1] != fmt.Sprint("v", i+1) {
			t.Fatalf("snapshot row %d = %v, want [%d v%d]", i, r, i+1, i+1)
		}
	}
	if err := s.EndSnapshot(ctx); err != nil {
		t.Fatal(err)
	}

	r := startStream(t, s)
	want := []struct {
		op    capture.Op
		image schema.Row
	}{
		{capture.OpUpdate, schema.Row{int32(5), "changed"}},
		{capture.OpDelete, schema.Row{int32(6), nil}},
		{capture.OpInsert, schema.Row{int32(101), "new"}},
	}
	prev := info.From
	for i, w := range want {
		b := r.Next()
		if len(b.Changes) != 1 {
			t.Fatalf("batch %d has %d changes", i, len(b.Changes))
		}
		ch := b.Changes[0]
		img := ch.After
		if ch.Op == capture.OpDelete {
			img = ch.Before
		}
		if ch.Op != w.op || !reflect.DeepEqual(img, w.image) {
			t.Errorf("batch %d: %v %v, want %v %v", i, ch.Op, img, w.op, w.image)
		}
		if b.Position.Compare(prev) <= 0 {
			t.Errorf("batch %d position %v not after %v", i, b.Position, prev)
		}
		prev = b.Position
	}
	r.Stop()

	// A restart mid-snapshot: the slot exists, nothing was acknowledged.
	// Chunks are read under a fresh snapshot (the current rows) and the
	// stream replays from the slot's confirmed position, so replaying the
	// three changes over the rows converges.
	s2 := e.source(e.config(`public\.items`))
	info2, err := s2.Start(ctx, capture.StartRequest{Snapshot: true})
	if err != nil {
		t.Fatal(err)
	}
	if info2.Exact || info2.From.Compare(info.From) != 0 {
		t.Fatalf("restart: StartInfo %+v, want From %v and not exact", info2, info.From)
	}
	chunks, err = s2.PlanChunks(ctx, id, 30)
	if err != nil {
		t.Fatal(err)
	}
	rows = readAll(t, s2, id, chunks, info2.From)
	if len(rows) != 100 || rows[4][1] != "changed" || rows[5][0] != int32(7) || rows[99][0] != int32(101) {
		t.Fatalf("fresh snapshot: %d rows, row 5 %v, row 6 %v, last %v", len(rows), rows[4], rows[5], rows[len(rows)-1])
	}
	r2 := startStream(t, s2)
	for i, w := range want {
		if ch := r2.Next().Changes[0]; ch.Op != w.op {
			t.Errorf("replayed change %d: %v, want %v", i, ch.Op, w.op)
		}
	}
}

// TestSnapshotWideRowChunks checks that planning cuts chunks by the rows'
// stored bytes as well as by their count: rows of about 1 MB each, with
// toolkit.ChunkBytes lowered to 2 MiB, make chunks of two or three rows
// although 1,000 rows per chunk are asked for; the chunks still cover the
// table exactly once.
func TestSnapshotWideRowChunks(t *testing.T) {
	defer func(b int) { toolkit.ChunkBytes = b }(toolkit.ChunkBytes)
	toolkit.ChunkBytes = 2 << 20
	e := newEnv(t)
	const n = 12
	// md5 hex digits do not compress: pg_column_size is about 960,000.
	e.exec(`CREATE TABLE wide (id int PRIMARY KEY, v text)`,
		fmt.Sprintf(`INSERT INTO wide SELECT g, (SELECT string_agg(md5(random()::text || g || x), '') FROM generate_series(1, 30000) x) FROM generate_series(1, %d) g`, n),
		`INSERT INTO wide SELECT g, 'small' FROM generate_series(101, 150) g`)
	ctx := testCtx(t)
	s := e.source(e.config(`public\.wide`))
	if _, err := s.Discover(ctx); err != nil {
		t.Fatal(err)
	}
	info, err := s.Start(ctx, capture.StartRequest{Snapshot: true})
	if err != nil {
		t.Fatal(err)
	}
	id := capture.TableID{Schema: "public", Name: "wide"}
	chunks, err := s.PlanChunks(ctx, id, 1000)
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, s, id, chunks, info.From)
	// 12 rows of ~0.92 MiB cross a multiple of 2 MiB every 2 or 3 rows.
	if len(chunks) < 5 || len(chunks) > 8 {
		t.Errorf("%d chunks, want 5 to 8 (one cut per 2 MiB of rows)", len(chunks))
	}
	if len(got) != n+50 {
		t.Fatalf("chunks hold %d rows, want %d", len(got), n+50)
	}
	for i, r := range got {
		want := int32(i + 1)
		if i >= n {
			want = int32(101 + i - n)
		}
		if r[0] != want {
			t.Fatalf("row %d has id %v, want %d (each row once, in key order)", i, r[0], want)
		}
	}
	if err := s.EndSnapshot(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestSnapshotByteaBinary checks that snapshot chunks read bytea columns
// in binary form (half the bytes of hex text on the wire and in the
// connection's buffer) and decode them exactly: every byte value, an
// empty value and NULL, beside a text column that stays text.
func TestSnapshotByteaBinary(t *testing.T) {
	e := newEnv(t)
	e.exec(`CREATE TABLE bin (id int PRIMARY KEY, b bytea, note text)`,
		`INSERT INTO bin VALUES (1, (SELECT string_agg(set_byte('\x00'::bytea, 0, g), ''::bytea) FROM generate_series(0, 255) g), '\x41'),
			(2, ''::bytea, 'empty'), (3, NULL, NULL)`)
	ctx := testCtx(t)
	s := e.source(e.config(`public\.bin`))
	if _, err := s.Discover(ctx); err != nil {
		t.Fatal(err)
	}
	info, err := s.Start(ctx, capture.StartRequest{Snapshot: true})
	if err != nil {
		t.Fatal(err)
	}
	id := capture.TableID{Schema: "public", Name: "bin"}
	tb, err := s.tables.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	if f := readCodec(tb).formats; !reflect.DeepEqual(f, []int16{1, 1, 0}) {
		t.Errorf("formats = %v, want the int4 key and bytea (column 2) binary, the text column text", f)
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	got := readAll(t, s, id, []capture.Chunk{{Index: 0}}, info.From)
	want := []schema.Row{{int32(1), all, `\x41`}, {int32(2), []byte{}, "empty"}, {int32(3), nil, nil}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("rows = %v, want %v", got, want)
	}
	if err := s.EndSnapshot(ctx); err != nil {
		t.Fatal(err)
	}
}
