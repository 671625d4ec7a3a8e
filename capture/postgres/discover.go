package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/internal/toolkit"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/schema/pgtype"
)

// table is one captured table as discovered.
type table struct {
	id       capture.TableID
	oid      uint32
	layout   *schema.Table
	decoders []schema.Decoder
	attTypes []uint32 // pg_attribute.atttypid per column: what Relation messages carry
	attMods  []int32  // pg_attribute.atttypmod per column
	attNums  []int16  // pg_attribute.attnum per column (0: not known)
	// streamNames: the layout's names are the stream's, set by a Relation
	// message; false for the discovered layout, whose names are the
	// catalog's at discovery, which a replay may predate (see
	// renamedLayout).
	streamNames bool
	// namesLive: the layout's names are the table's live columns at the
	// stream's position (see namesLive in ddlstream.go); set by a
	// Relation message.
	namesLive bool
	hasPK     bool
	replIdent byte // pg_class.relreplident: 'd', 'f', 'i' or 'n'
	// partitioned: a partitioned table (relkind 'p'), captured as one
	// table: its rows are its partitions' rows, and the publication
	// publishes its partitions' changes as its own (see partitions.go).
	partitioned bool

	qname      string // quoted "schema"."name"
	selectList string // quoted column list in layout order
	keyList    string // quoted key columns in key order, comma-separated
	keyOIDs    []uint32
}

// Info returns the table's id and layout (toolkit.Discovered).
func (t *table) Info() capture.TableInfo { return capture.TableInfo{ID: t.id, Schema: t.layout} }

// Discover connects, finds the tables whose "schema.table" fully matches
// one of Config.Tables and returns their layouts. A pattern that matches
// nothing, a table without a usable key when Config.RequireKey is set, or
// an unknown override column is an error naming the setting and the fix.
func (s *Source) Discover(ctx context.Context) ([]capture.TableInfo, error) {
	conn, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	tables, problems, err := s.discover(ctx, conn)
	if err != nil {
		return nil, err
	}
	if err := s.readDDLTrigger(ctx, conn); err != nil {
		return nil, err
	}
	return s.tables.Install(tables, problems)
}

// discover reads the catalog. Configuration problems are returned as
// problems; err is for failures to read the catalog.
func (s *Source) discover(ctx context.Context, conn *pgx.Conn) ([]*table, []Problem, error) {
	match := s.base.Patterns.Matcher()
	tables, err := s.listMatching(ctx, conn, match)
	if err != nil {
		return nil, nil, err
	}
	var problems []Problem
	for _, pattern := range match.Unmatched() {
		problems = append(problems, Problem{Field: "source.tables",
			Message: fmt.Sprintf(`pattern "%s" matches no table in database %q`, pattern, s.cfg.Database),
			Fix:     `correct the pattern (it must match the whole "schema.table") or create the table`})
	}
	if len(tables) == 0 {
		return nil, problems, nil
	}
	res := &typeResolver{conn: conn, cache: map[uint32]pgtype.CatalogType{}}
	for _, t := range tables {
		p, err := s.describe(ctx, conn, res, t)
		if err != nil {
			return nil, nil, fmt.Errorf("describe %s: %w", t.id, err)
		}
		problems = append(problems, p...)
	}
	return tables, problems, nil
}

