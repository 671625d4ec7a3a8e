package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/lakewriter/ledger"
)

// TestResnapshotOnlineEndToEnd: floe resnapshot --online asks a running
// floe run on PostgreSQL, through the admin API, to snapshot one table
// again: the table is emptied in one commit recording the request
// (floe.reset, cause requested) and read again, changes to both tables
// around the request are all committed, the other table commits after
// it as before, and floe verify finds both equal to the source.
func TestResnapshotOnlineEndToEnd(t *testing.T) {
	needServers(t)
	ctx := context.Background()
	e := newPipelineEnv(t, "resnaponline", "public.orders, public.items", "upsert", "")
	e.exec(`CREATE TABLE orders (id bigint PRIMARY KEY, n int NOT NULL)`,
		`CREATE TABLE items (id bigint PRIMARY KEY, name text)`,
		`INSERT INTO orders SELECT g, 0 FROM generate_series(1, 100) g`,
		`INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 3000) g`,
		"ALTER TABLE orders OWNER TO u_resnaponline", "ALTER TABLE items OWNER TO u_resnaponline")
	a := newAdminEnv(t, e)
	r := a.floe().Start()
	e.waitStreaming(r)
	for i := 0; i < 5; i++ {
		e.exec(fmt.Sprintf("UPDATE orders SET n = n + 1 WHERE id <= %d", 20*(i+1)), fmt.Sprintf("UPDATE items SET name = 'before %d' WHERE id = %d", i, i+1))
	}
	a.waitCommitted(ctx, "lake.orders")

	out := a.verb("resnapshot", "--online", "--table", "public.items")
	// Snapshotting still, or (3,000 rows in one chunk) streaming again.
	if !strings.Contains(out, "public.items (lake.items) ") || !strings.Contains(out, "snapshotted again by floe run") {
		t.Fatalf("floe resnapshot --online printed:\n%s\nlog:\n%s", out, e.tail(40))
	}
	requested := time.Now()
	for i := 0; i < 5; i++ {
		e.exec(fmt.Sprintf("UPDATE orders SET n = n + 1 WHERE id <= %d", 20*(i+1)), fmt.Sprintf("UPDATE items SET name = 'after %d' WHERE id = %d", i, 100+i),
			fmt.Sprintf("DELETE FROM items WHERE id = %d", 2000+i))
	}
	e.waitCaughtUp(r, 2*time.Minute)
	if st := a.tableStatus("lake.items"); st.State != "streaming" {
		t.Fatalf("items is %q after catching up", st.State)
	}
	a.floe().Stop(r)
	t.Logf("floe verify:\n%s", a.mustVerify(2))

	cat := openTestCatalog(t, e, a.token)
	hist, err := loadSink(t, ctx, cat, "lake.items").History(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var resets int
	for _, s := range hist {
		if v := s.Props[ledger.PropReset]; v != "" {
			rs, err := ledger.ParseReset(v)
			if err != nil {
				t.Fatal(err)
			}
			if rs.Cause != ledger.CauseRequested || rs.Previous == "" {
				t.Fatalf("reset record %+v, want cause %s and the previous position", rs, ledger.CauseRequested)
			}
			resets++
		}
	}
	if resets != 1 {
		t.Fatalf("items history holds %d reset commits, want 1", resets)
	}
	ohist, err := loadSink(t, ctx, cat, "lake.orders").History(ctx)
	if err != nil {
		t.Fatal(err)
	}
	after := 0
	for _, s := range ohist {
		if s.Props[ledger.PropCheckpoint] != "" && s.TimestampMs >= requested.UnixMilli() {
			after++
		}
	}
	if after == 0 {
		t.Fatalf("orders has no commit after the request; log:\n%s", e.tail(40))
	}
	if strings.Count(e.tail(1<<30), `msg="table reset for its new snapshot"`) != 1 {
		t.Fatalf("want one reset in the log:\n%s", e.tail(60))
	}
}
