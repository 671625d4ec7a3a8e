package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestPartitionSpecEvolves changes a route's partition-by between runs:
// the table's spec evolves in place (files written before keep theirs,
// new ones use the new spec) and the rows stay equal to the source while
// updates move them across both specs' partitions (and a column is added
// to the partitioned table). A partition-by that
// does not fit the table (day of a text column) stops floe run with the
// field to fix and leaves the table as it was.
func TestPartitionSpecEvolves(t *testing.T) {
	needServers(t)
	db := "part_evolve"
	e := newPipelineEnv(t, db, `public\.orders`, "upsert", "")
	e.exec(`CREATE TABLE orders (id bigint PRIMARY KEY, region text NOT NULL, at timestamptz NOT NULL, qty int)`,
		`INSERT INTO orders SELECT g, 'r' || g % 3, timestamptz '2026-01-01 00:00+00' + g * interval '1 hour', g FROM generate_series(1, 2000) g`,
		"ALTER TABLE orders OWNER TO u_"+db)
	base, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	setRoute := func(partitionBy string) {
		t.Helper()
		cfg := string(base) + "route:\n  - source-table: public\\.orders\n    partition-by: " + partitionBy + "\n"
		if err := os.WriteFile(e.config, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	runWith := func(partitionBy string, changes ...string) {
		t.Helper()
		setRoute(partitionBy)
		r := e.start()
		e.waitStreaming(r)
		e.exec(changes...)
		e.waitCaughtUp(r, 2*time.Minute)
		e.stop(r)
	}
	runWith("region",
		"UPDATE orders SET region = 'r9', qty = qty + 1 WHERE id % 5 = 0",
		"DELETE FROM orders WHERE id % 11 = 0")
	if got := fmt.Sprint(e.sinkTable("orders").Partitioning().Fields); got != "[identity(region)]" {
		t.Fatalf("partitioned by %s, want [identity(region)]", got)
	}
	runWith(`"bucket[4](id), day(at)"`,
		"UPDATE orders SET region = 'r8', at = at + interval '3 days' WHERE id % 7 = 0",
		"UPDATE orders SET id = id + 10000 WHERE id % 13 = 0",
		"INSERT INTO orders SELECT g, 'new', now(), 0 FROM generate_series(50000, 50100) g",
		// A column added under the partitioned table evolves its schema.
		"ALTER TABLE orders ADD COLUMN note text",
		"UPDATE orders SET note = 'n' || id, at = at - interval '40 days' WHERE id % 3 = 0")
	if got := fmt.Sprint(e.sinkTable("orders").Partitioning().Fields); got != "[bucket[4](id) day(at)]" {
		t.Fatalf("partitioned by %s, want [bucket[4](id) day(at)]", got)
	}
	t.Logf("floe verify:\n%s", e.mustVerify(1))

	setRoute("day(region), truncate[2](nope)")
	out, code := e.runVerb("check", "--config", e.config)
	for _, want := range []string{
		"route[0].partition-by: table public.orders: day(region): transform day does not apply to column region of type string",
		`route[0].partition-by: table public.orders: truncate[2](nope): the table has no column "nope"`,
	} {
		if code == 0 || !strings.Contains(out, want) {
			t.Fatalf("floe check (exit %d) does not report %q:\n%s", code, want, out)
		}
	}
	setRoute("day(region)")
	r := e.start()
	log := waitExit(t, e, r, time.Minute)
	want := "route[0].partition-by: partitioning of lake.orders: day(region): transform day does not apply to column region of type string"
	if !strings.Contains(log, want) {
		t.Fatalf("floe run did not stop with %q; log:\n%s", want, e.tail(20))
	}
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, want) {
			t.Logf("floe run stopped with: %s", line)
		}
	}
	if got := fmt.Sprint(e.sinkTable("orders").Partitioning().Fields); got != "[bucket[4](id) day(at)]" {
		t.Fatalf("after the refused change the table is partitioned by %s", got)
	}
}
