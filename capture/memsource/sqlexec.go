package memsource

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/iceberg-go"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

// Exec runs each statement in its own transaction (autocommit) and
// returns the position of the last one. DDL statements are log entries
// of their own.
func (db *DB) Exec(stmts ...string) (Pos, error) {
	var pos Pos
	for _, src := range stmts {
		st, err := parse(src)
		if err != nil {
			return pos, err
		}
		if d, isDDL, err := db.ddlOf(st); isDDL {
			if err != nil {
				return pos, fmt.Errorf("%s: %w", src, err)
			}
			pos = db.appendEntry(entry{ddl: d})
			continue
		}
		tx := db.Begin()
		if err := tx.run(st); err != nil {
			return pos, fmt.Errorf("%s: %w", src, err)
		}
		if pos, err = tx.Commit(); err != nil {
			return pos, err
		}
	}
	return pos, nil
}

// Exec runs statements inside the transaction; DDL is refused.
func (tx *Tx) Exec(stmts ...string) error {
	if tx.done {
		return errDone
	}
	for _, src := range stmts {
		st, err := parse(src)
		if err != nil {
			return err
		}
		if _, isDDL, _ := tx.db.ddlOf(st); isDDL {
			return fmt.Errorf("%s: DDL inside a transaction is not supported", src)
		}
		if err := tx.run(st); err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
	}
	return nil
}

// ddlOf turns a DDL statement into its log entry's ddl.
func (db *DB) ddlOf(st any) (*ddl, bool, error) {
	switch s := st.(type) {
	case createStmt:
		l, err := layoutOf(s)
		if _, exists := db.layoutIfAny(s.table); exists && err == nil {
			err = fmt.Errorf("table %s exists", s.table)
		}
		return &ddl{op: "create", table: s.table, layout: l}, true, err
	case dropStmt:
		_, err := db.layoutOf(s.table)
		return &ddl{op: "drop", table: s.table}, true, err
	case alterStmt:
		old, err := db.layoutOf(s.table)
		if err != nil {
			return nil, true, err
		}
		if s.from != "" {
			return renameColumn(s, old)
		}
		c, err := columnOf(s.col)
		if err != nil {
			return nil, true, err
		}
		if old.Index(c.Name) >= 0 {
			return nil, true, fmt.Errorf("column %s exists", c.Name)
		}
		d := &ddl{op: "alter", table: s.table, hasFill: s.col.def != nil || s.col.notNull}
		if s.col.def != nil {
			if d.fill, err = valueOf(*s.col.def, c); err != nil {
				return nil, true, err
			}
		} else if s.col.notNull {
			return nil, true, fmt.Errorf("column %s: NOT NULL needs a DEFAULT for the existing rows", c.Name)
		}
		d.layout = &schema.Table{Columns: append(slices.Clip(old.Columns), c), Key: old.Key}
		return d, true, nil
	}
	return nil, false, nil
}

func (db *DB) layoutIfAny(name string) (*schema.Table, bool) {
	db.mu.Lock()
	defer db.mu.Unlock()
	t := db.tables[name]
	if t == nil {
		return nil, false
	}
	return t.layout, true
}

// layoutOf builds a CREATE TABLE's layout; a table needs a primary key.
func layoutOf(s createStmt) (*schema.Table, error) {
	l := &schema.Table{}
	key := s.key
	for _, cd := range s.cols {
		if cd.primaryKey {
			key = append(key, cd.name)
		}
	}
	for _, cd := range s.cols {
		c, err := columnOf(cd)
		if err != nil {
			return nil, err
		}
		c.Nullable = c.Nullable && !slices.Contains(key, cd.name)
		l.Columns = append(l.Columns, c)
	}
	for _, k := range key {
		i := l.Index(k)
		if i < 0 {
			return nil, fmt.Errorf("key column %s is not a column", k)
		}
		l.Key = append(l.Key, i)
	}
	if len(l.Key) == 0 {
		return nil, fmt.Errorf("table %s has no primary key; memsource needs one", s.table)
	}
	return l, nil
}

