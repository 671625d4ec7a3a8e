package mysql

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema/mysqltype"
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
// to re-snapshot. A column rename is read from the statement too
// (alterRenames) and applied at once (renameColumns), so that the next
// TABLE_MAP, which names the column anew, is no drop and add.

// collationInfo is one server collation (the Source caches them by id).
type collationInfo = mysqltype.Collation

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
			if err := rows.Scan(&id, &ci.Name, &ci.Charset, &ci.MaxLen); err != nil {
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
	cols := make([]colInfo, len(names))
	for i, bc := range mysqltype.TableMapColumns(e) {
		typ, err := mysqltype.FromBinlog(bc, colls)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", names[i], err)
		}
		cols[i] = colInfo{name: names[i], nullable: "YES", typ: typ}
		if avail, nullable := e.Nullable(i); avail && !nullable {
			cols[i].nullable = "NO"
		}
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
// source types alike as mysqltype.Type.SameValues says, ENUM/SET labels of
// b possibly information_schema's, with '?' for what a's TABLE_MAP labels
// have in full; the same character sets) and the same key.
func sameLayout(a, b *table) bool {
	if len(a.layout.Columns) != len(b.layout.Columns) || !slices.Equal(a.layout.Key, b.layout.Key) {
		return false
	}
	for i, ca := range a.layout.Columns {
		cb := b.layout.Columns[i]
		if ca.Name != cb.Name || ca.Nullable != cb.Nullable || !ca.Type.Equals(cb.Type) || a.collation[i].charset != b.collation[i].charset {
			return false
		}
		if !ca.Source.(mysqltype.Type).SameValues(cb.Source.(mysqltype.Type)) {
			return false
		}
	}
	return true
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
	st.s.base.Log.Info("table layout changed in the binlog", "table", t.id.String(), "position", st.cur.String(),
		"from", t.layout.String(), "to", v.layout.String())
	st.byName[t.id] = v
	return v, nil
}

// FollowsSchemaChanges implements capture.SchemaFollower: the stream
// follows layout changes (this file) when the server logs FULL row
// metadata, which Check requires.
func (s *Source) FollowsSchemaChanges() bool { return true }
