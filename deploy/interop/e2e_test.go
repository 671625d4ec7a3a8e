package interop

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

var orderCols = []col{
	{"id", kInt}, {"customer", kInt}, {"amount", kDecimal}, {"price", kFloat64}, {"ratio", kFloat32},
	{"status", kString}, {"paid", kBool}, {"created", kTimestamptz}, {"ship_day", kDate}, {"at_time", kTime},
	{"local_ts", kTimestamp}, {"note", kString}, {"tags", kList}, {"payload", kString}, {"ref", kUUID}, {"blob", kBinary},
}

var eventCols = []col{{"id", kInt}, {"kind", kString}, {"qty", kInt}, {"ts", kTimestamp}}

const e2eSchema = `
CREATE TABLE orders (id bigint PRIMARY KEY, customer integer NOT NULL, amount numeric(12,2), price double precision,
  ratio real, status text NOT NULL, paid boolean, created timestamptz, ship_day date, at_time time, local_ts timestamp,
  note text, tags text[], payload jsonb, ref uuid, blob bytea);
CREATE TABLE events (id bigint PRIMARY KEY, kind text, qty integer, ts timestamp);
CREATE TABLE markers (id bigserial PRIMARY KEY, at timestamptz DEFAULT now());
INSERT INTO orders SELECT g, g % 97, (g * 13.37)::numeric(12,2), g / 7.0, (g % 11) / 3.0, 'new', g % 2 = 0,
  timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute 1.5 second', date '2024-01-01' + g % 400,
  time '00:00:00' + g * interval '17.25 second', timestamp '2023-06-01 12:00:00' + g * interval '1 hour',
  CASE WHEN g % 5 = 0 THEN NULL ELSE 'note ' || g || ' ü' END, ARRAY['t' || g % 3, 'x'],
  jsonb_build_object('g', g, 'even', g % 2 = 0), md5(g::text)::uuid, decode(md5(g::text), 'hex')
  FROM generate_series(1, 3000) g;
INSERT INTO events SELECT g, 'k' || g % 4, g, timestamp '2024-03-01 00:00:00' + g * interval '1 second'
  FROM generate_series(1, 2000) g;
`

