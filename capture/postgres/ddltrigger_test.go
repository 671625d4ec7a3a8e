package postgres

import (
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

func TestParseDDLMessage(t *testing.T) {
	m, cols, err := parseDDLMessage([]byte(`{"v": 1, "oid": 16384, "columns": [[1, "id"], [3, "b 2"]], "command": "ALTER TABLE t RENAME a TO \"b 2\""}`))
	require.NoError(t, err)
	require.Equal(t, uint32(16384), m.OID)
	require.Equal(t, map[int16]string{1: "id", 3: "b 2"}, cols)

	_, _, err = parseDDLMessage([]byte(`{"v": 2, "oid": 1, "columns": []}`))
	require.ErrorContains(t, err, "version 2, this build reads 1: install this build's event trigger")
	_, _, err = parseDDLMessage([]byte(`{"v": 1, "oid": 1, "columns": [["x", 1]]}`))
	require.ErrorContains(t, err, "is not [attnum, name]")
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
	next, renames := renamedLayout(cur, map[int16]string{1: "key", 2: "a2", 4: "c"}, nil)
	require.Equal(t, []string{"key<id", "a2<a", "c<"}, names(next))
	require.Equal(t, []string{"rename column id to key", "rename column a to a2"}, renames)
	require.Equal(t, "a", cur.layout.Columns[1].Name, "cur modified")

	// Nothing renamed (an ADD or a type change): cur itself.
	next, renames = renamedLayout(cur, map[int16]string{1: "id", 2: "a", 4: "c", 5: "d"}, nil)
	require.Same(t, cur, next)
	require.Nil(t, renames)

	// Replayed after a restart: the layout (discovered) has the new name
	// already; the command text says what it was.
	replay := &table{id: cur.id, attNums: []int16{1, 2, 4},
		layout: &schema.Table{Columns: []schema.Column{{Name: "id", Type: P.Int64}, {Name: "a2", Type: P.Int32}, {Name: "c", Type: P.String}}, Key: []int{0}}}
	next, renames = renamedLayout(replay, map[int16]string{1: "id", 2: "a2", 4: "c"}, commandRenames(`ALTER TABLE t RENAME a TO a2`))
	require.Equal(t, []string{"id<", "a2<a", "c<"}, names(next))
	require.Len(t, renames, 1)

	// A text rename the message does not show (another statement of the
	// query, already past) marks nothing.
	next, _ = renamedLayout(replay, map[int16]string{1: "id", 2: "a3", 4: "c"}, commandRenames(`ALTER TABLE t RENAME a TO a2`))
	require.Equal(t, []string{"id<", "a3<a2", "c<"}, names(next))
}
