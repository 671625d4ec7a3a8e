package lakewriter

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/floe-cdc/floe/schema"
)

// PartitionField is one field of a table's partition spec: Transform
// applied to the top-level column Column.
type PartitionField struct {
	Column    string
	Transform iceberg.Transform
}

// String renders f as ParsePartitionField reads it: "day(created_at)",
// "bucket[16](id)", "identity(region)".
func (f PartitionField) String() string { return f.Transform.String() + "(" + f.Column + ")" }

// SortField is one field of a table's sort order: Column ascending (nulls
// first) or descending (nulls last), Iceberg's default null orders.
type SortField struct {
	Column string
	Desc   bool
}

// String renders f as ParseSortField reads it.
func (f SortField) String() string {
	if f.Desc {
		return f.Column + " desc"
	}
	return f.Column
}

// Partitioning is the partition spec and sort order a table is to have.
// The zero value is an unpartitioned, unsorted table.
type Partitioning struct {
	Fields []PartitionField
	Sort   []SortField
}

// IsZero reports whether p is unpartitioned and unsorted.
func (p Partitioning) IsZero() bool { return len(p.Fields) == 0 && len(p.Sort) == 0 }

// partitionTransforms are the transforms a partition field may use, as
// Iceberg names them; bucket and truncate take a parameter in brackets.
const partitionTransforms = "identity, year, month, day, hour, bucket[N], truncate[W]"

// ParsePartitionField reads "transform(column)" (transform one of
// identity, year, month, day, hour, bucket[N], truncate[W]) or a bare
// column name, which is identity(column).
func ParsePartitionField(s string) (PartitionField, error) {
	s = strings.TrimSpace(s)
	open := strings.IndexByte(s, '(')
	if open < 0 {
		if s == "" || strings.ContainsAny(s, ")[] ") {
			return PartitionField{}, fmt.Errorf("bad partition field %q: write transform(column), e.g. day(created_at), or a column name", s)
		}
		return PartitionField{Column: s, Transform: iceberg.IdentityTransform{}}, nil
	}
	if !strings.HasSuffix(s, ")") {
		return PartitionField{}, fmt.Errorf("bad partition field %q: write transform(column), e.g. day(created_at)", s)
	}
	name, col := strings.TrimSpace(s[:open]), strings.TrimSpace(s[open+1:len(s)-1])
	if col == "" || strings.ContainsAny(col, "(),") {
		return PartitionField{}, fmt.Errorf("bad partition field %q: name one column in the parentheses, e.g. bucket[16](id)", s)
	}
	lower := strings.ToLower(name)
	tr, err := iceberg.ParseTransform(lower)
	if _, unknown := tr.(iceberg.UnknownTransform); (err != nil || unknown) && (strings.HasPrefix(lower, "bucket[") || strings.HasPrefix(lower, "truncate[")) {
		return PartitionField{}, fmt.Errorf("bad partition field %q: the number in brackets must be a whole number of at least 1, e.g. bucket[16] or truncate[4]", s)
	}
	if err != nil {
		return PartitionField{}, fmt.Errorf("bad partition field %q: unknown transform %q (use one of %s)", s, name, partitionTransforms)
	}
	switch tr.(type) {
	case iceberg.IdentityTransform, iceberg.YearTransform, iceberg.MonthTransform,
		iceberg.DayTransform, iceberg.HourTransform:
	case iceberg.BucketTransform, iceberg.TruncateTransform:
	default:
		return PartitionField{}, fmt.Errorf("bad partition field %q: unknown transform %q (use one of %s)", s, name, partitionTransforms)
	}
	return PartitionField{Column: col, Transform: tr}, nil
}

// ParseSortField reads "column", "column asc" or "column desc".
func ParseSortField(s string) (SortField, error) {
	parts := strings.Fields(s)
	switch {
	case len(parts) == 1:
		return SortField{Column: parts[0]}, nil
	case len(parts) == 2 && strings.EqualFold(parts[1], "asc"):
		return SortField{Column: parts[0]}, nil
	case len(parts) == 2 && strings.EqualFold(parts[1], "desc"):
		return SortField{Column: parts[0], Desc: true}, nil
	}
	return SortField{}, fmt.Errorf("bad sort field %q: write a column name, optionally followed by asc or desc", s)
}