// listMatching lists the catalog's tables that match (listTablesQuery),
// without the partitions of a captured partitioned table
// (dropCapturedPartitions); the tables are not described yet.
func (s *Source) listMatching(ctx context.Context, conn *pgx.Conn, match *toolkit.TableMatcher) ([]*table, error) {
	rows, err := conn.Query(ctx, listTablesQuery)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	defer rows.Close()
	var (
		tables    []*table
		ancestors = map[*table][]uint32{}
	)
	for rows.Next() {
		var (
			oid       uint32
			id        capture.TableID
			kind      string
			replIdent string
			above     []uint32
		)
		if err := rows.Scan(&oid, &id.Schema, &id.Name, &kind, &replIdent, &above); err != nil {
			return nil, fmt.Errorf("list tables: %w", err)
		}
		if match.Match(id) {
			t := &table{id: id, oid: oid, replIdent: replIdent[0], partitioned: kind == "p"}
			tables = append(tables, t)
			ancestors[t] = above
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	return s.dropCapturedPartitions(tables, ancestors), nil
}

// describe fills t's layout, decoders and key from the catalog.
func (s *Source) describe(ctx context.Context, conn *pgx.Conn, res *typeResolver, t *table) ([]Problem, error) {
	rows, err := conn.Query(ctx, `
		SELECT attnum, attname, atttypid, atttypmod, attnotnull
		FROM pg_attribute
		WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
		ORDER BY attnum`, t.oid)
	if err != nil {
		return nil, fmt.Errorf("read columns: %w", err)
	}
	atts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (att, error) {
		var a att
		err := r.Scan(&a.num, &a.name, &a.typ, &a.mod, &a.notNull)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("read columns: %w", err)
	}
	var pk []int16
	err = conn.QueryRow(ctx, `SELECT indkey::int2[] FROM pg_index WHERE indrelid = $1 AND indisprimary`, t.oid).Scan(&pk)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("read primary key: %w", err)
	}
	layout := &schema.Table{}
	var problems []Problem
	for _, a := range atts {
		st, err := res.resolve(ctx, a.typ, a.mod)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", a.name, err)
		}
		col, err := pgtype.Column(a.name, st, a.notNull)
		if err != nil {
			problems = append(problems, Problem{Field: "source.tables",
				Message: fmt.Sprintf("table %s: %v", t.id, err),
				Fix:     "exclude the table from source.tables"})
			continue
		}
		layout.Columns = append(layout.Columns, col)
		t.attTypes = append(t.attTypes, a.typ)
		t.attMods = append(t.attMods, a.mod)
		t.attNums = append(t.attNums, a.num)
	}
	if len(problems) > 0 {
		return problems, nil
	}
	for _, num := range pk {
		i := slices.IndexFunc(atts, func(a att) bool { return a.num == num })
		if i < 0 {
			return nil, fmt.Errorf("primary key column %d not found", num)
		}
		layout.Key = append(layout.Key, i)
	}
	t.hasPK = len(layout.Key) > 0
	o, override := s.cfg.KeyOverrides[t.id]
	override = override && len(o.Columns) > 0
	if override {
		p, err := s.checkKeyOverride(ctx, conn, t, o, atts)
		if err != nil {
			return nil, err
		}
		problems = append(problems, p...)
	}
	if !t.hasPK {
		if override {
			for _, n := range o.Columns {
				if i := layout.Index(n); i >= 0 {
					layout.Key = append(layout.Key, i)
				}
			}
		} else if s.cfg.RequireKey {
			problems = append(problems, Problem{Field: "source.tables",
				Message: fmt.Sprintf("table %s has no primary key, which upsert mode needs", t.id),
				Fix:     fmt.Sprintf("add a primary key to %s, or name a key in the route for this table, or use sink.mode: changelog", t.id)})
		}
	}
	if len(problems) > 0 {
		return problems, nil
	}
	if layout, problems = s.applyTypes(t.id, layout); len(problems) > 0 {
		return problems, nil
	}
	return nil, t.prepare(layout)
}

// prepare sets t's layout and what reading the table needs: a text
// decoder per column, the quoted table name, select list and key list,
// and the key columns' type OIDs (t.attTypes must be set).
func (t *table) prepare(layout *schema.Table) error {
	t.layout = layout
	t.decoders = make([]schema.Decoder, len(layout.Columns))
	for i, c := range layout.Columns {
		d, err := pgtype.TextDecoder(c)
		if err != nil {
			return fmt.Errorf("decoder for column %s: %w", c.Name, err)
		}
		t.decoders[i] = d
	}
	t.qname = pgx.Identifier{t.id.Schema, t.id.Name}.Sanitize()
	quoted := make([]string, len(layout.Columns))
	for i, c := range layout.Columns {
		quoted[i] = pgx.Identifier{c.Name}.Sanitize()
	}
	t.selectList = strings.Join(quoted, ", ")
	keys := make([]string, len(layout.Key))
	for i, k := range layout.Key {
		keys[i] = quoted[k]
		t.keyOIDs = append(t.keyOIDs, t.attTypes[k])
	}
	t.keyList = strings.Join(keys, ", ")
	return nil
}

