package mysqltype

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
)

// storeDecimal encodes the decimal text s (digits, an optional point, an
// optional leading minus) as MySQL stores a DECIMAL(precision, scale): the
// integer digits in groups of 9 from the point leftwards, the fraction in
// groups of 9 from the point rightwards, each group big-endian in 4 bytes
// (a partial group in as few as hold it), the first bit flipped, every
// bit inverted for a negative value.
func storeDecimal(t *testing.T, s string, precision, scale int) []byte {
	t.Helper()
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, _ := strings.Cut(s, ".")
	intPart = strings.TrimLeft(intPart, "0")
	intDigits := precision - scale
	if len(intPart) > intDigits || len(frac) > scale {
		t.Fatalf("%s does not fit DECIMAL(%d,%d)", s, precision, scale)
	}
	intPart = strings.Repeat("0", intDigits-len(intPart)) + intPart
	frac += strings.Repeat("0", scale-len(frac))
	var out []byte
	put := func(digits string) {
		var x uint64
		for _, c := range digits {
			x = x*10 + uint64(c-'0')
		}
		n := 4
		if len(digits) < 9 {
			n = leftoverBytes[len(digits)]
		}
		for k := n - 1; k >= 0; k-- {
			out = append(out, byte(x>>(8*k)))
		}
	}
	if left := intDigits % 9; left > 0 {
		put(intPart[:left])
		intPart = intPart[left:]
	}
	for ; intPart != ""; intPart = intPart[9:] {
		put(intPart[:9])
	}
	for ; len(frac) >= 9; frac = frac[9:] {
		put(frac[:9])
	}
	if frac != "" {
		put(frac)
	}
	out[0] ^= 0x80
	if neg {
		for i := range out {
			out[i] = ^out[i]
		}
	}
	if len(out) != decimalWidth(precision, scale) {
		t.Fatalf("DECIMAL(%d,%d): stored %d bytes, decimalWidth says %d", precision, scale, len(out), decimalWidth(precision, scale))
	}
	return out
}

// TestBinlogDecimalText checks BinlogDecimal's text against values stored
// by an encoder written from MySQL's format: every width of both partial
// groups, zeros, negative values, and random digits.
func TestBinlogDecimalText(t *testing.T) {
	cases := []struct {
		text       string
		prec, sc   int
		want       string
		negStorage bool
	}{
		{"0", 10, 2, "0.00", false},
		{"-12345678.90", 10, 2, "-12345678.90", false},
		{"0.01", 10, 2, "0.01", false},
		{"-0.00001", 5, 5, "-0.00001", false},
		{"0.99999", 5, 5, "0.99999", false},
		{"9999999999999999999999999999.9999999999", 38, 10, "9999999999999999999999999999.9999999999", false},
		{"-12345678901234567890123456789012345.123456789012345678901234567890", 65, 30,
			"-12345678901234567890123456789012345.123456789012345678901234567890", false},
		{"1000000000", 10, 0, "1000000000", false},
		{"000000001", 18, 0, "1", false},
		{"123456789", 9, 0, "123456789", false},
		{"-0.5", 1, 1, "-0.5", false},
		{"-0", 5, 2, "-0.00", true}, // MySQL does not write it; go-mysql prints the sign
	}
	for _, c := range cases {
		v := BinlogDecimal{Precision: c.prec, Scale: c.sc, Stored: storeDecimal(t, c.text, c.prec, c.sc)}
		if got := v.String(); got != c.want {
			t.Errorf("DECIMAL(%d,%d) %s: text %q, want %q", c.prec, c.sc, c.text, got, c.want)
		}
	}

	rng := rand.New(rand.NewPCG(7, 11))
	for range 5000 {
		prec := 1 + rng.IntN(65)
		sc := rng.IntN(min(prec, 30) + 1)
		digits := func(n int) string {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte('0' + rng.IntN(10))
			}
			return string(b)
		}
		intPart := strings.TrimLeft(digits(rng.IntN(prec-sc+1)), "0")
		if intPart == "" {
			intPart = "0"
		}
		want := intPart
		if sc > 0 {
			want += "." + digits(sc)
		}
		if rng.IntN(2) == 0 && strings.Trim(want, "0.") != "" {
			want = "-" + want
		}
		v := BinlogDecimal{Precision: prec, Scale: sc, Stored: storeDecimal(t, want, prec, sc)}
		if got := v.String(); got != want {
			t.Fatalf("DECIMAL(%d,%d): text %q, want %q", prec, sc, got, want)
		}
	}
}

