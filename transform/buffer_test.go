package transform

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

var (
	tid = capture.TableID{Schema: "public", Name: "t"}
	src = srcTable()
	U   = schema.Unchanged
)

func img(id int64, name, body any) schema.Row { return schema.Row{id, name, body} }

func ins(id int64, name, body any) capture.Change {
	return capture.Change{Table: tid, Op: capture.OpInsert, Schema: src, After: img(id, name, body)}
}
func read(id int64, name, body any) capture.Change {
	return capture.Change{Table: tid, Op: capture.OpRead, Schema: src, After: img(id, name, body)}
}

// upd is an update without an old image (REPLICA IDENTITY DEFAULT, key unchanged).
func upd(id int64, name, body any) capture.Change {
	return capture.Change{Table: tid, Op: capture.OpUpdate, Schema: src, After: img(id, name, body)}
}

// updFull is an update with a full old image (REPLICA IDENTITY FULL).
func updFull(before, after schema.Row) capture.Change {
	return capture.Change{Table: tid, Op: capture.OpUpdate, Schema: src, Before: before, After: after}
}

// move is a key change old -> after[0] with a key-only old image.
func move(old int64, after schema.Row) capture.Change {
	return capture.Change{Table: tid, Op: capture.OpUpdate, Schema: src, Before: img(old, nil, nil), BeforeKeyOnly: true, After: after}
}
func del(id int64) capture.Change {
	return capture.Change{Table: tid, Op: capture.OpDelete, Schema: src, Before: img(id, nil, nil), BeforeKeyOnly: true}
}
func delFull(id int64, name, body any) capture.Change {
	return capture.Change{Table: tid, Op: capture.OpDelete, Schema: src, Before: img(id, name, body)}
}
func trunc() capture.Change { return capture.Change{Table: tid, Op: capture.OpTruncate} }

