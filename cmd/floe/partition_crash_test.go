package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// partitionRoutes partitions the crash tables so that the workload's
// updates move rows between partitions, most of them without the old
// row's values (PostgreSQL's default replica identity sends no old tuple
// for a non-key update): accounts by the day of `changed` (set to now()
// by updates), events by tenant (a key column the workload changes) and
// the first letter of kind (updated a -> b), notes by a bucket of cnt
// (incremented), scratch by the first three characters of v (appended to).
const partitionRoutes = `route:
  - source-table: public\.accounts
    partition-by: [day(changed), "bucket[4](id)"]
    sort-by: id
  - source-table: public\.events
    partition-by: [tenant, "truncate[1](kind)"]
  - source-table: public\.notes
    partition-by: "bucket[4](cnt)"
  - source-table: public\.scratch
    partition-by: "truncate[3](v)"
`

// TestCrashPartitioned is TestCrashExactlyOnce on partitioned tables:
// SIGKILLs at random moments of the snapshot and of streaming, with
// rows moving between partitions all along, and `floe verify` must find
// every table equal to the source (also after `floe compact`). Equality
// deletes written in the tables' partitioned spec would leave the moved
// rows' old versions in their old partitions (or fail: a key-only delete
// has no partition values).
func TestCrashPartitioned(t *testing.T) {
	needServers(t)
	ctx := context.Background()
	db := "crash_partitioned"
	e := newPipelineEnv(t, db, `public\.(accounts|events|notes|scratch)`, "upsert", "  snapshot.chunk-rows: 250\n")
	e.appendConfig(partitionRoutes)
	e.exec(testSchema)
	const seeded = 30_000
	e.exec(seedSQL(seeded)...)
	for _, tbl := range []string{"accounts", "events", "notes", "scratch"} {
		e.exec(fmt.Sprintf("ALTER TABLE %s OWNER TO u_%s", tbl, db))
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 13))
	seed := rng.Uint64() % 1000
	t.Logf("random seed %d", seed)
	w := newWorkload(ctx, t, e, seeded, seed)
	crashLoop(t, e, w, rng, 4)

	want := map[string]string{"accounts": "[day(changed) bucket[4](id)]", "events": "[identity(tenant) truncate[1](kind)]",
		"notes": "[bucket[4](cnt)]", "scratch": "[truncate[3](v)]"}
	for name, spec := range want {
		p := e.sinkTable(name).Partitioning()
		if got := fmt.Sprint(p.Fields); got != spec {
			t.Errorf("table %s is partitioned by %s, want %s", name, got, spec)
		}
	}
}
