package lakewriter

import (
	"context"
	"fmt"
	"iter"
	"log/slog"
	"slices"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/google/uuid"

	"github.com/floe-cdc/floe/schema"
)

// Table is one Iceberg table opened through a Catalog. Its methods are
// safe for concurrent use; commits through one Table are serialised.
// Reads (Scan, Lookup, LatestProps) see the newest state in the catalog.
type Table struct {
	cat *Catalog
	id  Ident
	log *slog.Logger

	// layout is replaced only by Evolve, which holds commitMu and
	// evolveMu; it is read under either (Commit's writers hold commitMu,
	// readers evolveMu.RLock), so a reader sees a layout and a table
	// state of the same schema.
	layout   *schema.Table
	evolveMu sync.RWMutex

	// commitMu serialises Commit, Maintain and Evolve on this table across
	// every Table the Catalog opened for the same identifier.
	commitMu *sync.Mutex

	mu  sync.Mutex
	tbl *table.Table // newest state seen

	// idx is the key index (keyindex.go), nil when none is valid;
	// idxOff turns it off for good. Both are guarded by commitMu.
	idx       *keyIndex
	idxOff    bool
	idxBuilds int // full rebuilds, for tests

	// commitVia, when set (tests only), replaces the table a commit
	// attempt is staged on, e.g. to route it through a faulty catalog.
	commitVia func(*table.Table) *table.Table
}

func newTable(c *Catalog, id Ident, layout *schema.Table, tbl *table.Table) (*Table, error) {
	return &Table{cat: c, id: id, layout: layout, log: c.log.With("table", id.String()), tbl: tbl,
		commitMu: c.tableLock(id)}, nil
}

// Layout returns the layout rows are written and read in: the one given
// to EnsureTable when the table matched it, otherwise the table's own
// (see EnsureTable and LoadTable), and after Evolve the layout evolved to.
func (t *Table) Layout() *schema.Table {
	t.evolveMu.RLock()
	defer t.evolveMu.RUnlock()
	return t.layout
}

// readState reloads the table and returns it with the layout of the same
// schema (no Evolve of this Table runs in between).
func (t *Table) readState(ctx context.Context) (*table.Table, *schema.Table, error) {
	t.evolveMu.RLock()
	defer t.evolveMu.RUnlock()
	tbl, err := t.refresh(ctx)
	if err != nil {
		return nil, nil, err
	}
	return tbl, t.layout, nil
}

// SchemaID returns the id of the table's current Iceberg schema, as this
// Table last loaded it.
func (t *Table) SchemaID() int { return t.current().Schema().ID }

// Property returns the table property key as this Table last loaded
// the table's metadata ("" when it is not set).
func (t *Table) Property(key string) string { return t.current().Properties()[key] }

// Ident returns the table's identifier.
func (t *Table) Ident() Ident { return t.id }

// FormerNames returns, for each top-level column of the table's current
// schema that had other names in earlier schemas of the table (renamed,
// keeping its field id), those names, sorted; columns never renamed are
// absent. Every schema in the table metadata counts, so the answer only
// grows as the table evolves.
func (t *Table) FormerNames() map[string][]string {
	meta := t.current().Metadata()
	names := map[int][]string{}
	for _, sc := range meta.Schemas() {
		for _, f := range sc.Fields() {
			if !slices.Contains(names[f.ID], f.Name) {
				names[f.ID] = append(names[f.ID], f.Name)
			}
		}
	}
	out := map[string][]string{}
	for _, f := range meta.CurrentSchema().Fields() {
		var former []string
		for _, n := range names[f.ID] {
			if n != f.Name {
				former = append(former, n)
			}
		}
		if len(former) > 0 {
			slices.Sort(former)
			out[f.Name] = former
		}
	}
	return out
}

func (t *Table) current() *table.Table {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.tbl
}

func (t *Table) setCurrent(tbl *table.Table) {
	t.mu.Lock()
	t.tbl = tbl
	t.mu.Unlock()
}

// refresh loads the table's newest metadata from the catalog.
func (t *Table) refresh(ctx context.Context) (*table.Table, error) {
	if err := t.cat.checkFile(); err != nil {
		return nil, err
	}
	tbl, err := t.cat.cat.LoadTable(ctx, t.id.iceberg())
	if err != nil {
		return nil, fmt.Errorf("reload table %s: %w", t.id, err)
	}
	t.setCurrent(tbl)
	return tbl, nil
}

