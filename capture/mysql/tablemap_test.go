package mysql

import (
	"strings"
	"testing"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema/mysqltype"
)

// everyTypeDDL has a column of every MySQL type family the mapping knows,
// with lengths, precisions, signedness and character sets that the
// TABLE_MAP metadata must reproduce.
const everyTypeDDL = `CREATE TABLE every (
	id BIGINT UNSIGNED PRIMARY KEY, ti TINYINT, tu TINYINT UNSIGNED, b BOOL, si SMALLINT, mi MEDIUMINT UNSIGNED,
	i INT NOT NULL DEFAULT 0, iu INT(10) UNSIGNED ZEROFILL, bi BIGINT, d DECIMAL(10,2), dw DECIMAL(38,10) NOT NULL DEFAULT 0,
	f FLOAT, db DOUBLE, b1 BIT(1), b13 BIT(13), b64 BIT(64), c CHAR(3), cl CHAR(5) CHARACTER SET latin1,
	v VARCHAR(40), vl VARCHAR(20) CHARACTER SET latin1 COLLATE latin1_bin, vb VARBINARY(16), bn BINARY(4),
	tt TINYTEXT, tx TEXT, mt MEDIUMTEXT CHARACTER SET latin1, lt LONGTEXT, tb TINYBLOB, bl BLOB, mb MEDIUMBLOB, lb LONGBLOB,
	j JSON, dt DATE, tm TIME, tm3 TIME(3), dtm DATETIME, dtm6 DATETIME(6), ts TIMESTAMP(2) NULL, y YEAR,
	e ENUM('a','b c','d''e','back\\slash'), st SET('x','y','z'), g GEOMETRY, p POINT)`

// TestTableMapLayoutMatchesDiscovery: for a table of every type, the
// layout rebuilt from a TABLE_MAP event is the discovered one, so the
// stream keeps the discovered layout (the same pointer) and reports no
// layout change when nothing changed.
func TestTableMapLayoutMatchesDiscovery(t *testing.T) {
	e := newEnv(t)
	e.exec(everyTypeDDL)
	s := e.source(e.config(e.db + `\.every`))
	ctx := testCtx(t)
	infos, err := s.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(ctx, capture.StartRequest{}); err != nil {
		t.Fatal(err)
	}
	r := startStream(t, s)
	e.exec("INSERT INTO every (id, dw, g, p) VALUES (1, 1.5, POINT(1, 2), POINT(3, 4))")
	b := r.Next()
	if got := b.Changes[0].Schema; got != infos[0].Schema {
		// Say which column the rebuilt layout disagrees on.
		var diffs []string
		for i, c := range got.Columns {
			d := infos[0].Schema.Columns[i]
			if c.Name != d.Name || !c.Type.Equals(d.Type) || c.Nullable != d.Nullable || !c.Source.(mysqltype.Type).SameValues(d.Source.(mysqltype.Type)) {
				diffs = append(diffs, c.Name+": "+c.Source.String()+" vs discovered "+d.Source.String())
			}
		}
		t.Fatalf("the TABLE_MAP of an unchanged table gave a new layout:\n%s", strings.Join(diffs, "\n"))
	}

	// A layout change: the rows after it are decoded with the layout
	// rebuilt from the TABLE_MAP alone, for every type; they must equal
	// what the snapshot's text decoders read from the table.
	e.exec("ALTER TABLE every ADD COLUMN zz INT NULL", `INSERT INTO every VALUES (2, -128, 255, TRUE, -32768, 16777215,
		-2147483648, 7, 9223372036854775807, -12345678.91, 1234567890123456789012345678.0123456789,
		1.5, -2.25e300, b'1', b'1010101010101', b'1111111111111111111111111111111111111111111111111111111111111111',
		'abc', 'äöü', 'varchar ✓', 'lätin', X'00FF10', X'01020304', 'tiny', 'text', 'mediüm', 'long',
		X'AA', X'BB', X'CC', X'DD', '{"k": [1, 2.5, null]}', '2024-02-29', '-838:59:59', '12:34:56.789',
		'2024-01-02 03:04:05', '1999-12-31 23:59:59.999999', '2038-01-19 03:14:07.99', 2155,
		'd''e', 'x,z', ST_GeomFromText('LINESTRING(0 0, 1 1)'), POINT(5, 6), 42)`)
	b = r.Next()
	ch := b.Changes[0]
	if ch.Schema == infos[0].Schema || ch.Schema.Index("zz") < 0 {
		t.Fatalf("after ADD COLUMN the change has layout %s", ch.Schema)
	}
	s2 := e.source(e.config(e.db + `\.every`))
	got, want := fmtRow(ch.After), ""
	for _, row := range scanAll(t, s2, id(e.db, "every")) {
		if strings.HasPrefix(row, fmtRow(ch.After[:1])+"|") { // id 2
			want = row
		}
	}
	if got != want {
		t.Fatalf("row decoded with the layout rebuilt from the TABLE_MAP:\n got %s\nwant %s", got, want)
	}
}