// TestTrinoEndToEnd streams a workload with updates and deletes from
// PostgreSQL through floe into an S3 warehouse with the SQL catalog on
// PostgreSQL, stops floe, and checks every table through Trino (count and
// every column of every row equal to the source) and through PyIceberg.
func TestTrinoEndToEnd(t *testing.T) {
	needServers(t)
	ctx := context.Background()
	tr := trino(t)
	l := newLake(t, "shop")
	l.exec(e2eSchema)
	l.exec("ALTER TABLE orders OWNER TO u_shop", "ALTER TABLE events OWNER TO u_shop", "ALTER TABLE markers OWNER TO u_shop")
	l.writeConfig(`public\..*`, "    type: sql\n    uri: "+l.catalogDSN()+"\n", l.warehouse)

	start := time.Now()
	r := l.start()
	conn := l.admin()
	rng := rand.New(rand.NewPCG(1, 2))
	nextID := int64(10_000)
	for txn := 0; txn < 60; txn++ {
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for op := 0; op < 20; op++ {
			id := rng.Int64N(3000) + 1
			var sql string
			switch rng.IntN(8) {
			case 0, 1, 2:
				sql = fmt.Sprintf(`UPDATE orders SET status = 'upd%d', amount = amount + 1.01, price = price * -1.5,
					note = NULL, tags = ARRAY[]::text[], paid = NOT paid, created = created + interval '1 day' WHERE id = %d`, txn, id)
			case 3:
				sql = fmt.Sprintf(`UPDATE orders SET payload = jsonb_build_object('txn', %d), ratio = 'NaN', ship_day = NULL WHERE id = %d`, txn, id)
			case 4:
				sql = fmt.Sprintf("DELETE FROM orders WHERE id = %d", id)
			case 5:
				nextID++
				sql = fmt.Sprintf(`INSERT INTO orders (id, customer, status, tags, blob) VALUES (%d, %d, 'ins', ARRAY['a', NULL, 'ü'], '\x00ff')`, nextID, txn)
			case 6:
				sql = fmt.Sprintf("UPDATE events SET qty = qty + 1, kind = kind || '+' WHERE id = %d", rng.Int64N(2000)+1)
			default:
				sql = fmt.Sprintf("DELETE FROM events WHERE id = %d", rng.Int64N(2000)+1)
			}
			if _, err := tx.Exec(ctx, sql); err != nil {
				t.Fatal(err)
			}
		}
		// One key changed twice and one deleted and re-inserted in the same transaction.
		if _, err := tx.Exec(ctx, fmt.Sprintf("UPDATE orders SET status = 'twice-a' WHERE id = %d", 42+txn)); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, fmt.Sprintf("UPDATE orders SET status = 'twice-b' WHERE id = %d", 42+txn)); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, fmt.Sprintf(`DELETE FROM events WHERE id = %d; INSERT INTO events VALUES (%d, 'again', -1, '2000-01-01')`, 500+txn, 500+txn)); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	l.catchUpAndStop(r, "markers")
	t.Logf("floe snapshot + 60 transactions landed in %s", time.Since(start).Round(time.Millisecond))

	objs, err := sharedS3.Objects(l.bucket, l.name)
	if err != nil {
		t.Fatal(err)
	}
	var parquet int
	for _, o := range objs {
		if strings.HasSuffix(o, ".parquet") {
			parquet++
		}
	}
	if parquet == 0 {
		t.Fatalf("no Parquet files under %s: %v", l.warehouse, objs)
	}

	if err := tr.CreateCatalog(ctx, "shop", l.trinoJDBCCatalog()); err != nil {
		t.Fatal(err)
	}
	res, err := tr.Query(ctx, "SHOW TABLES FROM shop.lake")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, row := range res.Rows {
		names = append(names, fmt.Sprint(row[0]))
	}
	slices.Sort(names)
	if want := []string{"_floe_dead_letters", "events", "markers", "orders"}; !slices.Equal(names, want) {
		t.Fatalf("trino sees tables %v, want %v (the pipeline's and its empty dead-letter table)", names, want)
	}
	tables := []struct {
		name string
		cols []col
	}{{"orders", orderCols}, {"events", eventCols}}
	compare := func(stage string) {
		t.Helper()
		py := readPython(t, l.pySQLCatalog(), "lake.orders", "lake.events")
		for _, tc := range tables {
			want := l.readPG(tc.name, tc.cols)
			cnt, err := tr.Query(ctx, "SELECT count(*) FROM shop.lake."+tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(cnt.Rows[0][0]); got != fmt.Sprint(len(want)) {
				t.Errorf("%s, %s: trino count(*) = %s, source has %d rows", stage, tc.name, got, len(want))
			}
			if d := diff(want, readTrino(t, tr, "shop.lake."+tc.name, tc.cols), tc.cols, 20); len(d) > 0 {
				t.Errorf("%s, %s through trino differs from the source:\n%s", stage, tc.name, strings.Join(d, "\n"))
			}
			p := py["lake."+tc.name]
			if d := diff(want, pyTable(t, p, tc.cols), tc.cols, 20); len(d) > 0 {
				t.Errorf("%s, %s through pyiceberg (%s) differs from the source:\n%s", stage, tc.name, p.Reader, strings.Join(d, "\n"))
			}
			t.Logf("%s: %s: %d rows equal in source, trino and pyiceberg (%s)", stage, tc.name, len(want), p.Reader)
		}
	}
	// Before compaction Trino applies the deletes the upserts wrote; the
	// check is only meaningful if there are some. With sink.delete-mode
	// auto (the default) they are position deletes (file-scoped, in the
	// data file's partition), which PyIceberg scans itself.
	if n := deleteFilesIn(t, tr, "shop", "orders"); n == 0 {
		t.Fatal("orders has no delete files before compaction: the workload did not exercise deletes")
	}
	if n := positionDeleteFilesIn(t, tr, "shop", "orders"); n == 0 {
		t.Fatal("orders has no position-delete files before compaction: updates of rows Floe wrote were not deleted by position")
	}
	compare("before compaction")

	out, err := runFloe(l, 3*time.Minute, "compact", "--config", l.configPath)
	if err != nil {
		t.Fatalf("floe compact: %v\n%s", err, out)
	}
	t.Logf("floe compact:\n%s", out)
	for _, tc := range tables {
		if n := deleteFilesIn(t, tr, "shop", tc.name); n != 0 {
			t.Errorf("%s still has %d delete files after floe compact", tc.name, n)
		}
	}
	compare("after compaction")
}

// positionDeleteFilesIn counts the live position-delete files of
// catalog.lake.table through Trino's $files table.
func positionDeleteFilesIn(t *testing.T, tr *Trino, catalog, table string) int {
	t.Helper()
	res, err := tr.Query(context.Background(), fmt.Sprintf(`SELECT count(*) FROM %s.lake."%s$files" WHERE content = 1`, catalog, table))
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if _, err := fmt.Sscan(fmt.Sprint(res.Rows[0][0]), &n); err != nil {
		t.Fatalf("count of position-delete files: %v (%v)", err, res.Rows)
	}
	return n
}
