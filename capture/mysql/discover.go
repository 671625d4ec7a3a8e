package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/internal/toolkit"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/schema/mysqltype"
)

// table is one captured table as discovered.
type table struct {
	id       capture.TableID
	layout   *schema.Table
	text     []schema.Decoder           // snapshot (text protocol) decoders, per column
	binlog   []func(v any) (any, error) // row-event decoders, per column (ENUM/SET: see rowDecoders)
	enumCols []int                      // ENUM and SET columns
	colType  []string                   // information_schema COLUMN_TYPE per column
	// collation is each column's character set and collation ("" for
	// non-character columns) and its length in characters.
	collation []collation
	hasPK     bool
	binKey    []bool // per key column: bounds are hex-encoded (binary collation bytes)
	// Chunk planning sizes a row as boundBytes, the most bytes the
	// types of its other columns allow, plus the LENGTH of its values in
	// sizedCols, the columns whose types allow more than wideValueBytes
	// or bound nothing (see keyBounds).
	sizedCols  []int
	boundBytes int64

	qname      string // `db`.`table`
	selectList string // quoted columns in layout order (binary keys as-is)
	keyList    string // quoted key columns in key order
}

// Info returns the table's id and layout (toolkit.Discovered).
func (t *table) Info() capture.TableInfo { return capture.TableInfo{ID: t.id, Schema: t.layout} }

// systemSchemas are never captured.
var systemSchemas = []string{"mysql", "information_schema", "performance_schema", "sys"}

// Discover connects, finds the tables whose "database.table" fully
// matches one of Config.Tables and returns their layouts. A pattern that
// matches nothing, a table without a usable key when Config.RequireKey is
// set, or an unknown override column is an error naming the fix.
func (s *Source) Discover(ctx context.Context) ([]capture.TableInfo, error) {
	c, err := s.conn(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	tables, problems, err := s.discover(ctx, c)
	if err != nil {
		return nil, err
	}
	return s.tables.Install(tables, problems)
}

// discover reads information_schema. Configuration problems are returned
// as problems; err is for failures to read the catalog.
func (s *Source) discover(ctx context.Context, c *sql.Conn) ([]*table, []Problem, error) {
	rows, err := c.QueryContext(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES
		WHERE TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_SCHEMA, TABLE_NAME`)
	if err != nil {
		return nil, nil, fmt.Errorf("list tables: %w", err)
	}
	var ids []capture.TableID
	match := s.base.Patterns.Matcher()
	for rows.Next() {
		var id capture.TableID
		if err := rows.Scan(&id.Schema, &id.Name); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("list tables: %w", err)
		}
		if slices.Contains(systemSchemas, strings.ToLower(id.Schema)) {
			continue
		}
		if match.Match(id) {
			ids = append(ids, id)
		}
	}
	if err := rows.Close(); err != nil {
		return nil, nil, fmt.Errorf("list tables: %w", err)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("list tables: %w", err)
	}
	var problems []Problem
	for _, pattern := range match.Unmatched() {
		problems = append(problems, Problem{Field: "source.tables",
			Message: fmt.Sprintf("pattern %q matches no table at %s (or the user may not see it)", pattern, s.addr()),
			Fix:     `correct the pattern (it is matched against "database.table"), create the table, or grant the user SELECT on it`})
	}
	var tables []*table
	for _, id := range ids {
		t, tp, err := s.describe(ctx, c, id)
		if err != nil {
			return nil, nil, err
		}
		problems = append(problems, tp...)
		if t != nil {
			tables = append(tables, t)
		}
	}
	return tables, problems, nil
}

// querier is a connection or transaction that runs queries.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// describe reads one table's columns and primary key and builds its layout.
func (s *Source) describe(ctx context.Context, c querier, id capture.TableID) (*table, []Problem, error) {
	rows, err := c.QueryContext(ctx, `SELECT COLUMN_NAME, COLUMN_TYPE, DATA_TYPE, COALESCE(CHARACTER_SET_NAME, ''), IS_NULLABLE,
			COALESCE(COLLATION_NAME, ''), COALESCE(CHARACTER_MAXIMUM_LENGTH, 0)
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, id.Schema, id.Name)
	if err != nil {
		return nil, nil, fmt.Errorf("read columns of %s: %w", id, err)
	}
	var cols []colInfo
	for rows.Next() {
		var (
			ci colInfo
			d  mysqltype.InfoSchema
		)
		if err := rows.Scan(&ci.name, &d.ColumnType, &d.DataType, &d.Charset, &ci.nullable, &d.Collation, &d.Chars); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("read columns of %s: %w", id, err)
		}
		ci.typ, ci.typErr = mysqltype.FromInfoSchema(d)
		cols = append(cols, ci)
	}
	if err := rows.Close(); err != nil {
		return nil, nil, fmt.Errorf("read columns of %s: %w", id, err)
	}
	krows, err := c.QueryContext(ctx, `SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION`, id.Schema, id.Name)
	if err != nil {
		return nil, nil, fmt.Errorf("read primary key of %s: %w", id, err)
	}
	var pk []string
	for krows.Next() {
		var n string
		if err := krows.Scan(&n); err != nil {
			krows.Close()
			return nil, nil, fmt.Errorf("read primary key of %s: %w", id, err)
		}
		pk = append(pk, n)
	}
	if err := krows.Close(); err != nil {
		return nil, nil, fmt.Errorf("read primary key of %s: %w", id, err)
	}
	if o, ok := s.cfg.KeyOverrides[id]; ok && len(o.Columns) > 0 {
		problems, err := s.checkKeyOverride(ctx, c, id, o, cols, pk)
		if err != nil || len(problems) > 0 {
			return nil, problems, err
		}
	}
	t, problems, err := s.buildTable(id, cols, pk)
	if err == nil && len(problems) == 0 {
		if problems = s.unknownColumns(id, t.layout); len(problems) > 0 {
			return nil, problems, nil
		}
	}
	return t, problems, err
}

