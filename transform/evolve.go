package transform

import (
	"fmt"
	"slices"
	"strings"

	"github.com/floe-cdc/floe/schema"
)

// EvolveSinkLayout returns the sink layout that holds rows of both sink,
// the current layout of an existing sink table (a sink layout: metadata
// columns last, as lakewriter derives it from the Iceberg schema), and
// changes in source layout src, written in mode. Source columns are
// matched to sink columns by name:
//
//   - a src column missing from sink is added, nullable, after the last
//     source column of sink and before the metadata columns (new columns
//     keep their src order);
//   - a src column of a wider type (schema.Promotable(sink type, src type))
//     widens the sink column, unless it is a key column: rows written
//     before could not be looked up or deleted by the wider key, so that
//     is an error; a narrower src column keeps the sink type (its values
//     are promoted when written); any other type difference is an error
//     naming the column and both types: the table must be re-snapshotted
//     (floe resnapshot);
//   - a src column that is nullable (always, in Changelog mode) makes a
//     required sink column nullable; an Upsert key column cannot become
//     nullable, that is an error;
//   - a source column of sink that src no longer has is kept (rows
//     already written keep their values) and made nullable;
//   - the key of src (names, in order) must equal the key of sink, or the
//     primary key changed and the table must be re-snapshotted;
//   - a src column named like a metadata column is an error (CheckSource);
//   - a src column whose RenamedFrom names a source column of sink, when
//     neither sink has a column of its name nor src one of the old name,
//     renames that sink column ("rename column a to b"): it keeps its
//     values (and Iceberg field id) and is then matched as above; the
//     result's column carries RenamedFrom, which lakewriter's Table.Evolve
//     reads. A key column may be renamed.
//
// changes describes each change for people ("add column x int", "widen
// column y int -> long", "make column z optional"). When nothing changes
// the result is sink itself and changes is nil, so callers may compare
// pointers; otherwise it is a new *schema.Table with the key ordinals of
// sink. sink and src are never modified. Column.Source of existing
// columns is kept; added columns take theirs from src.
func EvolveSinkLayout(sink, src *schema.Table, mode Mode) (*schema.Table, []string, error) {
	if sink == nil || src == nil {
		return nil, nil, fmt.Errorf("evolve sink layout: missing layout (sink %v, source %v)", sink != nil, src != nil)
	}
	if mode != Upsert && mode != Changelog {
		return nil, nil, fmt.Errorf("evolve sink layout: unknown mode %s", mode)
	}
	if err := isSinkLayout(sink); err != nil {
		return nil, nil, fmt.Errorf("evolve sink layout: %w", err)
	}
	if err := CheckSource(src); err != nil {
		return nil, nil, err
	}
	orig := sink
	sink, renames := renameSinkColumns(sink, src)
	// A changelog table has no identifier fields: opened with a layout
	// of its own whose key columns it could not find by name (renamed
	// since), its layout has no key, and takes the source's.
	adoptKey := mode == Changelog && len(sink.Key) == 0 && len(src.Key) > 0
	if sk, ck := sink.KeyNames(), src.KeyNames(); !slices.Equal(sk, ck) && !adoptKey {
		return nil, nil, fmt.Errorf("the primary key changed from (%s) in the sink table to (%s) in the source; the table cannot be evolved in place and must be re-snapshotted (floe resnapshot)",
			strings.Join(sk, ", "), strings.Join(ck, ", "))
	}
	n := len(sink.Columns) - numMeta
	cols := slices.Clone(sink.Columns[:n])
	var added []schema.Column
	changes := renames
	inSrc := make([]bool, n)
	for _, c := range src.Columns {
		i := sink.Index(c.Name)
		if i < 0 {
			c.Nullable = true
			added = append(added, c)
			changes = append(changes, fmt.Sprintf("add column %s %s", c.Name, c.Type))
			continue
		}
		// i < n: CheckSource rejected metadata names.
		inSrc[i] = true
		col := &cols[i]
		switch have := col.Type; {
		case schema.SameType(have, c.Type), schema.Promotable(c.Type, have):
			// Same or narrower: values are promoted to the sink type.
		case schema.Promotable(have, c.Type):
			if slices.Contains(sink.Key, i) {
				return nil, nil, fmt.Errorf("key column %s widened from %s in the sink table to %s in the source; rows written before cannot be found or deleted by the wider key (iceberg-go reads key filters and equality deletes in each file's own type), so the table must be re-snapshotted (floe resnapshot)",
					c.Name, have, c.Type)
			}
			col.Type = c.Type
			changes = append(changes, fmt.Sprintf("widen column %s %s -> %s", c.Name, have, c.Type))
		default:
			return nil, nil, fmt.Errorf("column %s is %s in the source but %s in the sink table, and Iceberg cannot change one into the other in place; the table must be re-snapshotted (floe resnapshot)",
				c.Name, c.Type, have)
		}
		if (c.Nullable || mode == Changelog) && !col.Nullable {
			if mode == Upsert && slices.Contains(sink.Key, i) {
				return nil, nil, fmt.Errorf("key column %s became nullable in the source; an upsert table's key columns must be required: declare the column NOT NULL at the source or use changelog mode", c.Name)
			}
			col.Nullable = true
			changes = append(changes, fmt.Sprintf("make column %s optional", c.Name))
		}
	}
	for i := range cols {
		if !inSrc[i] && !cols[i].Nullable {
			cols[i].Nullable = true
			changes = append(changes, "make column "+cols[i].Name+droppedSuffix)
		}
	}
	if len(changes) == 0 {
		return orig, nil, nil
	}
	cols = append(cols, added...)
	cols = append(cols, sink.Columns[n:]...)
	out := &schema.Table{Columns: cols, Key: slices.Clone(sink.Key)}
	if adoptKey {
		for _, k := range src.KeyNames() {
			out.Key = append(out.Key, out.Index(k))
		}
	}
	return out, changes, nil
}

