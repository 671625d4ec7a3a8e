package memsource

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/internal/toolkit"
	"github.com/floe-cdc/floe/schema"
)

// Pos is a position in a DB's log: the number of entries up to and
// including the one it names (0: before the first).
type Pos uint64

const posPrefix = "mem.v1:"

// String is the versioned encoding, "mem.v1:N".
func (p Pos) String() string { return posPrefix + strconv.FormatUint(uint64(p), 10) }

// Compare orders positions of one DB. other must be a Pos.
func (p Pos) Compare(other capture.Position) int {
	return cmp.Compare(p, toolkit.AsPosition[Pos](other, "memsource"))
}

// DecodePosition parses an encoding made by Pos.String.
func DecodePosition(s string) (capture.Position, error) {
	rest, err := toolkit.CutPositionPrefix(s, posPrefix, "memsource", "<log entry number>")
	if err != nil {
		return nil, err
	}
	n, err := strconv.ParseUint(rest, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("decode position %q: not a log entry number", s)
	}
	return Pos(n), nil
}

// DB is an in-memory database with a log of its committed changes. It is
// safe for concurrent use.
type DB struct {
	schema string // TableID.Schema of its tables

	mu      sync.Mutex
	tables  map[string]*table
	log     []entry       // log[i] has position i+1
	changed chan struct{} // closed and replaced by every append
}

// table is one table's committed state. Rows are never modified in place:
// a change stores a new Row.
type table struct {
	layout *schema.Table
	rows   map[string]schema.Row // by schema.AppendKey
}

// entry is one log entry: a transaction's changes, a DDL statement, a
// heartbeat or a sync message.
type entry struct {
	pos     Pos
	time    time.Time
	changes []capture.Change
	ddl     *ddl
	sync    bool
}

// ddl is a schema change of one table.
type ddl struct {
	op     string // "create", "drop", "alter" (add column) or "rename" (rename column)
	table  string
	layout *schema.Table // after create, alter and rename
	// fill is what the rows existing at an alter get in the added column;
	// hasFill is set when the statement gave them a value (a DEFAULT), which
	// no change carries: a stream cannot follow it.
	fill    any
	hasFill bool
}

// NewDB returns an empty database whose tables are reported in schema
// (TableID.Schema).
func NewDB(schema string) *DB {
	return &DB{schema: schema, tables: map[string]*table{}, changed: make(chan struct{})}
}

// Table returns the TableID of the named table.
func (db *DB) Table(name string) capture.TableID {
	return capture.TableID{Schema: db.schema, Name: name}
}

// Position returns the position of the last log entry.
func (db *DB) Position() Pos {
	db.mu.Lock()
	defer db.mu.Unlock()
	return Pos(len(db.log))
}

// Heartbeat appends an entry without changes (as a PostgreSQL heartbeat
// message does): every stream emits it as an empty batch.
func (db *DB) Heartbeat() Pos {
	return db.appendEntry(entry{})
}

// Sync appends a sync message: every stream emits it as an empty batch
// with Sync set, asking for its position to be acknowledged at once.
func (db *DB) Sync() Pos {
	return db.appendEntry(entry{sync: true})
}

// appendEntry gives e the next position, applies it to the committed
// state and wakes the streams.
func (db *DB) appendEntry(e entry) Pos {
	db.mu.Lock()
	defer db.mu.Unlock()
	e.pos, e.time = Pos(len(db.log)+1), time.Now().UTC()
	apply(db.tables, e)
	db.log = append(db.log, e)
	close(db.changed)
	db.changed = make(chan struct{})
	return e.pos
}

// since returns the entries after pos and a channel closed by the next
// append.
func (db *DB) since(pos Pos) ([]entry, <-chan struct{}) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if int(pos) >= len(db.log) {
		return nil, db.changed
	}
	return slices.Clone(db.log[pos:]), db.changed
}

// apply applies one log entry to tables.
func apply(tables map[string]*table, e entry) {
	if d := e.ddl; d != nil {
		switch d.op {
		case "create":
			tables[d.table] = &table{layout: d.layout, rows: map[string]schema.Row{}}
		case "drop":
			delete(tables, d.table)
		case "alter":
			t := tables[d.table]
			for k, r := range t.rows {
				t.rows[k] = append(slices.Clip(r), d.fill)
			}
			t.layout = d.layout
		case "rename":
			tables[d.table].layout = d.layout
		}
		return
	}
	for _, ch := range e.changes {
		if t := tables[ch.Table.Name]; t != nil { // nil: dropped before the commit
			applyChange(t, ch)
		}
	}
}

