package lakewriter

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/iceberg-go"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/schema"
)

// randomAllTypesRow is a row of allTypesLayout with random values, each
// nullable column NULL one time in four.
func randomAllTypesRow(rng *rand.Rand, id int64) schema.Row {
	layout := allTypesLayout()
	row := make(schema.Row, len(layout.Columns))
	var value func(typ iceberg.Type) any
	value = func(typ iceberg.Type) any {
		switch typ := typ.(type) {
		case iceberg.BooleanType:
			return rng.IntN(2) == 1
		case iceberg.Int32Type, iceberg.DateType:
			return int32(rng.Uint32())
		case iceberg.Int64Type, iceberg.TimeType, iceberg.TimestampType, iceberg.TimestampTzType:
			return int64(rng.Uint64())
		case iceberg.Float32Type:
			return math.Float32frombits(rng.Uint32())
		case iceberg.Float64Type:
			return math.Float64frombits(rng.Uint64())
		case iceberg.DecimalType:
			limit := int64(math.Pow10(min(typ.Precision(), 18)))
			return decimal128.FromI64(rng.Int64N(2*limit-1) - limit + 1)
		case iceberg.StringType:
			return string([]rune("aé☃𝄞\x00")[:rng.IntN(6)])
		case iceberg.BinaryType:
			b := make([]byte, rng.IntN(5))
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			return b
		case iceberg.FixedType:
			b := make([]byte, typ.Len())
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			return b
		case iceberg.UUIDType:
			var u [16]byte
			for i := range u {
				u[i] = byte(rng.Uint32())
			}
			return u
		case *iceberg.ListType:
			l := make([]any, rng.IntN(3))
			for i := range l {
				if rng.IntN(4) > 0 {
					l[i] = value(typ.Element)
				}
			}
			return l
		}
		panic(fmt.Sprintf("no random value of %s", typ))
	}
	for i, c := range layout.Columns {
		if !c.Nullable || rng.IntN(4) > 0 {
			row[i] = value(c.Type)
		}
	}
	row[0] = id
	return row
}

// TestAppendRawLikeAppend: a row appended from its encoding (encoder.add
// of an encoded row: schema.ScanRow, then the raw writers) builds the
// same Arrow batch as the row decoded and appended boxed, for every type,
// and fails with the same error where the boxed append does: NULL in a
// required column, Unchanged, a decimal beyond its column's precision.
func TestAppendRawLikeAppend(t *testing.T) {
	c, _ := openTestCatalog(t)
	tbl, layout := ensureAllTypes(t, c, "raw_like_boxed")
	encoders := func() (boxed, raw *encoder) {
		boxed, err := tbl.layoutEncoder(tbl.current().Schema())
		require.NoError(t, err)
		raw, err = tbl.layoutEncoder(tbl.current().Schema())
		require.NoError(t, err)
		t.Cleanup(func() { boxed.release(); raw.release() })
		return boxed, raw
	}
	// appendBoth appends r both ways and returns their (equal) error.
	appendBoth := func(boxed, raw *encoder, r schema.Row) error {
		t.Helper()
		b, err := schema.AppendRow(nil, layout, r)
		require.NoError(t, err)
		decoded, err := schema.DecodeRow(layout, b)
		require.NoError(t, err)
		berr := boxed.add(dataRow{row: decoded})
		rerr := raw.add(dataRow{encoded: b, isEncoded: true})
		require.Equal(t, fmt.Sprint(berr), fmt.Sprint(rerr), "row %v", r)
		require.Equal(t, boxed.bytes, raw.bytes, "estimated batch bytes after row %v", r)
		return berr
	}

	boxed, raw := encoders()
	rng := rand.New(rand.NewPCG(3, 4))
	rows := allTypesRows(t)
	for i := range 2000 {
		rows = append(rows, randomAllTypesRow(rng, int64(100+i)))
	}
	for _, r := range rows {
		require.NoError(t, appendBoth(boxed, raw, r))
	}
	want, got := boxed.flush(), raw.flush()
	defer want.Release()
	defer got.Release()
	require.EqualValues(t, len(rows), got.NumRows())
	wantRows, gotRows := rowsOfBatch(t, boxed, want), rowsOfBatch(t, raw, got)
	for i := range wantRows {
		require.Equal(t, encodedRow(t, layout, wantRows[i]), encodedRow(t, layout, gotRows[i]), "row %d: boxed %v, raw %v", i, wantRows[i], gotRows[i])
	}

	req := layout.Index("req")
	dec2 := layout.Index("dec2")
	for name, spoil := range map[string]func(schema.Row){
		"NULL in a required column": func(r schema.Row) { r[req] = nil },
		"Unchanged":                 func(r schema.Row) { r[layout.Index("s")] = schema.Unchanged },
		"decimal beyond precision":  func(r schema.Row) { r[dec2] = decimal128.FromI64(1_000_000_000) },
	} {
		boxed, raw := encoders()
		r := randomAllTypesRow(rng, 1)
		spoil(r)
		require.Error(t, appendBoth(boxed, raw, r), name)
	}
}

