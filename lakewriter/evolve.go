package lakewriter

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/floe-cdc/floe/schema"
)

// Evolve changes the table's schema to layout, a superset by name of the
// table's current schema (as transform.EvolveSinkLayout produces it), in
// one catalog commit, and makes layout the Table's Layout:
//
//   - columns of layout the table lacks are added as optional fields at
//     their position in layout (the Iceberg field order becomes the
//     layout's column order); they must be nullable;
//   - a column whose layout type is a promotion of the table's
//     (schema.Promotable: int -> long, float -> double, decimal
//     precision) is widened, unless it is a key column (an identifier
//     field or in layout.Key): iceberg-go applies equality deletes and
//     evaluates row filters in each data file's own type, so rows
//     written before could not be deleted or looked up by the wider key;
//   - a required column that is nullable in layout is made optional;
//   - a column the layout lacks is renamed when a layout column the
//     table lacks names it in RenamedFrom (transform.EvolveSinkLayout
//     sets it): the field keeps its id, so files written before read
//     back under the new name; an identifier field stays one;
//   - any other column the layout lacks is deleted (its values in files
//     written before are no longer read), unless it is pinned
//     (PinnedColumns: an identifier field, or the source of a partition
//     field or sort field of any spec or sort order), which is refused.
//
// Rows written afterwards are in layout; rows written before read back
// with NULL in the added columns and promoted values in widened ones.
// Evolve refuses, committing nothing, a layout that drops a pinned
// column, narrows or otherwise changes a type, makes a column required, reorders
// existing columns, or whose Key differs from the table's identifier
// fields (by name; a table without identifier fields, as changelog tables
// are, accepts any Key). It is a no-op, and only adopts layout, when the
// schema already matches.
//
// Evolve holds the lock Commit and Maintain hold, so it never races a
// commit of this table through the same Catalog; other Tables the Catalog
// opened for the identifier keep their layout and must be reopened. A
// failed catalog commit is retried on the reloaded table up to
// maxAttempts times; a commit that reported an error but landed is
// recognised by the reloaded schema matching layout.
func (t *Table) Evolve(ctx context.Context, layout *schema.Table) error {
	return t.EvolveProps(t.cat.ioContext(ctx), layout, nil)
}

// EvolveProps is Evolve, and sets the table properties props in the same
// catalog commit as the schema change; when the schema already matches
// layout, the properties the table lacks or holds with another value are
// committed alone (none when they all match).
func (t *Table) EvolveProps(ctx context.Context, layout *schema.Table, props map[string]string) error {
	ctx = t.cat.ioContext(ctx)
	if _, err := icebergSchema(layout, nil); err != nil {
		return fmt.Errorf("evolve %s: %w", t.id, err)
	}
	t.commitMu.Lock()
	defer t.commitMu.Unlock()
	t.evolveMu.Lock()
	defer t.evolveMu.Unlock()
	return t.retryCommit(ctx, "evolve", "schema", func(base *table.Table) (bool, error) {
		plan, err := planEvolution(base.Schema(), layout, pinnedColumns(base.Metadata()))
		if err != nil {
			return true, err
		}
		changed := changedProps(base.Properties(), props)
		if plan.empty() && len(changed) == 0 {
			t.layout = layout
			return true, nil
		}
		var next *table.Table
		if plan.empty() {
			next, err = commitProps(ctx, base, changed)
		} else {
			next, err = plan.commit(ctx, base, layout, changed)
		}
		if err != nil {
			return false, err
		}
		t.setCurrent(next)
		t.layout = layout
		if plan.empty() {
			t.log.Info("iceberg table properties set", "properties", strings.Join(slices.Sorted(maps.Keys(changed)), ","))
		} else {
			t.log.Info("evolved iceberg table schema", "changes", plan.String(), "schema_id", next.Schema().ID,
				"properties", strings.Join(slices.Sorted(maps.Keys(changed)), ","))
		}
		return true, nil
	})
}

// errEvolvePlan marks a staged schema that is not the wanted one (a bug,
// not a conflict): Evolve does not retry it.
var errEvolvePlan = errors.New("staged schema differs from the layout")

// evolution is what Evolve changes in a table schema.
type evolution struct {
	adds     []addColumn
	drops    []string // column names deleted
	widen    []string // column names whose type layout widens
	optional []string // column names made optional
	// renamed maps a table column's name to its new name in layout; widen
	// and optional hold table names (iceberg-go addresses a renamed
	// column by its old name within one UpdateSchema).
	renamed map[string]string
}

// layoutName returns the name table column n has in the layout.
func (e *evolution) layoutName(n string) string {
	if to, ok := e.renamed[n]; ok {
		return to
	}
	return n
}

// tableName returns the name layout column n has in the table.
func (e *evolution) tableName(n string) string {
	for from, to := range e.renamed {
		if to == n {
			return from
		}
	}
	return n
}

type addColumn struct {
	name  string
	typ   iceberg.Type
	after string // "" = first
}