// checkKeyOverride checks the route key o of table id
// (toolkit.KeyCheck): the columns exist, are NOT NULL, and a unique index
// covers exactly them (functional key parts do not count); a table with a
// primary key must be keyed by it. Column names compare case-insensitively,
// as the server compares them.
func (s *Source) checkKeyOverride(ctx context.Context, c querier, id capture.TableID, o capture.KeyOverride, cols []colInfo, pk []string) ([]Problem, error) {
	var names, nullable, missing []string
	for _, ci := range cols {
		names = append(names, ci.name)
		if ci.nullable != "NO" {
			nullable = append(nullable, ci.name)
		}
	}
	for _, n := range o.Columns {
		if !slices.ContainsFunc(names, func(c string) bool { return strings.EqualFold(c, n) }) {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return []Problem{{Field: o.FieldOr(),
			Message: fmt.Sprintf("key column(s) %s named for table %s do not exist (columns: %s)", strings.Join(missing, ", "), id, strings.Join(names, ", ")),
			Fix:     fmt.Sprintf("name existing columns of %s in the route's primary-key", id)}}, nil
	}
	rows, err := c.QueryContext(ctx, `SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 ORDER BY INDEX_NAME, SEQ_IN_INDEX`, id.Schema, id.Name)
	if err != nil {
		return nil, fmt.Errorf("read unique indexes of %s: %w", id, err)
	}
	k := toolkit.KeyCheck{Table: id, Override: o, PrimaryKey: pk, Nullable: nullable, FoldCase: true, Quote: quoteIdent,
		SetNotNull: func(col string) string {
			return fmt.Sprintf("ALTER TABLE %s.%s MODIFY %s <its type> NOT NULL", quoteIdent(id.Schema), quoteIdent(id.Name), quoteIdent(col))
		}}
	var index []string
	var last string
	functional := false
	flush := func() {
		if len(index) > 0 && !functional {
			k.Unique = append(k.Unique, index)
		}
		index, functional = nil, false
	}
	for rows.Next() {
		var name string
		var col sql.NullString
		if err := rows.Scan(&name, &col); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read unique indexes of %s: %w", id, err)
		}
		if name != last {
			flush()
			last = name
		}
		functional = functional || !col.Valid
		index = append(index, col.String)
	}
	flush()
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("read unique indexes of %s: %w", id, err)
	}
	return k.Problems(), rows.Err()
}

// colInfo is one column as information_schema.COLUMNS describes it (or
// as rebuilt from a TABLE_MAP event, see tablemap.go).
type colInfo struct {
	name     string
	nullable string // IS_NULLABLE: "YES" or "NO"
	typ      mysqltype.Type
	typErr   error // why the type could not be read; the column is a Problem
}

// column maps the column; key marks a column of the primary key, which
// is NOT NULL whatever IS_NULLABLE says.
func (ci colInfo) column(key bool, o mysqltype.Options) (schema.Column, error) {
	if ci.typErr != nil {
		return schema.Column{}, fmt.Errorf("map column %s: %w", ci.name, ci.typErr)
	}
	return mysqltype.Column(ci.name, ci.typ, ci.nullable == "NO" || key, o)
}