// applyChange applies one row change to t.
func applyChange(t *table, ch capture.Change) {
	switch ch.Op {
	case capture.OpInsert:
		t.rows[keyOf(t.layout, ch.After)] = ch.After
	case capture.OpUpdate:
		delete(t.rows, keyOf(t.layout, ch.Before))
		t.rows[keyOf(t.layout, ch.After)] = ch.After
	case capture.OpDelete:
		delete(t.rows, keyOf(t.layout, ch.Before))
	case capture.OpTruncate:
		clear(t.rows)
	}
}

func keyOf(l *schema.Table, r schema.Row) string { return string(schema.AppendKey(nil, l, r)) }

// Rows returns the rows of the named table as of position at, in key
// order, by replaying the log: what a sink that holds every change up to
// at must hold. A table that did not exist then is an error.
func (db *DB) Rows(name string, at Pos) ([]schema.Row, error) {
	db.mu.Lock()
	log := db.log[:min(int(at), len(db.log))]
	db.mu.Unlock()
	tables := map[string]*table{}
	for _, e := range log {
		apply(tables, e)
	}
	t := tables[name]
	if t == nil {
		return nil, fmt.Errorf("table %s does not exist at %s", name, at)
	}
	return sortedRows(t), nil
}

// sortedRows returns t's rows in key order.
func sortedRows(t *table) []schema.Row {
	rows := slices.Collect(maps.Values(t.rows))
	slices.SortFunc(rows, func(a, b schema.Row) int { return compareKeys(t.layout, a, b) })
	return rows
}

// compareKeys orders two full rows of l by key.
func compareKeys(l *schema.Table, a, b schema.Row) int {
	for _, k := range l.Key {
		if c := compareValues(a[k], b[k]); c != 0 {
			return c
		}
	}
	return 0
}

// snapshotOf returns a copy of the named tables' committed state (rows
// are immutable, so the maps are all that is copied) and the position it
// is at.
func (db *DB) snapshotOf(names []string) (map[string]*table, Pos) {
	db.mu.Lock()
	defer db.mu.Unlock()
	out := map[string]*table{}
	for _, n := range names {
		if t := db.tables[n]; t != nil {
			out[n] = &table{layout: t.layout, rows: maps.Clone(t.rows)}
		}
	}
	return out, Pos(len(db.log))
}

// snapshotTable is snapshotOf for one table; nil when there is none.
func (db *DB) snapshotTable(name string) *table {
	tables, _ := db.snapshotOf([]string{name})
	return tables[name]
}

// layoutOf returns the committed layout of the named table.
func (db *DB) layoutOf(name string) (*schema.Table, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	t := db.tables[name]
	if t == nil {
		return nil, fmt.Errorf("table %s.%s does not exist", db.schema, name)
	}
	return t.layout, nil
}

// Tx is a transaction: its statements see the committed state as of their
// table's first use in it, plus its own changes, and commit as one log
// entry. Not safe for concurrent use.
type Tx struct {
	db      *DB
	view    map[string]*table
	changes []capture.Change
	done    bool
}

// Begin starts a transaction.
func (db *DB) Begin() *Tx {
	return &Tx{db: db, view: map[string]*table{}}
}

// tableView returns the transaction's view of the named table.
func (tx *Tx) tableView(name string) (*table, error) {
	if t := tx.view[name]; t != nil {
		return t, nil
	}
	t := tx.db.snapshotTable(name)
	if t == nil {
		return nil, fmt.Errorf("table %s does not exist", name)
	}
	tx.view[name] = t
	return t, nil
}

// change records ch and applies it to the transaction's view.
func (tx *Tx) change(t *table, ch capture.Change) {
	applyChange(t, ch)
	tx.changes = append(tx.changes, ch)
}

var errDone = errors.New("memsource: transaction already committed or rolled back")

// Commit appends the transaction's changes to the log as one entry (also
// when there are none) and returns its position.
func (tx *Tx) Commit() (Pos, error) {
	if tx.done {
		return 0, errDone
	}
	tx.done = true
	return tx.db.appendEntry(entry{changes: tx.changes}), nil
}

// Rollback drops the transaction's changes.
func (tx *Tx) Rollback() error {
	if tx.done {
		return errDone
	}
	tx.done = true
	return nil
}