// att is one pg_attribute row of a captured table.
type att struct {
	num     int16
	name    string
	typ     uint32
	mod     int32
	notNull bool
}

// checkKeyOverride checks the route key o of table t (toolkit.KeyCheck):
// the columns exist, are NOT NULL, and a unique index without predicate or
// expressions covers exactly them (its key columns, INCLUDE columns
// aside); a table with a primary key must be keyed by it.
func (s *Source) checkKeyOverride(ctx context.Context, conn *pgx.Conn, t *table, o capture.KeyOverride, atts []att) ([]Problem, error) {
	byName := func(n string) int { return slices.IndexFunc(atts, func(a att) bool { return a.name == n }) }
	var missing, names []string
	for _, a := range atts {
		names = append(names, a.name)
	}
	for _, n := range o.Columns {
		if byName(n) < 0 {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return []Problem{{Field: o.FieldOr(),
			Message: fmt.Sprintf("key column(s) %s named for table %s do not exist (columns: %s)", strings.Join(missing, ", "), t.id, strings.Join(names, ", ")),
			Fix:     "name existing columns as the route's key"}}, nil
	}
	rows, err := conn.Query(ctx, `SELECT indkey::int2[], indnkeyatts, indisprimary FROM pg_index
		WHERE indrelid = $1 AND indisunique AND indisvalid AND indpred IS NULL AND indexprs IS NULL`, t.oid)
	if err != nil {
		return nil, fmt.Errorf("read unique indexes: %w", err)
	}
	k := toolkit.KeyCheck{Table: t.id, Override: o,
		Quote: func(s string) string { return pgx.Identifier{s}.Sanitize() },
		SetNotNull: func(c string) string {
			return fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s SET NOT NULL", pgx.Identifier{t.id.Schema, t.id.Name}.Sanitize(), pgx.Identifier{c}.Sanitize())
		}}
	for rows.Next() {
		var (
			keys    []int16
			nkeys   int16
			primary bool
		)
		if err := rows.Scan(&keys, &nkeys, &primary); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read unique indexes: %w", err)
		}
		var cols []string
		for _, num := range keys[:min(int(nkeys), len(keys))] {
			if i := slices.IndexFunc(atts, func(a att) bool { return a.num == num }); i >= 0 {
				cols = append(cols, atts[i].name)
			}
		}
		if primary {
			k.PrimaryKey = cols
		}
		k.Unique = append(k.Unique, cols)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read unique indexes: %w", err)
	}
	for _, n := range o.Columns {
		if a := atts[byName(n)]; !a.notNull {
			k.Nullable = append(k.Nullable, a.name)
		}
	}
	return k.Problems(), nil
}

// typeResolver resolves column types through the catalog
// (pgtype.Resolve), reading each pg_type row once.
type typeResolver struct {
	conn  *pgx.Conn
	cache map[uint32]pgtype.CatalogType
}

func (r *typeResolver) get(ctx context.Context, oid uint32) (pgtype.CatalogType, error) {
	if t, ok := r.cache[oid]; ok {
		return t, nil
	}
	var t pgtype.CatalogType
	err := r.conn.QueryRow(ctx, pgtype.CatalogQuery, oid).Scan(&t.Name, &t.TypType, &t.Elem, &t.BaseType, &t.TypMod, &t.Len)
	if err != nil {
		return t, fmt.Errorf("read type %d: %w", oid, err)
	}
	r.cache[oid] = t
	return t, nil
}

func (r *typeResolver) resolve(ctx context.Context, oid uint32, mod int32) (pgtype.Type, error) {
	return pgtype.Resolve(oid, mod, func(oid uint32) (pgtype.CatalogType, error) { return r.get(ctx, oid) })
}
