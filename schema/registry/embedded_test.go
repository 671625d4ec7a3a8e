package registry

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/transform"
)

// openSQLite opens a SQLite database file in a test directory the way the
// SQL catalog opens its own.
func openSQLite(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func openEmbedded(t *testing.T, compat Compatibility) *Embedded {
	t.Helper()
	db := openSQLite(t, filepath.Join(t.TempDir(), "catalog.db"))
	e, err := OpenEmbedded(context.Background(), db, SQLite, compat)
	require.NoError(t, err)
	return e
}

// col is a column shorthand for the tests' layouts.
func col(name string, typ iceberg.Type, nullable bool) schema.Column {
	return schema.Column{Name: name, Type: typ, Nullable: nullable}
}

var (
	long    = iceberg.PrimitiveTypes.Int64
	integer = iceberg.PrimitiveTypes.Int32
	text    = iceberg.PrimitiveTypes.String
)

// renamed is a required column the source renamed from old.
func renamed(name, old string, typ iceberg.Type) schema.Column {
	c := col(name, typ, false)
	c.RenamedFrom = old
	return c
}

// avroOf renders the upsert sink layout of table t with the source columns
// cols (the first is the key), metadata columns included.
func avroOf(t *testing.T, cols ...schema.Column) Schema {
	t.Helper()
	layout := transform.SinkLayout(&schema.Table{Columns: cols, Key: []int{0}}, transform.Upsert)
	s, err := AvroSchema("shop", "orders", layout)
	require.NoError(t, err)
	return s
}

// TestEmbeddedCompatibility registers a first version and then a change
// under each rule, through real Avro schemas of sink layouts: the changes
// a rule allows get the next version, the others an *IncompatibleError
// naming the subject, the rule and the version, and register nothing.
func TestEmbeddedCompatibility(t *testing.T) {
	id := col("id", long, false)
	base := []schema.Column{id, col("qty", integer, false), col("note", text, true)}
	cases := []struct {
		name   string
		rule   Compatibility
		change []schema.Column
		ok     bool
	}{
		{"add nullable column (default null) backward", Backward, append(base[:3:3], col("extra", text, true)), true},
		{"add required column backward", Backward, append(base[:3:3], col("extra", text, false)), false},
		{"add required column forward", Forward, append(base[:3:3], col("extra", text, false)), true},
		{"int to string backward", Backward, []schema.Column{id, col("qty", text, false), base[2]}, false},
		{"int to string none", None, []schema.Column{id, col("qty", text, false), base[2]}, true},
		{"widen int to long backward", Backward, []schema.Column{id, col("qty", long, false), base[2]}, true},
		{"widen int to long forward", Forward, []schema.Column{id, col("qty", long, false), base[2]}, false},
		{"widen int to long full", Full, []schema.Column{id, col("qty", long, false), base[2]}, false},
		{"required to nullable backward", Backward, []schema.Column{id, col("qty", integer, true), base[2]}, true},
		{"required to nullable forward", Forward, []schema.Column{id, col("qty", integer, true), base[2]}, false},
		{"drop required column backward", Backward, []schema.Column{id, base[2]}, true},
		{"drop required column forward", Forward, []schema.Column{id, base[2]}, false},
		{"drop nullable column full", Full, []schema.Column{id, base[1]}, true},
		{"add nullable column full", Full, append(base[:3:3], col("extra", text, true)), true},
		// A renamed required column resolves by its alias (the old name);
		// without the rename recorded it is a new required field.
		{"rename required column backward", Backward, []schema.Column{id, renamed("Qty 2", "qty", integer), base[2]}, true},
		{"rename unrecorded backward", Backward, []schema.Column{id, col("Qty 2", integer, false), base[2]}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := openEmbedded(t, tc.rule)
			subject := "shop.orders-value"
			first, err := e.Register(ctx, subject, avroOf(t, base...))
			require.NoError(t, err)
			require.Equal(t, Registered{ID: 1, Version: 1}, first)

			next := avroOf(t, tc.change...)
			checkErr := e.Check(ctx, subject, next)
			reg, err := e.Register(ctx, subject, next)
			if tc.ok {
				require.NoError(t, checkErr)
				require.NoError(t, err)
				require.Equal(t, Registered{ID: 2, Version: 2}, reg)
				return
			}
			var ie *IncompatibleError
			require.ErrorAs(t, checkErr, &ie)
			require.ErrorAs(t, err, &ie)
			require.Equal(t, subject, ie.Subject)
			require.Equal(t, tc.rule, ie.Rule)
			require.Equal(t, 1, ie.Version)
			require.Contains(t, err.Error(), "shop.orders-value refuses the new schema under compatibility "+string(tc.rule))
			doc, ok, err := e.load(ctx, e.db, subject)
			require.NoError(t, err)
			require.True(t, ok)
			require.Len(t, doc.Versions, 1, "a refused schema is not registered")
		})
	}
}

