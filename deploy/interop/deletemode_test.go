package interop

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/apache/iceberg-go"

	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/schema"
)

// TestTrinoReadsByDeleteMode writes the same upsert history (20k rows,
// then 60 checkpoints of 200 updates and 20 inserts) into two tables, one
// per sink.delete-mode, and reads both through Trino 476: both must equal
// the model; the log shows each table's delete files and the median time
// of a full aggregate scan and of a key lookup. Updates hit random keys
// ("random": a checkpoint touches many small files of earlier ones) or
// keys never updated before ("fresh": only the first file). A
// measurement beside a correctness check, not a benchmark: the machine is
// shared.
func TestTrinoReadsByDeleteMode(t *testing.T) {
	needServers(t)
	ctx := context.Background()
	tr := trino(t)
	l := newLake(t, "delmode")
	if err := tr.CreateCatalog(ctx, "delmode", l.trinoJDBCCatalog()); err != nil {
		t.Fatal(err)
	}
	layout := &schema.Table{Columns: []schema.Column{
		{Name: "id", Type: iceberg.PrimitiveTypes.Int64},
		{Name: "name", Type: iceberg.PrimitiveTypes.String},
		{Name: "qty", Type: iceberg.PrimitiveTypes.Int64},
	}, Key: []int{0}}
	for _, pattern := range []string{"random", "fresh"} {
		t.Run(pattern, func(t *testing.T) { readsByDeleteMode(t, tr, l, layout, pattern) })
	}
}

func readsByDeleteMode(t *testing.T, tr *Trino, l *lake, layout *schema.Table, pattern string) {
	ctx := context.Background()
	var model map[int64]schema.Row
	for _, mode := range []string{lakewriter.DeleteModeEquality, lakewriter.DeleteModeAuto} {
		pathStyle := true
		cat, err := lakewriter.Open(ctx, lakewriter.Options{CatalogType: "sql", URI: l.catalogDSN(), Warehouse: l.warehouse,
			S3: lakewriter.S3Options{Endpoint: sharedS3.Endpoint, Region: sharedS3.Region, PathStyle: &pathStyle,
				AccessKeyID: sharedS3.AccessKey, SecretAccessKey: sharedS3.SecretKey},
			DeleteMode: mode})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cat.Close() })
		tbl, err := cat.EnsureTable(ctx, lakewriter.Ident{Namespace: "lake", Name: pattern + "_" + mode}, layout, layout.Key)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		model = writeUpsertHistory(t, tbl, pattern == "fresh")
		t.Logf("%s: wrote the history in %s", mode, time.Since(start).Round(time.Millisecond))
	}
	var want int64
	for _, r := range model {
		want += r[2].(int64)
	}
	probe := int64(7)
	for _, mode := range []string{lakewriter.DeleteModeEquality, lakewriter.DeleteModeAuto} {
		q := "delmode.lake." + pattern + "_" + mode
		files, err := tr.Query(ctx, fmt.Sprintf(`SELECT content, count(*) FROM delmode.lake."%s_%s$files" GROUP BY content ORDER BY content`, pattern, mode))
		if err != nil {
			t.Fatal(err)
		}
		scan := medianQuery(t, tr, fmt.Sprintf("SELECT count(*), sum(qty) FROM %s", q), fmt.Sprintf("[%d %d]", len(model), want))
		lookup := medianQuery(t, tr, fmt.Sprintf("SELECT name, qty FROM %s WHERE id = %d", q, probe),
			fmt.Sprintf("[%s %d]", model[probe][1], model[probe][2]))
		t.Logf("%s: files by content (0 data, 1 position deletes, 2 equality deletes) %v; trino full scan median %s, key lookup median %s",
			mode, files.Rows, scan.Round(time.Millisecond), lookup.Round(time.Millisecond))
	}
}

// medianQuery runs sql 5 times, requires its single row to print as want,
// and returns the median duration.
func medianQuery(t *testing.T, tr *Trino, sql, want string) time.Duration {
	t.Helper()
	var ds []time.Duration
	for range 5 {
		start := time.Now()
		res, err := tr.Query(context.Background(), sql)
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, time.Since(start))
		if len(res.Rows) != 1 || fmt.Sprint(res.Rows[0]) != want {
			t.Fatalf("%s: got %v, want %s", sql, res.Rows, want)
		}
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// writeUpsertHistory commits the history TestTrinoReadsByDeleteMode reads
// (the same for every call) and returns the rows the table must hold.
func writeUpsertHistory(t *testing.T, tbl *lakewriter.Table, fresh bool) map[int64]schema.Row {
	t.Helper()
	ctx := context.Background()
	const rows, checkpoints, updates, inserts = 20_000, 60, 200, 20
	model := make(map[int64]schema.Row, rows)
	commit := func(cp int, data, keys []schema.Row) {
		props := map[string]string{"floe.pipeline": "p", "floe.checkpoint": fmt.Sprint(cp), "floe.version": "1"}
		c := lakewriter.Commit{Rows: rowSeq(data), Props: props, Token: "floe.checkpoint"}
		if keys != nil {
			c.DeleteKeys = rowSeq(keys)
		}
		if _, err := tbl.Commit(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	var initial []schema.Row
	for i := range int64(rows) {
		model[i] = schema.Row{i, "v0", i}
		initial = append(initial, model[i])
	}
	commit(0, initial, nil)
	rng := rand.New(rand.NewPCG(5, 6))
	next := int64(rows)
	for cp := 1; cp <= checkpoints; cp++ {
		touched := map[int64]bool{}
		for len(touched) < updates {
			if fresh {
				touched[int64((cp-1)*updates+len(touched))] = true
			} else {
				touched[rng.Int64N(next)] = true
			}
		}
		for range inserts {
			touched[next] = true
			next++
		}
		var data, keys []schema.Row
		for id := range touched {
			model[id] = schema.Row{id, fmt.Sprint("v", cp), id + int64(cp)}
			data = append(data, model[id])
			keys = append(keys, schema.Row{id})
		}
		commit(cp, data, keys)
	}
	return model
}
