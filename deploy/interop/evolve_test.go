package interop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/iceberg-go"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/compaction"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/transform"
)

// evoCols are the compared columns of the evolved table, in sink layout
// order: the source columns of layout v2, then Floe's metadata columns.
var evoCols = []col{
	{"id", kInt}, {"a", kInt}, {"f", kFloat64}, {"d", kDecimal}, {"s2", kString}, {"n", kString},
	{transform.ColOp, kString}, {transform.ColTS, kTimestamptz}, {transform.ColPos, kString}, {transform.ColSeq, kInt},
}

// evoTrinoTypes and evoPyTypes are the column types of the evolved table
// as Trino (DESCRIBE) and PyIceberg (Table.schema()) report them.
var (
	evoTrinoTypes = []string{"id bigint", "a bigint", "f double", "d decimal(12,2)", "s2 varchar", "n varchar",
		"_floe_op varchar", "_floe_ts timestamp(6) with time zone", "_floe_pos varchar", "_floe_seq bigint"}
	evoPyTypes = []string{"id long required", "a long required", "f double required", "d decimal(12,2) required",
		"s2 string optional", "n string optional", "_floe_op string required", "_floe_ts timestamptz required",
		"_floe_pos string required", "_floe_seq long required"}
)

// evoSources are the source layouts of the evolved table: v1 is (id long
// key, a int, f float, d decimal(9,2), s string nullable); v2 widens a to
// long, f to double, d to decimal(12,2), renames s to s2 (the sink keeps
// its field id, so v1 files read back under s2) and adds n string nullable.
func evoSources() (v1, v2 *schema.Table) {
	P := iceberg.PrimitiveTypes
	v1 = &schema.Table{Columns: []schema.Column{
		{Name: "id", Type: P.Int64},
		{Name: "a", Type: P.Int32},
		{Name: "f", Type: P.Float32},
		{Name: "d", Type: iceberg.DecimalTypeOf(9, 2)},
		{Name: "s", Type: P.String, Nullable: true},
	}, Key: []int{0}}
	v2 = &schema.Table{Columns: []schema.Column{
		{Name: "id", Type: P.Int64},
		{Name: "a", Type: P.Int64},
		{Name: "f", Type: P.Float64},
		{Name: "d", Type: iceberg.DecimalTypeOf(12, 2)},
		{Name: "s2", Type: P.String, Nullable: true, RenamedFrom: "s"}, // renamed: v1 files read under s2
		{Name: "n", Type: P.String, Nullable: true},
	}, Key: []int{0}}
	return v1, v2
}

// evoModel is the expected content of the evolved table: by id, the
// values of evoCols as Go values (int64, float64, decimal text with two
// fractional digits, string or nil).
type evoModel map[int64][]any

// put records the row the Buffer writes for a change with op and new
// image img (in v1 or v2, promoted to v2; n is NULL for v1 images) and meta.
func (m evoModel) put(op capture.Op, img schema.Row, meta transform.Meta) {
	row := make([]any, len(evoCols))
	row[0] = img[0]
	switch a := img[1].(type) {
	case int32:
		row[1] = int64(a) // int -> long
	default:
		row[1] = a
	}
	switch f := img[2].(type) {
	case float32:
		row[2] = float64(f) // float -> double, exact
	default:
		row[2] = f
	}
	row[3] = decText(img[3].(decimal128.Num))
	row[4] = img[4]
	if len(img) > 5 {
		row[5] = img[5]
	}
	row[6], row[7], row[8], row[9] = op.String(), meta.CommitMicros, meta.Pos, meta.Seq
	m[img[0].(int64)] = row
}

// table renders the model as canonical rows.
func (m evoModel) table(t *testing.T) table {
	t.Helper()
	out := table{}
	for _, row := range m {
		raw := make([]*string, len(row))
		for i, v := range row {
			var s string
			switch v := v.(type) {
			case nil:
				continue
			case int64:
				s = strconv.FormatInt(v, 10)
			case float64:
				s = strconv.FormatFloat(v, 'g', -1, 64)
			case string:
				s = v
			default:
				t.Fatalf("model value %v of type %T", v, v)
			}
			raw[i] = &s
		}
		vals := canonRow(t, "go", evoCols, raw)
		out[vals[0]] = vals
	}
	return out
}

