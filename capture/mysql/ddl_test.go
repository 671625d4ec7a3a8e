package mysql

import (
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

func TestAlterFillsRows(t *testing.T) {
	for _, tc := range []struct {
		stmt string
		want bool
	}{
		{"ALTER TABLE t ADD COLUMN c INT", false},
		{"ALTER TABLE t ADD c INT NULL DEFAULT NULL", false},
		{"alter table `db`.`t` add column if not exists c varchar(10) comment 'NOT NULL DEFAULT 5'", false},
		{"ALTER TABLE t ADD INDEX i (c), ADD UNIQUE KEY u (d), ADD CONSTRAINT k CHECK (c > 0)", false},
		{"ALTER TABLE t MODIFY c BIGINT NOT NULL DEFAULT 0", false},
		{"ALTER TABLE t DROP COLUMN c, ADD COLUMN d TEXT", false},
		{"ALTER TABLE t CHANGE c c BIGINT", false},
		{"ALTER TABLE t CHANGE COLUMN `c` c BIGINT", false},
		{"ALTER TABLE t ADD COLUMN c INT DEFAULT 0", true},
		{"ALTER TABLE t ADD COLUMN c INT NOT NULL", true},
		{"ALTER TABLE t ADD COLUMN (a INT, b INT DEFAULT 1)", true},
		{"ALTER TABLE t ADD COLUMN c INT AS (a + 1) VIRTUAL", true},
		{"ALTER TABLE t ADD COLUMN c INT GENERATED ALWAYS AS (a + 1) STORED", true},
		{"ALTER TABLE t ADD COLUMN c TIMESTAMP DEFAULT CURRENT_TIMESTAMP", true},
		{"ALTER TABLE t ADD COLUMN c BIGINT AUTO_INCREMENT UNIQUE", true},
		{"ALTER TABLE t /* x */ ADD COLUMN c INT, ALGORITHM=INPLACE, ADD d INT DEFAULT '7'", true},
		{"ALTER TABLE t RENAME COLUMN a TO b", false},
		{"ALTER TABLE t CHANGE a b INT", false},
		{"ALTER TABLE t CHANGE COLUMN IF EXISTS a b INT", false},
	} {
		if got := alterFillsRows(tc.stmt) != ""; got != tc.want {
			t.Errorf("alterFillsRows(%q) = %q, want refused=%v", tc.stmt, alterFillsRows(tc.stmt), tc.want)
		}
	}
}

func TestAlterRenames(t *testing.T) {
	for _, tc := range []struct {
		stmt    string
		want    []colRename
		renamed bool
	}{
		{"ALTER TABLE t RENAME COLUMN a TO b", []colRename{{"a", "b"}}, false},
		{"alter table `db`.`t` rename column `a x` to `b``y`", []colRename{{"a x", "b`y"}}, false},
		{"ALTER TABLE t CHANGE a b INT", []colRename{{"a", "b"}}, false},
		{"ALTER TABLE t CHANGE COLUMN IF EXISTS `a` b BIGINT NULL", []colRename{{"a", "b"}}, false},
		{"ALTER TABLE t CHANGE a a BIGINT", nil, false},
		{"ALTER TABLE t CHANGE a A BIGINT", []colRename{{"a", "A"}}, false},
		{"ALTER TABLE t /* RENAME COLUMN x TO y */ ADD c INT, RENAME COLUMN a TO b, CHANGE d e TEXT, MODIFY f BIGINT", []colRename{{"a", "b"}, {"d", "e"}}, false},
		{"ALTER TABLE t ADD c VARCHAR(10) COMMENT 'RENAME COLUMN a TO b'", nil, false},
		{"ALTER TABLE t RENAME INDEX i TO j, RENAME KEY k TO l", nil, false},
		{"ALTER TABLE t RENAME TO u", nil, true},
		{"ALTER TABLE t RENAME AS db2.u", nil, true},
		{"ALTER TABLE t RENAME u", nil, true},
		{"ALTER TABLE t ADD COLUMN `rename` INT", nil, false},
		{"CREATE TABLE t (a INT)", nil, false},
	} {
		got, renamed := alterRenames(tc.stmt)
		require.Equal(t, tc.want, got, tc.stmt)
		require.Equal(t, tc.renamed, renamed, tc.stmt)
	}
}

func TestRenameColumns(t *testing.T) {
	P := iceberg.PrimitiveTypes
	id := capture.TableID{Schema: "db", Name: "t"}
	tbl := &table{id: id, layout: &schema.Table{Columns: []schema.Column{
		{Name: "id", Type: P.Int64}, {Name: "a", Type: P.String, Nullable: true}, {Name: "c", Type: P.Int32},
	}, Key: []int{0}}}
	names := func(v *table) (out []string) {
		for _, c := range v.layout.Columns {
			out = append(out, c.Name+"<"+c.RenamedFrom)
		}
		return out
	}
	st := &streamer{mapped: map[capture.TableID]bool{id: true}}

	v, err := st.renameColumns(tbl, []colRename{{"A", "b"}, {"id", "key"}}, "ALTER")
	require.NoError(t, err)
	require.Equal(t, []string{"key<id", "b<a", "c<"}, names(v))
	require.Equal(t, []int{0}, v.layout.Key)
	require.Equal(t, "a", tbl.layout.Columns[1].Name, "t modified")

	// Renamed again by a later statement: the marks are of that one only.
	v2, err := st.renameColumns(v, []colRename{{"b", "b2"}}, "ALTER")
	require.NoError(t, err)
	require.Equal(t, []string{"key<", "b2<b", "c<"}, names(v2))

	// The new name exists, or the old one is gone, once the stream has
	// the table's own layout: refused.
	_, err = st.renameColumns(tbl, []colRename{{"a", "c"}}, "ALTER")
	require.ErrorContains(t, err, "column rename a -> c does not fit")
	_, err = st.renameColumns(tbl, []colRename{{"x", "a"}}, "ALTER")
	require.ErrorContains(t, err, "floe resnapshot")

	// Before the session's first TABLE_MAP the layout is the server's
	// current one, which may be past the rename: marked, not renamed.
	st.mapped[id] = false
	v, err = st.renameColumns(tbl, []colRename{{"x", "a"}}, "ALTER")
	require.NoError(t, err)
	require.Equal(t, []string{"id<", "a<x", "c<"}, names(v))
}