// TestDecodeImages decodes an image of every column kind decodeImages
// reads, built by hand as the binlog stores it, then the same image cut
// short at every byte: an error each time, never a panic or a row.
func TestDecodeImages(t *testing.T) {
	le := binary.LittleEndian
	tm := &replication.TableMapEvent{}
	var image []byte
	var want []any
	add := func(code byte, meta uint16, stored []byte, value any) {
		tm.ColumnType = append(tm.ColumnType, code)
		tm.ColumnMeta = append(tm.ColumnMeta, meta)
		image = append(image, stored...)
		want = append(want, value)
	}
	str := func(s string) *string { return &s }
	dec := storeDecimal(t, "-1234.50", 8, 2)
	add(gomysql.MYSQL_TYPE_TINY, 0, []byte{0xfe}, int8(-2))
	add(gomysql.MYSQL_TYPE_SHORT, 0, le.AppendUint16(nil, 0x8001), int16(-32767))
	add(gomysql.MYSQL_TYPE_INT24, 0, []byte{0xff, 0xff, 0xff}, int32(-1))
	add(gomysql.MYSQL_TYPE_INT24, 0, []byte{0xff, 0xff, 0x7f}, int32(8388607))
	add(gomysql.MYSQL_TYPE_LONG, 0, le.AppendUint32(nil, 0x80000000), int32(math.MinInt32))
	add(gomysql.MYSQL_TYPE_LONGLONG, 0, le.AppendUint64(nil, math.MaxUint64), int64(-1))
	add(gomysql.MYSQL_TYPE_FLOAT, 4, le.AppendUint32(nil, math.Float32bits(1.5)), float32(1.5))
	add(gomysql.MYSQL_TYPE_DOUBLE, 8, le.AppendUint64(nil, math.Float64bits(-0.25)), -0.25)
	add(gomysql.MYSQL_TYPE_YEAR, 0, []byte{124}, 2024)
	add(gomysql.MYSQL_TYPE_YEAR, 0, []byte{0}, 0)
	add(gomysql.MYSQL_TYPE_BIT, 1<<8|2, []byte{0x03, 0x01}, int64(0x0301)) // BIT(10): a byte and 2 bits
	add(gomysql.MYSQL_TYPE_NEWDECIMAL, 8<<8|2, dec, &BinlogDecimal{Precision: 8, Scale: 2, Stored: dec})
	add(gomysql.MYSQL_TYPE_DATE, 0, []byte{0x3d, 0xe8, 0x0f}, &BinlogTemporal{Code: gomysql.MYSQL_TYPE_DATE, Packed: 0x3de80f})
	add(gomysql.MYSQL_TYPE_VARCHAR, 20, append([]byte{2}, "hi"...), str("hi"))
	add(gomysql.MYSQL_TYPE_VARCHAR, 300, append(le.AppendUint16(nil, 3), "abc"...), str("abc"))
	add(gomysql.MYSQL_TYPE_STRING, 0xfe<<8|4, append([]byte{1}, 'x'), str("x"))
	add(gomysql.MYSQL_TYPE_STRING, 0xf7<<8|2, le.AppendUint16(nil, 300), int64(300)) // ENUM of 2 bytes
	add(gomysql.MYSQL_TYPE_STRING, 0xf8<<8|3, []byte{0x05, 0x00, 0x01}, int64(0x010005))
	add(gomysql.MYSQL_TYPE_BLOB, 3, append([]byte{2, 0, 0}, 0, 0xff), str("\x00\xff"))
	add(gomysql.MYSQL_TYPE_BLOB, 1, []byte{0}, str(""))
	n := len(want)
	// One NULL column: a NULL takes a bit in the bitmap and no bytes.
	tm.ColumnType = append(tm.ColumnType, gomysql.MYSQL_TYPE_LONG)
	tm.ColumnMeta = append(tm.ColumnMeta, 0)
	want = append(want, nil)
	nulls := make([]byte, (n+1+7)/8)
	nulls[n>>3] |= 1 << (n & 7)
	data := append(append([]byte{}, nulls...), image...)

	plan, ok := planImages(tm)
	if !ok {
		t.Fatal("planImages refused a table of common types")
	}
	e := &replication.RowsEvent{}
	if err := decodeImages(e, plan, append(append([]byte{}, data...), data...)); err != nil {
		t.Fatal(err)
	}
	if len(e.Rows) != 2 {
		t.Fatalf("%d rows, want 2", len(e.Rows))
	}
	for r, row := range e.Rows {
		if !reflect.DeepEqual(row, want) {
			for i := range want {
				if !reflect.DeepEqual(row[i], want[i]) {
					t.Errorf("row %d column %d (type %d): %#v, want %#v", r, i, tm.ColumnType[i], row[i], want[i])
				}
			}
		}
	}
	if len(e.SkippedColumns) != 0 {
		t.Errorf("SkippedColumns %v, want none", e.SkippedColumns)
	}
	// A RowsEvent decoded again (as BenchmarkDecodeRowsEvent does) holds
	// the new event's rows only.
	if err := decodeImages(e, plan, data); err != nil {
		t.Fatalf("decoding into a used RowsEvent: %v", err)
	}
	if len(e.Rows) != 1 || !reflect.DeepEqual(e.Rows[0], want) {
		t.Errorf("decoding into a used RowsEvent: %d rows, want the one of the new event", len(e.Rows))
	}

	for cut := 1; cut < len(data); cut++ {
		e := &replication.RowsEvent{}
		if err := decodeImages(e, plan, data[:cut]); err == nil {
			t.Errorf("image cut to %d of %d bytes: decoded %d rows, no error", cut, len(data), len(e.Rows))
		}
	}
}

