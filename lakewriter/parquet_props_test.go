package lakewriter

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/schema"
)

// TestNewTablesWriteNoDictionary: the data files of a table Floe creates
// have no dictionary pages: on the benchmark's rows they made zstd files
// no smaller and cost ~18 % of a snapshot's CPU (lakewriter/catalog.go,
// tableProperties).
func TestNewTablesWriteNoDictionary(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	tbl := ensureSimple(t, c, "nodict")
	assert.Equal(t, "false", tbl.tbl.Properties()["parquet.enable.dictionary"])

	enc, err := tbl.NewRowEncoder()
	require.NoError(t, err)
	defer enc.Release()
	w, err := tbl.NewDataWriter(ctx)
	require.NoError(t, err)
	// Few distinct values: the rows a dictionary suits best.
	for i := range 1000 {
		require.NoError(t, enc.Append(schema.Row{int64(i), fmt.Sprint("status", i%4), int32(i % 7)}))
	}
	b, err := enc.Batch()
	require.NoError(t, err)
	require.NoError(t, w.Write(b))
	data, err := w.Close(ctx)
	require.NoError(t, err)
	defer w.Abort(ctx)
	require.NotEmpty(t, data.files)
	for _, df := range data.files {
		path := strings.TrimPrefix(df.FilePath(), "file://")
		r, err := file.OpenParquetFile(path, false)
		require.NoError(t, err)
		for g := range r.NumRowGroups() {
			rg := r.MetaData().RowGroup(g)
			for col := range rg.NumColumns() {
				cc, err := rg.ColumnChunk(col)
				require.NoError(t, err)
				assert.False(t, cc.HasDictionaryPage(), "%s: column %d has a dictionary page", path, col)
			}
		}
		require.NoError(t, r.Close())
	}
}
