package postgres

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/schema/pgtype"
)

const typedColumns = `
	id posint PRIMARY KEY, i2 int2, i8 int8, num numeric(12,3), f4 float4, f8 float8, ok bool,
	raw bytea, d date, tm time, ts timestamp, tstz timestamptz, u uuid, j jsonb, iv interval,
	cash money, m mood, tags int4[], moods mood[], s short,
	g int GENERATED ALWAYS AS (id * 2) STORED, gone int`

const typedValues = `1, 32000, 9007199254740993, 123456789.125, 1.5, 0.1, true,
	'\xdeadbeef', '2024-02-29', '23:59:59.999999', '2024-01-02 03:04:05.678901', '2024-01-02 03:04:05.678901+02',
	'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2]}', '1 day 2 hours', 12.34, 'happy', '{1,2,NULL}', '{sad,happy}', 'abc'`

// TestDiscoverTypesAndOneDecodePath checks type discovery (enums, arrays,
// domains, generated and dropped columns) and that a row read by the
// snapshot and the same row read from the stream decode to equal values.
func TestDiscoverTypesAndOneDecodePath(t *testing.T) {
	e := newEnv(t)
	e.exec(`CREATE TYPE mood AS ENUM ('sad', 'happy')`,
		`CREATE DOMAIN posint AS int4 CHECK (VALUE > 0)`,
		`CREATE DOMAIN short AS varchar(5)`,
		`CREATE TABLE typed (`+typedColumns+`)`,
		`ALTER TABLE typed DROP COLUMN gone`,
		`INSERT INTO typed (id, i2, i8, num, f4, f8, ok, raw, d, tm, ts, tstz, u, j, iv, cash, m, tags, moods, s) VALUES (`+typedValues+`)`)
	ctx := testCtx(t)
	s := e.source(e.config(`public\.typed`))
	infos, err := s.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	layout := infos[0].Schema
	var names []string
	for _, c := range layout.Columns {
		names = append(names, c.Name)
	}
	wantNames := []string{"id", "i2", "i8", "num", "f4", "f8", "ok", "raw", "d", "tm", "ts", "tstz", "u", "j", "iv", "cash", "m", "tags", "moods", "s"}
	if !reflect.DeepEqual(names, wantNames) {
		t.Fatalf("columns %v, want %v (no generated or dropped columns)", names, wantNames)
	}
	col := func(n string) pgtype.Type { return layout.Columns[layout.Index(n)].Source.(pgtype.Type) }
	checks := []struct {
		col  string
		kind pgtype.Kind
		name string
		mod  int32
		elem string
	}{
		{"id", pgtype.KindDomain, "int4", -1, ""},
		{"m", pgtype.KindEnum, "mood", -1, ""},
		{"tags", pgtype.KindArray, "_int4", -1, "int4"},
		{"moods", pgtype.KindArray, "_mood", -1, "mood"},
		{"s", pgtype.KindDomain, "varchar", 9, ""},
		{"num", pgtype.KindBase, "numeric", 12<<16 | 3 + 4, ""},
	}
	for _, c := range checks {
		st := col(c.col)
		if st.Kind != c.kind || st.Name != c.name || st.Modifier != c.mod || (c.elem != "") != (st.Elem != nil) || (st.Elem != nil && st.Elem.Name != c.elem) {
			t.Errorf("column %s: source type %+v, want kind %d name %s mod %d elem %q", c.col, st, c.kind, c.name, c.mod, c.elem)
		}
	}
	if col("moods").Elem.Kind != pgtype.KindEnum {
		t.Errorf("moods element kind %d, want enum", col("moods").Elem.Kind)
	}
	if !reflect.DeepEqual(layout.Key, []int{0}) || layout.Columns[0].Nullable {
		t.Errorf("key %v nullable %v", layout.Key, layout.Columns[0].Nullable)
	}

	info, err := s.Start(ctx, capture.StartRequest{Snapshot: true})
	if err != nil {
		t.Fatal(err)
	}
	id := capture.TableID{Schema: "public", Name: "typed"}
	snap, err := s.ReadChunk(ctx, id, capture.Chunk{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EndSnapshot(ctx); err != nil {
		t.Fatal(err)
	}
	r := startStream(t, s)
	e.exec(`INSERT INTO typed (id, i2, i8, num, f4, f8, ok, raw, d, tm, ts, tstz, u, j, iv, cash, m, tags, moods, s) VALUES (` +
		strings.Replace(typedValues, "1,", "2,", 1) + `)`)
	b := r.Next()
	if b.Position.Compare(info.From) <= 0 {
		t.Errorf("stream position %v not after %v", b.Position, info.From)
	}
	snapRow, streamRow := snap.Changes[0].After, b.Changes[0].After
	if snapRow[0] != int32(1) || streamRow[0] != int32(2) {
		t.Fatalf("ids %v %v", snapRow[0], streamRow[0])
	}
	for i := 1; i < len(snapRow); i++ {
		if !reflect.DeepEqual(snapRow[i], streamRow[i]) {
			t.Errorf("column %s: snapshot %#v (%T), stream %#v (%T)", layout.Columns[i].Name, snapRow[i], snapRow[i], streamRow[i], streamRow[i])
		}
		if snapRow[i] == nil {
			t.Errorf("column %s decoded to NULL", layout.Columns[i].Name)
		}
	}
	if got := snapRow[layout.Index("tstz")]; got != int64(1704157445678901) {
		t.Errorf("tstz = %v, want the UTC instant 1704157445678901", got)
	}
	if got := snapRow[layout.Index("tags")]; !reflect.DeepEqual(got, []any{int32(1), int32(2), nil}) {
		t.Errorf("tags = %#v", got)
	}
}

func TestDiscoverKeysAndPatterns(t *testing.T) {
	e := newEnv(t)
	e.exec(`CREATE TABLE nokey (a int, b text)`, `CREATE TABLE keyed (id int PRIMARY KEY)`, `CREATE SCHEMA other`, `CREATE TABLE other.keyed (id int PRIMARY KEY)`)
	ctx := testCtx(t)
	nokey := capture.TableID{Schema: "public", Name: "nokey"}

	cfg := e.config(`public\..*`)
	cfg.RequireKey = true
	_, err := e.source(cfg).Discover(ctx)
	for _, part := range []string{"public.nokey has no primary key", "add a primary key", "name a key in the route", "sink.mode: changelog"} {
		if err == nil || !strings.Contains(err.Error(), part) {
			t.Errorf("RequireKey without key: error %v, want it to contain %q", err, part)
		}
	}

	// A route key must be NOT NULL and exactly the columns of a unique
	// index, or rows sharing a key would collapse into one Iceberg row.
	over := func(cols ...string) map[capture.TableID]capture.KeyOverride {
		return map[capture.TableID]capture.KeyOverride{nokey: {Columns: cols, Field: "route[3].primary-key"}}
	}
	cfg.KeyOverrides = over("b")
	_, err = e.source(cfg).Discover(ctx)
	for _, part := range []string{"route[3].primary-key: key column b of table public.nokey allows NULL",
		`route[3].primary-key: no unique index of table public.nokey covers exactly the key columns (b), it has no unique index`,
		`fix: if the columns are unique, declare it: ALTER TABLE "public"."nokey" ADD UNIQUE ("b")`} {
		if err == nil || !strings.Contains(err.Error(), part) {
			t.Errorf("nullable, non-unique key: error %v, want it to contain %q", err, part)
		}
	}
	e.exec(`ALTER TABLE nokey ALTER COLUMN a SET NOT NULL`, `ALTER TABLE nokey ALTER COLUMN b SET NOT NULL`,
		`CREATE UNIQUE INDEX nokey_ab ON nokey (a, b) INCLUDE (b)`, `CREATE UNIQUE INDEX nokey_partial ON nokey (b) WHERE a > 0`,
		`CREATE UNIQUE INDEX nokey_expr ON nokey (lower(b))`)
	cfg.KeyOverrides = over("b")
	_, err = e.source(cfg).Discover(ctx)
	if want := "its unique indexes are on (a, b)"; err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "allows NULL") {
		t.Errorf("key not covered (partial and expression indexes do not count): error %v, want %q", err, want)
	}
	cfg.KeyOverrides = over("b", "a")
	infos, err := e.source(cfg).Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 2 || infos[1].ID != nokey || !reflect.DeepEqual(infos[1].Schema.KeyNames(), []string{"b", "a"}) {
		t.Fatalf("with override: %+v", infos)
	}

	cfg.KeyOverrides = over("nope")
	if _, err := e.source(cfg).Discover(ctx); err == nil || !strings.Contains(err.Error(), `key column(s) nope named for table public.nokey do not exist`) {
		t.Errorf("unknown override column: %v", err)
	}
	keyed := capture.TableID{Schema: "public", Name: "keyed"}
	cfg.KeyOverrides = map[capture.TableID]capture.KeyOverride{keyed: {Columns: []string{"id"}}, nokey: {Columns: []string{"a", "b"}}}
	if _, err := e.source(cfg).Discover(ctx); err != nil {
		t.Errorf("a route key naming the primary key: %v", err)
	}
	e.exec(`ALTER TABLE keyed ADD COLUMN u int NOT NULL UNIQUE`)
	cfg.KeyOverrides = map[capture.TableID]capture.KeyOverride{keyed: {Columns: []string{"u"}}, nokey: {Columns: []string{"a", "b"}}}
	if _, err := e.source(cfg).Discover(ctx); err == nil || !strings.Contains(err.Error(), "table public.keyed has a primary key (id), which floe keys it by; the route's primary-key (u) would be ignored") {
		t.Errorf("a route key beside a primary key: %v", err)
	}

	// Patterns match the whole name: "public\.key" matches neither keyed table.
	_, err = e.source(e.config(`public\.key`, `other\.keyed`)).Discover(ctx)
	if err == nil || !strings.Contains(err.Error(), `pattern "public\.key" matches no table`) || strings.Contains(err.Error(), "other") {
		t.Errorf("partial pattern: error %v", err)
	}

	// Without RequireKey the keyless table is captured, but its DEFAULT
	// replica identity would break its UPDATEs once published.
	s := e.source(e.config(`public\.nokey`))
	_, err = s.Start(ctx, capture.StartRequest{Snapshot: true})
	if err == nil || !strings.Contains(err.Error(), `ALTER TABLE "public"."nokey" REPLICA IDENTITY FULL`) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("keyless DEFAULT identity: Start error %v", err)
	}
	e.exec(`UPDATE nokey SET a = 1`) // the source's own writes still work

	e.exec(`ALTER TABLE nokey REPLICA IDENTITY FULL`, `INSERT INTO nokey VALUES (1, 'x')`)
	s = e.source(e.config(`public\.nokey`))
	if _, err := s.Start(ctx, capture.StartRequest{}); err != nil {
		t.Fatal(err)
	}
	r := startStream(t, s)
	e.exec(`UPDATE nokey SET a = 2`, `DELETE FROM nokey`)
	up := r.Next().Changes[0]
	if up.Op != capture.OpUpdate || up.BeforeKeyOnly || !reflect.DeepEqual(up.Before, schema.Row{int32(1), "x"}) || !reflect.DeepEqual(up.After, schema.Row{int32(2), "x"}) {
		t.Errorf("keyless FULL update: %+v", up)
	}
	del := r.Next().Changes[0]
	if del.Op != capture.OpDelete || del.BeforeKeyOnly || !reflect.DeepEqual(del.Before, schema.Row{int32(2), "x"}) {
		t.Errorf("keyless FULL delete: %+v", del)
	}
}

