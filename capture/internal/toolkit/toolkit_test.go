package toolkit

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

func tid(schema, name string) capture.TableID { return capture.TableID{Schema: schema, Name: name} }

type fakeTable struct {
	id     capture.TableID
	layout *schema.Table
}

func (t *fakeTable) Info() capture.TableInfo { return capture.TableInfo{ID: t.id, Schema: t.layout} }

func TestTables(t *testing.T) {
	var r Tables[*fakeTable]
	if r.Installed() {
		t.Fatal("zero registry reports tables installed")
	}
	if _, err := r.Get(tid("a", "b")); err == nil || err.Error() != "table a.b is not captured by this source" {
		t.Fatalf("Get on empty registry: %v", err)
	}
	a, b := &fakeTable{id: tid("s", "a")}, &fakeTable{id: tid("s", "b")}
	calls := 0
	discover := func(context.Context) ([]capture.TableInfo, error) {
		calls++
		r.Set([]*fakeTable{a, b})
		return nil, nil
	}
	for range 2 {
		if err := r.Ensure(context.Background(), discover); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 1 {
		t.Fatalf("Ensure discovered %d times, want 1", calls)
	}
	if got, err := r.Get(tid("s", "b")); err != nil || got != b {
		t.Fatalf("Get(s.b) = %v, %v", got, err)
	}
	if got := r.Names(); !slices.Equal(got, []string{"s.a", "s.b"}) {
		t.Fatalf("Names = %v", got)
	}
	m := r.ByID()
	delete(m, a.id)
	if _, err := r.Get(a.id); err != nil {
		t.Fatal("ByID returned the registry's own map")
	}
	if infos := TableInfos(r.List()); len(infos) != 2 || infos[1].ID != b.id {
		t.Fatalf("TableInfos = %v", infos)
	}
	if got, err := r.Lookup(context.Background(), nil, a.id); err != nil || got != a {
		t.Fatalf("Lookup(s.a) = %v, %v", got, err)
	}
	var fresh Tables[*fakeTable]
	p := []capture.Problem{{Field: "source.tables", Message: "m"}}
	if _, err := fresh.Install([]*fakeTable{a}, p); err == nil || err.Error() != "discover tables: source.tables: m" || fresh.Installed() {
		t.Fatalf("Install with problems = %v (installed %v)", err, fresh.Installed())
	}
	if infos, err := fresh.Install([]*fakeTable{a}, nil); err != nil || len(infos) != 1 || !fresh.Installed() {
		t.Fatalf("Install = %v, %v", infos, err)
	}
	wantErr := errors.New("boom")
	var empty Tables[*fakeTable]
	if err := empty.Ensure(context.Background(), func(context.Context) ([]capture.TableInfo, error) { return nil, wantErr }); err != wantErr {
		t.Fatalf("Ensure = %v, want the discover error", err)
	}
}

type fakePos struct{ n int }

func (p fakePos) String() string { return "fake.v1:" }
func (p fakePos) Compare(o capture.Position) int {
	return p.n - AsPosition[fakePos](o, "fake").n
}

func TestPositionHelpers(t *testing.T) {
	if AsPosition[fakePos](fakePos{3}, "fake").n != 3 || AsPosition[fakePos](&fakePos{4}, "fake").n != 4 {
		t.Fatal("AsPosition did not unwrap a value or a pointer")
	}
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(r.(string), "fake: cannot compare with position of type") {
				t.Fatalf("AsPosition of a foreign type: recover() = %v", r)
			}
		}()
		AsPosition[fakePos](otherPos{}, "fake")
	}()
	if p, err := PositionOf(fakePos{1}, errors.New("x")); p != nil || err == nil {
		t.Fatalf("PositionOf with error = %v, %v; want nil interface", p, err)
	}
	for _, tc := range []struct{ in, rest, err string }{
		{"pg.v1:0/1", "0/1", ""},
		{"pg.v2:0/1", "", `decode position "pg.v2:0/1": unsupported version "pg.v2" (this build reads "pg.v1")`},
		{"mysql.v1:file:x:4", "", `decode position "mysql.v1:file:x:4": not a PostgreSQL position (want pg.v1:<hi>/<lo>)`},
		{"", "", `decode position "": not a PostgreSQL position (want pg.v1:<hi>/<lo>)`},
	} {
		rest, err := CutPositionPrefix(tc.in, "pg.v1:", "PostgreSQL", "<hi>/<lo>")
		if rest != tc.rest || (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
			t.Errorf("CutPositionPrefix(%q) = %q, %v; want %q, %s", tc.in, rest, err, tc.rest, tc.err)
		}
	}
}

