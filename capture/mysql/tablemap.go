package mysql

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

// Schema history.
//
// A row event is decoded with the layout its own TABLE_MAP event states,
// not the table's current one: with binlog_row_metadata=FULL a TABLE_MAP
// carries every column's name, binlog type and type metadata (length,
// precision and scale, fractional seconds), signedness, collation, ENUM
// and SET labels, nullability and the primary key, which is all the
// layout this package derives from information_schema. The binlog is thus
// the durable, versioned history of each table's layout, read at exactly
// the position of each event; a layout version is rebuilt from it once per
// distinct TABLE_MAP and kept while the stream runs. On the sink side each
// version that changes the Iceberg layout becomes an Iceberg schema (the
// table's own versioned schema list), see checkpoint.
//
// A layout version that only adds a column is exact when the new column
// is nullable, has no default and is not generated: the rows already in
// the table have NULL there, as the Iceberg table will. Otherwise the
// server filled existing rows without writing a binlog event for them,
// which no stream can see: the ALTER statement is checked for that when
// its Query event arrives (alterFillsRows), and refused, naming the table
// to re-snapshot; so is a column rename.

// collationInfo is one server collation.
type collationInfo struct {
	name, charset string
	maxLen        int64 // bytes per character
}

// collationsByID reads the server's collations once, by the id a
// TABLE_MAP event names them with. MariaDB 10.10+ lists its UCA 14.0
// collations (the utf8mb4 default from 11.x on, e.g. id 2304
// utf8mb4_uca1400_ai_ci) in COLLATIONS without an id or character set,
// once for all character sets; their ids and full names are in
// COLLATION_CHARACTER_SET_APPLICABILITY (ID, FULL_COLLATION_NAME), which
// older servers and MySQL lack.
func (s *Source) collationsByID(ctx context.Context) (map[uint64]collationInfo, error) {
	s.mu.Lock()
	cached := s.collations
	s.mu.Unlock()
	if cached != nil {
		return cached, nil
	}
	db, err := s.pool()
	if err != nil {
		return nil, err
	}
	out := map[uint64]collationInfo{}
	read := func(q string) error {
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				id uint64
				ci collationInfo
			)
			if err := rows.Scan(&id, &ci.name, &ci.charset, &ci.maxLen); err != nil {
				return err
			}
			out[id] = ci
		}
		return rows.Err()
	}
	if err := read(`SELECT c.ID, c.COLLATION_NAME, c.CHARACTER_SET_NAME, s.MAXLEN
		FROM information_schema.COLLATIONS c JOIN information_schema.CHARACTER_SETS s ON s.CHARACTER_SET_NAME = c.CHARACTER_SET_NAME
		WHERE c.ID IS NOT NULL`); err != nil {
		return nil, fmt.Errorf("read collations: %w", err)
	}
	var full int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = 'information_schema' AND TABLE_NAME = 'COLLATION_CHARACTER_SET_APPLICABILITY' AND COLUMN_NAME IN ('ID', 'FULL_COLLATION_NAME')`).Scan(&full); err != nil {
		return nil, fmt.Errorf("read collations: %w", err)
	}
	if full == 2 {
		if err := read(`SELECT a.ID, a.FULL_COLLATION_NAME, a.CHARACTER_SET_NAME, s.MAXLEN
			FROM information_schema.COLLATION_CHARACTER_SET_APPLICABILITY a JOIN information_schema.CHARACTER_SETS s ON s.CHARACTER_SET_NAME = a.CHARACTER_SET_NAME
			WHERE a.ID IS NOT NULL`); err != nil {
			return nil, fmt.Errorf("read collations: %w", err)
		}
	}
	s.mu.Lock()
	s.collations = out
	s.mu.Unlock()
	return out, nil
}

// tableMapKey identifies a TABLE_MAP's layout: every field the layout is
// rebuilt from. Events of one layout version share it.
func tableMapKey(e *replication.TableMapEvent) string {
	var b bytes.Buffer
	b.Write(e.Schema)
	b.WriteByte(0)
	b.Write(e.Table)
	b.WriteByte(0)
	b.Write(e.ColumnType)
	for _, m := range e.ColumnMeta {
		b.WriteByte(byte(m))
		b.WriteByte(byte(m >> 8))
	}
	b.Write(e.NullBitmap)
	b.Write(e.SignednessBitmap)
	for _, n := range e.ColumnName {
		b.Write(n)
		b.WriteByte(0)
	}
	for _, seq := range [][]uint64{e.DefaultCharset, e.ColumnCharset, e.EnumSetDefaultCharset, e.EnumSetColumnCharset, e.PrimaryKey} {
		for _, v := range seq {
			fmt.Fprintf(&b, "%d,", v)
		}
		b.WriteByte(0)
	}
	for _, labels := range append(append([][][]byte{}, e.EnumStrValue...), e.SetStrValue...) {
		for _, l := range labels {
			b.Write(l)
			b.WriteByte(0)
		}
		b.WriteByte(1)
	}
	return b.String()
}

// tableFromTableMap rebuilds a captured table's layout from a TABLE_MAP
// event (binlog_row_metadata=FULL).
func (s *Source) tableFromTableMap(ctx context.Context, id capture.TableID, e *replication.TableMapEvent) (*table, error) {
	names := e.ColumnNameString()
	if len(names) != int(e.ColumnCount) {
		return nil, errors.New("the TABLE_MAP event carries no column names; set binlog_row_metadata=FULL so that Floe can follow layout changes")
	}
	colls, err := s.collationsByID(ctx)
	if err != nil {
		return nil, err
	}
	unsigned := e.UnsignedMap()
	charColl, enumColl := e.CollationMap(), e.EnumSetCollationMap()
	enums, sets := e.EnumStrValueMap(), e.SetStrValueMap()
	cols := make([]colInfo, len(names))
	for i, name := range names {
		typ, meta := e.ColumnType[i], e.ColumnMeta[i]
		if typ == gomysql.MYSQL_TYPE_STRING && meta >= 256 {
			if real := byte(meta >> 8); real == gomysql.MYSQL_TYPE_ENUM || real == gomysql.MYSQL_TYPE_SET {
				typ = real
			}
		}
		ci := colInfo{name: name, nullable: "YES"}
		if avail, nullable := e.Nullable(i); avail && !nullable {
			ci.nullable = "NO"
		}
		coll, hasColl := charColl[i]
		if typ == gomysql.MYSQL_TYPE_ENUM || typ == gomysql.MYSQL_TYPE_SET {
			coll, hasColl = enumColl[i]
		}
		var cinfo collationInfo
		if hasColl {
			if cinfo, hasColl = colls[coll]; !hasColl {
				return nil, fmt.Errorf("column %s: unknown collation id %d", name, coll)
			}
		}
		binary := hasColl && cinfo.charset == "binary"
		if hasColl && !binary {
			ci.charset, ci.collation = cinfo.charset, cinfo.name
		}
		chars := func(bytes int64) int64 {
			if binary || cinfo.maxLen <= 0 {
				return bytes
			}
			return bytes / cinfo.maxLen
		}
		sign := ""
		if unsigned[i] {
			sign = " unsigned"
		}
		fsp := func(base string) string {
			if meta == 0 {
				return base
			}
			return fmt.Sprintf("%s(%d)", base, meta)
		}
		switch typ {
		case gomysql.MYSQL_TYPE_TINY:
			ci.dataType, ci.colType = "tinyint", "tinyint"+sign
		case gomysql.MYSQL_TYPE_SHORT:
			ci.dataType, ci.colType = "smallint", "smallint"+sign
		case gomysql.MYSQL_TYPE_INT24:
			ci.dataType, ci.colType = "mediumint", "mediumint"+sign
		case gomysql.MYSQL_TYPE_LONG:
			ci.dataType, ci.colType = "int", "int"+sign
		case gomysql.MYSQL_TYPE_LONGLONG:
			ci.dataType, ci.colType = "bigint", "bigint"+sign
		case gomysql.MYSQL_TYPE_YEAR:
			ci.dataType, ci.colType = "year", "year"
		case gomysql.MYSQL_TYPE_NEWDECIMAL:
			ci.dataType, ci.colType = "decimal", fmt.Sprintf("decimal(%d,%d)%s", meta>>8, meta&0xff, sign)
		case gomysql.MYSQL_TYPE_FLOAT:
			ci.dataType, ci.colType = "float", "float"+sign
		case gomysql.MYSQL_TYPE_DOUBLE:
			ci.dataType, ci.colType = "double", "double"+sign
		case gomysql.MYSQL_TYPE_BIT:
			ci.dataType, ci.colType = "bit", fmt.Sprintf("bit(%d)", (meta>>8)*8+meta&0xff)
		case gomysql.MYSQL_TYPE_DATE, gomysql.MYSQL_TYPE_NEWDATE:
			ci.dataType, ci.colType = "date", "date"
		case gomysql.MYSQL_TYPE_DATETIME, gomysql.MYSQL_TYPE_DATETIME2:
			ci.dataType, ci.colType = "datetime", fsp("datetime")
		case gomysql.MYSQL_TYPE_TIMESTAMP, gomysql.MYSQL_TYPE_TIMESTAMP2:
			ci.dataType, ci.colType = "timestamp", fsp("timestamp")
		case gomysql.MYSQL_TYPE_TIME, gomysql.MYSQL_TYPE_TIME2:
			ci.dataType, ci.colType = "time", fsp("time")
		case gomysql.MYSQL_TYPE_VARCHAR, gomysql.MYSQL_TYPE_VAR_STRING:
			ci.chars = chars(int64(meta))
			ci.dataType = "varchar"
			if binary {
				ci.dataType = "varbinary"
			}
			ci.colType = fmt.Sprintf("%s(%d)", ci.dataType, ci.chars)
		case gomysql.MYSQL_TYPE_STRING:
			n := int64(meta)
			if meta >= 256 {
				b0, b1 := byte(meta>>8), byte(meta&0xff)
				if b0&0x30 != 0x30 {
					n = int64(uint16(b1) | uint16((b0&0x30)^0x30)<<4)
				} else {
					n = int64(meta & 0xff)
				}
			}
			ci.chars = chars(n)
			ci.dataType = "char"
			if binary {
				ci.dataType = "binary"
			}
			ci.colType = fmt.Sprintf("%s(%d)", ci.dataType, ci.chars)
		case gomysql.MYSQL_TYPE_BLOB, gomysql.MYSQL_TYPE_TINY_BLOB, gomysql.MYSQL_TYPE_MEDIUM_BLOB, gomysql.MYSQL_TYPE_LONG_BLOB:
			size := map[uint16]string{1: "tiny", 2: "", 3: "medium", 4: "long"}[meta]
			ci.dataType = size + "text"
			if binary || !hasColl {
				ci.dataType = size + "blob"
			}
			ci.colType = ci.dataType
		case gomysql.MYSQL_TYPE_JSON:
			ci.dataType, ci.colType = "json", "json"
		case gomysql.MYSQL_TYPE_GEOMETRY:
			ci.dataType, ci.colType = "geometry", "geometry"
		case gomysql.MYSQL_TYPE_ENUM, gomysql.MYSQL_TYPE_SET:
			labels, base := enums[i], "enum"
			if typ == gomysql.MYSQL_TYPE_SET {
				labels, base = sets[i], "set"
			}
			quoted := make([]string, len(labels))
			for j, l := range labels {
				text, err := schema.MySQLCharsetText(ci.charset, []byte(l))
				if err != nil {
					return nil, fmt.Errorf("column %s label %d: %w", name, j+1, err)
				}
				quoted[j] = "'" + strings.ReplaceAll(text, "'", "''") + "'"
			}
			ci.dataType, ci.colType = base, base+"("+strings.Join(quoted, ",")+")"
		default:
			return nil, fmt.Errorf("column %s: binlog type %d is not one Floe maps", name, typ)
		}
		cols[i] = ci
	}
	var pk []string
	for _, k := range e.PrimaryKey {
		if int(k) >= len(names) {
			return nil, fmt.Errorf("primary key column %d of %d", k, len(names))
		}
		pk = append(pk, names[k])
	}
	t, problems, err := s.buildTable(id, cols, pk)
	if err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		msgs := make([]string, len(problems))
		for i, p := range problems {
			msgs[i] = p.Message
		}
		return nil, errors.New(strings.Join(msgs, "; "))
	}
	return t, nil
}

// sameLayout reports whether two layout versions of a table decode and
// land rows alike: the same columns (names, Iceberg types, nullability,
// source types up to integer display widths and the same character
// sets; ENUM/SET labels of b may be information_schema's, with '?' for
// what a's TABLE_MAP labels have in full) and the same key.
func sameLayout(a, b *table) bool {
	if len(a.layout.Columns) != len(b.layout.Columns) || !slices.Equal(a.layout.Key, b.layout.Key) {
		return false
	}
	for i, ca := range a.layout.Columns {
		cb := b.layout.Columns[i]
		if ca.Name != cb.Name || ca.Nullable != cb.Nullable || !ca.Type.Equals(cb.Type) || a.collation[i].charset != b.collation[i].charset {
			return false
		}
		if normColType(a.colType[i]) != normColType(b.colType[i]) && !schema.MySQLLabelsMatch(schema.MySQLLabels(cb), schema.MySQLLabels(ca)) {
			return false
		}
	}
	return true
}

// normColType drops what does not change a column's values from a
// COLUMN_TYPE: integer and YEAR display widths, ZEROFILL, and the
// subtype of a spatial column (all are WKB with an SRID).
func normColType(ct string) string {
	ct = strings.ToLower(strings.TrimSpace(ct))
	ct = strings.ReplaceAll(ct, " zerofill", "")
	switch ct {
	case "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection", "geomcollection":
		return "geometry"
	}
	for _, base := range []string{"tinyint", "smallint", "mediumint", "bigint", "int", "year"} {
		if rest, ok := strings.CutPrefix(ct, base+"("); ok {
			if end := strings.IndexByte(rest, ')'); end >= 0 {
				return base + rest[end+1:]
			}
		}
	}
	return ct
}

// replacedColumns refuses a layout version that both drops and adds
// columns relative to the one before it in the binlog: a rename looks
// like that, and the renamed column's values are in every existing row.
func replacedColumns(old, next *table, at Position) error {
	var added, removed []string
	for _, c := range next.layout.Columns {
		if old.layout.Index(c.Name) < 0 {
			added = append(added, c.Name)
		}
	}
	for _, c := range old.layout.Columns {
		if next.layout.Index(c.Name) < 0 {
			removed = append(removed, c.Name)
		}
	}
	if len(added) > 0 && len(removed) > 0 {
		return fmt.Errorf("columns %v of %s were replaced by %v at %s (a rename, or a drop and an add in one change): the existing rows' values of the new columns are not in the binlog; re-snapshot the table with floe resnapshot", removed, next.id, added, at)
	}
	return nil
}

// layoutVersion returns the layout version a TABLE_MAP event states for
// captured table t (its current version): t itself when they agree, else
// a version rebuilt from the event, which becomes the table's current
// one. The changes of later row events carry its layout. The first
// TABLE_MAP of a table in a session replaces the discovered layout, the
// server's current one, which need not be the one at the resume
// position; later versions are checked as transitions (replacedColumns;
// the DDL itself was checked at its Query event, see alterFillsRows).
func (st *streamer) layoutVersion(ctx context.Context, t *table, e *replication.TableMapEvent) (*table, error) {
	key := tableMapKey(e)
	if v, ok := st.versions[key]; ok && v == t {
		return t, nil
	}
	v, ok := st.versions[key]
	if !ok {
		rebuilt, err := st.s.tableFromTableMap(ctx, t.id, e)
		if err != nil {
			return nil, fmt.Errorf("layout of %s in the binlog at %s: %w", t.id, st.cur, err)
		}
		v = rebuilt
		if sameLayout(rebuilt, t) {
			v = t
		}
		st.versions[key] = v
	}
	if v == t {
		st.mapped[t.id] = true
		return t, nil
	}
	if st.mapped[t.id] {
		if err := replacedColumns(t, v, st.cur); err != nil {
			return nil, err
		}
	}
	st.mapped[t.id] = true
	st.s.log.Info("table layout changed in the binlog", "table", t.id.String(), "position", st.cur.String(),
		"from", t.layout.String(), "to", v.layout.String())
	st.byName[t.id] = v
	return v, nil
}

// FollowsSchemaChanges implements capture.SchemaFollower: the stream
// follows layout changes (this file) when the server logs FULL row
// metadata, which Check requires.
func (s *Source) FollowsSchemaChanges() bool { return true }
