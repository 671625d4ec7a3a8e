package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestMariaDBPartitionedSource: a MariaDB table partitioned by RANGE and
// one by KEY are one table each in the binlog, and Floe captures them so
// while rows move between the source's partitions (key changes) and the
// Iceberg tables' (partition-by on other columns, updated without any
// old-row image being needed), and while partitions are reorganised and
// added under the stream. `floe verify` must find both equal.
func TestMariaDBPartitionedSource(t *testing.T) {
	e := newMySQLEnv(t, "my_parts", "upsert", "  snapshot.chunk-rows: 700\n")
	accounts := strings.Split(mysqlSchema, "|")[0]
	e.sql("DROP TABLE accounts", "DROP TABLE events",
		accounts+` PARTITION BY RANGE (id) (PARTITION p0 VALUES LESS THAN (1000), PARTITION p1 VALUES LESS THAN (2000),
			PARTITION pmax VALUES LESS THAN MAXVALUE)`,
		`CREATE TABLE events (tenant VARCHAR(20) NOT NULL, seq BIGINT NOT NULL, kind VARCHAR(20), amount FLOAT,
			PRIMARY KEY (tenant, seq)) PARTITION BY KEY (tenant) PARTITIONS 4`)
	e.appendConfig(`route:
  - source-table: my_parts\.accounts
    partition-by: "bucket[4](id), month(seen)"
  - source-table: my_parts\.events
    partition-by: tenant, truncate[2](kind)
`)
	e.seed(3000)
	r := e.start()
	e.waitStreaming(r)
	w := &mysqlWorkload{e: e, rng: rand.New(rand.NewPCG(5, 6)), next: 3000, ddlAt: map[int]string{
		100: "ALTER TABLE accounts REORGANIZE PARTITION pmax INTO (PARTITION p2 VALUES LESS THAN (2500000), PARTITION pmax VALUES LESS THAN MAXVALUE)",
		200: "ALTER TABLE events ADD PARTITION PARTITIONS 2",
	}}
	ctx := context.Background()
	for range 300 {
		if err := w.step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	e.sql("UPDATE events SET tenant = 'moved', kind = 'zz' WHERE seq % 50 = 0 AND tenant <> 'w'",
		"UPDATE accounts SET seen = '2031-01-01 00:00:00' WHERE id % 7 = 0")
	start := time.Now()
	e.waitCaughtUp(r, 2*time.Minute)
	t.Logf("caught up %v after the workload (%d transactions)", time.Since(start).Round(time.Millisecond), w.txns)
	e.stop(r)
	t.Logf("floe verify:\n%s", e.mustVerify(3))
	for name, want := range map[string]string{"accounts": "[bucket[4](id) month(seen)]", "events": "[identity(tenant) truncate[2](kind)]"} {
		if got := fmt.Sprint(e.sinkTable(name).Partitioning().Fields); got != want {
			t.Errorf("%s is partitioned by %s, want %s", name, got, want)
		}
	}
}