// TestEmbeddedTransitive: a *_TRANSITIVE rule checks every version, the
// plain rule only the latest.
func TestEmbeddedTransitive(t *testing.T) {
	id := col("id", long, false)
	v1 := avroOf(t, id, col("x", integer, false))
	v2 := avroOf(t, id)                       // drop x: backward compatible
	v3 := avroOf(t, id, col("x", text, true)) // x comes back as a nullable string
	for _, rule := range []Compatibility{Backward, BackwardTransitive} {
		t.Run(string(rule), func(t *testing.T) {
			ctx := context.Background()
			e := openEmbedded(t, rule)
			for _, s := range []Schema{v1, v2} {
				_, err := e.Register(ctx, "s-value", s)
				require.NoError(t, err)
			}
			reg, err := e.Register(ctx, "s-value", v3)
			if rule == Backward {
				require.NoError(t, err)
				require.Equal(t, 3, reg.Version)
				return
			}
			var ie *IncompatibleError
			require.ErrorAs(t, err, &ie)
			require.Equal(t, 1, ie.Version, "refused against the first version, which wrote x as an int")
		})
	}
}

// TestEmbeddedIdempotentIDs: registering a held schema again returns its
// ID and version; the same schema under another subject shares its ID.
func TestEmbeddedIdempotentIDs(t *testing.T) {
	ctx := context.Background()
	e := openEmbedded(t, "")
	a := avroOf(t, col("id", long, false))
	b := avroOf(t, col("id", long, false), col("n", text, true))

	r1, err := e.Register(ctx, "one-value", a)
	require.NoError(t, err)
	r1again, err := e.Register(ctx, "one-value", a)
	require.NoError(t, err)
	require.Equal(t, r1, r1again)
	r2, err := e.Register(ctx, "one-value", b)
	require.NoError(t, err)
	require.Equal(t, Registered{ID: 2, Version: 2}, r2)
	// Back to a: already version 1 of the subject, so nothing is added.
	back, err := e.Register(ctx, "one-value", a)
	require.NoError(t, err)
	require.Equal(t, r1, back)
	other, err := e.Register(ctx, "two-value", b)
	require.NoError(t, err)
	require.Equal(t, Registered{ID: 2, Version: 1}, other)
	require.NoError(t, e.Check(ctx, "three-value", a), "a new subject accepts anything valid")
	require.Error(t, e.Check(ctx, "three-value", "{not avro"))
	_, err = e.Register(ctx, "three-value", "{not avro")
	require.ErrorContains(t, err, "parse avro schema")
}

// TestEmbeddedDurable: what one registry registered, a registry opened
// later on the same database file (a restarted process) holds, rule
// included.
func TestEmbeddedDurable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	db := openSQLite(t, path)
	e, err := OpenEmbedded(ctx, db, SQLite, Forward)
	require.NoError(t, err)
	v1 := avroOf(t, col("id", long, false), col("qty", integer, false))
	_, err = e.Register(ctx, "d-value", v1)
	require.NoError(t, err)
	require.NoError(t, e.Close())
	require.NoError(t, db.Close())

	// Reopened with another default rule: the subject keeps FORWARD.
	e2, err := OpenEmbedded(ctx, openSQLite(t, path), SQLite, None)
	require.NoError(t, err)
	reg, err := e2.Register(ctx, "d-value", v1)
	require.NoError(t, err)
	require.Equal(t, Registered{ID: 1, Version: 1}, reg)
	_, err = e2.Register(ctx, "d-value", avroOf(t, col("id", long, false), col("qty", long, false)))
	var ie *IncompatibleError
	require.ErrorAs(t, err, &ie)
	require.Equal(t, Forward, ie.Rule)
	reg, err = e2.Register(ctx, "d-value", avroOf(t, col("id", long, false), col("qty", integer, false), col("n", text, true)))
	require.NoError(t, err)
	require.Equal(t, Registered{ID: 2, Version: 2}, reg)
}

