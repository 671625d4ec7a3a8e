package postgres

import (
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pglogrepl"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/schema/pgtype"
)

// unitTable builds a table (id int4 primary key, name text, big text)
// without a database.
func unitTable(t *testing.T) *table {
	t.Helper()
	tb := &table{id: capture.TableID{Schema: "public", Name: "t"}, layout: &schema.Table{Key: []int{0}}}
	for _, c := range []struct {
		name string
		typ  pgtype.Type
		oid  uint32
	}{
		{"id", pgtype.Type{Name: "int4", OID: 23, Modifier: -1}, 23},
		{"name", pgtype.Type{Name: "text", OID: 25, Modifier: -1}, 25},
		{"big", pgtype.Type{Name: "text", OID: 25, Modifier: -1}, 25},
	} {
		col, err := pgtype.Column(c.name, c.typ, c.name == "id")
		if err != nil {
			t.Fatal(err)
		}
		d, err := pgtype.TextDecoder(col)
		if err != nil {
			t.Fatal(err)
		}
		tb.layout.Columns = append(tb.layout.Columns, col)
		tb.decoders = append(tb.decoders, d)
		tb.attTypes = append(tb.attTypes, c.oid)
		tb.attMods = append(tb.attMods, -1)
	}
	return tb
}

func tuple(cols ...string) *pglogrepl.TupleData {
	td := &pglogrepl.TupleData{ColumnNum: uint16(len(cols))}
	for _, c := range cols {
		switch c {
		case "<null>":
			td.Columns = append(td.Columns, &pglogrepl.TupleDataColumn{DataType: 'n'})
		case "<toast>":
			td.Columns = append(td.Columns, &pglogrepl.TupleDataColumn{DataType: 'u'})
		default:
			td.Columns = append(td.Columns, &pglogrepl.TupleDataColumn{DataType: 't', Data: []byte(c)})
		}
	}
	return td
}

func TestDecodeUpdate(t *testing.T) {
	tb := unitTable(t)
	tests := []struct {
		name       string
		msg        *pglogrepl.UpdateMessage
		wantBefore schema.Row
		wantAfter  schema.Row
		keyOnly    bool
		errPart    string
	}{
		{
			name:      "no old tuple, unchanged toast stays unchanged",
			msg:       &pglogrepl.UpdateMessage{NewTuple: tuple("1", "a", "<toast>")},
			wantAfter: schema.Row{int32(1), "a", schema.Unchanged},
		},
		{
			name:       "key change gives a key-only before",
			msg:        &pglogrepl.UpdateMessage{OldTupleType: 'K', OldTuple: tuple("1", "<null>", "<null>"), NewTuple: tuple("2", "a", "<toast>")},
			wantBefore: schema.Row{int32(1), nil, nil},
			wantAfter:  schema.Row{int32(2), "a", schema.Unchanged},
			keyOnly:    true,
		},
		{
			name:       "full old tuple fills unchanged values",
			msg:        &pglogrepl.UpdateMessage{OldTupleType: 'O', OldTuple: tuple("1", "a", "long value"), NewTuple: tuple("1", "<null>", "<toast>")},
			wantBefore: schema.Row{int32(1), "a", "long value"},
			wantAfter:  schema.Row{int32(1), nil, "long value"},
		},
		{
			name:       "full old tuple that is itself unchanged leaves the marker",
			msg:        &pglogrepl.UpdateMessage{OldTupleType: 'O', OldTuple: tuple("1", "a", "<toast>"), NewTuple: tuple("1", "b", "<toast>")},
			wantBefore: schema.Row{int32(1), "a", schema.Unchanged},
			wantAfter:  schema.Row{int32(1), "b", schema.Unchanged},
		},
		{
			name:    "bad value names the column",
			msg:     &pglogrepl.UpdateMessage{NewTuple: tuple("x", "a", "b")},
			errPart: "id",
		},
		{
			name:    "wrong column count",
			msg:     &pglogrepl.UpdateMessage{NewTuple: tuple("1", "a")},
			errPart: "tuple has 2 columns, the layout has 3",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := decodeUpdate(tb, tc.msg)
			if tc.errPart != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errPart) {
					t.Fatalf("error = %v, want it to contain %q", err, tc.errPart)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ch.Op != capture.OpUpdate || ch.BeforeKeyOnly != tc.keyOnly {
				t.Errorf("op %v keyOnly %v, want u %v", ch.Op, ch.BeforeKeyOnly, tc.keyOnly)
			}
			if !reflect.DeepEqual(ch.Before, tc.wantBefore) {
				t.Errorf("before = %#v, want %#v", ch.Before, tc.wantBefore)
			}
			if !reflect.DeepEqual(ch.After, tc.wantAfter) {
				t.Errorf("after = %#v, want %#v", ch.After, tc.wantAfter)
			}
		})
	}
}