// renameSinkColumns returns sink with the renames src states applied
// (see EvolveSinkLayout) and the changes in words; sink itself when src
// states none that applies.
func renameSinkColumns(sink, src *schema.Table) (*schema.Table, []string) {
	n := len(sink.Columns) - numMeta
	var (
		cols    []schema.Column
		changes []string
	)
	for _, c := range src.Columns {
		if c.RenamedFrom == "" || sink.Index(c.Name) >= 0 || src.Index(c.RenamedFrom) >= 0 {
			continue
		}
		j := sink.Index(c.RenamedFrom)
		if j < 0 || j >= n {
			continue
		}
		if cols == nil {
			cols = slices.Clone(sink.Columns)
		}
		cols[j].Name, cols[j].RenamedFrom = c.Name, c.RenamedFrom
		changes = append(changes, fmt.Sprintf("rename column %s to %s", c.RenamedFrom, c.Name))
	}
	if cols == nil {
		return sink, nil
	}
	return &schema.Table{Columns: cols, Key: sink.Key}, changes
}

// ReplacedColumns returns, when src both lacks source columns of sink (a
// sink layout) and has columns sink lacks, which: gone from sink, added
// in src. Only the source can tell whether that is a rename or a drop and
// an add; EvolveSinkLayout takes it for a drop and an add unless src
// states the rename (schema.Column.RenamedFrom). Both are nil otherwise.
func ReplacedColumns(sink, src *schema.Table) (gone, added []string) {
	n := len(sink.Columns) - numMeta
	for _, c := range src.Columns {
		if sink.Index(c.Name) < 0 && (c.RenamedFrom == "" || sink.Index(c.RenamedFrom) < 0) {
			added = append(added, c.Name)
		}
	}
	for _, c := range sink.Columns[:max(n, 0)] {
		if src.Index(c.Name) < 0 && !slices.ContainsFunc(src.Columns, func(s schema.Column) bool { return s.RenamedFrom == c.Name }) {
			gone = append(gone, c.Name)
		}
	}
	if len(gone) == 0 || len(added) == 0 {
		return nil, nil
	}
	return gone, added
}