func (e *evolution) empty() bool {
	return len(e.adds)+len(e.widen)+len(e.optional)+len(e.renamed)+len(e.drops) == 0
}

// String lists the changes for logs.
func (e *evolution) String() string {
	var parts []string
	for _, from := range slices.Sorted(maps.Keys(e.renamed)) {
		parts = append(parts, fmt.Sprintf("rename %s to %s", from, e.renamed[from]))
	}
	for _, a := range e.adds {
		parts = append(parts, fmt.Sprintf("add %s %s", a.name, a.typ))
	}
	for _, n := range e.drops {
		parts = append(parts, "drop "+n)
	}
	for _, n := range e.widen {
		parts = append(parts, "widen "+n)
	}
	for _, n := range e.optional {
		parts = append(parts, "make "+n+" optional")
	}
	return strings.Join(parts, ", ")
}

// planEvolution compares the table schema have with layout and returns
// the changes that turn have into layout, or an error naming the column
// and why layout cannot be reached in place. pinned names the columns
// that cannot be deleted besides have's identifier fields.
func planEvolution(have *iceberg.Schema, layout *schema.Table, pinned []string) (*evolution, error) {
	const fix = "the table must be re-snapshotted (floe resnapshot) to take this layout"
	e := &evolution{renamed: renamesOf(have, layout)}
	fields := have.Fields()
	haveIdent := fieldNames(have, have.IdentifierFieldIDs)
	last := -1 // layout ordinal of the previous existing column
	for _, f := range fields {
		i := layout.Index(e.layoutName(f.Name))
		if i < 0 {
			if slices.Contains(haveIdent, f.Name) || slices.Contains(pinned, f.Name) {
				return nil, fmt.Errorf("the layout drops column %s, an identifier field or the source of a partition or sort field, which cannot be deleted: %s", f.Name, fix)
			}
			e.drops = append(e.drops, f.Name)
			continue
		}
		if i < last {
			return nil, fmt.Errorf("the layout moves column %s before column %s; existing columns keep their order", f.Name, layout.Columns[last].Name)
		}
		last = i
		c := layout.Columns[i]
		switch {
		case schema.SameType(f.Type, c.Type):
		case schema.Promotable(f.Type, c.Type):
			if slices.Contains(haveIdent, f.Name) || slices.Contains(layout.KeyNames(), f.Name) {
				// Iceberg allows it, but iceberg-go (v0.7.0) compares an
				// equality delete in the type each data file was written
				// with (deletes miss older rows) and fails to evaluate a
				// row filter against older files' bounds (Lookup fails).
				return nil, fmt.Errorf("the layout widens key column %s from %s to %s; rows written before could not be looked up or deleted by the wider key: %s",
					f.Name, f.Type, c.Type, fix)
			}
			e.widen = append(e.widen, f.Name)
		case schema.Promotable(c.Type, f.Type):
			return nil, fmt.Errorf("the layout narrows column %s from %s to %s; %s", f.Name, f.Type, c.Type, fix)
		default:
			return nil, fmt.Errorf("the layout changes column %s from %s to %s, which Iceberg cannot do in place; %s", f.Name, f.Type, c.Type, fix)
		}
		switch {
		case f.Required && c.Nullable:
			if slices.Contains(haveIdent, f.Name) {
				return nil, fmt.Errorf("the layout makes identifier column %s optional; identifier fields must be required: %s", f.Name, fix)
			}
			e.optional = append(e.optional, f.Name)
		case !f.Required && !c.Nullable:
			return nil, fmt.Errorf("the layout makes optional column %s required; Iceberg cannot, as rows written before may hold NULL: declare it nullable in the layout", f.Name)
		}
	}
	for i, c := range layout.Columns {
		if _, ok := have.FindFieldByName(e.tableName(c.Name)); ok {
			continue
		}
		if !c.Nullable {
			return nil, fmt.Errorf("the layout adds column %s as required; added columns must be nullable, as rows written before have no value", c.Name)
		}
		a := addColumn{name: c.Name, typ: c.Type}
		if i > 0 {
			a.after = e.tableName(layout.Columns[i-1].Name)
		}
		e.adds = append(e.adds, a)
	}
	if len(haveIdent) > 0 {
		want := layout.KeyNames()
		for i, n := range haveIdent {
			haveIdent[i] = e.layoutName(n)
		}
		h := slices.Sorted(slices.Values(haveIdent))
		w := slices.Sorted(slices.Values(want))
		if !slices.Equal(h, w) {
			return nil, fmt.Errorf("the layout's key is (%s) but the table's identifier fields are (%s); the primary key cannot change in place: %s",
				strings.Join(want, ", "), strings.Join(haveIdent, ", "), fix)
		}
	}
	return e, nil
}