func TestDecodeTupleKinds(t *testing.T) {
	tb := unitTable(t)
	row, err := decodeTuple(tb, tuple("7", "<null>", "<toast>"))
	if err != nil {
		t.Fatal(err)
	}
	if row[0] != int32(7) || row[1] != nil || !schema.IsUnchanged(row[2]) {
		t.Fatalf("row = %#v", row)
	}
	td := tuple("7", "a", "b")
	td.Columns[1].DataType = 'b'
	if _, err := decodeTuple(tb, td); err == nil || !strings.Contains(err.Error(), "name") {
		t.Fatalf("binary tuple data: error = %v, want one naming column name", err)
	}
}

// TestWidens pins the type changes the stream follows: the widenings
// that keep every value, and no narrowing or scale change.
func TestWidens(t *testing.T) {
	num := func(p, s int32) int32 { return p<<16 | s + 4 }
	for _, tc := range []struct {
		name    string
		from    uint32
		fromMod int32
		to      uint32
		toMod   int32
		want    bool
	}{
		{"int2 to int4", oidInt2, -1, oidInt4, -1, true},
		{"int2 to int8", oidInt2, -1, oidInt8, -1, true},
		{"int4 to int8", oidInt4, -1, oidInt8, -1, true},
		{"int8 to int4", oidInt8, -1, oidInt4, -1, false},
		{"int4 to int2", oidInt4, -1, oidInt2, -1, false},
		{"float4 to float8", oidFloat4, -1, oidFloat8, -1, true},
		{"float8 to float4", oidFloat8, -1, oidFloat4, -1, false},
		{"int4 to float8", oidInt4, -1, oidFloat8, -1, false},
		{"varchar(10) to varchar(20)", oidVarchar, 14, oidVarchar, 24, true},
		{"varchar(20) to varchar(10)", oidVarchar, 24, oidVarchar, 14, false},
		{"varchar(10) to varchar", oidVarchar, 14, oidVarchar, -1, true},
		{"varchar to varchar(10)", oidVarchar, -1, oidVarchar, 14, false},
		{"varchar(10) to text", oidVarchar, 14, oidText, -1, true},
		{"text to varchar(10)", oidText, -1, oidVarchar, 14, false},
		{"numeric(10,2) to numeric(12,2)", oidNumeric, num(10, 2), oidNumeric, num(12, 2), true},
		{"numeric(12,2) to numeric(10,2)", oidNumeric, num(12, 2), oidNumeric, num(10, 2), false},
		{"numeric(10,2) to numeric(12,4)", oidNumeric, num(10, 2), oidNumeric, num(12, 4), false},
		{"numeric(10,2) to numeric", oidNumeric, num(10, 2), oidNumeric, -1, false},
		{"int4 to text", oidInt4, -1, oidText, -1, false},
	} {
		if got := widens(tc.from, tc.fromMod, tc.to, tc.toMod); got != tc.want {
			t.Errorf("%s: widens = %v, want %v", tc.name, got, tc.want)
		}
	}
}