// Check reports, one line each, the fields of p that cannot apply to a
// table of schema sc: a column the table lacks, a transform the column's
// type does not take, a column partitioned or sorted twice, or two time
// transforms (year/month/day/hour) on one column. Each error starts with
// the field as written.
func (p Partitioning) Check(sc *iceberg.Schema) error {
	var errs []error
	seen := map[string]bool{}
	timeCols := map[string]bool{}
	for f, col := range fieldColumns(sc, p.Fields, &errs) {
		switch {
		case !f.Transform.CanTransform(col.Type):
			errs = append(errs, fmt.Errorf("%s: transform %s does not apply to column %s of type %s (%s)", f, f.Transform, f.Column, col.Type, transformHint(f.Transform)))
			continue
		case seen[f.String()]:
			errs = append(errs, fmt.Errorf("%s: listed twice", f))
			continue
		}
		seen[f.String()] = true
		if _, ok := f.Transform.(iceberg.TimeTransform); ok {
			if timeCols[f.Column] {
				errs = append(errs, fmt.Errorf("%s: column %s already has a time transform; keep one of year, month, day, hour per column", f, f.Column))
			}
			timeCols[f.Column] = true
		}
	}
	sorted := map[string]bool{}
	for f, col := range fieldColumns(sc, p.Sort, &errs) {
		switch {
		case !isPrimitive(col.Type):
			errs = append(errs, fmt.Errorf("%s: column %s of type %s cannot be sorted by", f, f.Column, col.Type))
		case sorted[f.Column]:
			errs = append(errs, fmt.Errorf("%s: column %s is sorted by twice", f, f.Column))
		}
		sorted[f.Column] = true
	}
	return errors.Join(errs...)
}

func isPrimitive(t iceberg.Type) bool {
	_, ok := t.(iceberg.PrimitiveType)
	return ok
}

// transformHint says which types a transform takes.
func transformHint(t iceberg.Transform) string {
	switch t.(type) {
	case iceberg.YearTransform, iceberg.MonthTransform, iceberg.DayTransform:
		return "it takes date and timestamp columns"
	case iceberg.HourTransform:
		return "it takes timestamp columns"
	case iceberg.BucketTransform:
		return "it takes integer, decimal, date, time, timestamp, string, uuid and binary columns"
	case iceberg.TruncateTransform:
		return "it takes integer, decimal, string and binary columns"
	default:
		return "it takes primitive columns"
	}
}

// A namedField is a partition or sort field: written as its String,
// naming a column of the table.
type namedField interface {
	fmt.Stringer
	column() string
}

func (f PartitionField) column() string { return f.Column }
func (f SortField) column() string      { return f.Column }

// fieldColumns yields each of fields with the column of sc it names. For
// a field naming no column it appends to errs the error that starts with
// the field and lists the table's columns, and yields nothing.
func fieldColumns[F namedField](sc *iceberg.Schema, fields []F, errs *[]error) iter.Seq2[F, iceberg.NestedField] {
	return func(yield func(F, iceberg.NestedField) bool) {
		for _, f := range fields {
			col, ok := sc.FindFieldByName(f.column())
			if !ok {
				*errs = append(*errs, fmt.Errorf("%s: the table has no column %q (columns: %s)", f, f.column(), columnNames(sc)))
				continue
			}
			if !yield(f, col) {
				return
			}
		}
	}
}

func columnNames(sc *iceberg.Schema) string {
	names := make([]string, 0, len(sc.Fields()))
	for _, f := range sc.Fields() {
		names = append(names, f.Name)
	}
	return strings.Join(names, ", ")
}

// specMatches reports whether spec partitions by exactly fields, in order.
func specMatches(spec iceberg.PartitionSpec, sc *iceberg.Schema, fields []PartitionField) bool {
	if spec.NumFields() != len(fields) {
		return false
	}
	for i, pf := range spec.Fields() {
		name, ok := sc.FindColumnName(pf.SourceID())
		if !ok || name != fields[i].Column || pf.Transform.String() != fields[i].Transform.String() {
			return false
		}
	}
	return true
}

