package postgres

import (
	"strings"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/jackc/pglogrepl"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

func TestParseDDLMessage(t *testing.T) {
	m, cols, err := parseDDLMessage([]byte(`{"v": 1, "oid": 16384, "columns": [[1, "id"], [3, "b 2"]], "command": "ALTER TABLE t RENAME a TO \"b 2\""}`))
	require.NoError(t, err)
	require.Equal(t, uint32(16384), m.OID)
	require.Equal(t, map[int16]string{1: "id", 3: "b 2"}, cols)

	require.Nil(t, m.notNull, "a version 1 message leaves nullability to the catalog")

	m, cols, err = parseDDLMessage([]byte(`{"v": 2, "oid": 16384, "columns": [[1, "id", true], [3, "b", false]], "command": "ALTER TABLE t ALTER b DROP NOT NULL"}`))
	require.NoError(t, err)
	require.Equal(t, map[int16]string{1: "id", 3: "b"}, cols)
	require.Equal(t, map[int16]bool{1: true, 3: false}, m.notNull)

	_, _, err = parseDDLMessage([]byte(`{"v": 3, "oid": 1, "columns": []}`))
	require.ErrorContains(t, err, "version 3, this build reads 1 to 2: install this build's event trigger")
	_, _, err = parseDDLMessage([]byte(`{"v": 1, "oid": 1, "columns": [["x", 1]]}`))
	require.ErrorContains(t, err, "is not [attnum, name]")
	_, _, err = parseDDLMessage([]byte(`{"v": 2, "oid": 1, "columns": [[1, "id"]]}`))
	require.ErrorContains(t, err, "is not [attnum, name, notnull]")
	_, _, err = parseDDLMessage([]byte(`{"v": 2, "oid": 1, "columns": [[1, "id", "yes"]]}`))
	require.ErrorContains(t, err, "is not [attnum, name, notnull]")
	_, _, err = parseDDLMessage([]byte(`not json`))
	require.ErrorContains(t, err, "decode floe.ddl message")
}

func TestCommandRenames(t *testing.T) {
	for _, tc := range []struct {
		sql  string
		want []colRename
	}{
		{`ALTER TABLE t RENAME COLUMN a TO b`, []colRename{{"a", "b"}}},
		{`alter table only public."T" rename "Mixed Case" to Plain; ALTER TABLE u RENAME x TO "Y"""`, []colRename{{"Mixed Case", "plain"}, {"x", `Y"`}}},
		{`ALTER TABLE t RENAME TO t2`, nil},
		{`ALTER TABLE t RENAME CONSTRAINT c TO d`, nil},
		{`ALTER TABLE t ADD COLUMN c text DEFAULT 'rename a to b' -- rename x to y
		  /* RENAME p TO q */`, nil},
		{`ALTER TABLE t RENAME COLUMN a`, nil},
	} {
		require.Equal(t, tc.want, commandRenames(tc.sql), tc.sql)
	}
}

func TestRenamedLayout(t *testing.T) {
	P := iceberg.PrimitiveTypes
	cur := &table{id: capture.TableID{Schema: "s", Name: "t"}, attNums: []int16{1, 2, 4},
		layout: &schema.Table{Columns: []schema.Column{{Name: "id", Type: P.Int64}, {Name: "a", Type: P.Int32}, {Name: "c", Type: P.String}}, Key: []int{0}}}
	names := func(v *table) (out []string) {
		for _, c := range v.layout.Columns {
			out = append(out, c.Name+"<"+c.RenamedFrom)
		}
		return out
	}

	// By attnum: a (2) is now a2; the key id (1) is now key.
	next, renames, _ := renamedLayout(cur, map[int16]string{1: "key", 2: "a2", 4: "c"}, "")
	require.Equal(t, []string{"key<id", "a2<a", "c<"}, names(next))
	require.Equal(t, []string{"rename column id to key", "rename column a to a2"}, renames)
	require.Equal(t, "a", cur.layout.Columns[1].Name, "cur modified")

	// Nothing renamed (an ADD or a type change): cur itself.
	next, renames, _ = renamedLayout(cur, map[int16]string{1: "id", 2: "a", 4: "c", 5: "d"}, "")
	require.Same(t, cur, next)
	require.Nil(t, renames)

	// Replayed after a restart: the layout (discovered) has the new name
	// already; the command text says what it was.
	replay := &table{id: cur.id, attNums: []int16{1, 2, 4},
		layout: &schema.Table{Columns: []schema.Column{{Name: "id", Type: P.Int64}, {Name: "a2", Type: P.Int32}, {Name: "c", Type: P.String}}, Key: []int{0}}}
	next, renames, _ = renamedLayout(replay, map[int16]string{1: "id", 2: "a2", 4: "c"}, `ALTER TABLE t RENAME a TO a2`)
	require.Equal(t, []string{"id<", "a2<a", "c<"}, names(next))
	require.Len(t, renames, 1)

	// A text rename the message does not show (another statement of the
	// query, already past) marks nothing.
	next, _, _ = renamedLayout(replay, map[int16]string{1: "id", 2: "a3", 4: "c"}, `ALTER TABLE t RENAME a TO a2; ALTER TABLE t RENAME a2 TO a3`)
	require.Equal(t, []string{"id<", "a3<a2", "c<"}, names(next))

	// On the discovered layout a lone rename renames the column of the
	// new name's attnum, whatever its name at discovery.
	next, renames, conflict := renamedLayout(replay, map[int16]string{1: "id", 2: "a3", 4: "c"}, `ALTER TABLE t RENAME x TO a3`)
	require.NoError(t, conflict)
	require.Equal(t, []string{"id<", "a3<x", "c<"}, names(next))
	require.Equal(t, []string{"rename column x to a3 (replayed)"}, renames)

	// On a layout of the stream's names (after a Relation message), a
	// lone rename the attnums contradict (a2, attnum 2, is a3 now, but the
	// statement renamed x): nothing renamed, the conflict named.
	stream := withNamesLive(replay, false)
	stream.streamNames = true
	next, renames, conflict = renamedLayout(stream, map[int16]string{1: "id", 2: "a3", 4: "c"}, `ALTER TABLE t RENAME x TO a3`)
	require.Same(t, stream, next)
	require.Nil(t, renames)
	require.ErrorContains(t, conflict, `the DDL message of "ALTER TABLE t RENAME x TO a3" shows rename column a2 to a3`)

	// A lone rename whose text the message does not show (a text this
	// parser misread): by attnum, as any text.
	next, _, conflict = renamedLayout(replay, map[int16]string{1: "id", 2: "a3", 4: "c"}, `ALTER TABLE t RENAME a TO a2`)
	require.NoError(t, conflict)
	require.Equal(t, []string{"id<", "a3<a2", "c<"}, names(next))
}

func TestLoneRename(t *testing.T) {
	for _, tc := range []struct {
		sql  string
		want colRename
		ok   bool
	}{
		{`ALTER TABLE t RENAME COLUMN a TO b`, colRename{"a", "b"}, true},
		{`alter table if exists only public."T" * rename "Mixed Case" to Plain;`, colRename{"Mixed Case", "plain"}, true},
		{`BEGIN; ALTER TABLE db.s.t RENAME x TO "Y""" /* note */; COMMIT;`, colRename{"x", `Y"`}, true},
		{"-- migration 7\nSTART TRANSACTION; ALTER TABLE t RENAME COLUMN a TO b; END", colRename{"a", "b"}, true},
		// Several statements: which one emitted the message is not known.
		{`ALTER TABLE t RENAME a TO b; ALTER TABLE t RENAME c TO d`, colRename{}, false},
		{`ALTER TABLE t RENAME a TO b; ALTER TABLE t ADD COLUMN a int`, colRename{}, false},
		{`ALTER TABLE u ADD COLUMN z int; ALTER TABLE t RENAME a TO b`, colRename{}, false},
		{`ALTER TABLE t RENAME a TO b; ROLLBACK`, colRename{}, false},
		// Renames run by other statements, or not column renames.
		{`DO $$ BEGIN ALTER TABLE t RENAME a TO b; END $$`, colRename{}, false},
		{`SELECT rename_it()`, colRename{}, false},
		{`ALTER TABLE t RENAME TO t2`, colRename{}, false},
		{`ALTER TABLE t RENAME CONSTRAINT c TO d`, colRename{}, false},
		{`ALTER TABLE t RENAME a TO b, ADD COLUMN c int`, colRename{}, false},
		{`ALTER TABLE t DROP COLUMN a`, colRename{}, false},
		{`ALTER TABLE t RENAME COLUMN a`, colRename{}, false},
		{`ALTER TABLE a.b.c.d RENAME x TO y`, colRename{}, false},
		{`ALTER TABLE t RENAME U&"a" TO b`, colRename{}, false},
		{``, colRename{}, false},
		// PostgreSQL keeps 63 bytes of an identifier.
		{`ALTER TABLE t RENAME a TO ` + strings.Repeat("x", 70), colRename{"a", strings.Repeat("x", 63)}, true},
		{`ALTER TABLE t RENAME a TO "` + strings.Repeat("x", 62) + `é"`, colRename{"a", strings.Repeat("x", 62)}, true},
	} {
		got, ok := loneRename(tc.sql)
		require.Equal(t, tc.ok, ok, tc.sql)
		require.Equal(t, tc.want, got, tc.sql)
	}
}

// TestRenamedLayoutByName: a layout whose columns the stream knows by
// name only (a Relation message from before a rename: the catalog no
// longer has the old name, so its attnum is 0) follows a lone rename of
// one of them exactly, learning the attnums, and every case that is not
// exact renames nothing (the next Relation message then refuses, and the
// table is re-snapshotted).
func TestRenamedLayoutByName(t *testing.T) {
	P := iceberg.PrimitiveTypes
	// id (1) and c (4) are in the catalog now; a and b are not.
	relation := &table{id: capture.TableID{Schema: "s", Name: "t"}, attNums: []int16{1, 0, 0, 4}, streamNames: true, namesLive: true,
		layout: &schema.Table{Columns: []schema.Column{{Name: "id", Type: P.Int64}, {Name: "a", Type: P.Int32},
			{Name: "b", Type: P.String}, {Name: "c", Type: P.String}}, Key: []int{0}}}
	type state struct {
		names []string
		nums  []int16
		live  bool
	}
	of := func(v *table) state {
		var s state
		for _, c := range v.layout.Columns {
			s.names = append(s.names, c.Name+"<"+c.RenamedFrom)
		}
		return state{s.names, v.attNums, v.namesLive}
	}
	type step struct {
		cols     map[int16]string
		command  string
		want     state
		renames  int
		conflict bool // nothing renamed, cur returned
	}
	for _, tc := range []struct {
		name  string
		cur   *table
		steps []step
	}{
		{"lone rename, then one of a learned attnum", relation, []step{
			{map[int16]string{1: "id", 2: "a2", 3: "b", 4: "c"}, `ALTER TABLE t RENAME a TO a2`,
				state{[]string{"id<", "a2<a", "b<", "c<"}, []int16{1, 2, 3, 4}, true}, 1, false},
			{map[int16]string{1: "id", 2: "a2", 3: "b2", 4: "c"}, `ALTER TABLE s.t RENAME b TO b2; ALTER TABLE s.t RENAME c TO c2`,
				state{[]string{"id<", "a2<", "b2<b", "c<"}, []int16{1, 2, 3, 4}, false}, 1, false},
		}},
		{"chain a to a2 to a3, quoted", relation, []step{
			{map[int16]string{1: "id", 2: "A 2", 3: "b", 4: "c"}, `ALTER TABLE t RENAME COLUMN a TO "A 2"`,
				state{[]string{"id<", "A 2<a", "b<", "c<"}, []int16{1, 2, 3, 4}, true}, 1, false},
			{map[int16]string{1: "id", 2: "a3", 3: "b", 4: "c"}, `ALTER TABLE t RENAME "A 2" TO a3`,
				state{[]string{"id<", "a3<A 2", "b<", "c<"}, []int16{1, 2, 3, 4}, true}, 1, false},
		}},
		{"swap through a temporary name, three lone statements", relation, []step{
			{map[int16]string{1: "id", 2: "tmp", 3: "b", 4: "c"}, `ALTER TABLE t RENAME a TO tmp`,
				state{[]string{"id<", "tmp<a", "b<", "c<"}, []int16{1, 2, 3, 4}, true}, 1, false},
			{map[int16]string{1: "id", 2: "tmp", 3: "a", 4: "c"}, `ALTER TABLE t RENAME b TO a`,
				state{[]string{"id<", "tmp<", "a<b", "c<"}, []int16{1, 2, 3, 4}, true}, 1, false},
			{map[int16]string{1: "id", 2: "b", 3: "a", 4: "c"}, `ALTER TABLE t RENAME tmp TO b`,
				state{[]string{"id<", "b<tmp", "a<", "c<"}, []int16{1, 2, 3, 4}, true}, 1, false},
		}},
		{"several renames in one query text: not followed by name", relation, []step{
			{map[int16]string{1: "id", 2: "a2", 3: "b", 4: "c"}, `ALTER TABLE t RENAME a TO a2; ALTER TABLE t RENAME b TO b2`,
				state{[]string{"id<", "a<", "b<", "c<"}, []int16{1, 0, 0, 4}, false}, 0, false},
			{map[int16]string{1: "id", 2: "a2", 3: "b2", 4: "c"}, `ALTER TABLE t RENAME a TO a2; ALTER TABLE t RENAME b TO b2`,
				state{[]string{"id<", "a<", "b<", "c<"}, []int16{1, 0, 0, 4}, false}, 0, false},
		}},
		{"a dropped and another added as a, then a lone rename of a", relation, []step{
			{map[int16]string{1: "id", 3: "b", 4: "c"}, `ALTER TABLE t DROP COLUMN a`,
				state{[]string{"id<", "a<", "b<", "c<"}, []int16{1, 0, 0, 4}, false}, 0, false},
			{map[int16]string{1: "id", 3: "b", 4: "c", 5: "a"}, `ALTER TABLE t ADD COLUMN a int`,
				state{[]string{"id<", "a<", "b<", "c<"}, []int16{1, 0, 0, 4}, false}, 0, false},
			{map[int16]string{1: "id", 3: "b", 4: "c", 5: "a2"}, `ALTER TABLE t RENAME a TO a2`,
				state{[]string{"id<", "a<", "b<", "c<"}, []int16{1, 0, 0, 4}, false}, 0, false},
		}},
		{"dropped and added again in one statement, then renamed", relation, []step{
			{map[int16]string{1: "id", 3: "b", 4: "c", 5: "a"}, `ALTER TABLE t DROP COLUMN a, ADD COLUMN a int`,
				state{[]string{"id<", "a<", "b<", "c<"}, []int16{1, 0, 0, 4}, false}, 0, false},
			{map[int16]string{1: "id", 3: "b", 4: "c", 5: "a2"}, `ALTER TABLE t RENAME a TO a2`,
				state{[]string{"id<", "a<", "b<", "c<"}, []int16{1, 0, 0, 4}, false}, 0, false},
		}},
		{"names not known live (no Relation since an ALTER)", withNamesLive(relation, false), []step{
			{map[int16]string{1: "id", 2: "a2", 3: "b", 4: "c"}, `ALTER TABLE t RENAME a TO a2`,
				state{[]string{"id<", "a<", "b<", "c<"}, []int16{1, 0, 0, 4}, false}, 0, false},
		}},
		{"the message does not show the rename: another table's, or a column the layout lacks", relation, []step{
			{map[int16]string{1: "id", 2: "a", 3: "b", 4: "c"}, `ALTER TABLE t RENAME x TO y`,
				state{[]string{"id<", "a<", "b<", "c<"}, []int16{1, 0, 0, 4}, false}, 0, false},
		}},
		{"the layout's id is not among the columns before the rename", relation, []step{
			{map[int16]string{1: "a2", 3: "b", 4: "c"}, `ALTER TABLE t RENAME a TO a2`,
				state{[]string{"id<", "a<", "b<", "c<"}, []int16{1, 0, 0, 4}, true}, 0, true},
		}},
		{"the old name still in the message", relation, []step{
			{map[int16]string{1: "id", 2: "a", 3: "b", 4: "c", 5: "a2"}, `ALTER TABLE t RENAME a TO a2`,
				state{[]string{"id<", "a<", "b<", "c<"}, []int16{1, 0, 0, 4}, false}, 0, false},
		}},
		{"the new name in the layout already", withNames(relation, "id", "a", "a2", "c"), []step{
			{map[int16]string{1: "id", 2: "a2", 4: "c"}, `ALTER TABLE t RENAME a TO a2`,
				state{[]string{"id<", "a<", "a2<", "c<"}, []int16{1, 0, 0, 4}, true}, 0, true},
		}},
		// A replay from before a <-> b swapped through tmp: the catalog,
		// read after the swap, gave a b's attnum and b a's.
		{"swap replayed, the catalog's attnums stale", withNums(relation, 1, 3, 2, 4), []step{
			{map[int16]string{1: "id", 2: "tmp", 3: "b", 4: "c"}, `ALTER TABLE t RENAME a TO tmp`,
				state{[]string{"id<", "tmp<a", "b<", "c<"}, []int16{1, 2, 3, 4}, true}, 1, false},
			{map[int16]string{1: "id", 2: "tmp", 3: "a", 4: "c"}, `ALTER TABLE t RENAME b TO a`,
				state{[]string{"id<", "tmp<", "a<b", "c<"}, []int16{1, 2, 3, 4}, true}, 1, false},
		}},
		{"swap replayed, the catalog's attnums stale, names not live", withNamesLive(withNums(relation, 1, 3, 2, 4), false), []step{
			{map[int16]string{1: "id", 2: "tmp", 3: "b", 4: "c"}, `ALTER TABLE t RENAME a TO tmp`,
				state{[]string{"id<", "a<", "b<", "c<"}, []int16{1, 3, 2, 4}, false}, 0, true},
		}},
		// ALTER VIEW t RENAME COLUMN a TO x works on a table and emits no
		// message (its tag is ALTER VIEW): the next lone rename shows it.
		{"a column renamed where no message shows it, attnums known", withNamesLive(withNums(relation, 1, 2, 3, 4), false), []step{
			{map[int16]string{1: "id", 2: "x", 3: "b2", 4: "c"}, `ALTER TABLE t RENAME b TO b2`,
				state{[]string{"id<", "a<", "b<", "c<"}, []int16{1, 2, 3, 4}, false}, 0, true},
		}},
		{"a column renamed where no message shows it, names live", relation, []step{
			{map[int16]string{1: "id", 2: "x", 3: "b2", 4: "c"}, `ALTER TABLE t RENAME b TO b2`,
				state{[]string{"id<", "a<", "b<", "c<"}, []int16{1, 0, 0, 4}, true}, 0, true},
		}},
		{"several statements, by attnum as the message shows", withNums(relation, 1, 2, 3, 4), []step{
			{map[int16]string{1: "id", 2: "a2", 3: "b2", 4: "c"}, `ALTER TABLE t RENAME a TO a2; ALTER TABLE t RENAME b TO b2`,
				state{[]string{"id<", "a2<a", "b2<b", "c<"}, []int16{1, 2, 3, 4}, false}, 2, false},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cur := tc.cur
			for i, s := range tc.steps {
				next, renames, conflict := renamedLayout(cur, s.cols, s.command)
				require.Equal(t, s.want, of(next), "step %d: %s", i, s.command)
				if s.conflict {
					require.Error(t, conflict, "step %d", i)
					require.Same(t, cur, next, "step %d", i)
				} else {
					require.NoError(t, conflict, "step %d", i)
				}
				require.Len(t, renames, s.renames, "step %d: %v", i, renames)
				if s.renames == 0 {
					require.Same(t, cur.layout, next.layout, "step %d: layout replaced without a rename", i)
				}
				cur = next
			}
			require.Equal(t, []string{"id<", "a<", "b<", "c<"}, of(relation).names, "the Relation's layout was modified")
		})
	}
}

func withNamesLive(t *table, live bool) *table {
	n := *t
	n.namesLive = live
	return &n
}

func withNames(t *table, names ...string) *table {
	n := *t
	n.layout = &schema.Table{Key: t.layout.Key}
	for i, c := range t.layout.Columns {
		c.Name = names[i]
		n.layout.Columns = append(n.layout.Columns, c)
	}
	return &n
}

func withNums(t *table, nums ...int16) *table {
	n := *t
	n.attNums = nums
	return &n
}

// TestReplayedKey: the session's first Relation message may predate the
// discovered layout; a key column renamed since is under its old name
// there (flagged as key, in neither the layout nor the catalog), and is
// taken for the key until the rename's DDL message; anything less exact
// is no match (the missing key column is then refused as dropped).
func TestReplayedKey(t *testing.T) {
	P := iceberg.PrimitiveTypes
	// Discovered now: (item_id, a, k2), key (item_id, k2) or (item_id).
	discovered := func(key ...int) *table {
		return &table{id: capture.TableID{Schema: "s", Name: "t"}, attNums: []int16{1, 2, 3},
			layout: &schema.Table{Columns: []schema.Column{{Name: "item_id", Type: P.Int64}, {Name: "a", Type: P.Int32},
				{Name: "k2", Type: P.Int32}}, Key: key}}
	}
	catalogNow := map[string]catalogAtt{"item_id": {num: 1}, "a": {num: 2}, "k2": {num: 3}}
	rel := func(cols ...string) *pglogrepl.RelationMessage {
		m := &pglogrepl.RelationMessage{}
		for _, c := range cols {
			name, key := strings.CutSuffix(c, "*")
			col := &pglogrepl.RelationMessageColumn{Name: name}
			if key {
				col.Flags = 1
			}
			m.Columns = append(m.Columns, col)
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		cur    *table
		resent bool
		live   map[string]catalogAtt
		m      *pglogrepl.RelationMessage
		want   string
	}{
		{"one key column under its old name", discovered(0), false, catalogNow, rel("id*", "a", "k2"), "id"},
		{"a composite key, one column renamed", discovered(0, 2), false, catalogNow, rel("id*", "a", "k2*"), "id"},
		{"a resent message: the layout is the stream's own", discovered(0), true, catalogNow, rel("id*", "a", "k2"), ""},
		{"two key columns under other names", discovered(0, 2), false, catalogNow, rel("id*", "a", "x*"), ""},
		{"the old name is in the catalog (another column now)", discovered(0), false,
			map[string]catalogAtt{"item_id": {num: 1}, "a": {num: 2}, "k2": {num: 3}, "id": {num: 4}}, rel("id*", "a", "k2"), ""},
		{"the key was another column of the layout", discovered(0), false, catalogNow, rel("x", "a*", "k2"), ""},
		{"replica identity full: every column flagged", discovered(0), false, catalogNow, rel("id*", "a*", "k2*"), ""},
		{"no key column flagged", discovered(0), false, catalogNow, rel("id", "a", "k2"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &relationDiff{cur: tc.cur, resent: tc.resent, live: tc.live}
			require.Equal(t, tc.want, d.replayedKey(tc.m, 0))
		})
	}
}

// TestRenamedLayoutDiscovered: before the stream's first Relation message
// of a table its layout is the discovered one, whose names a replay may
// predate; DDL messages, naming columns by attnum, rename the columns
// they show renamed, a chain replayed one rename at a time, and several
// statements of one query text that rename a column to a name the
// message shows on another are a conflict.
func TestRenamedLayoutDiscovered(t *testing.T) {
	P := iceberg.PrimitiveTypes
	discovered := func(names ...string) *table {
		t := &table{id: capture.TableID{Schema: "s", Name: "t"}, layout: &schema.Table{Key: []int{0}}}
		for i, n := range names {
			t.layout.Columns = append(t.layout.Columns, schema.Column{Name: n, Type: P.Int32})
			t.attNums = append(t.attNums, int16(i+1))
		}
		return t
	}
	type step struct {
		cols     map[int16]string
		command  string
		want     []string // name<renamed-from per column
		conflict bool
	}
	for _, tc := range []struct {
		name  string
		cur   *table
		steps []step
	}{
		{"a chain replayed: v to v1 to v2, discovered as v2", discovered("id", "v2"), []step{
			{map[int16]string{1: "id", 2: "v1"}, `ALTER TABLE t RENAME v TO v1`, []string{"id<", "v1<v"}, false},
			{map[int16]string{1: "id", 2: "v2"}, `ALTER TABLE t RENAME v1 TO v2`, []string{"id<", "v2<v1"}, false},
		}},
		{"a chain in one query text", discovered("id", "v2"), []step{
			{map[int16]string{1: "id", 2: "v1"}, `ALTER TABLE t RENAME v TO v1; ALTER TABLE t RENAME v1 TO v2`, []string{"id<", "v2<"}, true},
		}},
		{"several renames in one query text while the names are the discovered ones", discovered("id", "a", "c"), []step{
			{map[int16]string{1: "id", 2: "b", 3: "c"}, `ALTER TABLE t RENAME a TO b; ALTER TABLE t RENAME c TO d`, []string{"id<", "b<a", "c<"}, false},
			{map[int16]string{1: "id", 2: "b", 3: "d"}, `ALTER TABLE t RENAME a TO b; ALTER TABLE t RENAME c TO d`, []string{"id<", "b<a", "d<c"}, false}, // b<a stated again (replayed text): the table has b already
		}},
		{"another ALTER replayed before a rename the discovered layout has", discovered("id", "nickname"), []step{
			{map[int16]string{1: "id", 2: "nick", 3: "tier"}, `ALTER TABLE t ADD COLUMN tier int`, []string{"id<", "nick<nickname"}, false},
			{map[int16]string{1: "id", 2: "nickname", 3: "tier"}, `ALTER TABLE t RENAME nick TO nickname`, []string{"id<", "nickname<nick"}, false},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cur := tc.cur
			for i, s := range tc.steps {
				next, _, conflict := renamedLayout(cur, s.cols, s.command)
				var got []string
				for _, c := range next.layout.Columns {
					got = append(got, c.Name+"<"+c.RenamedFrom)
				}
				require.Equal(t, s.want, got, "step %d: %s", i, s.command)
				require.Equal(t, s.conflict, conflict != nil, "step %d: conflict %v", i, conflict)
				require.False(t, next.streamNames, "step %d", i)
				cur = next
			}
		})
	}
}