// TestPlanImagesLeavesOthersToGoMySQL: a table with a column of a type
// decodeImages does not read, or with metadata it cannot hold, is left
// to go-mysql whole.
func TestPlanImagesLeavesOthersToGoMySQL(t *testing.T) {
	for _, c := range []struct {
		code byte
		meta uint16
	}{
		{gomysql.MYSQL_TYPE_JSON, 4},
		{gomysql.MYSQL_TYPE_GEOMETRY, 4},
		{gomysql.MYSQL_TYPE_TIME2, 0},
		{gomysql.MYSQL_TYPE_TIME, 0},
		{gomysql.MYSQL_TYPE_DATETIME, 0},
		{gomysql.MYSQL_TYPE_TIMESTAMP, 0},
		{gomysql.MYSQL_TYPE_NULL, 0},
		{gomysql.MYSQL_TYPE_DATETIME2, 7},
		{gomysql.MYSQL_TYPE_BLOB, 5},
		{gomysql.MYSQL_TYPE_STRING, 0xf7<<8 | 3},
		{gomysql.MYSQL_TYPE_NEWDECIMAL, 66 << 8},
		{gomysql.MYSQL_TYPE_BIT, 9 << 8},
	} {
		tm := &replication.TableMapEvent{
			ColumnType: []byte{gomysql.MYSQL_TYPE_LONG, c.code},
			ColumnMeta: []uint16{0, c.meta},
		}
		if _, ok := planImages(tm); ok {
			t.Errorf("type %d meta %#x: planImages accepted it", c.code, c.meta)
		}
	}
}

// TestGoMySQLKeepsCompressedField pins what decodable reads by
// reflection: go-mysql's RowsEvent says in a bool field that a MariaDB
// rows event is compressed. Without it, every event goes to go-mysql.
func TestGoMySQLKeepsCompressedField(t *testing.T) {
	if compressedField < 0 {
		t.Fatal("go-mysql's RowsEvent has no bool field \"compressed\": DecodeRowsEvent leaves every event to go-mysql")
	}
}

// TestDecodeImagesCopiesStringsOfLargeEvents: the strings of an event up
// to viewEventBytes are views of its bytes; past that, copies, so that a
// small value the decoders keep as it is cannot keep a large event alive.
func TestDecodeImagesCopiesStringsOfLargeEvents(t *testing.T) {
	tm := &replication.TableMapEvent{
		ColumnType: []byte{gomysql.MYSQL_TYPE_VARCHAR, gomysql.MYSQL_TYPE_BLOB},
		ColumnMeta: []uint16{20, 4},
	}
	plan, ok := planImages(tm)
	if !ok {
		t.Fatal("planImages refused VARCHAR and BLOB")
	}
	for _, blob := range []int{100, viewEventBytes} {
		data := append([]byte{0, 2}, "hi"...) // no NULLs; VARCHAR "hi"
		data = binary.LittleEndian.AppendUint32(data, uint32(blob))
		data = append(data, make([]byte, blob)...)
		e := &replication.RowsEvent{}
		if err := decodeImages(e, plan, data); err != nil {
			t.Fatal(err)
		}
		s := *e.Rows[0][0].(*string)
		if s != "hi" {
			t.Fatalf("VARCHAR = %q, want hi", s)
		}
		view := unsafe.StringData(s) == &data[2]
		if large := len(data) > viewEventBytes; view == large {
			t.Errorf("event of %d bytes: string is a view of the event: %v, want %v", len(data), view, !large)
		}
	}
}
