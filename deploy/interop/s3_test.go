package interop

import (
	"context"
	"errors"
	"iter"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/iceberg-go"

	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/schema"
)

// idNameLayout is (id long key, name string nullable), the layout of the
// lakewriter round trips.
func idNameLayout() *schema.Table {
	return &schema.Table{Columns: []schema.Column{
		{Name: "id", Type: iceberg.PrimitiveTypes.Int64},
		{Name: "name", Type: iceberg.PrimitiveTypes.String, Nullable: true},
	}, Key: []int{0}}
}

func rowsOf(rows ...schema.Row) iter.Seq2[schema.Row, error] {
	return func(yield func(schema.Row, error) bool) {
		for _, r := range rows {
			if !yield(r, nil) {
				return
			}
		}
	}
}

// commitIDNameRounds commits the round trips' two checkpoints to an
// idNameLayout table: c1 inserts ids 1-3, c2 updates 2 and deletes 3.
// after runs after each commit.
func commitIDNameRounds(ctx context.Context, t *testing.T, tbl *lakewriter.Table, after func()) {
	t.Helper()
	for _, c := range []lakewriter.Commit{
		{Rows: rowsOf(schema.Row{int64(1), "one"}, schema.Row{int64(2), "two"}, schema.Row{int64(3), nil}),
			Props: map[string]string{"floe.checkpoint": "c1"}, Token: "floe.checkpoint"},
		{Rows: rowsOf(schema.Row{int64(2), "TWO"}), DeleteKeys: rowsOf(schema.Row{int64(2)}, schema.Row{int64(3)}),
			Props: map[string]string{"floe.checkpoint": "c2"}, Token: "floe.checkpoint"},
	} {
		if _, err := tbl.Commit(ctx, c); err != nil {
			t.Fatal(err)
		}
		after()
	}
}

// checkIDNameRounds checks what commitIDNameRounds leaves: rows {1: one,
// 2: TWO} and c2 as the latest checkpoint.
func checkIDNameRounds(ctx context.Context, t *testing.T, tbl *lakewriter.Table) {
	t.Helper()
	got := map[int64]any{}
	if err := tbl.Scan(ctx, func(r schema.Row) error { got[r[0].(int64)] = r[1]; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1] != "one" || got[2] != "TWO" {
		t.Fatalf("scan = %v, want {1: one, 2: TWO}", got)
	}
	props, err := tbl.LatestProps(ctx, func(p map[string]string) bool { return p["floe.checkpoint"] != "" })
	if err != nil || props["floe.checkpoint"] != "c2" {
		t.Fatalf("latest props = %v, %v; want floe.checkpoint c2", props, err)
	}
}

// TestLakewriterS3RoundTrip writes through lakewriter into an s3://
// warehouse on versitygw (real SigV4) and reads back with Scan, Lookup and
// LatestProps; a wrong secret key fails the commit.
func TestLakewriterS3RoundTrip(t *testing.T) {
	needServers(t)
	ctx := context.Background()
	if err := sharedS3.CreateBucket("roundtrip"); err != nil {
		t.Fatal(err)
	}
	open := func(secret string) *lakewriter.Catalog {
		c, err := lakewriter.Open(ctx, lakewriter.Options{
			URI:       "sqlite://" + filepath.Join(t.TempDir(), "catalog.db"),
			Warehouse: "s3://roundtrip/wh/",
			S3: lakewriter.S3Options{Endpoint: sharedS3.Endpoint, AccessKeyID: sharedS3.AccessKey,
				SecretAccessKey: secret},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	layout := idNameLayout()
	c := open(sharedS3.SecretKey)
	tbl, err := c.EnsureTable(ctx, lakewriter.Ident{Namespace: "db", Name: "t"}, layout, layout.Key)
	if err != nil {
		t.Fatal(err)
	}
	commitIDNameRounds(ctx, t, tbl, func() {})
	checkIDNameRounds(ctx, t, tbl)
	found, err := tbl.Lookup(ctx, []schema.Row{{int64(2)}, {int64(3)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 {
		t.Fatalf("lookup of keys 2, 3 found %d rows, want 1", len(found))
	}
	objs, err := sharedS3.Objects("roundtrip", "wh")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(objs, " "), "wh/db.db/t/") || len(objs) < 6 {
		t.Fatalf("objects in the bucket: %v", objs)
	}

	// The server checks signatures: a wrong secret cannot write.
	bad := open("wrong-secret")
	tbl2, err := bad.EnsureTable(ctx, lakewriter.Ident{Namespace: "db", Name: "t2"}, layout, layout.Key)
	if err == nil {
		_, err = tbl2.Commit(ctx, lakewriter.Commit{Rows: rowsOf(schema.Row{int64(1), "x"})})
	}
	if err == nil {
		t.Fatal("a commit with a wrong S3 secret key succeeded")
	}
	if errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	t.Logf("wrong secret refused: %.200v", err)
}