// dec is the decimal with unscaled value u (scale 2 in both layouts).
func dec(u int64) decimal128.Num { return decimal128.FromI64(u) }

// decText renders a scale-2 decimal as plain digits.
func decText(n decimal128.Num) string {
	u := n.BigInt().Int64()
	sign := ""
	if u < 0 {
		sign, u = "-", -u
	}
	return fmt.Sprintf("%s%d.%02d", sign, u/100, u%100)
}

// commitChanges applies changes (each with its own source layout) to a
// transform.Buffer on the table's current layout in Upsert mode, as the
// coordinator does for one checkpoint, records the resulting rows in
// model and commits the buffer. Every change is consecutive in one batch
// at pos, committed at micros.
func commitChanges(t *testing.T, tbl *lakewriter.Table, model evoModel, checkpoint int, pos string, micros int64, changes ...capture.Change) lakewriter.CommitResult {
	t.Helper()
	ctx := context.Background()
	buf, err := transform.NewBuffer(transform.BufferOptions{Layout: tbl.Layout(), Mode: transform.Upsert,
		SpillDir: t.TempDir(), Table: tbl.Ident().String()})
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close()
	for i, ch := range changes {
		ch.Table = capture.TableID{Schema: "app", Name: "evo"}
		meta := transform.Meta{Pos: pos, CommitMicros: micros, Seq: int64(i)}
		if err := buf.Apply(ch, meta); err != nil {
			t.Fatalf("apply change %d: %v", i, err)
		}
		if ch.Op == capture.OpDelete {
			delete(model, ch.Before[0].(int64))
		} else {
			model.put(ch.Op, ch.After, meta)
		}
	}
	if keys := buf.PendingKeys(); len(keys) > 0 {
		t.Fatalf("buffer needs %d lookups; the changes carry full images", len(keys))
	}
	c := lakewriter.Commit{Rows: buf.Rows(), Props: map[string]string{"floe.checkpoint": strconv.Itoa(checkpoint)},
		Token: "floe.checkpoint"}
	if buf.NumDeleteKeys() > 0 {
		c.DeleteKeys = buf.DeleteKeys()
	}
	res, err := tbl.Commit(ctx, c)
	if err != nil {
		t.Fatalf("commit %d: %v", checkpoint, err)
	}
	return res
}

// pyIcebergSchema returns the table's schema as PyIceberg reports it, one
// "name type required|optional" per field (types without spaces).
func pyIcebergSchema(t *testing.T, props map[string]string, name string) []string {
	t.Helper()
	const script = `import json, os, sys
from pyiceberg.catalog import load_catalog
cat = load_catalog("floe", **json.loads(os.environ["FLOE_PY_CATALOG"]))
tbl = cat.load_table(sys.argv[1])
json.dump([[f.name, str(f.field_type), f.required] for f in tbl.schema().fields], sys.stdout)
`
	cfg, err := json.Marshal(props)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python(t).Bin, "-c", script, name)
	cmd.Env = append(cmd.Environ(), "FLOE_PY_CATALOG="+string(cfg))
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("pyiceberg schema of %s: %v\n%s", name, err, tail(string(ee.Stderr), 30))
		}
		t.Fatalf("pyiceberg schema of %s: %v", name, err)
	}
	var fields [][3]any
	if err := json.Unmarshal(out, &fields); err != nil {
		t.Fatalf("decode pyiceberg schema: %v\n%.500s", err, out)
	}
	res := make([]string, len(fields))
	for i, f := range fields {
		req := "optional"
		if f[2] == true {
			req = "required"
		}
		res[i] = fmt.Sprintf("%v %s %s", f[0], strings.ReplaceAll(fmt.Sprint(f[1]), " ", ""), req)
	}
	return res
}

// trinoTypes returns "name type" of every column of qualified as Trino's
// DESCRIBE reports it.
func trinoTypes(t *testing.T, tr *Trino, qualified string) []string {
	t.Helper()
	res, err := tr.Query(context.Background(), "DESCRIBE "+qualified)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(res.Rows))
	for i, r := range res.Rows {
		out[i] = fmt.Sprintf("%v %v", r[0], r[1])
	}
	return out
}

