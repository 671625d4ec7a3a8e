package interop

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

const partSchema = `
CREATE TABLE orders (id bigint PRIMARY KEY, region text NOT NULL, created timestamptz NOT NULL, qty integer, note text);
CREATE TABLE notes (id uuid PRIMARY KEY, grp integer NOT NULL, body text);
CREATE TABLE markers (id bigserial PRIMARY KEY, at timestamptz DEFAULT now());
INSERT INTO orders SELECT g, 'r' || g % 5, timestamptz '2025-03-01 00:00+00' + g * interval '17 minutes', g % 100, 'n' || g
  FROM generate_series(1, 3000) g;
INSERT INTO notes SELECT md5('n' || g)::uuid, g % 40, 'b' || g FROM generate_series(1, 1500) g;
`

// partRoutes partitions orders by region, the day it was created and a
// bucket of its key, and the uuid-keyed notes by ranges of grp.
const partRoutes = `route:
  - source-table: public\.orders
    partition-by: [region, day(created), "bucket[4](id)"]
    sort-by: created
  - source-table: public\.notes
    partition-by: "truncate[10](grp)"
`

var (
	partOrderCols = []col{{"id", kInt}, {"region", kString}, {"created", kTimestamptz}, {"qty", kInt}, {"note", kString}}
	partNoteCols  = []col{{"id", kUUID}, {"grp", kInt}, {"body", kString}}
)

// partChanges is phase p of the workload: rows move to another region,
// to a later day and to another grp range by non-key updates (no old tuple
// under the default replica identity), keys change, rows are deleted and
// inserted.
func partChanges(p int) []string {
	return []string{
		fmt.Sprintf("UPDATE orders SET region = 'r' || ((id + %d) %% 5), qty = qty + 1 WHERE id %% 7 = %d", p+1, p),
		fmt.Sprintf("UPDATE orders SET created = created + interval '3 days' WHERE id %% 11 = %d", p),
		fmt.Sprintf("UPDATE orders SET id = id + 100000 WHERE id %% 17 = %d AND id < 100000", p),
		fmt.Sprintf("DELETE FROM orders WHERE id %% 13 = %d", p),
		fmt.Sprintf("INSERT INTO orders SELECT g, 'r9', now(), %d, 'fresh' FROM generate_series(%d, %d) g", p, 200000+p*100, 200000+p*100+49),
		fmt.Sprintf("UPDATE notes SET grp = grp + 10, body = body || '+' WHERE grp %% 6 = %d", p),
		fmt.Sprintf("DELETE FROM notes WHERE grp %% 9 = %d", p),
	}
}

