package transform

import (
	"fmt"
	"sync"

	"github.com/apache/iceberg-go"
	"github.com/floe-cdc/floe/schema"
)

// Metadata columns appended to every sink table, after the source columns
// and in this order.
const (
	ColOp  = "_floe_op"  // string: c, u, d, r (t for a changelog truncate)
	ColTS  = "_floe_ts"  // timestamptz: source commit time
	ColPos = "_floe_pos" // string: capture.Position.String() of the change's batch
	ColSeq = "_floe_seq" // long: order of the change inside its batch, from 0
)

// numMeta is the number of metadata columns.
const numMeta = 4

var metaSource = schema.TypeName("floe")

// metaColumns returns the metadata columns in layout order.
func metaColumns() []schema.Column {
	return []schema.Column{
		{Name: ColOp, Type: iceberg.PrimitiveTypes.String, Source: metaSource},
		{Name: ColTS, Type: iceberg.PrimitiveTypes.TimestampTz, Source: metaSource},
		{Name: ColPos, Type: iceberg.PrimitiveTypes.String, Source: metaSource},
		{Name: ColSeq, Type: iceberg.PrimitiveTypes.Int64, Source: metaSource},
	}
}

// Mode is how changes are written to a sink table.
type Mode int

const (
	// Upsert keeps one row per key: the table mirrors the source table.
	Upsert Mode = iota
	// Changelog appends every change as a row.
	Changelog
)

// String returns the configuration spelling of m.
func (m Mode) String() string {
	switch m {
	case Upsert:
		return "upsert"
	case Changelog:
		return "changelog"
	}
	return fmt.Sprintf("mode(%d)", int(m))
}

// ParseMode parses "upsert" or "changelog".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "upsert":
		return Upsert, nil
	case "changelog":
		return Changelog, nil
	}
	return 0, fmt.Errorf("unknown mode %q (want upsert or changelog)", s)
}

type layoutKey struct {
	src  *schema.Table
	mode Mode
}

var layoutCache struct {
	sync.Mutex
	m map[layoutKey]*schema.Table
}

// SinkLayout returns the layout of the sink table for source layout src:
// the source columns followed by the metadata columns, with the same Key
// ordinals. In Changelog mode every source column is nullable (a delete
// carries only the key, and a truncate row carries no source values), so
// a changelog table must not declare Iceberg identifier fields.
//
// The same (src, mode) always yields the same *schema.Table. SinkLayout
// panics if a source column is named like a metadata column; callers that
// handle layouts from a live source use BuildSinkLayout, which returns
// that as an error.
func SinkLayout(src *schema.Table, mode Mode) *schema.Table {
	t, err := BuildSinkLayout(src, mode)
	if err != nil {
		panic(err)
	}
	return t
}

// BuildSinkLayout is SinkLayout returning a name collision with a
// metadata column as an error.
func BuildSinkLayout(src *schema.Table, mode Mode) (*schema.Table, error) {
	layoutCache.Lock()
	defer layoutCache.Unlock()
	k := layoutKey{src, mode}
	if t, ok := layoutCache.m[k]; ok {
		return t, nil
	}
	if err := CheckSource(src); err != nil {
		return nil, err
	}
	cols := make([]schema.Column, 0, len(src.Columns)+numMeta)
	cols = append(cols, src.Columns...)
	if mode == Changelog {
		for i := range cols {
			cols[i].Nullable = true
		}
	}
	cols = append(cols, metaColumns()...)
	t := &schema.Table{Columns: cols, Key: append([]int(nil), src.Key...)}
	if layoutCache.m == nil {
		layoutCache.m = map[layoutKey]*schema.Table{}
	}
	layoutCache.m[k] = t
	return t, nil
}

// CheckSource reports an error if a column of src is named like one of
// the metadata columns.
func CheckSource(src *schema.Table) error {
	for _, c := range src.Columns {
		switch c.Name {
		case ColOp, ColTS, ColPos, ColSeq:
			return fmt.Errorf("source column %s collides with a floe metadata column; rename it or exclude the table", c.Name)
		}
	}
	return nil
}

// isSinkLayout checks that t ends with the metadata columns.
func isSinkLayout(t *schema.Table) error {
	n := len(t.Columns) - numMeta
	if n < 0 {
		return fmt.Errorf("layout %s has no floe metadata columns", t)
	}
	for i, m := range metaColumns() {
		c := t.Columns[n+i]
		if c.Name != m.Name || !c.Type.Equals(m.Type) {
			return fmt.Errorf("layout %s: column %d is %s %s, want metadata column %s %s", t, n+i, c.Name, c.Type, m.Name, m.Type)
		}
	}
	for _, k := range t.Key {
		if k < 0 || k >= n {
			return fmt.Errorf("layout %s: key ordinal %d is not a source column", t, k)
		}
	}
	return nil
}