type otherPos struct{}

func (otherPos) String() string                 { return "" }
func (otherPos) Compare(o capture.Position) int { return 0 }

func keyedLayout() *schema.Table {
	return &schema.Table{Columns: []schema.Column{{Name: "a"}, {Name: "b"}, {Name: "v"}}, Key: []int{1, 0}}
}

func TestKeyBatches(t *testing.T) {
	id := tid("s", "t")
	keys := make([]schema.Row, 2*KeyBatchSize+1)
	for i := range keys {
		keys[i] = schema.Row{int64(i), "x"}
	}
	batches, err := KeyBatches(id, keyedLayout(), keys)
	if err != nil || len(batches) != 3 || len(batches[0]) != KeyBatchSize || len(batches[2]) != 1 {
		t.Fatalf("KeyBatches: %d batches, %v", len(batches), err)
	}
	if b, err := KeyBatches(id, keyedLayout(), nil); err != nil || len(b) != 0 {
		t.Fatalf("no keys: %v, %v", b, err)
	}
	for _, tc := range []struct {
		layout *schema.Table
		keys   []schema.Row
		err    string
	}{
		{&schema.Table{Columns: []schema.Column{{Name: "a"}}}, nil, "read rows of s.t: the table has no key"},
		{keyedLayout(), []schema.Row{{int64(1)}}, "read rows of s.t: key has 1 values, the table's key 2 columns"},
		{keyedLayout(), []schema.Row{{int64(1), nil}}, "read rows of s.t: key column a is NULL"},
	} {
		if _, err := KeyBatches(id, tc.layout, tc.keys); err == nil || err.Error() != tc.err {
			t.Errorf("KeyBatches(%v) error %v, want %s", tc.keys, err, tc.err)
		}
	}
}

func TestPlanKeyRanges(t *testing.T) {
	id := tid("s", "t")
	read := func() ([][]string, error) { return [][]string{{"1", "a"}}, nil }
	if _, err := PlanKeyRanges(id, keyedLayout(), 0, read); err == nil || err.Error() != "plan chunks of s.t: rows per chunk must be positive, got 0" {
		t.Fatalf("rowsPerChunk 0: %v", err)
	}
	if c, err := PlanKeyRanges(id, &schema.Table{}, 10, nil); err != nil || len(c) != 1 || c[0].Lower != nil || c[0].Upper != nil {
		t.Fatalf("keyless table: %v, %v", c, err)
	}
	if c, err := PlanKeyRanges(id, keyedLayout(), 10, read); err != nil || len(c) != 2 {
		t.Fatalf("two chunks: %v, %v", c, err)
	}
	if _, err := PlanKeyRanges(id, keyedLayout(), 10, func() ([][]string, error) { return nil, errors.New("x") }); err == nil || err.Error() != "plan chunks of s.t: x" {
		t.Fatalf("read error: %v", err)
	}
	if b, err := KeyBound(keyedLayout(), [][]byte{[]byte("1"), nil}); err == nil || b != nil ||
		err.Error() != "key column a is NULL in some row; chunking needs non-null keys" {
		t.Fatalf("KeyBound with NULL: %v", err)
	}
	b, add := ChunkBatch(id, capture.Chunk{Index: 3}, keyedLayout())
	_ = add(schema.Row{int64(1), "a", nil})
	if b.Chunk.Index != 3 || len(b.Changes) != 1 || b.Changes[0].Op != capture.OpRead || b.Changes[0].Table != id {
		t.Fatalf("ChunkBatch = %+v", b)
	}
}

