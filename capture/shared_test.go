package capture

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/schema/problem"
)

type fakeTable struct {
	id     TableID
	layout *schema.Table
}

func (t *fakeTable) Info() TableInfo { return TableInfo{ID: t.id, Schema: t.layout} }

func TestTables(t *testing.T) {
	var r Tables[*fakeTable]
	if r.Installed() {
		t.Fatal("zero registry reports tables installed")
	}
	if _, err := r.Get(TableID{"a", "b"}); err == nil || err.Error() != "table a.b is not captured by this source" {
		t.Fatalf("Get on empty registry: %v", err)
	}
	a, b := &fakeTable{id: TableID{"s", "a"}}, &fakeTable{id: TableID{"s", "b"}}
	calls := 0
	discover := func(context.Context) ([]TableInfo, error) {
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
	if got, err := r.Get(TableID{"s", "b"}); err != nil || got != b {
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
	p := []Problem{{Field: "source.tables", Message: "m"}}
	if _, err := fresh.Install([]*fakeTable{a}, p); err == nil || err.Error() != "discover tables: source.tables: m" || fresh.Installed() {
		t.Fatalf("Install with problems = %v (installed %v)", err, fresh.Installed())
	}
	if infos, err := fresh.Install([]*fakeTable{a}, nil); err != nil || len(infos) != 1 || !fresh.Installed() {
		t.Fatalf("Install = %v, %v", infos, err)
	}
	wantErr := errors.New("boom")
	var empty Tables[*fakeTable]
	if err := empty.Ensure(context.Background(), func(context.Context) ([]TableInfo, error) { return nil, wantErr }); err != wantErr {
		t.Fatalf("Ensure = %v, want the discover error", err)
	}
}

type fakePos struct{ n int }

func (p fakePos) String() string { return "fake.v1:" }
func (p fakePos) Compare(o Position) int {
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

func (otherPos) String() string         { return "" }
func (otherPos) Compare(o Position) int { return 0 }

func keyedLayout() *schema.Table {
	return &schema.Table{Columns: []schema.Column{{Name: "a"}, {Name: "b"}, {Name: "v"}}, Key: []int{1, 0}}
}

func TestKeyBatches(t *testing.T) {
	id := TableID{"s", "t"}
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
	id := TableID{"s", "t"}
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
	b, add := ChunkBatch(id, Chunk{Index: 3}, keyedLayout())
	_ = add(schema.Row{int64(1), "a", nil})
	if b.Chunk.Index != 3 || len(b.Changes) != 1 || b.Changes[0].Op != OpRead || b.Changes[0].Table != id {
		t.Fatalf("ChunkBatch = %+v", b)
	}
}

func TestTablePatterns(t *testing.T) {
	p := NewTablePatterns([]*regexp.Regexp{regexp.MustCompile(`s\.a`), regexp.MustCompile(`s\.b.*`), regexp.MustCompile(`x\.y`)})
	m := p.Matcher()
	for _, tc := range []struct {
		id   TableID
		want bool
	}{{TableID{"s", "a"}, true}, {TableID{"s", "ab"}, false}, {TableID{"s", "bc"}, true}, {TableID{"ss", "a"}, false}} {
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

// TestSharedChecks: the checks both sources' Validate make name the
// field and the fix the same way.
func TestSharedChecks(t *testing.T) {
	var ok problem.Checks
	CheckEndpoint(&ok, "db", 5432, "u")
	CheckTables(&ok, []*regexp.Regexp{regexp.MustCompile("a")}, "x.y")
	CheckStream(&ok, 10*time.Second, 20*time.Second)
	if len(ok.List) != 0 {
		t.Fatalf("problems for good settings: %v", ok.List)
	}
	var bad problem.Checks
	CheckEndpoint(&bad, "", 0, "")
	CheckTables(&bad, nil, "shop.orders")
	CheckStream(&bad, 10*time.Second, 15*time.Second)
	want := []string{
		"source.hostname: required (fix: set the database host)",
		"source.port: 0 is out of range (fix: use a value from 1 to 65535)",
		"source.username: required (fix: set the replication user, e.g. `username: floe`)",
		"source.tables: required (fix: list the tables, e.g. `tables: shop.orders`)",
		"source.stall-timeout: 15s is too short: an idle stream brings only a heartbeat every 10s (fix: use at least 2 x source.heartbeat-interval (20s), or leave it unset for 3 x)",
	}
	if len(bad.List) != len(want) {
		t.Fatalf("problems %v, want %d", bad.List, len(want))
	}
	for i, w := range want {
		if got := bad.List[i].Error(); got != w {
			t.Errorf("problem %d = %q, want %q", i, got, w)
		}
	}
	var hb problem.Checks
	CheckStream(&hb, -time.Second, 0)
	if len(hb.List) != 1 || hb.List[0].Field != "source.heartbeat-interval" {
		t.Fatalf("a heartbeat that is not positive: %v", hb.List)
	}
}

func TestConnectProblems(t *testing.T) {
	want := Problem{Field: "source.password", Message: "denied"}
	if p := ConnectProblems(errors.Join(errors.New("x"), want), "fix"); len(p) != 1 || p[0] != want {
		t.Fatalf("ConnectProblems of a Problem = %v", p)
	}
	if p := ConnectProblems(errors.New("refused"), "check it"); len(p) != 1 || p[0] != (Problem{Field: "source", Message: "refused", Fix: "check it"}) {
		t.Fatalf("ConnectProblems = %v", p)
	}
}