// columnOf maps a column definition to its Iceberg type.
func columnOf(cd colDef) (schema.Column, error) {
	c := schema.Column{Name: cd.name, Nullable: !cd.notNull && !cd.primaryKey, Source: schema.TypeName(cd.typ)}
	switch {
	case cd.typ == "bigint":
		c.Type = iceberg.PrimitiveTypes.Int64
	case cd.typ == "int" || cd.typ == "integer":
		c.Type = iceberg.PrimitiveTypes.Int32
	case cd.typ == "text" || cd.typ == "varchar":
		c.Type = iceberg.PrimitiveTypes.String
	case (cd.typ == "decimal" || cd.typ == "numeric") && len(cd.args) == 2:
		c.Type = iceberg.DecimalTypeOf(cd.args[0], cd.args[1])
	default:
		return c, fmt.Errorf("column %s: type %s%v is not supported", cd.name, cd.typ, cd.args)
	}
	return c, nil
}

// valueOf converts a literal to the canonical value of column c (see
// schema.Row).
func valueOf(l literal, c schema.Column) (any, error) {
	if l.null {
		if !c.Nullable {
			return nil, fmt.Errorf("column %s is NOT NULL", c.Name)
		}
		return nil, nil
	}
	bad := fmt.Errorf("column %s (%s): bad value", c.Name, c.Type)
	switch t := c.Type.(type) {
	case iceberg.Int64Type:
		n, err := strconv.ParseInt(l.num, 10, 64)
		if !l.isNum || err != nil {
			return nil, bad
		}
		return n, nil
	case iceberg.Int32Type:
		n, err := strconv.ParseInt(l.num, 10, 32)
		if !l.isNum || err != nil {
			return nil, bad
		}
		return int32(n), nil
	case iceberg.StringType:
		if l.str == nil {
			return nil, bad
		}
		return *l.str, nil
	case iceberg.DecimalType:
		n, reason := schema.ParseDecimal([]byte(l.num), t.Precision(), t.Scale())
		if !l.isNum || reason != "" {
			return nil, fmt.Errorf("column %s (%s): %s", c.Name, c.Type, reason)
		}
		return n, nil
	}
	return nil, bad
}

// compareValues orders two values of one column; NULL sorts first.
func compareValues(a, b any) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	if c, ok := schema.CompareValues(a, b); ok {
		return c
	}
	panic(fmt.Sprintf("memsource: cannot compare %T", a))
}

// run executes one DML statement in the transaction.
func (tx *Tx) run(st any) error {
	switch s := st.(type) {
	case insertStmt:
		return tx.insert(s)
	case updateStmt:
		return tx.update(s)
	case deleteStmt:
		t, rows, err := tx.matching(s.table, s.where)
		for _, r := range rows {
			tx.change(t, capture.Change{Table: tx.db.Table(s.table), Op: capture.OpDelete, Schema: t.layout, Before: r})
		}
		return err
	case truncateStmt:
		t, err := tx.tableView(s.table)
		if err == nil {
			tx.change(t, capture.Change{Table: tx.db.Table(s.table), Op: capture.OpTruncate, Schema: t.layout})
		}
		return err
	}
	return fmt.Errorf("not a DML statement")
}

func (tx *Tx) insert(s insertStmt) error {
	t, err := tx.tableView(s.table)
	if err != nil {
		return err
	}
	cols := s.cols
	if cols == nil {
		for _, c := range t.layout.Columns {
			cols = append(cols, c.Name)
		}
	}
	for _, vals := range s.rows {
		if len(vals) != len(cols) {
			return fmt.Errorf("%d values for %d columns", len(vals), len(cols))
		}
		row := make(schema.Row, len(t.layout.Columns))
		for i, c := range t.layout.Columns {
			j := slices.Index(cols, c.Name)
			l := literal{null: true}
			if j >= 0 {
				l = vals[j]
			}
			if row[i], err = valueOf(l, c); err != nil {
				return err
			}
		}
		if _, dup := t.rows[keyOf(t.layout, row)]; dup {
			return fmt.Errorf("duplicate key in %s", s.table)
		}
		tx.change(t, capture.Change{Table: tx.db.Table(s.table), Op: capture.OpInsert, Schema: t.layout, After: row})
	}
	return nil
}