// sortOrderOf builds the sort order of fields (unsorted when empty).
func sortOrderOf(sc *iceberg.Schema, fields []SortField) (table.SortOrder, error) {
	if len(fields) == 0 {
		return table.UnsortedSortOrder, nil
	}
	out := make([]table.SortField, len(fields))
	for i, f := range fields {
		col, ok := sc.FindFieldByName(f.Column)
		if !ok {
			return table.SortOrder{}, fmt.Errorf("sort column %s is not in the table", f.Column)
		}
		dir, nulls := table.SortASC, table.NullsFirst
		if f.Desc {
			dir, nulls = table.SortDESC, table.NullsLast
		}
		out[i] = table.SortField{SourceIDs: []int{col.ID}, Transform: iceberg.IdentityTransform{}, Direction: dir, NullOrder: nulls}
	}
	return table.NewSortOrder(table.InitialSortOrderID, out)
}

// sortMatches reports whether order sorts by exactly fields.
func sortMatches(order table.SortOrder, sc *iceberg.Schema, fields []SortField) bool {
	if order.Len() != len(fields) {
		return false
	}
	for i, f := range fields {
		sf := order.Field(i)
		name, ok := sc.FindColumnName(sf.SourceID())
		if !ok || name != f.Column || (sf.Direction == table.SortDESC) != f.Desc {
			return false
		}
	}
	return true
}

// globalSpecID returns the id of tbl's unpartitioned spec, -1 if it has
// none. Equality-delete files are written in it (see writeDeletes).
func globalSpecID(md table.Metadata) int {
	for _, s := range md.PartitionSpecs() {
		if s.IsUnpartitioned() {
			return s.ID()
		}
	}
	return -1
}

// NeedsDeleteSpec reports whether the table is partitioned but has no
// unpartitioned spec to write equality deletes in (it was created
// partitioned by another tool); SetPartitioning adds one.
func (t *Table) NeedsDeleteSpec() bool {
	tbl := t.current()
	spec := tbl.Spec()
	return !spec.IsUnpartitioned() && globalSpecID(tbl.Metadata()) < 0
}

// Partitioning returns the partition spec and sort order the table has.
func (t *Table) Partitioning() Partitioning {
	tbl := t.current()
	sc := tbl.Schema()
	spec := tbl.Spec()
	var p Partitioning
	for _, pf := range spec.Fields() {
		name, _ := sc.FindColumnName(pf.SourceID())
		p.Fields = append(p.Fields, PartitionField{Column: name, Transform: pf.Transform})
	}
	order := tbl.SortOrder()
	for i := range order.Len() {
		sf := order.Field(i)
		name, _ := sc.FindColumnName(sf.SourceID())
		p.Sort = append(p.Sort, SortField{Column: name, Desc: sf.Direction == table.SortDESC})
	}
	return p
}