// buildTable builds a table's layout, decoders and queries from its
// columns (in ordinal order) and primary key column names.
func (s *Source) buildTable(id capture.TableID, cols []colInfo, pk []string) (*table, []Problem, error) {
	t := &table{id: id, hasPK: len(pk) > 0}
	keyNames := pk
	if o, ok := s.cfg.KeyOverrides[id]; ok && len(pk) == 0 {
		keyNames = o.Columns
	}
	layout := &schema.Table{}
	var (
		problems []Problem
		types    []mysqltype.Type
	)
	for _, ci := range cols {
		isKey := slices.Contains(keyNames, ci.name)
		col, err := ci.column(isKey && t.hasPK, s.decodeOptions())
		if err != nil {
			problems = append(problems, Problem{Field: "source.tables",
				Message: fmt.Sprintf("table %s: %v", id, err),
				Fix:     "exclude the table from source.tables, or change the column's type"})
			continue
		}
		layout.Columns = append(layout.Columns, col)
		types = append(types, ci.typ)
		t.colType = append(t.colType, ci.typ.ColumnType())
		t.collation = append(t.collation, collation{charset: ci.typ.Charset(), name: ci.typ.Collation(), chars: ci.typ.Chars()})
	}
	for _, k := range keyNames {
		i := layout.Index(k)
		if i < 0 {
			problems = append(problems, Problem{Field: "route.primary-key",
				Message: fmt.Sprintf("table %s has no column %q named as its key", id, k),
				Fix:     fmt.Sprintf("name existing columns of %s in the route's primary-key", id)})
			continue
		}
		layout.Key = append(layout.Key, i)
	}
	if len(layout.Key) == 0 && s.cfg.RequireKey {
		problems = append(problems, Problem{Field: "source.tables",
			Message: fmt.Sprintf("table %s has no primary key, which upsert mode needs", id),
			Fix:     fmt.Sprintf("add a primary key to %s, or name a key in the route for this table, or use sink.mode: changelog", id)})
	}
	if len(problems) > 0 {
		return nil, problems, nil
	}
	if layout, problems = s.applyTypes(id, layout); len(problems) > 0 {
		return nil, problems, nil
	}
	t.layout = layout
	opts := s.decodeOptions()
	quoted := make([]string, len(layout.Columns))
	for i, col := range layout.Columns {
		td, err := mysqltype.TextDecoder(col, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("text decoder for %s.%s: %w", id, col.Name, err)
		}
		bd, err := mysqltype.BinlogDecoder(col, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("binlog decoder for %s.%s: %w", id, col.Name, err)
		}
		t.text = append(t.text, td)
		t.binlog = append(t.binlog, bd)
		quoted[i] = quoteIdent(col.Name)
	}
	t.enumCols = enumColumns(layout)
	t.qname = quoteIdent(id.Schema) + "." + quoteIdent(id.Name)
	// The select list reads each column losslessly (FLOAT as DOUBLE: the
	// server prints FLOAT with 6 digits); keys use the plain names.
	selects := make([]string, len(quoted))
	for i, col := range layout.Columns {
		selects[i] = mysqltype.SelectExpr(col, quoted[i])
	}
	t.selectList = strings.Join(selects, ", ")
	keys := make([]string, len(layout.Key))
	for i, k := range layout.Key {
		keys[i] = quoted[k]
		t.binKey = append(t.binKey, types[k].Binary())
	}
	t.keyList = strings.Join(keys, ", ")
	t.sizedCols, t.boundBytes = rowSizing(types)
	return t, nil, nil
}

// wideValueBytes is the most bytes a column's type may allow for chunk
// planning to count its values at that bound instead of reading their
// LENGTH: VARCHAR(64) in utf8mb4 and every number and time still count at
// their bound; TEXT, BLOB, JSON and long VARCHARs are read.
const wideValueBytes = 256

// rowSizing splits columns of types into those chunk planning reads the
// LENGTH of and the total bound of the others (see table.sizedCols).
func rowSizing(types []mysqltype.Type) (sized []int, bound int64) {
	for i, typ := range types {
		n, ok := typ.MaxBytes()
		if !ok || n > wideValueBytes {
			sized = append(sized, i)
			continue
		}
		bound += n
	}
	return sized, bound
}

// decodeOptions are the schema options of every column: zero dates per
// Config.ZeroDate; DATETIME zoned when Config.ServerTimeZone is not UTC.
// Sessions read TIMESTAMP in UTC, so ServerTimeZone stays nil.
func (s *Source) decodeOptions() mysqltype.Options {
	o := mysqltype.Options{ZeroDate: s.cfg.ZeroDate}
	if s.cfg.ServerTimeZone != time.UTC {
		o.DatetimeZone = s.cfg.ServerTimeZone
	}
	return o
}

// sameDefinition reports whether two descriptions of one table have the
// same columns (names, declared types, nullability, collations) and key:
// rows of one decode exactly with the other's decoders and queries.
func sameDefinition(a, b *table) bool {
	if len(a.layout.Columns) != len(b.layout.Columns) || !slices.Equal(a.layout.Key, b.layout.Key) {
		return false
	}
	for i, ac := range a.layout.Columns {
		bc := b.layout.Columns[i]
		if ac.Name != bc.Name || ac.Nullable != bc.Nullable || !strings.EqualFold(a.colType[i], b.colType[i]) ||
			a.collation[i].name != b.collation[i].name {
			return false
		}
	}
	return true
}