// TestCommitEncodedRows commits rows of every type given as encodings
// (Commit.Encoded) beside boxed ones and reads all back exactly; encoded
// rows in another layout fail the commit and land nothing.
func TestCommitEncodedRows(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	tbl, layout := ensureAllTypes(t, c, "encoded_rows")
	rows := allTypesRows(t)
	rng := rand.New(rand.NewPCG(5, 6))
	var more []schema.Row
	for i := range 300 {
		more = append(more, randomAllTypesRow(rng, int64(1000+i)))
	}
	encodedOf := func(l *schema.Table, rows []schema.Row) *EncodedRows {
		return &EncodedRows{Layout: l, Rows: func(yield func([]byte, error) bool) {
			var buf []byte // reused: a row's encoding need live only until the next
			for _, r := range rows {
				var err error
				buf, err = schema.AppendRow(buf[:0], l, r)
				if !yield(buf, err) {
					return
				}
			}
		}}
	}
	res, err := tbl.Commit(ctx, Commit{Rows: seqOf(rows[:2]...), Encoded: encodedOf(layout, append(rows[2:], more...)),
		Props: props("1"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	require.EqualValues(t, len(rows)+len(more), res.Rows)
	want := map[int64]schema.Row{}
	for _, r := range append(rows, more...) {
		want[r[0].(int64)] = r
	}
	got := scanAll(t, tbl)
	require.Len(t, got, len(want))
	for _, r := range got {
		w := want[r[0].(int64)]
		require.Equal(t, encodedRow(t, layout, w), encodedRow(t, layout, r), "row id=%v: want %v, read %v", w[0], w, r)
	}

	// Encoded rows alone, no Rows.
	last := []schema.Row{randomAllTypesRow(rng, 5000), randomAllTypesRow(rng, 5001)}
	res, err = tbl.Commit(ctx, Commit{Encoded: encodedOf(layout, last), Props: props("3"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	require.EqualValues(t, 2, res.Rows)
	for _, r := range last {
		want[r[0].(int64)] = r
	}
	got = scanAll(t, tbl)
	require.Len(t, got, len(want))
	for _, r := range got {
		require.Equal(t, encodedRow(t, layout, want[r[0].(int64)]), encodedRow(t, layout, r))
	}

	other := allTypesLayout()
	other.Columns[2].Type = iceberg.PrimitiveTypes.Int64
	_, err = tbl.Commit(ctx, Commit{Encoded: encodedOf(other, nil), Props: props("2"), Token: "floe.checkpoint"})
	require.ErrorContains(t, err, "layout column 2 is i long, the table's is i int")
	require.Len(t, scanAll(t, tbl), len(want))
}

// encodedRow is r's row encoding: equal encodings are equal rows, bit
// for bit (NaN payloads, -0).
func encodedRow(t testing.TB, l *schema.Table, r schema.Row) []byte {
	t.Helper()
	b, err := schema.AppendRow(nil, l, r)
	require.NoError(t, err)
	return b
}

// rowsOfBatch reads rec, a batch of e, back into rows of e's layout.
func rowsOfBatch(t testing.TB, e *encoder, rec arrow.RecordBatch) []schema.Row {
	t.Helper()
	rows := make([]schema.Row, rec.NumRows())
	for i := range rows {
		rows[i] = make(schema.Row, e.width)
	}
	for f := range e.writers {
		read, err := newReader(rec.Column(f), e.layout.Columns[e.pos[f]].Type)
		require.NoError(t, err)
		for i := range rows {
			rows[i][e.pos[f]] = read(i)
		}
	}
	return rows
}