func (tx *Tx) update(s updateStmt) error {
	t, rows, err := tx.matching(s.table, s.where)
	if err != nil {
		return err
	}
	for _, before := range rows {
		after := slices.Clone(before)
		for _, sc := range s.sets {
			i := t.layout.Index(sc.col)
			if i < 0 {
				return fmt.Errorf("no column %s", sc.col)
			}
			if after[i], err = evalSet(sc, t.layout, before); err != nil {
				return err
			}
		}
		if k := keyOf(t.layout, after); k != keyOf(t.layout, before) {
			if _, dup := t.rows[k]; dup {
				return fmt.Errorf("duplicate key in %s", s.table)
			}
		}
		tx.change(t, capture.Change{Table: tx.db.Table(s.table), Op: capture.OpUpdate, Schema: t.layout, Before: before, After: after})
	}
	return nil
}

// evalSet evaluates the right side of a SET clause for row r.
func evalSet(sc setClause, l *schema.Table, r schema.Row) (any, error) {
	c := l.Columns[l.Index(sc.col)]
	if sc.ref == "" {
		return valueOf(sc.lit, c)
	}
	i := l.Index(sc.ref)
	if i < 0 {
		return nil, fmt.Errorf("no column %s", sc.ref)
	}
	v := r[i]
	if sc.op == "" || v == nil {
		return v, nil
	}
	d, err := valueOf(sc.right, c)
	if err != nil {
		return nil, err
	}
	neg := sc.op == "-"
	switch x := v.(type) {
	case int64:
		if neg {
			return x - d.(int64), nil
		}
		return x + d.(int64), nil
	case int32:
		if neg {
			return x - d.(int32), nil
		}
		return x + d.(int32), nil
	case decimal128.Num:
		if neg {
			return x.Sub(d.(decimal128.Num)), nil
		}
		return x.Add(d.(decimal128.Num)), nil
	}
	return nil, fmt.Errorf("column %s: no arithmetic on %T", sc.col, v)
}

// matching returns the transaction's view of the table and its rows that
// satisfy where, in key order.
func (tx *Tx) matching(name string, where []predicate) (*table, []schema.Row, error) {
	t, err := tx.tableView(name)
	if err != nil {
		return nil, nil, err
	}
	var out []schema.Row
	for _, r := range sortedRows(t) {
		ok, err := satisfies(where, t.layout, r)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			out = append(out, r)
		}
	}
	return t, out, nil
}

// satisfies evaluates a conjunction of predicates on row r; a comparison
// with NULL is false, as in SQL.
func satisfies(where []predicate, l *schema.Table, r schema.Row) (bool, error) {
	for _, p := range where {
		i := l.Index(p.col)
		if i < 0 {
			return false, fmt.Errorf("no column %s", p.col)
		}
		if r[i] == nil {
			return false, nil
		}
		c := l.Columns[i]
		c.Nullable = true
		cmps := make([]int, len(p.args))
		for j, a := range p.args {
			v, err := valueOf(a, c)
			if err != nil || v == nil {
				return false, err
			}
			cmps[j] = compareValues(r[i], v)
		}
		var ok bool
		switch p.op {
		case "=":
			ok = cmps[0] == 0
		case "<>", "!=":
			ok = cmps[0] != 0
		case "<":
			ok = cmps[0] < 0
		case "<=":
			ok = cmps[0] <= 0
		case ">":
			ok = cmps[0] > 0
		case ">=":
			ok = cmps[0] >= 0
		case "between":
			ok = cmps[0] >= 0 && cmps[1] <= 0
		case "in":
			ok = slices.Contains(cmps, 0)
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

// renameColumn is ALTER TABLE t RENAME COLUMN from TO to: the new layout's
// column carries schema.Column.RenamedFrom, as a source that sees the DDL
// states it.
func renameColumn(s alterStmt, old *schema.Table) (*ddl, bool, error) {
	i := old.Index(s.from)
	if i < 0 || old.Index(s.to) >= 0 {
		return nil, true, fmt.Errorf("cannot rename column %s to %s", s.from, s.to)
	}
	cols := slices.Clone(old.Columns)
	for j := range cols {
		cols[j].RenamedFrom = ""
	}
	cols[i].Name, cols[i].RenamedFrom = s.to, s.from
	return &ddl{op: "rename", table: s.table, layout: &schema.Table{Columns: cols, Key: old.Key}}, true, nil
}