// commit stages e on a transaction of base, checks that the staged schema
// is layout (order, types, nullability, identifier fields unchanged) and
// commits it with the properties props.
func (e *evolution) commit(ctx context.Context, base *table.Table, layout *schema.Table, props map[string]string) (*table.Table, error) {
	tx := base.NewTransaction()
	us := tx.UpdateSchema(true, false)
	for _, n := range e.widen {
		c := layout.Columns[layout.Index(e.layoutName(n))]
		us.UpdateColumn([]string{n}, table.ColumnUpdate{FieldType: iceberg.Optional[iceberg.Type]{Valid: true, Val: c.Type}})
	}
	for _, n := range e.optional {
		us.UpdateColumn([]string{n}, table.ColumnUpdate{Required: iceberg.Optional[bool]{Valid: true, Val: false}})
	}
	for from, to := range e.renamed {
		us.RenameColumn([]string{from}, to)
	}
	for _, n := range e.drops {
		us.DeleteColumn([]string{n})
	}
	for _, a := range e.adds {
		us.AddColumn([]string{a.name}, a.typ, "", false, nil)
	}
	// Added fields are appended; place each after its predecessor in
	// layout order (an earlier added column is placed already).
	for _, a := range e.adds {
		if a.after == "" {
			us.MoveFirst([]string{a.name})
		} else {
			us.MoveAfter([]string{a.name}, []string{a.after})
		}
	}
	if err := us.Commit(); err != nil {
		return nil, fmt.Errorf("stage schema update: %w", err)
	}
	staged, err := tx.StagedTable()
	if err != nil {
		return nil, fmt.Errorf("stage schema update: %w", err)
	}
	if err := matchesLayout(staged.Schema(), layout, base.Schema(), e.layoutName); err != nil {
		return nil, fmt.Errorf("%w: %w", errEvolvePlan, err)
	}
	// An added uuid column gets its metrics mode in the same commit, so no
	// file is ever written with its bounds (readers.go).
	set := readerSafeProps(staged.Schema(), base.Properties())
	maps.Copy(set, props)
	if err := tx.SetProperties(set); err != nil {
		return nil, fmt.Errorf("stage properties: %w", err)
	}
	next, err := tx.Commit(ctx)
	if err != nil {
		return nil, fmt.Errorf("commit schema update: %w", err)
	}
	return next, nil
}

// matchesLayout checks that sc has exactly layout's columns, in layout
// order, with its types and nullability, and the identifier fields of
// before (by name, renamed by rename).
func matchesLayout(sc *iceberg.Schema, layout *schema.Table, before *iceberg.Schema, rename func(string) string) error {
	fields := sc.Fields()
	if len(fields) != len(layout.Columns) {
		return fmt.Errorf("staged schema has %d columns, the layout %d", len(fields), len(layout.Columns))
	}
	for i, f := range fields {
		c := layout.Columns[i]
		if f.Name != c.Name || !schema.SameType(f.Type, c.Type) || f.Required == c.Nullable {
			return fmt.Errorf("staged column %d is %s %s %s, the layout's %s %s %s",
				i, f.Name, f.Type, nullability(f.Required), c.Name, c.Type, nullability(!c.Nullable))
		}
	}
	got := slices.Sorted(slices.Values(fieldNames(sc, sc.IdentifierFieldIDs)))
	var want []string
	for _, n := range fieldNames(before, before.IdentifierFieldIDs) {
		want = append(want, rename(n))
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		return fmt.Errorf("staged identifier fields are %v, the table's %v", got, want)
	}
	return nil
}

// PinnedColumns returns the names of the table's columns that Evolve
// cannot delete: its identifier fields and the source columns of the
// fields of every partition spec and sort order.
func (t *Table) PinnedColumns() []string {
	return pinnedColumns(t.current().Metadata())
}

// pinnedColumns is PinnedColumns of table metadata md.
func pinnedColumns(md table.Metadata) []string {
	sc := md.CurrentSchema()
	ids := slices.Clone(sc.IdentifierFieldIDs)
	for _, spec := range md.PartitionSpecs() {
		for _, f := range spec.Fields() {
			ids = append(ids, f.SourceIDs...)
		}
	}
	for _, so := range md.SortOrders() {
		for _, f := range so.Fields() {
			ids = append(ids, f.SourceIDs...)
		}
	}
	var out []string
	for _, id := range ids {
		if n, ok := sc.FindColumnName(id); ok && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// renamesOf returns the renames layout asks of table schema have: a
// column of layout that have lacks, whose RenamedFrom is a column of have
// that layout lacks, renames it (old name -> new name).
func renamesOf(have *iceberg.Schema, layout *schema.Table) map[string]string {
	out := map[string]string{}
	for _, c := range layout.Columns {
		if c.RenamedFrom == "" || layout.Index(c.RenamedFrom) >= 0 {
			continue
		}
		if _, ok := have.FindFieldByName(c.Name); ok {
			continue
		}
		if _, ok := have.FindFieldByName(c.RenamedFrom); ok {
			out[c.RenamedFrom] = c.Name
		}
	}
	return out
}
