package lakewriter

import (
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/schema"
)

// encodeRows encodes rows with a RowEncoder of tbl, perBatch rows a batch.
func encodeRows(t *testing.T, tbl *Table, rows []schema.Row, perBatch int) []*RowBatch {
	t.Helper()
	enc, err := tbl.NewRowEncoder()
	require.NoError(t, err)
	defer enc.Release()
	var out []*RowBatch
	for i, r := range rows {
		require.NoError(t, enc.Append(r))
		if (i+1)%perBatch == 0 {
			b, err := enc.Batch()
			require.NoError(t, err)
			out = append(out, b)
		}
	}
	b, err := enc.Batch()
	require.NoError(t, err)
	if b != nil {
		out = append(out, b)
	}
	return out
}

func parquetFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".parquet") {
			n++
		}
		return err
	}))
	return n
}

// TestDataWriterEqualsRows: rows encoded by a RowEncoder, written ahead by
// a DataWriter and committed as Commit.Data read back exactly like the
// same rows committed as Commit.Rows, also mixed with Rows in one commit.
func TestDataWriterEqualsRows(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	viaRows, _ := ensureAllTypes(t, c, "via_rows")
	viaData, _ := ensureAllTypes(t, c, "via_data")

	var rows []schema.Row
	for i := int64(0); i < 50; i++ {
		rows = append(rows, schema.Row{
			i, i%2 == 0, int32(i), -i, float32(i) / 2, float64(i) / 3,
			mustDecimal(t, "12345.6789012345", 38, 10), mustDecimal(t, "-0.05", 9, 2),
			"héllo", []byte{byte(i), 1}, []byte("abcd"), [16]byte{byte(i)},
			int32(19723), int64(45296789012), int64(1700000000123456), i,
			[]any{int32(1), nil}, []any{"a", nil}, []any{mustDecimal(t, "1.10", 9, 2)},
			[]any{[]any{i}, nil}, "x", i,
		})
	}
	rows[7] = schema.Row{int64(7), nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil,
		nil, nil, nil, nil, nil, nil, nil, nil, "", int64(-1)}

	_, err := viaRows.Commit(ctx, Commit{Rows: seqOf(rows...), Props: props("1"), Token: "floe.checkpoint"})
	require.NoError(t, err)

	// Two writers (as two checkpoints' worth would be), the last rows via Rows.
	var data []*WrittenData
	for _, part := range [][]schema.Row{rows[:20], rows[20:45]} {
		w, err := viaData.NewDataWriter(ctx)
		require.NoError(t, err)
		for _, b := range encodeRows(t, viaData, part, 8) {
			require.NoError(t, w.Write(b))
		}
		wd, err := w.Close(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(len(part)), wd.Rows())
		data = append(data, wd)
	}
	res, err := viaData.Commit(ctx, Commit{Data: data, Rows: seqOf(rows[45:]...), Props: props("1"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	require.Equal(t, int64(len(rows)), res.Rows)
	require.Equal(t, scanAll(t, viaRows), scanAll(t, viaData))
}

// TestDataWriterAbort: aborted files are removed and never committed; a
// value a Commit would reject is rejected by the RowEncoder.
func TestDataWriterAbort(t *testing.T) {
	ctx := context.Background()
	c, dir := openTestCatalog(t)
	tbl := ensureSimple(t, c, "aborted")
	w, err := tbl.NewDataWriter(ctx)
	require.NoError(t, err)
	for _, b := range encodeRows(t, tbl, []schema.Row{simpleRow(1, "a"), simpleRow(2, "b")}, 1) {
		require.NoError(t, w.Write(b))
	}
	_, err = w.Close(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, parquetFiles(t, dir))
	w.Abort(ctx) // after Close: the files are dropped
	require.Equal(t, 0, parquetFiles(t, dir))
	require.Empty(t, scanAll(t, tbl))

	enc, err := tbl.NewRowEncoder()
	require.NoError(t, err)
	defer enc.Release()
	err = enc.Append(schema.Row{int64(3), nil, int32(1)}) // name is required
	require.ErrorContains(t, err, "NULL in a required column")
	_, err = enc.Batch()
	require.Error(t, err)
	require.Error(t, enc.Append(schema.Row{int64(3), schema.Unchanged, int32(1)}))
}

// TestCommitRejectsDataOfOldSchema: files written for a schema the table
// no longer has are not committed.
func TestCommitRejectsDataOfOldSchema(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	tbl := ensureSimple(t, c, "evolved")
	w, err := tbl.NewDataWriter(ctx)
	require.NoError(t, err)
	for _, b := range encodeRows(t, tbl, []schema.Row{simpleRow(1, "a")}, 10) {
		require.NoError(t, w.Write(b))
	}
	wd, err := w.Close(ctx)
	require.NoError(t, err)

	require.NoError(t, tbl.Maintain(ctx, func(ctx context.Context, it *table.Table) (*table.Table, error) {
		tx := it.NewTransaction()
		if err := tx.UpdateSchema(true, false).AddColumn([]string{"extra"}, iceberg.PrimitiveTypes.String, "", false, nil).Commit(); err != nil {
			return nil, err
		}
		return tx.Commit(ctx)
	}))
	_, err = tbl.Commit(ctx, Commit{Data: []*WrittenData{wd}, Props: props("1"), Token: "floe.checkpoint"})
	require.ErrorContains(t, err, "written for schema")
}
