package schema

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/apache/iceberg-go"
)

func TestHashRowGolden(t *testing.T) {
	tab, r := allTypesTable(), allTypesRow()
	var out strings.Builder
	all := make([]int, len(tab.Columns))
	for i := range tab.Columns {
		all[i] = i
		fmt.Fprintf(&out, "%s %016x\n", tab.Columns[i].Name, HashRow(tab, r, []int{i}))
	}
	fmt.Fprintf(&out, "all %016x\n", HashRow(tab, r, all))
	fmt.Fprintf(&out, "none %016x\n", HashRow(tab, r, nil))
	goldenCompare(t, "hash_v1.golden", []byte(out.String()))
}

func TestHashRow(t *testing.T) {
	tab := &Table{Columns: []Column{
		{Name: "id", Type: iceberg.PrimitiveTypes.Int64},
		{Name: "name", Type: iceberg.PrimitiveTypes.String},
		{Name: "x", Type: iceberg.PrimitiveTypes.Float64},
	}}
	cols := []int{0, 1, 2}
	base := Row{int64(1), "a", 0.0}
	if HashRow(tab, base, cols) != HashRow(tab, Row{int64(1), "a", math.Copysign(0, -1)}, cols) {
		t.Error("-0 and +0 hash differently")
	}
	if HashRow(tab, Row{int64(1), "a", math.NaN()}, cols) != HashRow(tab, Row{int64(1), "a", math.Float64frombits(0x7ff0000000000001)}, cols) {
		t.Error("NaNs hash differently")
	}
	differ := []Row{{int64(2), "a", 0.0}, {int64(1), "b", 0.0}, {int64(1), nil, 0.0}, {int64(1), "a", 1.0}, {nil, "a", 0.0}}
	for _, r := range differ {
		if HashRow(tab, r, cols) == HashRow(tab, base, cols) {
			t.Errorf("%v hashes like %v", r, base)
		}
	}
	if HashRow(tab, base, []int{0, 1}) == HashRow(tab, base, []int{1, 0}) {
		t.Error("column order does not matter to the hash")
	}
	if HashRow(tab, Row{int64(1), "a", 5.0}, []int{0, 1}) != HashRow(tab, base, []int{0, 1}) {
		t.Error("a column outside cols changed the hash")
	}
	long := Row{int64(1), strings.Repeat("x", 1000), 0.0}
	long2 := Row{int64(1), strings.Repeat("x", 999) + "y", 0.0}
	if HashRow(tab, long, cols) == HashRow(tab, long2, cols) {
		t.Error("long values collide")
	}
}
