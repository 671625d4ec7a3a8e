package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/deploy/e2e"
	"github.com/floe-cdc/floe/deploy/testdb"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
)

// shard is a second pipeline on the env's source and lake: its own name,
// tables, slot, publication and state dir, in a config file derived from
// the env's.
func shard(t *testing.T, e *pipelineEnv, name, tables string) *e2e.Pipeline {
	t.Helper()
	cfg, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	y := string(cfg)
	for _, r := range [][2]string{
		{"name: " + e.db + "\n", "name: " + name + "\n"},
		{"dir: " + e.dir + "/state\n", "dir: " + e.dir + "/state-" + name + "\n"},
		{"tables: ", "slot.name: floe_" + name + "\n  publication.name: floe_" + name + "\n  tables: "},
	} {
		if !strings.Contains(y, r[0]) {
			t.Fatalf("config has no %q:\n%s", r[0], y)
		}
		y = strings.Replace(y, r[0], r[1], 1)
	}
	y = regexpReplaceLine(y, "  tables: ", "  tables: "+tables)
	f := e.floe()
	f.Config, f.Log = filepath.Join(e.dir, name+".yaml"), filepath.Join(e.dir, name+".log")
	if err := os.WriteFile(f.Config, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.pg.DropSlot(context.Background(), "floe_"+name) })
	return f
}

// regexpReplaceLine replaces the first line starting with prefix.
func regexpReplaceLine(s, prefix, line string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, prefix) {
			lines[i] = line
			break
		}
	}
	return strings.Join(lines, "\n")
}

// TestShardingTableOwnership: two pipelines (shards) on one PostgreSQL
// source, each with its own table set, slot, publication and state dir,
// write one lake: each owns its Iceberg table (table property floe.owner)
// and both verify equal while they run side by side. When the second is
// misconfigured to capture the first one's table too, its floe run stops
// at the start with one line naming the table, both pipelines and the
// fix, and nothing of it lands in that table, while the first streams on.
func TestShardingTableOwnership(t *testing.T) {
	needServers(t)
	ctx := context.Background()
	e := newPipelineEnv(t, "sharding", "public.orders", "upsert", "")
	e.exec(`CREATE TABLE orders (id bigint PRIMARY KEY, n int NOT NULL)`,
		`CREATE TABLE items (id bigint PRIMARY KEY, name text)`,
		`INSERT INTO orders SELECT g, 0 FROM generate_series(1, 200) g`,
		`INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 200) g`,
		"ALTER TABLE orders OWNER TO u_sharding", "ALTER TABLE items OWNER TO u_sharding")
	b := shard(t, e, "sharding_b", "public.items")

	ra := e.start()
	rb := b.Start()
	e.waitStreaming(ra)
	b.WaitLog(rb, "msg=streaming", time.Minute)
	for i := 0; i < 20; i++ {
		e.exec("UPDATE orders SET n = n + 1 WHERE id % 7 = "+itoa(i%7), "UPDATE items SET name = 'v"+itoa(i)+"' WHERE id % 5 = "+itoa(i%5),
			"INSERT INTO items VALUES ("+itoa(1000+i)+", 'new')", "DELETE FROM orders WHERE id = "+itoa(100+i))
	}
	e.waitCaughtUp(ra, 2*time.Minute)
	if err := testdb.WaitSlotCaughtUp(ctx, e.dsn, "floe_sharding_b", 2*time.Minute, rb); err != nil {
		t.Fatalf("%v; log:\n%s", err, b.Tail(40))
	}
	b.Stop(rb)
	for _, c := range []struct{ table, owner string }{{"orders", "sharding"}, {"items", "sharding_b"}} {
		got, err := e.sinkTable(c.table).Owner(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.owner {
			t.Fatalf("lake.%s: %s = %q, want %q", c.table, lakewriter.PropOwner, got, c.owner)
		}
	}
	t.Logf("floe verify, shard sharding:\n%s", e.mustVerify(1))
	if out, code := b.Run(time.Minute, "verify", "--config", b.Config); code != 0 || strings.Count(out, "OK ") != 1 {
		t.Fatalf("floe verify of sharding_b: exit %d:\n%s", code, out)
	}

	// sharding_b now captures orders too: it must not write it.
	cfg, err := os.ReadFile(b.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.Config, []byte(strings.Replace(string(cfg), "tables: public.items", "tables: public.items, public.orders", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	rb = b.Start()
	select {
	case <-rb.Exited:
	case <-time.After(2 * time.Minute):
		t.Fatalf("sharding_b did not stop; log:\n%s", b.Tail(40))
	}
	last := b.Tail(1)
	if rb.Err == nil {
		t.Fatalf("sharding_b exited 0; log:\n%s", b.Tail(40))
	}
	for _, s := range []string{"table lake.orders belongs to pipeline sharding", "pipeline sharding_b refuses to write it", "fix: give each pipeline its own tables"} {
		if !strings.Contains(last, s) {
			t.Fatalf("sharding_b's last line lacks %q:\n%s\nlog:\n%s", s, last, b.Tail(20))
		}
	}
	t.Logf("sharding_b stopped with: %s", last)
	hist, err := e.sinkTable("orders").History(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range hist {
		if s.Props[ledger.PropPipeline] == "sharding_b" || strings.Contains(s.Props[ledger.PropClaim], `"sharding_b"`) {
			t.Fatalf("lake.orders holds snapshot %d of sharding_b: %v", s.ID, s.Props)
		}
	}
	// The owner streams on.
	e.exec("UPDATE orders SET n = -1 WHERE id = 1")
	e.waitCaughtUp(ra, 2*time.Minute)
	e.stop(ra)
	t.Logf("floe verify, shard sharding, after:\n%s", e.mustVerify(1))
}

func itoa(i int) string { return strconv.Itoa(i) }