// TestEvolvedTableReaders writes a table through lakewriter in layout v1
// (the rows of a snapshot), evolves it as the coordinator does
// (EvolveSinkLayout + Table.Evolve: a int -> long, f float -> double,
// d decimal(9,2) -> decimal(12,2), n string added before the metadata
// columns), writes rows in v2 (snapshot rows, then updates of v1 rows,
// a delete and inserts with NULL and non-NULL n, which write equality
// deletes), compacts, and after every step reads the table through Trino
// (JDBC catalog on PostgreSQL, S3 on versitygw) and PyIceberg: every
// column of every row must equal what was written (v1 rows with n NULL
// and a, f, d promoted) and both readers must report the v2 types.
// Finally Evolve must refuse narrowing layouts and leave the table as
// it was.
func TestEvolvedTableReaders(t *testing.T) {
	needServers(t)
	ctx := context.Background()
	start := time.Now()
	tr := trino(t)
	python(t)
	l := newLake(t, "evolve")
	pathStyle := true
	// Equality deletes on purpose: the stage "v2 changes with equality
	// deletes" reads them against v1 files (position deletes are read
	// through Trino and PyIceberg by TestTrinoEndToEnd).
	cat, err := lakewriter.Open(ctx, lakewriter.Options{CatalogType: "sql", URI: l.catalogDSN(), Warehouse: l.warehouse,
		S3: lakewriter.S3Options{Endpoint: sharedS3.Endpoint, Region: sharedS3.Region, PathStyle: &pathStyle,
			AccessKeyID: sharedS3.AccessKey, SecretAccessKey: sharedS3.SecretKey},
		DeleteMode: lakewriter.DeleteModeEquality})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	if err := tr.CreateCatalog(ctx, "evolve", l.trinoJDBCCatalog()); err != nil {
		t.Fatal(err)
	}
	const qualified = "evolve.lake.evo"
	pyCat := l.pySQLCatalog()

	srcV1, srcV2 := evoSources()
	sinkV1, err := transform.BuildSinkLayout(srcV1, transform.Upsert)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := cat.EnsureTable(ctx, lakewriter.Ident{Namespace: "lake", Name: "evo"}, sinkV1, sinkV1.Key)
	if err != nil {
		t.Fatal(err)
	}
	model := evoModel{}
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC).UnixMicro()
	read := func(img schema.Row) capture.Change {
		return capture.Change{Op: capture.OpRead, Schema: srcV1, After: img}
	}
	// Snapshot rows in v1: edge values of int, float and decimal(9,2).
	commitChanges(t, tbl, model, 1, "snap-1", t0,
		read(schema.Row{int64(1), int32(math.MaxInt32), float32(1.1), dec(999999999), "one"}),
		read(schema.Row{int64(2), int32(math.MinInt32), float32(-2.5e-3), dec(-999999999), nil}),
		read(schema.Row{int64(3), int32(0), float32(math.NaN()), dec(1), "drei ü"}),
		read(schema.Row{int64(4), int32(42), float32(math.Inf(1)), dec(-50), ""}),
		read(schema.Row{int64(5), int32(-7), float32(math.MaxFloat32), dec(12345), "five"}),
		read(schema.Row{int64(6), int32(7), float32(math.SmallestNonzeroFloat32), dec(100), "six"}),
	)

	// Evolve as the coordinator does: from the table's own layout.
	v1SchemaID := tbl.SchemaID()
	sinkV2, changes, err := transform.EvolveSinkLayout(tbl.Layout(), srcV2, transform.Upsert)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("evolution: %s", strings.Join(changes, "; "))
	if err := tbl.Evolve(ctx, sinkV2); err != nil {
		t.Fatal(err)
	}
	if tbl.SchemaID() == v1SchemaID {
		t.Fatalf("schema id is still %d after Evolve", v1SchemaID)
	}

	const (
		pyScan     = "pyiceberg scan"
		pyFallback = "pyiceberg manifests + equality deletes applied by the script"
	)
	// check reads the table through Trino and, when pyReader is set,
	// PyIceberg (through that reader of read_tables.py), and compares
	// rows and types with the model.
	check := func(stage string, pyReader string) {
		t.Helper()
		want := model.table(t)
		begin := time.Now()
		cnt, err := tr.Query(ctx, "SELECT count(*) FROM "+qualified)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(cnt.Rows[0][0]); got != strconv.Itoa(len(want)) {
			t.Errorf("%s: trino count(*) = %s, want %d", stage, got, len(want))
		}
		if d := diff(want, readTrino(t, tr, qualified, evoCols), evoCols, 40); len(d) > 0 {
			t.Errorf("%s: trino differs from what was written:\n%s", stage, strings.Join(d, "\n"))
		}
		if got := trinoTypes(t, tr, qualified); !slices.Equal(got, evoTrinoTypes) {
			t.Errorf("%s: trino column types:\n got %q\nwant %q", stage, got, evoTrinoTypes)
		}
		t.Logf("%s: trino read %d rows in %s", stage, len(want), time.Since(begin).Round(time.Millisecond))
		if pyReader == "" {
			return
		}
		begin = time.Now()
		p := readPython(t, pyCat, "lake.evo")["lake.evo"]
		if p.Reader != pyReader {
			t.Errorf("%s: pyiceberg read through %q, want %q", stage, p.Reader, pyReader)
		}
		if d := diff(want, pyTable(t, p, evoCols), evoCols, 40); len(d) > 0 {
			t.Errorf("%s: pyiceberg differs from what was written:\n%s", stage, strings.Join(d, "\n"))
		}
		if got := pyIcebergSchema(t, pyCat, "lake.evo"); !slices.Equal(got, evoPyTypes) {
			t.Errorf("%s: pyiceberg schema:\n got %q\nwant %q", stage, got, evoPyTypes)
		}
		arrow := map[string]string{}
		for i, c := range p.Columns {
			arrow[c] = p.Types[i]
		}
		for c, want := range map[string]string{"a": "int64", "f": "double", "d": "decimal128(12, 2)", "n": "string"} {
			if got := strings.TrimPrefix(arrow[c], "large_"); got != want {
				t.Errorf("%s: pyiceberg reads column %s as arrow %s, want %s", stage, c, arrow[c], want)
			}
		}
		t.Logf("%s: pyiceberg read %d rows in %s", stage, len(want), time.Since(begin).Round(time.Millisecond))
	}
	// oldFiles counts the live data files written before the evolution
	// (metrics for the v1 columns only, none for n): the checks are only
	// meaningful while there is one.
	oldFiles := func() int {
		t.Helper()
		res, err := tr.Query(ctx, fmt.Sprintf(`SELECT count(*) FROM evolve.lake."evo$files" WHERE content = 0 AND cardinality(value_counts) = %d`, len(evoCols)-1))
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.Atoi(fmt.Sprint(res.Rows[0][0]))
		if err != nil {
			t.Fatalf("count of v1 data files: %v", err)
		}
		return n
	}
	if n := oldFiles(); n != 1 {
		t.Fatalf("%d data files written in layout v1, want 1", n)
	}
	check("evolved, v1 files only", pyScan)

	// Rows of a snapshot chunk read after the change, in v2: no deletes,
	// so PyIceberg scans the table itself with v1 and v2 files.
	readV2 := func(img schema.Row) capture.Change {
		return capture.Change{Op: capture.OpRead, Schema: srcV2, After: img}
	}
	commitChanges(t, tbl, model, 2, "snap-2", t0+1e6,
		readV2(schema.Row{int64(11), int64(1) << 40, 0.1, dec(999999999999), "eleven", "neu ü"}),
		readV2(schema.Row{int64(12), -(int64(1) << 40), -1e300, dec(-123456789012), nil, nil}),
		readV2(schema.Row{int64(13), int64(5), 2.5, dec(0), "13", ""}),
	)
	if n := oldFiles(); n != 1 {
		t.Fatalf("%d data files written in layout v1, want 1", n)
	}
	check("v1 and v2 files", pyScan)

	// Streamed v2 changes: updates of v1 rows (n set and NULL), a delete
	// of a v1 row, an update of a v2 row and inserts; upsert writes an
	// equality delete for every key.
	v1Row4 := model[4]
	res := commitChanges(t, tbl, model, 3, "tx-3", t0+2e6,
		capture.Change{Op: capture.OpUpdate, Schema: srcV2, After: schema.Row{int64(2), int64(1) << 33, 6.02e23, dec(100000000050), "zwei", "updated"}},
		capture.Change{Op: capture.OpUpdate, Schema: srcV2, After: schema.Row{int64(3), int64(3), 3.25, dec(350), "drei ü", nil}},
		capture.Change{Op: capture.OpDelete, Schema: srcV2, Before: schema.Row{int64(4), v1Row4[1], v1Row4[2], dec(-50), "", nil}},
		capture.Change{Op: capture.OpUpdate, Schema: srcV2, After: schema.Row{int64(11), int64(11), -0.5, dec(1), "eleven", nil}},
		capture.Change{Op: capture.OpInsert, Schema: srcV2, After: schema.Row{int64(20), int64(-1), 1e-300, dec(-1), "zwanzig", "zwanzig ü"}},
		capture.Change{Op: capture.OpInsert, Schema: srcV2, After: schema.Row{int64(21), int64(math.MaxInt64), math.Inf(-1), dec(99), nil, nil}},
	)
	if res.DeleteFiles == 0 || res.Deletes != 6 {
		t.Fatalf("streamed commit wrote %d delete files with %d keys, want equality deletes for 6 keys", res.DeleteFiles, res.Deletes)
	}
	// PyIceberg 0.12 refuses tables with equality deletes: read_tables.py
	// then reads PyIceberg's manifests and the Parquet files itself,
	// matching columns by field id (files without n, narrower types).
	check("v2 changes with equality deletes", pyFallback)

	cres, err := compaction.Compact(ctx, tbl, compaction.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("compaction: rewrote %d data files into %d, removed %d delete files", cres.RewrittenDataFiles, cres.AddedDataFiles, cres.RemovedDeleteFiles)
	files, err := tr.Query(ctx, `SELECT count(*) FROM evolve.lake."evo$files" WHERE content <> 0`)
	if err != nil {
		t.Fatal(err)
	}
	if n := fmt.Sprint(files.Rows[0][0]); n != "0" {
		t.Fatalf("%s delete files left after compaction", n)
	}
	check("after compaction", pyScan)

	// Narrowing is refused and commits nothing.
	schemaID := tbl.SchemaID()
	for _, c := range []struct {
		col string
		typ iceberg.Type
	}{{"a", iceberg.PrimitiveTypes.Int32}, {"f", iceberg.PrimitiveTypes.Float32}, {"d", iceberg.DecimalTypeOf(9, 2)}} {
		narrow := &schema.Table{Columns: slices.Clone(tbl.Layout().Columns), Key: slices.Clone(tbl.Layout().Key)}
		narrow.Columns[narrow.Index(c.col)].Type = c.typ
		err := tbl.Evolve(ctx, narrow)
		if err == nil || !strings.Contains(err.Error(), "narrows column "+c.col) {
			t.Fatalf("Evolve narrowing %s to %s: err = %v, want a refusal naming the narrowing", c.col, c.typ, err)
		}
		t.Logf("narrowing %s refused: %v", c.col, err)
	}
	if tbl.SchemaID() != schemaID || tbl.Layout() != sinkV2 {
		t.Fatalf("a refused Evolve changed the table: schema id %d -> %d", schemaID, tbl.SchemaID())
	}
	cnt, err := tr.Query(ctx, "SELECT count(*) FROM "+qualified)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(cnt.Rows[0][0]); got != strconv.Itoa(len(model)) {
		t.Errorf("after refused evolutions: trino count(*) = %s, want %d", got, len(model))
	}
	if got := trinoTypes(t, tr, qualified); !slices.Equal(got, evoTrinoTypes) {
		t.Errorf("after refused evolutions: trino column types %q, want %q", got, evoTrinoTypes)
	}
	t.Logf("evolved table checked through trino %s and pyiceberg in %s", tr.Version, time.Since(start).Round(time.Second))
}