func TestPublicationSetToCapturedTables(t *testing.T) {
	e := newEnv(t)
	e.exec(`CREATE TABLE p1 (id int PRIMARY KEY)`, `CREATE TABLE p2 (id int PRIMARY KEY)`)
	ctx := testCtx(t)
	cfg := e.config(`public\.p1`)
	if _, err := e.source(cfg).Start(ctx, capture.StartRequest{}); err != nil {
		t.Fatal(err)
	}
	cfg = e.config(`public\.p2`)
	if _, err := e.source(cfg).Start(ctx, capture.StartRequest{}); err != nil {
		t.Fatal(err)
	}
	var tables []string
	conn := e.connect()
	rows, err := conn.Query(ctx, `SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1`, cfg.PublicationName)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	if rows.Err() != nil || !reflect.DeepEqual(tables, []string{"public.p2"}) {
		t.Fatalf("publication tables %v (%v), want [public.p2]", tables, rows.Err())
	}

	// A table owned by someone else: creating the publication is refused
	// with advice; a publication its owner created for exactly the
	// captured tables is used as it is.
	if err := testPG.Exec(ctx, e.db, `CREATE TABLE public.foreign_owned (id int PRIMARY KEY)`,
		fmt.Sprintf(`GRANT SELECT ON public.foreign_owned TO %s`, e.user)); err != nil {
		t.Fatal(err)
	}
	cfg = e.config(`public\.foreign_owned`)
	cfg.PublicationName = "admin_pub"
	_, err = e.source(cfg).Start(ctx, capture.StartRequest{})
	if err == nil || !strings.Contains(err.Error(), `source.username: user "`+e.user+`" cannot create publication "admin_pub"`) {
		t.Fatalf("publication on a table the user does not own: %v", err)
	}
	if err := testPG.Exec(ctx, e.db, `CREATE PUBLICATION admin_pub FOR TABLE public.foreign_owned`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.source(cfg).Start(ctx, capture.StartRequest{}); err != nil {
		t.Fatalf("admin-created publication: %v", err)
	}
}