func newBuf(t *testing.T, mode Mode, budget int64) *Buffer {
	t.Helper()
	b, err := NewBuffer(BufferOptions{Layout: SinkLayout(src, mode), Mode: mode, SpillDir: t.TempDir(), MemoryBudget: budget, Table: "lake.t"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return b
}

// apply applies changes with Meta{Pos: "p<i>", CommitMicros: 1000+i, Seq: i}.
func apply(b *Buffer, changes []capture.Change) error {
	for i, ch := range changes {
		if err := b.Apply(ch, Meta{Pos: fmt.Sprintf("p%d", i), CommitMicros: 1000 + int64(i), Seq: int64(i)}); err != nil {
			return err
		}
	}
	return nil
}

// fmtRow renders source columns, op and seq: "1 a x u 3".
func fmtRow(r schema.Row) string {
	var parts []string
	for i, v := range r {
		if i == len(r)-3 || i == len(r)-2 { // ts, pos: checked elsewhere
			continue
		}
		switch {
		case v == nil:
			parts = append(parts, "NULL")
		case schema.IsUnchanged(v):
			parts = append(parts, "UNCHANGED")
		default:
			parts = append(parts, fmt.Sprint(v))
		}
	}
	return strings.Join(parts, " ")
}

// requireEncodedLikeRows fails t unless EncodedRows yields, in the same
// order, the encodings of the rows Rows yields (when Rows yields them
// all: EncodedRows leaves an unresolved value to the writer).
func requireEncodedLikeRows(t *testing.T, b *Buffer) {
	t.Helper()
	var want [][]byte
	for r, err := range b.Rows() {
		if err != nil {
			return
		}
		enc, err := schema.AppendRow(nil, b.Layout(), r)
		if err != nil {
			t.Fatalf("encode row %v: %v", r, err)
		}
		want = append(want, enc)
	}
	i := 0
	for enc, err := range b.EncodedRows() {
		if err != nil {
			t.Fatalf("EncodedRows: %v", err)
		}
		if i >= len(want) || !bytes.Equal(enc, want[i]) {
			t.Fatalf("EncodedRows row %d is %x, Rows gives %d rows (%x)", i, enc, len(want), want[min(i, len(want)-1):])
		}
		i++
	}
	if i != len(want) {
		t.Fatalf("EncodedRows yielded %d rows, Rows %d", i, len(want))
	}
}

// requireKeyImagesLikeKeys fails t unless each key DeleteKeyImages
// yields is the encoding of the key values its image decodes to: the
// key index of lakewriter finds keys by that encoding.
func requireKeyImagesLikeKeys(t *testing.T, b *Buffer) {
	t.Helper()
	layout := b.Layout()
	kt := schema.KeyTable(layout)
	n := 0
	for k, err := range b.DeleteKeyImages() {
		if err != nil {
			return // DeleteKeys fails the same way; the caller checks it
		}
		key, err := k.Values(layout, kt)
		if err != nil {
			t.Fatalf("delete key %d: decode %x (key only %v): %v", n, k.Image, k.KeyOnly, err)
		}
		if want := schema.AppendKeyOf(nil, layout, key); !bytes.Equal(k.Key, want) {
			t.Fatalf("delete key %d %v: encoded %x, its values encode to %x", n, key, k.Key, want)
		}
		n++
	}
	if want := b.NumDeleteKeys(); n != want {
		t.Fatalf("DeleteKeyImages yielded %d keys, NumDeleteKeys is %d", n, want)
	}
}

func collect(t *testing.T, b *Buffer) (rows []string, dels []int64, err error) {
	t.Helper()
	requireEncodedLikeRows(t, b)
	requireKeyImagesLikeKeys(t, b)
	for r, err := range b.Rows() {
		if err != nil {
			return nil, nil, err
		}
		rows = append(rows, fmtRow(r))
	}
	for k, err := range b.DeleteKeys() {
		if err != nil {
			return nil, nil, err
		}
		if len(k) != 1 {
			t.Fatalf("delete key %v is not key-only", k)
		}
		dels = append(dels, k[0].(int64))
	}
	slices.Sort(dels)
	if n := b.NumDeleteKeys(); n != len(dels) {
		t.Errorf("NumDeleteKeys = %d, DeleteKeys yielded %d", n, len(dels))
	}
	return rows, dels, nil
}

// compareRowText orders fmtRow texts by their leading id.
func compareRowText(a, b string) int {
	id := func(s string) int {
		n, _ := strconv.Atoi(strings.Fields(s)[0])
		return n
	}
	return cmp.Compare(id(a), id(b))
}

// iceberg builds the found map from rows of Iceberg (source values + op).
func icebergRows(layout *schema.Table, rows ...schema.Row) map[string]schema.Row {
	found := map[string]schema.Row{}
	for _, r := range rows {
		op := r[len(r)-1]
		full := append(slices.Clone(r[:len(r)-1]), op, int64(1), "p0", int64(0))
		found[string(schema.AppendKeyOf(nil, layout, schema.KeyRow(layout, full)))] = full
	}
	return found
}

type bufCase struct {
	name        string
	mode        Mode
	changes     []capture.Change
	wantPending []int64
	found       []schema.Row // Iceberg rows: id, name, body, op
	wantErr     string       // from Apply, Resolve or Rows
	wantRows    []string
	wantDel     []int64
	wantTrunc   bool
}

// runBufCase runs c on a buffer that keeps everything in memory and on
// one whose budget of one byte spills every entry (Upsert: a sorted run
// per change, merged at 64 runs and at the end; Changelog: every row to
// the spill log, every key's last row to a run). Both must give the same
// rows, delete keys and errors; a spilled upsert buffer yields its rows
// and pending keys in key order.
func runBufCase(t *testing.T, c bufCase) {
	for _, budget := range []int64{0, 1} {
		t.Run(fmt.Sprintf("budget=%d", budget), func(t *testing.T) { runBufCaseBudget(t, c, budget) })
	}
}

func runBufCaseBudget(t *testing.T, c bufCase, budget int64) {
	b := newBuf(t, c.mode, budget)
	spilled := budget == 1 && c.mode == Upsert
	err := apply(b, c.changes)
	if budget == 1 && err == nil && b.Len() > 0 && b.SpilledBytes() == 0 {
		t.Error("a budget of one byte spilled nothing")
	}
	if err == nil {
		var pend []int64
		for _, k := range b.PendingKeys() {
			pend = append(pend, k[0].(int64))
		}
		if spilled {
			slices.Sort(pend)
		}
		if !slices.Equal(pend, c.wantPending) {
			t.Errorf("PendingKeys = %v, want %v", pend, c.wantPending)
		}
		if len(pend) > 0 && c.found != nil {
			_, err = b.Resolve(icebergRows(b.layout, c.found...), nil)
			if err == nil && len(b.PendingKeys()) != 0 {
				t.Errorf("PendingKeys after Resolve = %v", b.PendingKeys())
			}
		}
	}
	var rows []string
	var dels []int64
	if err == nil {
		rows, dels, err = collect(t, b)
	}
	if c.wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Fatalf("err = %v, want one containing %q", err, c.wantErr)
		}
		if !strings.HasPrefix(err.Error(), "table lake.t: ") {
			t.Errorf("error %q does not name the table", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if spilled {
		rows = slices.Clone(rows)
		slices.SortFunc(rows, compareRowText)
		c.wantRows = slices.Clone(c.wantRows)
		slices.SortFunc(c.wantRows, compareRowText)
	}
	if !slices.Equal(rows, c.wantRows) {
		t.Errorf("rows:\n got %q\nwant %q", rows, c.wantRows)
	}
	if !slices.Equal(dels, c.wantDel) {
		t.Errorf("delete keys = %v, want %v", dels, c.wantDel)
	}
	if b.Truncated() != c.wantTrunc {
		t.Errorf("Truncated = %v, want %v", b.Truncated(), c.wantTrunc)
	}
}

func TestBufferUpsert(t *testing.T) {
	cases := []bufCase{
		{name: "insert update delete",
			changes:  []capture.Change{ins(1, "a", "x"), upd(1, "b", "x"), ins(2, "c", "y"), del(2)},
			wantRows: []string{"1 b x u 1"}, wantDel: []int64{1, 2}},
		{name: "a key's image is rewritten in place, shorter and longer, filling unchanged values from it",
			changes: []capture.Change{ins(1, "a", "a body longer than the names"), ins(2, "z", "zz"), upd(1, "bb", U),
				upd(1, "c", "s"), upd(1, "a name longer than the image it replaces", U), upd(2, "y", U)},
			wantRows: []string{"1 a name longer than the image it replaces s u 4", "2 y zz u 5"}, wantDel: []int64{1, 2}},
		{name: "snapshot reads need no deletes",
			changes:  []capture.Change{read(1, "a", "x"), read(2, "b", "y"), upd(2, "B", "y")},
			wantRows: []string{"1 a x r 0", "2 B y u 2"}, wantDel: []int64{2}},
		{name: "delete then reinsert",
			changes:  []capture.Change{ins(1, "a", "x"), del(1), ins(1, "c", "z")},
			wantRows: []string{"1 c z c 2"}, wantDel: []int64{1}},
		{name: "delete of a key never seen",
			changes: []capture.Change{del(7)}, wantDel: []int64{7}},
		{name: "key change tombstones the old key",
			changes:  []capture.Change{ins(1, "a", "x"), move(1, img(3, "a", "x"))},
			wantRows: []string{"3 a x u 1"}, wantDel: []int64{1, 3}},
		{name: "key change onto a deleted key",
			changes:  []capture.Change{ins(1, "a", "x"), ins(2, "b", "y"), del(2), move(1, img(2, "a", U))},
			wantRows: []string{"2 a x u 3"}, wantDel: []int64{1, 2}},
		{name: "toast from full before image",
			changes:  []capture.Change{updFull(img(1, "a", "X"), img(1, "b", U))},
			wantRows: []string{"1 b X u 0"}, wantDel: []int64{1}},
		{name: "toast from buffered image",
			changes:  []capture.Change{ins(1, "a", "X"), upd(1, "b", U), upd(1, "c", U)},
			wantRows: []string{"1 c X u 2"}, wantDel: []int64{1}},
		{name: "toast from buffered image across key change",
			changes:  []capture.Change{ins(1, "a", "X"), move(1, img(2, "b", U)), move(2, img(3, "c", U))},
			wantRows: []string{"3 c X u 2"}, wantDel: []int64{1, 2, 3}},
		{name: "toast pending and resolved",
			changes:     []capture.Change{upd(1, "b", U), ins(2, "n", "y")},
			wantPending: []int64{1}, found: []schema.Row{{int64(1), "a", "Z", "u"}},
			wantRows: []string{"1 b Z u 0", "2 n y c 1"}, wantDel: []int64{1, 2}},
		{name: "pending lookup inherited across key changes",
			changes:     []capture.Change{move(1, img(2, "b", U)), upd(2, "c", U), move(2, img(3, "d", U))},
			wantPending: []int64{1}, found: []schema.Row{{int64(1), "a", "Z", "u"}},
			wantRows: []string{"3 d Z u 2"}, wantDel: []int64{1, 2, 3}},
		{name: "full image after pending cancels the lookup",
			changes:  []capture.Change{upd(1, "b", U), upd(1, "c", "new")},
			wantRows: []string{"1 c new u 1"}, wantDel: []int64{1}},
		{name: "deleted pending row needs no lookup",
			changes: []capture.Change{upd(1, "b", U), del(1)}, wantDel: []int64{1}},
		{name: "resolve fails on a missing key",
			changes:     []capture.Change{upd(1, "b", U)},
			wantPending: []int64{1}, found: []schema.Row{{int64(2), "a", "Z", "u"}},
			wantErr: "key id=1: column body was not sent by the source (unchanged TOAST) and Iceberg holds no row for key id=1"},
		{name: "rows before resolve fail",
			changes: []capture.Change{upd(1, "b", U)}, wantPending: []int64{1},
			wantErr: "column body is still unresolved"},
		{name: "toast after delete in the same checkpoint",
			changes: []capture.Change{ins(1, "a", "x"), del(1), upd(1, "b", U)},
			wantErr: "key id=1: column body was not sent by the source (unchanged TOAST) and the row was deleted earlier in this checkpoint"},
		{name: "truncate drops earlier keys",
			changes:  []capture.Change{ins(1, "a", "x"), del(2), trunc(), ins(3, "c", "z"), upd(3, "d", U)},
			wantRows: []string{"3 d z u 4"}, wantDel: []int64{3}, wantTrunc: true},
		{name: "toast for an unknown key after truncate",
			changes: []capture.Change{trunc(), upd(1, "b", U)},
			wantErr: "the table was truncated earlier in this checkpoint"},
		{name: "unchanged key column",
			changes: []capture.Change{upd(1, "a", "x"), {Table: tid, Op: capture.OpUpdate, Schema: src, After: schema.Row{U, "a", "b"}}},
			wantErr: "key column id has no value"},
		{name: "wrong row width",
			changes: []capture.Change{{Table: tid, Op: capture.OpInsert, Schema: src, After: schema.Row{int64(1)}}},
			wantErr: "row has 1 values, its layout 3 columns"},
		{name: "update without new image",
			changes: []capture.Change{{Table: tid, Op: capture.OpUpdate, Schema: src}},
			wantErr: "u change without a new image"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runBufCase(t, c) })
	}
}

func TestBufferChangelog(t *testing.T) {
	cases := []bufCase{
		{name: "every change is a row",
			changes:  []capture.Change{read(1, "a", "x"), ins(2, "b", "y"), upd(2, "c", "y"), del(1), delFull(2, "c", "y")},
			wantRows: []string{"1 a x r 0", "2 b y c 1", "2 c y u 2", "1 NULL NULL d 3", "2 c y d 4"}},
		{name: "toast from before, then from the last image",
			changes:  []capture.Change{updFull(img(1, "a", "X"), img(1, "b", U)), upd(1, "c", U)},
			wantRows: []string{"1 b X u 0", "1 c X u 1"}},
		{name: "key change logs the old key's delete first",
			changes:  []capture.Change{ins(1, "a", "X"), move(1, img(2, "b", U))},
			wantRows: []string{"1 a X c 0", "1 NULL NULL d 1", "2 b X u 1"}},
		{name: "toast for the old key of a key change",
			changes: []capture.Change{ins(1, "a", "X"), move(1, img(2, "b", U)), upd(1, "c", U)},
			wantErr: "the row was deleted earlier in this checkpoint"},
		{name: "pending rows resolved from the newest iceberg row",
			changes:     []capture.Change{upd(1, "b", U), upd(1, "c", U), upd(5, "e", U)},
			wantPending: []int64{1, 5}, found: []schema.Row{{int64(1), "a", "Z", "u"}, {int64(5), "q", "W", "c"}},
			wantRows: []string{"1 b Z u 0", "1 c Z u 1", "5 e W u 2"}},
		{name: "a delete row in iceberg does not resolve",
			changes:     []capture.Change{upd(1, "b", U)},
			wantPending: []int64{1}, found: []schema.Row{{int64(1), nil, nil, "d"}},
			wantErr: "Iceberg holds no row for key id=1"},
		{name: "truncate appends a row and keeps earlier rows",
			changes:  []capture.Change{ins(1, "a", "x"), trunc(), ins(2, "b", "y")},
			wantRows: []string{"1 a x c 0", "NULL NULL NULL t 1", "2 b y c 2"}},
		{name: "toast after truncate",
			changes: []capture.Change{ins(1, "a", "x"), trunc(), upd(1, "b", U)},
			wantErr: "the table was truncated earlier in this checkpoint"},
	}
	for _, c := range cases {
		c.mode = Changelog
		t.Run(c.name, func(t *testing.T) { runBufCase(t, c) })
	}
}

func TestBufferChangelogMeta(t *testing.T) {
	b := newBuf(t, Changelog, 0)
	metas := []Meta{{Pos: "pg.v1:0/10", CommitMicros: 111, Seq: 0}, {Pos: "pg.v1:0/10", CommitMicros: 111, Seq: 1}, {Pos: "pg.v1:0/20", CommitMicros: 222, Seq: 0}}
	for i, ch := range []capture.Change{ins(1, "a", "x"), upd(1, "b", U), del(1)} {
		if err := b.Apply(ch, metas[i]); err != nil {
			t.Fatal(err)
		}
	}
	want := []schema.Row{
		{int64(1), "a", "x", "c", int64(111), "pg.v1:0/10", int64(0)},
		{int64(1), "b", "x", "u", int64(111), "pg.v1:0/10", int64(1)},
		{int64(1), nil, nil, "d", int64(222), "pg.v1:0/20", int64(0)},
	}
	var got []schema.Row
	for r, err := range b.Rows() {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rows:\n got %v\nwant %v", got, want)
	}
	if b.Len() != 3 || b.Truncated() || b.NumDeleteKeys() != 0 {
		t.Fatalf("Len=%d Truncated=%v NumDeleteKeys=%d", b.Len(), b.Truncated(), b.NumDeleteKeys())
	}
	for range b.DeleteKeys() {
		t.Fatal("changelog buffer yielded a delete key")
	}
}

// TestBufferReplay applies a stream, then the same stream again (a replay
// after a crash), and expects the same rows and delete keys as once.
func TestBufferReplay(t *testing.T) {
	stream := []capture.Change{
		read(1, "a", "x"), read(2, "b", "y"), read(4, "d", "w"),
		upd(1, "a2", U), move(2, img(3, "b", U)), del(4), ins(5, "e", "v"), upd(5, "e2", U), upd(6, "f", U),
	}
	once := newBuf(t, Upsert, 0)
	twice := newBuf(t, Upsert, 0)
	if err := apply(once, stream); err != nil {
		t.Fatal(err)
	}
	if err := apply(twice, append(slices.Clone(stream), stream...)); err != nil {
		t.Fatal(err)
	}
	found := icebergRows(once.layout, schema.Row{int64(6), "f0", "F", "u"})
	for _, b := range []*Buffer{once, twice} {
		if _, err := b.Resolve(found, nil); err != nil {
			t.Fatal(err)
		}
	}
	r1, d1, err := collect(t, once)
	if err != nil {
		t.Fatal(err)
	}
	r2, d2, err := collect(t, twice)
	if err != nil {
		t.Fatal(err)
	}
	strip := func(rows []string) []string { // seq differs between the runs
		out := make([]string, len(rows))
		for i, r := range rows {
			out[i] = r[:strings.LastIndexByte(r, ' ')]
		}
		slices.Sort(out)
		return out
	}
	want := []string{"1 a2 x u", "3 b y u", "5 e2 v u", "6 f F u"}
	if !slices.Equal(strip(r1), want) || !slices.Equal(strip(r2), want) {
		t.Fatalf("rows once %q, twice %q, want %q", strip(r1), strip(r2), want)
	}
	if !slices.Equal(d1, d2) || !slices.Equal(d1, []int64{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("delete keys once %v, twice %v", d1, d2)
	}
}

func TestBufferLayoutMapping(t *testing.T) {
	// The same columns in another order map by name.
	reordered := &schema.Table{Columns: []schema.Column{src.Columns[2], src.Columns[0], src.Columns[1]}, Key: []int{1}}
	b := newBuf(t, Upsert, 0)
	if err := b.Apply(capture.Change{Op: capture.OpInsert, Schema: reordered, After: schema.Row{"body", int64(9), "nm"}}, Meta{}); err != nil {
		t.Fatal(err)
	}
	rows, _, err := collect(t, b)
	if err != nil || !slices.Equal(rows, []string{"9 nm body c 0"}) {
		t.Fatalf("rows %q, err %v", rows, err)
	}
	// A nullable sink column missing from the change is NULL.
	narrow := &schema.Table{Columns: []schema.Column{src.Columns[0], src.Columns[2]}, Key: []int{0}}
	if err := b.Apply(capture.Change{Op: capture.OpInsert, Schema: narrow, After: schema.Row{int64(8), "b"}}, Meta{}); err != nil {
		t.Fatal(err)
	}

	bad := []struct {
		name string
		t    *schema.Table
		want string
	}{
		{"new column", &schema.Table{Columns: append(slices.Clone(src.Columns), schema.Column{Name: "extra", Type: iceberg.PrimitiveTypes.Int32}), Key: []int{0}}, "column extra of the change is not in the sink layout"},
		{"incompatible type", &schema.Table{Columns: []schema.Column{{Name: "id", Type: iceberg.PrimitiveTypes.String}, src.Columns[1], src.Columns[2]}, Key: []int{0}}, "column id is string in the change but long"},
		{"required column missing", &schema.Table{Columns: src.Columns[:2], Key: []int{0}}, "column body of the sink layout is missing"},
		{"metadata column in change", &schema.Table{Columns: append(slices.Clone(src.Columns), schema.Column{Name: ColOp, Type: iceberg.PrimitiveTypes.String}), Key: []int{0}}, "column _floe_op of the change is not in the sink layout"},
		{"no layout", nil, "change without a layout"},
	}
	for _, c := range bad {
		row := make(schema.Row, 3)
		if c.t != nil {
			row = make(schema.Row, len(c.t.Columns))
		}
		err := b.Apply(capture.Change{Op: capture.OpInsert, Schema: c.t, After: row}, Meta{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}

func TestNewBufferErrors(t *testing.T) {
	keyless := &schema.Table{Columns: src.Columns}
	cases := []struct {
		name string
		o    BufferOptions
		want string
	}{
		{"no layout", BufferOptions{}, "no layout"},
		{"source layout", BufferOptions{Layout: src}, "no floe metadata columns"},
		{"keyless upsert", BufferOptions{Layout: SinkLayout(keyless, Upsert), Mode: Upsert}, "upsert mode needs a key"},
		{"bad mode", BufferOptions{Layout: SinkLayout(src, Upsert), Mode: 7}, "unknown mode"},
	}
	for _, c := range cases {
		if _, err := NewBuffer(c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
	// A keyless changelog table works, but cannot fill TOAST without an old image.
	b, err := NewBuffer(BufferOptions{Layout: SinkLayout(keyless, Changelog), Mode: Changelog, Table: "lake.k"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Apply(capture.Change{Op: capture.OpInsert, Schema: keyless, After: img(1, "a", "x")}, Meta{}); err != nil {
		t.Fatal(err)
	}
	err = b.Apply(capture.Change{Op: capture.OpUpdate, Schema: keyless, After: img(1, "a", U)}, Meta{})
	if err == nil || !strings.Contains(err.Error(), "no key to find an earlier image by") {
		t.Fatalf("keyless toast: %v", err)
	}
}

// TestBufferSizeHint: a buffer sized by the last one's PeakKeys holds
// that many keys without growing its entries, never more than its memory
// budget holds, and yields what an unsized buffer yields.
func TestBufferSizeHint(t *testing.T) {
	var changes []capture.Change
	for i := range 300 {
		changes = append(changes, ins(int64(i%200), "n", "b"))
	}
	plain := newBuf(t, Upsert, 0)
	if err := apply(plain, changes); err != nil {
		t.Fatal(err)
	}
	if plain.PeakKeys() != 200 {
		t.Fatalf("PeakKeys = %d after 200 distinct keys", plain.PeakKeys())
	}
	sized, err := NewBuffer(BufferOptions{Layout: SinkLayout(src, Upsert), Mode: Upsert, SpillDir: t.TempDir(), Table: "lake.t", SizeHint: plain.PeakKeys()})
	if err != nil {
		t.Fatal(err)
	}
	defer sized.Close()
	entries := cap(sized.entries)
	if entries != 200 {
		t.Fatalf("entries allocated for %d keys, want 200", entries)
	}
	if err := apply(sized, changes); err != nil {
		t.Fatal(err)
	}
	if cap(sized.entries) != entries {
		t.Errorf("entries grew from %d to %d for the hinted 200 keys", entries, cap(sized.entries))
	}
	wantRows, wantDels, err := collect(t, plain)
	if err != nil {
		t.Fatal(err)
	}
	gotRows, gotDels, err := collect(t, sized)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gotRows, wantRows) || !slices.Equal(gotDels, wantDels) {
		t.Fatalf("sized buffer yields %v / %v, unsized %v / %v", gotRows, gotDels, wantRows, wantDels)
	}

	for _, c := range []struct {
		mode   Mode
		budget int64
		hint   int
		want   int
	}{
		{Upsert, 16 * entryOverhead, 1 << 20, 16}, // capped by the budget
		{Upsert, 0, -5, 0},
		{Changelog, 0, 1000, 0}, // Changelog mode keeps no entries
	} {
		b, err := NewBuffer(BufferOptions{Layout: SinkLayout(src, c.mode), Mode: c.mode, SpillDir: t.TempDir(), Table: "lake.t", MemoryBudget: c.budget, SizeHint: c.hint})
		if err != nil {
			t.Fatal(err)
		}
		if got := cap(b.entries); got != c.want {
			t.Errorf("mode %v budget %d hint %d: entries allocated for %d keys, want %d", c.mode, c.budget, c.hint, got, c.want)
		}
		b.Close()
	}
}