// TestTrinoPartitionedUpsert streams upserts into partitioned tables whose
// rows move between partitions, SIGKILLing floe run in every other phase,
// and reads them through Trino and
// PyIceberg before compaction (equality deletes in the tables'
// unpartitioned spec, which Trino applies to every partition) and after
// floe compact: every row equal to the source.
func TestTrinoPartitionedUpsert(t *testing.T) {
	needServers(t)
	ctx := context.Background()
	tr := trino(t)
	l := newLake(t, "parts")
	l.exec(partSchema)
	l.exec("ALTER TABLE orders OWNER TO u_parts", "ALTER TABLE notes OWNER TO u_parts", "ALTER TABLE markers OWNER TO u_parts")
	l.writeConfig(`public\..*`, "    type: sql\n    uri: "+l.catalogDSN()+"\n", l.warehouse)
	f, err := os.OpenFile(l.configPath, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(partRoutes); err != nil {
		t.Fatal(err)
	}
	f.Close()

	start := time.Now()
	r := l.start()
	l.sync(r)
	const phases = 6
	kills := 0
	for p := 0; p < phases; p++ {
		l.inTx(partChanges(p))
		if p%2 == 1 {
			// SIGKILL while the phase is being committed, and restart.
			time.Sleep(time.Duration(20+80*p) * time.Millisecond)
			r.Kill()
			kills++
			r = l.start()
		}
		l.sync(r)
	}
	l.catchUpAndStop(r, "markers")
	t.Logf("floe snapshot + %d phases landed in %s (%d SIGKILLs)", phases, time.Since(start).Round(time.Millisecond), kills)

	if err := tr.CreateCatalog(ctx, "parts", l.trinoJDBCCatalog()); err != nil {
		t.Fatal(err)
	}
	tables := []struct {
		name     string
		cols     []col
		minParts int
	}{{"orders", partOrderCols, 40}, {"notes", partNoteCols, 4}}
	for _, tc := range tables {
		res, err := tr.Query(ctx, fmt.Sprintf(`SELECT count(*) FROM parts.lake."%s$partitions"`, tc.name))
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if _, err := fmt.Sscan(fmt.Sprint(res.Rows[0][0]), &n); err != nil || n < tc.minParts {
			t.Fatalf("%s: trino sees %v partitions, want at least %d", tc.name, res.Rows, tc.minParts)
		}
		if d := deleteFilesIn(t, tr, "parts", tc.name); d == 0 {
			t.Fatalf("%s has no delete files before compaction: the workload did not exercise equality deletes", tc.name)
		}
		t.Logf("%s: %d partitions", tc.name, n)
	}
	compare := func(stage string) {
		t.Helper()
		py := readPython(t, l.pySQLCatalog(), "lake.orders", "lake.notes")
		for _, tc := range tables {
			want := l.readPG(tc.name, tc.cols)
			got := readTrino(t, tr, "parts.lake."+tc.name, tc.cols)
			if d := diff(want, got, tc.cols, 20); len(d) > 0 {
				t.Errorf("%s, %s: trino returned %d rows, the source has %d:\n%s", stage, tc.name, len(got), len(want), strings.Join(d, "\n"))
			}
			p := py["lake."+tc.name]
			if d := diff(want, pyTable(t, p, tc.cols), tc.cols, 20); len(d) > 0 {
				t.Errorf("%s, %s through pyiceberg (%s) differs from the source:\n%s", stage, tc.name, p.Reader, strings.Join(d, "\n"))
			}
			t.Logf("%s: %s: %d rows equal in source, trino and pyiceberg (%s)", stage, tc.name, len(want), p.Reader)
		}
		// A one-partition filter: Trino prunes by partition and must
		// still apply the global deletes.
		want := l.readPG("orders WHERE region = 'r2'", partOrderCols)
		got := readTrino(t, tr, "parts.lake.orders WHERE region = 'r2'", partOrderCols)
		if d := diff(want, got, partOrderCols, 20); len(d) > 0 {
			t.Errorf("%s, orders in region r2: trino returned %d rows, the source has %d:\n%s", stage, len(got), len(want), strings.Join(d, "\n"))
		}
	}
	compare("before compaction")

	// The pass rewrites ~3,400 files of a few rows in ~800 partitions,
	// about a dozen S3 requests each: 70 s on a 2-core machine at load 6,
	// over 3 minutes at load 16, all of it work (floe and the S3 server
	// busy, nothing waiting). Its speed is not what this test checks, so
	// only the test's own deadline bounds it (a hang still fails, with
	// the goroutine dump go test prints).
	compactStart := time.Now()
	out, err := runFloe(l, untilDeadline(t), append([]string{"compact", "--config", l.configPath}, compactProfileArgs()...)...)
	if err != nil {
		t.Fatalf("floe compact: %v\n%s", err, out)
	}
	t.Logf("floe compact took %s:\n%s", time.Since(compactStart).Round(time.Millisecond), out)
	for _, tc := range tables {
		if n := deleteFilesIn(t, tr, "parts", tc.name); n != 0 {
			t.Errorf("%s still has %d delete files after floe compact", tc.name, n)
		}
	}
	compare("after compaction")
}

// compactProfileArgs asks floe compact for a CPU profile when
// FLOE_COMPACT_PROFILE names a file (for looking into slow passes).
func compactProfileArgs() []string {
	if f := os.Getenv("FLOE_COMPACT_PROFILE"); f != "" {
		return []string{"--cpuprofile", f}
	}
	return nil
}

// untilDeadline is the time left before the test binary's -timeout, less
// a minute for the cleanup; 10 minutes without one.
func untilDeadline(t *testing.T) time.Duration {
	d, ok := t.Deadline()
	if !ok {
		return 10 * time.Minute
	}
	return max(time.Until(d)-time.Minute, time.Minute)
}