func TestTablePatterns(t *testing.T) {
	p := NewTablePatterns([]*regexp.Regexp{regexp.MustCompile(`s\.a`), regexp.MustCompile(`s\.b.*`), regexp.MustCompile(`x\.y`)})
	m := p.Matcher()
	for _, tc := range []struct {
		id   capture.TableID
		want bool
	}{{tid("s", "a"), true}, {tid("s", "ab"), false}, {tid("s", "bc"), true}, {tid("ss", "a"), false}} {
		if got := m.Match(tc.id); got != tc.want {
			t.Errorf("Match(%s) = %v", tc.id, got)
		}
		if got := p.Match(tc.id); got != tc.want {
			t.Errorf("TablePatterns.Match(%s) = %v", tc.id, got)
		}
	}
	if got := m.Unmatched(); !slices.Equal(got, []string{`x\.y`}) {
		t.Fatalf("Unmatched = %v", got)
	}
}

func TestLifecycle(t *testing.T) {
	var l Lifecycle
	if err := l.BeginStream(); err == nil || err.Error() != "stream: source not started" {
		t.Fatalf("BeginStream before start: %v", err)
	}
	if err := l.CheckStart(); err != nil {
		t.Fatal(err)
	}
	l.MarkStarted()
	if err := l.CheckStart(); err == nil || err.Error() != "start: already started" {
		t.Fatalf("CheckStart after start: %v", err)
	}
	if err := l.BeginStream(); err != nil {
		t.Fatal(err)
	}
	if err := l.BeginStream(); err == nil || err.Error() != "stream: already called" {
		t.Fatalf("second BeginStream: %v", err)
	}
	if !l.BeginClose() || l.BeginClose() {
		t.Fatal("BeginClose is true only the first time")
	}
}

// TestBeginStart pins the opening of both backends' Start: a second Start
// is refused before any discovery, the first one discovers the tables once
// (not again when Discover installed them), and a failed discovery is
// returned as it is.
func TestBeginStart(t *testing.T) {
	ctx := context.Background()
	var l Lifecycle
	var r Tables[*fakeTable]
	calls := 0
	discoverErr := errors.New("discover failed")
	failing := func(context.Context) ([]capture.TableInfo, error) { calls++; return nil, discoverErr }
	if err := BeginStart(ctx, &l, &r, failing); !errors.Is(err, discoverErr) || calls != 1 {
		t.Fatalf("BeginStart with a failing discover: %v after %d calls", err, calls)
	}
	discover := func(context.Context) ([]capture.TableInfo, error) {
		calls++
		r.Set([]*fakeTable{{id: tid("s", "a")}})
		return nil, nil
	}
	if err := BeginStart(ctx, &l, &r, discover); err != nil || calls != 2 || !r.Installed() {
		t.Fatalf("BeginStart: %v after %d calls, installed %v", err, calls, r.Installed())
	}
	if err := BeginStart(ctx, &l, &r, discover); err != nil || calls != 2 {
		t.Fatalf("BeginStart with tables installed: %v after %d calls", err, calls)
	}
	l.MarkStarted()
	if err := BeginStart(ctx, &l, &r, failing); err == nil || err.Error() != "start: already started" || calls != 2 {
		t.Fatalf("BeginStart after start: %v after %d calls", err, calls)
	}
}

func TestTablesReadRows(t *testing.T) {
	var r Tables[*fakeTable]
	id := tid("s", "t")
	r.Set([]*fakeTable{{id: id, layout: keyedLayout()}})
	keys := make([]schema.Row, KeyBatchSize+1)
	for i := range keys {
		keys[i] = schema.Row{int64(i), "x"}
	}
	var opened, closed int
	var sizes []int
	now := keyedLayout()
	open := func(*fakeTable) (KeyReader, *schema.Table, func(), error) {
		opened++
		return func(batch []schema.Row, emit func(schema.Row) error) error {
			sizes = append(sizes, len(batch))
			return emit(batch[0])
		}, now, func() { closed++ }, nil
	}
	rows, layout, err := r.ReadRows(context.Background(), nil, id, keys, open)
	if err != nil || layout != now || len(rows) != 2 || rows[1][0] != int64(KeyBatchSize) || !slices.Equal(sizes, []int{KeyBatchSize, 1}) || opened != 1 || closed != 1 {
		t.Fatalf("ReadRows: rows %v, batch sizes %v, opened %d, closed %d, %v", rows, sizes, opened, closed, err)
	}
	failing := func(*fakeTable) (KeyReader, *schema.Table, func(), error) {
		return func([]schema.Row, func(schema.Row) error) error { return errors.New("boom") }, now, func() { closed++ }, nil
	}
	if _, _, err := r.ReadRows(context.Background(), nil, id, keys, failing); err == nil || err.Error() != "read rows of s.t: boom" || closed != 2 {
		t.Fatalf("failing reader: %v (closed %d)", err, closed)
	}
	if _, _, err := r.ReadRows(context.Background(), nil, id, []schema.Row{{int64(1)}}, open); err == nil || opened != 1 {
		t.Fatalf("bad key: %v, opened %d; want an error before opening", err, opened)
	}
}

