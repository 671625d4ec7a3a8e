package schema

import (
	"bytes"
	"encoding/hex"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/iceberg-go"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// allTypesTable has one column of every canonical type, a list of each
// kind, and a two-column key (long, string).
func allTypesTable() *Table {
	P := iceberg.PrimitiveTypes
	cols := []struct {
		name string
		typ  iceberg.Type
	}{
		{"b", P.Bool}, {"i", P.Int32}, {"l", P.Int64}, {"f", P.Float32}, {"d", P.Float64},
		{"dec", iceberg.DecimalTypeOf(10, 2)}, {"dec38", iceberg.DecimalTypeOf(38, 18)},
		{"s", P.String}, {"bin", P.Binary}, {"u", P.UUID}, {"dt", P.Date}, {"tm", P.Time},
		{"ts", P.Timestamp}, {"tstz", P.TimestampTz},
		{"li", &iceberg.ListType{Element: P.Int64}}, {"ls", &iceberg.ListType{Element: P.String}},
		{"ld", &iceberg.ListType{Element: iceberg.DecimalTypeOf(5, 1)}},
		{"lb", &iceberg.ListType{Element: P.Bool}}, {"lu", &iceberg.ListType{Element: P.UUID}},
		{"null", P.String}, {"unch", P.String}, {"f_neg", P.Float32},
	}
	t := &Table{Key: []int{2, 7}}
	for _, c := range cols {
		t.Columns = append(t.Columns, Column{Name: c.name, Type: c.typ, Nullable: true})
	}
	return t
}

func allTypesRow() Row {
	return Row{
		true, int32(-123456), int64(math.MinInt64), float32(1.5), -0.1,
		decimal128.FromI64(-12345), decimal128.GetMaxValue(38),
		"héllo, \"wörld\" ✓", []byte{0, 1, 0xff}, uuidOf("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
		days(-43, 3, 15), int64(DayMicros - 1), micros(2024, 1, 2, 3, 4, 5, 123456), int64(math.MaxInt64),
		[]any{int64(1), nil, int64(-1)}, []any{"a,b", "", nil}, []any{dec("-15")}, []any{false, true},
		[]any{}, nil, Unchanged, float32(math.Inf(-1)),
	}
}

func goldenCompare(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./schema -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s changed: a persisted format must keep its bytes; bump its version instead\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

// hexLines renders b as hex, 16 bytes per line, for readable golden files.
func hexLines(b []byte) []byte {
	var out strings.Builder
	for len(b) > 0 {
		n := min(16, len(b))
		out.WriteString(hex.EncodeToString(b[:n]))
		out.WriteByte('\n')
		b = b[n:]
	}
	return []byte(out.String())
}

func TestRowCodecGolden(t *testing.T) {
	tab, row := allTypesTable(), allTypesRow()
	enc, err := AppendRow(nil, tab, row)
	if err != nil {
		t.Fatal(err)
	}
	if enc[0] != RowCodecVersion || RowCodecVersion != 1 {
		t.Fatalf("first byte %d, want version 1", enc[0])
	}
	goldenCompare(t, "row_v1.golden", hexLines(enc))

	got, err := DecodeRow(tab, enc)
	if err != nil {
		t.Fatal(err)
	}
	for i := range row {
		if IsUnchanged(row[i]) != IsUnchanged(got[i]) || (!IsUnchanged(row[i]) && !sameValue(row[i], got[i])) {
			t.Errorf("column %s: got %#v, want %#v", tab.Columns[i].Name, got[i], row[i])
		}
	}
}

func TestRowCodecRoundTripBits(t *testing.T) {
	tab := &Table{Columns: []Column{{Name: "f", Type: iceberg.PrimitiveTypes.Float32}, {Name: "d", Type: iceberg.PrimitiveTypes.Float64}}}
	for _, r := range []Row{
		{float32(math.Copysign(0, -1)), math.Copysign(0, -1)},
		{math.Float32frombits(0x7fc00001), math.Float64frombits(0x7ff8000000000abc)},
		{float32(math.SmallestNonzeroFloat32), math.SmallestNonzeroFloat64},
	} {
		enc, err := AppendRow([]byte("prefix"), tab, r)
		if err != nil {
			t.Fatal(err)
		}
		if string(enc[:6]) != "prefix" {
			t.Fatal("AppendRow did not append")
		}
		got, err := DecodeRow(tab, enc[6:])
		if err != nil {
			t.Fatal(err)
		}
		if math.Float32bits(got[0].(float32)) != math.Float32bits(r[0].(float32)) || math.Float64bits(got[1].(float64)) != math.Float64bits(r[1].(float64)) {
			t.Errorf("bits changed: %v -> %v", r, got)
		}
	}
}

func TestAppendRowErrors(t *testing.T) {
	tab := allTypesTable()
	tests := []struct {
		name string
		edit func(Row) Row
		want string
	}{
		{"short row", func(r Row) Row { return r[:3] }, "3 values for 22 columns"},
		{"int for long", func(r Row) Row { r[2] = 5; return r }, "column l (long) holds int"},
		{"int64 for int", func(r Row) Row { r[1] = int64(5); return r }, "column i (int) holds int64"},
		{"string for binary", func(r Row) Row { r[8] = "x"; return r }, "column bin (binary) holds string"},
		{"bad list element", func(r Row) Row { r[14] = []any{int32(1)}; return r }, "column li"},
		{"unchanged list element", func(r Row) Row { r[15] = []any{Unchanged}; return r }, "column ls"},
		{"list for string", func(r Row) Row { r[7] = []any{}; return r }, "column s"},
		{"time.Time", func(r Row) Row { r[12] = struct{}{}; return r }, "column ts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := AppendRow([]byte("x"), tab, tt.edit(allTypesRow()))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if string(out) != "x" {
				t.Errorf("dst changed on error: %q", out)
			}
		})
	}
}

func TestDecodeRowErrors(t *testing.T) {
	tab := allTypesTable()
	good, err := AppendRow(nil, tab, allTypesRow())
	if err != nil {
		t.Fatal(err)
	}
	small := &Table{Columns: []Column{{Name: "a", Type: iceberg.PrimitiveTypes.Int32}}}
	tests := []struct {
		name string
		tab  *Table
		b    []byte
		want string
	}{
		{"empty", tab, nil, "empty"},
		{"version", tab, append([]byte{2}, good[1:]...), "unknown codec version 2"},
		{"truncated", tab, good[:len(good)-1], "corrupt"},
		{"trailing", tab, append(append([]byte{}, good...), 0), "trailing"},
		{"other table", small, good, "column count"},
		{"wrong tag", small, []byte{1, 1, tagInt64, 2}, "column a (int)"},
		{"int32 overflow", small, []byte{1, 1, tagInt32, 0x80, 0x80, 0x80, 0x80, 0x10}, "column a"},
		{"unchanged in list", &Table{Columns: []Column{{Name: "l", Type: &iceberg.ListType{Element: iceberg.PrimitiveTypes.Int32}}}}, []byte{1, 1, tagList, 1, tagUnchanged}, "column l"},
		{"huge list count", &Table{Columns: []Column{{Name: "l", Type: &iceberg.ListType{Element: iceberg.PrimitiveTypes.Int32}}}}, []byte{1, 1, tagList, 0xff, 0xff, 0xff, 0xff, 0x0f}, "column l"},
		{"huge string length", &Table{Columns: []Column{{Name: "s", Type: iceberg.PrimitiveTypes.String}}}, []byte{1, 1, tagString, 0xff, 0xff, 0xff, 0xff, 0x0f, 'a'}, "column s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeRow(tt.tab, tt.b)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestDecodeKey: DecodeKey yields the key of the row (t.Key order) and
// copies nothing else out: decoding the key of a row with a 64 MiB value
// allocates a few bytes, not the value.
func TestDecodeKey(t *testing.T) {
	tab := allTypesTable()
	row := allTypesRow()
	b, err := AppendRow(nil, tab, row)
	if err != nil {
		t.Fatal(err)
	}
	key, err := DecodeKey(tab, b)
	if err != nil {
		t.Fatal(err)
	}
	if want := KeyRow(tab, row); !reflect.DeepEqual(key, want) {
		t.Fatalf("DecodeKey = %v, want %v", key, want)
	}
	if _, err := DecodeKey(tab, b[:len(b)-1]); err == nil {
		t.Fatal("DecodeKey accepted a truncated encoding")
	}

	big := &Table{Columns: []Column{{Name: "id", Type: iceberg.PrimitiveTypes.Int64}, {Name: "body", Type: iceberg.PrimitiveTypes.String},
		{Name: "data", Type: iceberg.PrimitiveTypes.Binary}, {Name: "l", Type: &iceberg.ListType{Element: iceberg.PrimitiveTypes.String}}}, Key: []int{0}}
	value := strings.Repeat("x", 64<<20)
	b, err = AppendRow(nil, big, Row{int64(7), value, []byte(value), []any{value}})
	if err != nil {
		t.Fatal(err)
	}
	var got Row
	allocs := testing.AllocsPerRun(1, func() { got, err = DecodeKey(big, b) })
	if err != nil || !reflect.DeepEqual(got, Row{int64(7)}) {
		t.Fatalf("DecodeKey = %v, %v; want [7]", got, err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _ = DecodeKey(big, b)
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<10 || allocs > 8 {
		t.Fatalf("DecodeKey allocated %d bytes in %.0f allocations, want a few bytes: the large values must not be copied", n, allocs)
	}
}

func TestKeyEncoding(t *testing.T) {
	tab := allTypesTable()
	r := allTypesRow()
	k := AppendKey(nil, tab, r)
	if got := AppendKeyOf(nil, tab, KeyRow(tab, r)); !bytes.Equal(got, k) {
		t.Fatalf("AppendKeyOf(KeyRow) = %x, AppendKey = %x", got, k)
	}
	if kr := KeyRow(tab, r); len(kr) != 2 || kr[0] != r[2] || kr[1] != r[7] {
		t.Fatalf("KeyRow = %v", kr)
	}
	r2 := allTypesRow()
	r2[0], r2[3] = false, float32(9) // non-key columns do not matter
	if !bytes.Equal(AppendKey(nil, tab, r2), k) {
		t.Error("non-key change altered the key")
	}
	// Values that differ must give different keys, including boundary
	// cases a naive concatenation would confuse.
	two := &Table{Columns: []Column{{Name: "a", Type: iceberg.PrimitiveTypes.String}, {Name: "b", Type: iceberg.PrimitiveTypes.String}}, Key: []int{0, 1}}
	distinct := []Row{{"ab", "c"}, {"a", "bc"}, {"", "abc"}, {nil, "abc"}, {"abc", nil}, {"abc", ""}, {nil, nil}}
	seen := map[string]Row{}
	for _, r := range distinct {
		key := string(AppendKey(nil, two, r))
		if prev, dup := seen[key]; dup {
			t.Errorf("rows %q and %q share key %x", prev, r, key)
		}
		seen[key] = r
	}
	// Equal values, different bits: one key.
	ft := &Table{Columns: []Column{{Name: "f", Type: iceberg.PrimitiveTypes.Float64}, {Name: "g", Type: iceberg.PrimitiveTypes.Float32}}, Key: []int{0, 1}}
	pos := AppendKey(nil, ft, Row{0.0, float32(0)})
	neg := AppendKey(nil, ft, Row{math.Copysign(0, -1), float32(math.Copysign(0, -1))})
	nan1 := AppendKey(nil, ft, Row{math.NaN(), float32(math.NaN())})
	nan2 := AppendKey(nil, ft, Row{math.Float64frombits(0xfff0000000000123), math.Float32frombits(0xff800123)})
	if !bytes.Equal(pos, neg) || !bytes.Equal(nan1, nan2) || bytes.Equal(pos, nan1) {
		t.Errorf("float keys: +0 %x, -0 %x, NaN %x, NaN %x", pos, neg, nan1, nan2)
	}
	// A value of the wrong Go type still keys deterministically and apart.
	lt := &Table{Columns: []Column{{Name: "l", Type: iceberg.PrimitiveTypes.Int64}}, Key: []int{0}}
	if a, b := AppendKey(nil, lt, Row{5}), AppendKey(nil, lt, Row{int64(5)}); bytes.Equal(a, b) || !bytes.Equal(a, AppendKey(nil, lt, Row{5})) {
		t.Errorf("non-canonical key value: %x vs %x", a, b)
	}
}

func TestKeyEncodingGolden(t *testing.T) {
	tab := allTypesTable()
	r := allTypesRow()
	var out []byte
	for i := range tab.Columns {
		one := &Table{Columns: tab.Columns, Key: []int{i}}
		out = append(out, tab.Columns[i].Name+" "...)
		out = append(out, hex.EncodeToString(AppendKey(nil, one, r))...)
		out = append(out, '\n')
	}
	goldenCompare(t, "key_v1.golden", out)
}

// FuzzDecodeRow: DecodeRow never panics, ScanRow accepts and yields
// what it does (scanLikeDecode), and whatever it accepts
// re-encodes to bytes that decode to the same encoding again; DecodeKey
// accepts exactly what DecodeRow accepts and yields the row's key.
func FuzzDecodeRow(f *testing.F) {
	tab := allTypesTable()
	good, err := AppendRow(nil, tab, allTypesRow())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{1})
	f.Add([]byte{})
	nulls := make(Row, len(tab.Columns))
	if b, err := AppendRow(nil, tab, nulls); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		scanLikeDecode(t, tab, b)
		r, err := DecodeRow(tab, b)
		key, kerr := DecodeKey(tab, b)
		if (err == nil) != (kerr == nil) {
			t.Fatalf("DecodeRow: %v, DecodeKey: %v: they must accept the same encodings", err, kerr)
		}
		if err != nil {
			return
		}
		if want := KeyRow(tab, r); !reflect.DeepEqual(key, want) {
			t.Fatalf("DecodeKey = %v, the key of DecodeRow's row %v", key, want)
		}
		enc1, err := AppendRow(nil, tab, r)
		if err != nil {
			t.Fatalf("decoded row does not encode: %v", err)
		}
		r2, err := DecodeRow(tab, enc1)
		if err != nil {
			t.Fatalf("re-encoded row does not decode: %v", err)
		}
		enc2, _ := AppendRow(nil, tab, r2)
		if !bytes.Equal(enc1, enc2) {
			t.Fatalf("unstable encoding %x vs %x", enc1, enc2)
		}
	})
}