// LatestProps walks main's current snapshot and its ancestors, newest
// first, and returns a copy of the first summary-property map for which
// match returns true (iceberg-go's own summary keys included, the
// "operation" key excluded). It returns nil, nil when no snapshot
// matches or the table has no snapshot.
func (t *Table) LatestProps(ctx context.Context, match func(map[string]string) bool) (map[string]string, error) {
	return t.LatestPropsOn(t.cat.ioContext(ctx), table.MainBranch, match)
}

// Ancestry yields main's current snapshot and then its ancestors, newest
// first, stopping at the first parent that is no longer in the metadata
// (expired).
func Ancestry(tbl *table.Table) iter.Seq[*table.Snapshot] {
	return func(yield func(*table.Snapshot) bool) {
		snaps := tbl.Metadata().Snapshots()
		byID := make(map[int64]*table.Snapshot, len(snaps))
		for i := range snaps {
			byID[snaps[i].SnapshotID] = &snaps[i]
		}
		for s := tbl.CurrentSnapshot(); s != nil; {
			if !yield(s) || s.ParentSnapshotID == nil {
				return
			}
			s = byID[*s.ParentSnapshotID]
		}
	}
}

// Scan calls fn with every live row of the table's newest snapshot
// (equality and position deletes applied), as a Row in Layout order. It
// stops at the first error fn returns and returns it.
func (t *Table) Scan(ctx context.Context, fn func(schema.Row) error) error {
	return t.ScanOn(t.cat.ioContext(ctx), table.MainBranch, fn)
}