// SetPartitioning makes p the table's default partition spec and sort
// order, in one metadata commit, and reports whether anything changed.
// Files written before keep their spec: Iceberg tables evolve their
// partitioning in place, and new files use the new spec. The table always
// keeps an unpartitioned spec among its specs (tables Floe creates start
// with one, id 0; a table created partitioned elsewhere gets one added,
// not made the default), in which equality-delete files are written so
// that they apply to every partition. p is checked against the table's schema
// first (Partitioning.Check); nothing changes when it does not fit.
// Sort order is recorded for readers and rewriters (Trino's OPTIMIZE);
// Floe's own files keep arrival order.
func (t *Table) SetPartitioning(ctx context.Context, p Partitioning) (bool, error) {
	ctx = t.cat.ioContext(ctx)
	t.commitMu.Lock()
	defer t.commitMu.Unlock()
	tbl, err := t.refresh(ctx)
	if err != nil {
		return false, err
	}
	sc := tbl.Schema()
	if err := p.Check(sc); err != nil {
		return false, fmt.Errorf("partitioning of %s: %w", t.id, err)
	}
	spec := tbl.Spec()
	sameSpec := specMatches(spec, sc, p.Fields)
	sameSort := sortMatches(tbl.SortOrder(), sc, p.Sort)
	hasGlobal := globalSpecID(tbl.Metadata()) >= 0
	if sameSpec && sameSort && (len(p.Fields) == 0 || hasGlobal) {
		return false, nil
	}
	tx := tbl.NewTransaction()
	if !sameSpec || (len(p.Fields) > 0 && !hasGlobal) {
		if err := stageSpec(tx, tbl, p.Fields); err != nil {
			return false, fmt.Errorf("partitioning of %s: %w", t.id, err)
		}
	}
	if !sameSort {
		order, err := sortOrderOf(sc, p.Sort)
		if err != nil {
			return false, fmt.Errorf("sort order of %s: %w", t.id, err)
		}
		if err := tx.ReplaceSortOrder(order); err != nil {
			return false, fmt.Errorf("sort order of %s: %w", t.id, err)
		}
	}
	next, err := tx.Commit(ctx)
	if err != nil {
		return false, fmt.Errorf("partitioning of %s: commit: %w", t.id, err)
	}
	if err := t.cat.checkFile(); err != nil {
		return false, err
	}
	t.setCurrent(next)
	nspec := next.Spec()
	t.log.Info("partitioning set", "partition_spec", nspec.String(), "spec_id", nspec.ID(),
		"sort_order", next.SortOrder().String())
	return true, nil
}

// stageSpec stages fields as the default spec in tx: first every field of
// the current spec is removed (which makes the unpartitioned spec the
// default, reusing its id when the table has one), then fields are added.
func stageSpec(tx *table.Transaction, tbl *table.Table, fields []PartitionField) error {
	cur := tbl.Spec()
	if cur.NumFields() > 0 {
		us := tx.UpdateSpec(true)
		for _, pf := range cur.Fields() {
			us.RemoveField(pf.Name)
		}
		if err := us.Commit(); err != nil {
			return fmt.Errorf("remove the old partition fields: %w", err)
		}
	}
	if len(fields) == 0 {
		return nil
	}
	us := tx.UpdateSpec(true)
	for _, f := range fields {
		us.AddField(f.Column, f.Transform, "")
	}
	if err := us.Commit(); err != nil {
		return fmt.Errorf("add partition fields %s: %w", joinFields(fields), err)
	}
	return nil
}

func joinFields(fields []PartitionField) string {
	s := make([]string, len(fields))
	for i, f := range fields {
		s[i] = f.String()
	}
	return strings.Join(s, ", ")
}

// deleteView returns tbl with its unpartitioned spec as the default spec,
// in memory only, so that equality-delete files written through it carry
// that spec and apply to rows of every partition (an equality delete in
// a partitioned spec applies only within its own partition, which misses
// a row that moved between partitions, or whose old partition values are
// unknown). Unpartitioned tables are returned as they are.
func deleteView(tbl *table.Table) (*table.Table, error) {
	md := tbl.Metadata()
	spec := tbl.Spec()
	if spec.IsUnpartitioned() {
		return tbl, nil
	}
	id := globalSpecID(md)
	if id < 0 {
		return nil, fmt.Errorf("the table is partitioned (spec %d) but has no unpartitioned spec for equality deletes", spec.ID())
	}
	b, err := table.MetadataBuilderFromBase(md, tbl.MetadataLocation())
	if err != nil {
		return nil, err
	}
	if err := b.SetDefaultSpecID(id); err != nil {
		return nil, err
	}
	view, err := b.Build()
	if err != nil {
		return nil, err
	}
	return table.New(tbl.Identifier(), view, tbl.MetadataLocation(), tbl.FS, nil), nil
}

// CheckPartitioning reports, as Partitioning.Check does, the fields of p
// that cannot apply to a table created for layout (before any exists).
func CheckPartitioning(layout *schema.Table, p Partitioning) error {
	sc, err := icebergSchema(layout, nil)
	if err != nil {
		return err
	}
	return p.Check(sc)
}