// TestEmbeddedConcurrent: registries on one database (two processes)
// registering at once allocate distinct IDs and versions without gaps.
func TestEmbeddedConcurrent(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	var regs [2]*Embedded
	for i := range regs {
		var err error
		regs[i], err = OpenEmbedded(ctx, openSQLite(t, path), SQLite, Backward)
		require.NoError(t, err)
	}
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	got := make(chan Registered, 2*n)
	for i := range regs {
		wg.Add(1)
		go func(e *Embedded) {
			defer wg.Done()
			for j := range n {
				cols := []schema.Column{col("id", long, false)}
				for k := range j {
					cols = append(cols, col(fmt.Sprintf("c%d_%d", i, k), text, true))
				}
				r, err := e.Register(ctx, "shared-value", avroOf(t, cols...))
				if err != nil {
					errs <- err
					return
				}
				got <- r
			}
		}(regs[i])
	}
	wg.Wait()
	close(errs)
	close(got)
	for err := range errs {
		t.Fatal(err)
	}
	ids := map[int]bool{}
	versions := map[int]bool{}
	for r := range got {
		ids[r.ID] = true
		versions[r.Version] = true
	}
	doc, ok, err := regs[0].load(ctx, regs[0].db, "shared-value")
	require.NoError(t, err)
	require.True(t, ok)
	// The two writers share version 1 (the same one-column schema); every
	// other registration is a version of its own.
	require.Len(t, doc.Versions, 2*n-1)
	require.Len(t, versions, 2*n-1)
	require.Len(t, ids, 2*n-1)
}

// TestEmbeddedDocumentGolden pins the persisted subject document (format
// 1): a change to it must bump documentFormat and keep reading format 1.
func TestEmbeddedDocumentGolden(t *testing.T) {
	ctx := context.Background()
	e := openEmbedded(t, Backward)
	subject := "shop.orders-value"
	_, err := e.Register(ctx, subject, avroOf(t, col("id", long, false)))
	require.NoError(t, err)
	_, err = e.Register(ctx, subject, avroOf(t, col("id", long, false), col("note", text, true)))
	require.NoError(t, err)
	require.NoError(t, e.DeleteSubject(ctx, subject))
	_, err = e.Register(ctx, subject, avroOf(t, col("id", integer, false)))
	require.NoError(t, err)
	var doc string
	require.NoError(t, e.db.QueryRow(`SELECT document FROM floe_schema_registry_subjects WHERE subject = ?`, subject).Scan(&doc))
	goldenCompare(t, "subject_v1.golden", []byte(doc+"\n"))

	d, err := decodeDocument([]byte(doc))
	require.NoError(t, err)
	require.Equal(t, documentFormat, d.Format)
	require.Len(t, d.Versions, 3)
	require.Len(t, d.live(), 1)
	_, err = decodeDocument([]byte(`{"format":2,"subject":"x","versions":[]}`))
	require.ErrorContains(t, err, "format 2")
	_, err = decodeDocument([]byte(`{"format":1,"subject":"x","versions":[{"version":2,"id":1,"schema":"\"int\""}]}`))
	require.ErrorContains(t, err, "version 2 is at position 1")
}

// TestEmbeddedDeleteSubject: after DeleteSubject (floe resnapshot) a
// layout the old versions refuse registers, as the next version; the
// deleted versions are matched and checked against no more.
func TestEmbeddedDeleteSubject(t *testing.T) {
	ctx := context.Background()
	e := openEmbedded(t, Backward)
	v1 := avroOf(t, col("id", long, false), col("x", integer, false))
	narrowed := avroOf(t, col("id", integer, false), col("x", integer, false))
	_, err := e.Register(ctx, "r-value", v1)
	require.NoError(t, err)
	_, err = e.Register(ctx, "r-value", narrowed)
	require.True(t, IsIncompatible(err), "%v", err)

	require.NoError(t, e.DeleteSubject(ctx, "r-value"))
	require.NoError(t, e.DeleteSubject(ctx, "never-value"), "a missing subject is no error")
	require.NoError(t, e.Check(ctx, "r-value", narrowed))
	reg, err := e.Register(ctx, "r-value", narrowed)
	require.NoError(t, err)
	require.Equal(t, Registered{ID: 2, Version: 2}, reg)
	// v1 is deleted: registering it again is a new version, checked
	// against the narrowed one only (a long reader reads int data).
	_, err = e.Register(ctx, "r-value", v1)
	require.NoError(t, err, "BACKWARD: a long reader reads int data")
	doc, _, err := e.load(ctx, e.db, "r-value")
	require.NoError(t, err)
	require.Len(t, doc.Versions, 3)
	require.Equal(t, 3, doc.Versions[2].Version)
	require.Equal(t, 1, doc.Versions[2].ID, "the schema text keeps its ID")
}