// scan reads the live rows of tbl as rows in layout (columns by name).
func (t *Table) scan(ctx context.Context, tbl *table.Table, layout *schema.Table, filter iceberg.BooleanExpression, fn func(schema.Row) error) error {
	if tbl.CurrentSnapshot() == nil {
		return nil
	}
	var opts []table.ScanOption
	if filter != nil {
		opts = append(opts, table.WithRowFilter(filter))
	}
	_, batches, err := tbl.Scan(opts...).ToArrowRecords(ctx)
	if err != nil {
		return err
	}
	cols := layout.Columns
	readers := make([]valueReader, len(cols))
	for rec, err := range batches {
		if err != nil {
			return err
		}
		for j, c := range cols {
			idx := rec.Schema().FieldIndices(c.Name)
			if len(idx) != 1 {
				rec.Release()
				return fmt.Errorf("column %s is missing from the scan", c.Name)
			}
			r, err := newReader(rec.Column(idx[0]), c.Type)
			if err != nil {
				rec.Release()
				return fmt.Errorf("column %s: %w", c.Name, err)
			}
			readers[j] = r
		}
		n := int(rec.NumRows())
		for i := 0; i < n; i++ {
			row := make(schema.Row, len(cols))
			for j, r := range readers {
				row[j] = r(i)
			}
			if err := fn(row); err != nil {
				rec.Release()
				return err
			}
		}
		rec.Release()
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// maxFilterValues bounds the IN list pushed into a Lookup scan per key
// column; beyond it the scan reads every row and matches in Go.
const maxFilterValues = 10000

// Lookup returns the live rows whose key (Layout().Key) equals one of
// keys (key-only rows in Layout().Key order). The map key is
// string(schema.AppendKeyOf(nil, Layout(), key)). When several live rows
// share a key (changelog tables) the one for which newer(candidate, kept)
// is true replaces the one kept; with newer nil the first row read wins.
func (t *Table) Lookup(ctx context.Context, keys []schema.Row, newer func(a, b schema.Row) bool) (map[string]schema.Row, error) {
	return t.LookupOn(t.cat.ioContext(ctx), table.MainBranch, keys, newer)
}

// LookupOn is Lookup reading ref's head (main's when the table has no
// such ref; see Commit.Branch).
func (t *Table) LookupOn(ctx context.Context, ref string, keys []schema.Row, newer func(a, b schema.Row) bool) (map[string]schema.Row, error) {
	ctx = t.cat.ioContext(ctx)
	out := make(map[string]schema.Row)
	if len(keys) == 0 {
		return out, nil
	}
	tbl, layout, err := t.readState(ctx)
	if err != nil {
		return nil, err
	}
	if tbl, err = onRef(tbl, ref); err != nil {
		return nil, fmt.Errorf("lookup in %s: %w", t.id, err)
	}
	if len(layout.Key) == 0 {
		return nil, fmt.Errorf("lookup in %s: the table has no key", t.id)
	}
	want := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		if len(k) != len(layout.Key) {
			return nil, fmt.Errorf("lookup in %s: key has %d values, want %d", t.id, len(k), len(layout.Key))
		}
		want[string(schema.AppendKeyOf(nil, layout, k))] = struct{}{}
	}
	var buf []byte
	err = t.scan(ctx, tbl, layout, keyFilter(layout, keys), func(r schema.Row) error {
		buf = schema.AppendKey(buf[:0], layout, r)
		if _, ok := want[string(buf)]; !ok {
			return nil
		}
		if kept, ok := out[string(buf)]; ok && (newer == nil || !newer(r, kept)) {
			return nil
		}
		out[string(buf)] = r
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lookup in %s: %w", t.id, err)
	}
	return out, nil
}

// keyFilter narrows a scan to rows whose key columns each take one of the
// values the keys hold (a superset of the keys; exact matching follows in
// Go). It returns nil when no column can be filtered.
func keyFilter(layout *schema.Table, keys []schema.Row) iceberg.BooleanExpression {
	var preds []iceberg.BooleanExpression
	for j, ord := range layout.Key {
		col := layout.Columns[ord]
		literal := literalMaker(col.Type)
		if literal == nil {
			continue
		}
		seen := make(map[any]struct{})
		lits := make([]iceberg.Literal, 0, len(keys))
		ok := true
		for _, k := range keys {
			lit, usable := literal(k[j])
			if !usable {
				ok = false
				break
			}
			id := any(lit.String())
			if _, dup := seen[id]; dup {
				continue
			}
			seen[id] = struct{}{}
			lits = append(lits, lit)
		}
		if !ok || len(lits) == 0 || len(lits) > maxFilterValues {
			continue
		}
		preds = append(preds, iceberg.SetPredicate(iceberg.OpIn, iceberg.Reference(col.Name), lits))
	}
	switch len(preds) {
	case 0:
		return nil
	case 1:
		return preds[0]
	default:
		return iceberg.NewAnd(preds[0], preds[1], preds[2:]...)
	}
}

// literalMaker returns the converter of canonical key values of type t
// to Iceberg literals of t; nil for the types the filter does not
// handle. The converter's usable is false for a value not of t's
// canonical Go type.
func literalMaker(t iceberg.Type) func(v any) (lit iceberg.Literal, usable bool) {
	if d, ok := t.(iceberg.DecimalType); ok {
		return literalFrom(func(x decimal128.Num) iceberg.Decimal { return iceberg.Decimal{Val: x, Scale: d.Scale()} })
	}
	return literalMakers[t] // iceberg-go's types are comparable: no panic
}

// literalMakers are literalMaker's converters of the types without
// parameters, one entry per type the filter handles.
var literalMakers = map[iceberg.Type]func(any) (iceberg.Literal, bool){
	iceberg.PrimitiveTypes.Bool:        literalFrom(same[bool]),
	iceberg.PrimitiveTypes.Int32:       literalFrom(same[int32]),
	iceberg.PrimitiveTypes.Int64:       literalFrom(same[int64]),
	iceberg.PrimitiveTypes.String:      literalFrom(same[string]),
	iceberg.PrimitiveTypes.Binary:      literalFrom(same[[]byte]),
	iceberg.PrimitiveTypes.UUID:        literalFrom(func(x [16]byte) uuid.UUID { return x }),
	iceberg.PrimitiveTypes.Date:        literalFrom(func(x int32) iceberg.Date { return iceberg.Date(x) }),
	iceberg.PrimitiveTypes.Time:        literalFrom(func(x int64) iceberg.Time { return iceberg.Time(x) }),
	iceberg.PrimitiveTypes.Timestamp:   literalFrom(func(x int64) iceberg.Timestamp { return iceberg.Timestamp(x) }),
	iceberg.PrimitiveTypes.TimestampTz: literalFrom(func(x int64) iceberg.Timestamp { return iceberg.Timestamp(x) }),
}

// literalFrom returns the converter of canonical values of Go type V to
// literals of L by conv.
func literalFrom[V any, L iceberg.LiteralType](conv func(V) L) func(any) (iceberg.Literal, bool) {
	return func(v any) (iceberg.Literal, bool) {
		x, ok := v.(V)
		if !ok {
			return nil, false
		}
		return iceberg.NewLiteral(conv(x)), true
	}
}

// same is the conversion of a value that is canonical as it is.
func same[T any](x T) T { return x }