func TestChunkQuery(t *testing.T) {
	var args []string
	param := func(i int, v string) string {
		args = append(args, v)
		return "$" + v + "/" + string(rune('a'+i))
	}
	for _, tc := range []struct {
		chunk capture.Chunk
		want  string
	}{
		{capture.Chunk{}, "SELECT a, b, c FROM s.t ORDER BY a, b"},
		{capture.Chunk{Upper: []string{"1", "2"}}, "SELECT a, b, c FROM s.t WHERE (a, b) <= ($1/a, $2/b) ORDER BY a, b"},
		{capture.Chunk{Lower: []string{"1", "2"}, Upper: []string{"3", "4"}}, "SELECT a, b, c FROM s.t WHERE (a, b) > ($1/a, $2/b) AND (a, b) <= ($3/a, $4/b) ORDER BY a, b"},
	} {
		args = nil
		q, err := ChunkQuery("a, b, c", "s.t", "a, b", 2, tc.chunk, param)
		if err != nil || q != tc.want {
			t.Errorf("ChunkQuery(%+v) = %q, %v; want %q", tc.chunk, q, err, tc.want)
		}
		if want := append(slices.Clone(tc.chunk.Lower), tc.chunk.Upper...); !slices.Equal(args, want) {
			t.Errorf("ChunkQuery(%+v) args %v, want %v", tc.chunk, args, want)
		}
	}
	if q, err := ChunkQuery("a", "s.t", "", 0, capture.Chunk{}, param); err != nil || q != "SELECT a FROM s.t" {
		t.Errorf("keyless: %q, %v", q, err)
	}
	if _, err := ChunkQuery("a", "s.t", "a, b", 2, capture.Chunk{Lower: []string{"1"}}, param); err == nil || err.Error() != "bound has 1 values, the key has 2 columns" {
		t.Errorf("short bound: %v", err)
	}
}

// TestUndecodableByKey: a row that could not be decoded goes to bad with
// its key decoded; a NULL or undecodable key ends the read with the row's
// own error; no bad, no handler.
func TestUndecodableByKey(t *testing.T) {
	layout := &schema.Table{Columns: []schema.Column{{Name: "v"}, {Name: "id"}}, Key: []int{1}}
	decode := func(col int, text []byte) (any, error) {
		if string(text) == "x" {
			return nil, errors.New("not a number")
		}
		return "k" + string(text), nil
	}
	if UndecodableByKey(layout, decode, nil) != nil {
		t.Fatal("a nil bad gave a handler")
	}
	var keys []schema.Row
	handle := UndecodableByKey(layout, decode, func(key schema.Row, err error) error {
		keys = append(keys, key)
		return nil
	})
	rowErr := errors.New("column v: bad value")
	text := func(s string) *string { return &s }
	if err := handle(rowErr, capture.RawRow{{Column: "v", Text: text("?")}, {Column: "id", Text: text("7")}}); err != nil {
		t.Fatalf("a row with a decodable key: %v", err)
	}
	if len(keys) != 1 || keys[0][0] != nil || keys[0][1] != "k7" {
		t.Fatalf("bad got keys %v, want [[<nil> k7]]", keys)
	}
	for _, raw := range []capture.RawRow{
		{{Column: "v", Text: text("?")}, {Column: "id"}},
		{{Column: "v", Text: text("?")}, {Column: "id", Text: text("x")}},
		{{Column: "v", Text: text("?")}},
	} {
		if err := handle(rowErr, raw); err != rowErr {
			t.Errorf("row %v: handler returned %v, want the row's error", raw, err)
		}
	}
	if len(keys) != 1 {
		t.Errorf("bad called for rows without a usable key: %v", keys)
	}
}
