package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/schema"
)

// sinkRows counts the rows of a sink table and the rows per _floe_op.
func sinkRows(t *testing.T, e *pipelineEnv, table string) (int, map[string]int) {
	t.Helper()
	tbl := e.sinkTable(table)
	opCol := tbl.Layout().Index("_floe_op")
	n, ops := 0, map[string]int{}
	err := tbl.Scan(context.Background(), func(r schema.Row) error {
		n++
		ops[r[opCol].(string)]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n, ops
}

const auditTable = `CREATE TABLE audit (event_id bigint NOT NULL, note text);
ALTER TABLE audit ADD UNIQUE (event_id);
ALTER TABLE audit REPLICA IDENTITY FULL;
INSERT INTO audit SELECT g, 'n' || g FROM generate_series(1, 300) g;`

// TestKeylessTable: a table without a primary key is a clear error in
// upsert mode, mirrors correctly once a route names its key (NOT NULL
// columns a unique index covers), and is
// logged change by change in changelog mode.
func TestKeylessTable(t *testing.T) {
	needServers(t)
	e := newPipelineEnv(t, "keyless", `public\.audit`, "upsert", "")
	e.exec(auditTable, "ALTER TABLE audit OWNER TO u_keyless")

	out, code := runFloe(t, e, "check", "--config", e.config)
	expectOneLineError(t, out, code, "public.audit", "primary key")
	out, code = runFloe(t, e, "run", "--config", e.config)
	expectOneLineError(t, out, code, "public.audit", "primary key")

	rewriteConfig(t, e, "\nlog:\n", "\nroute:\n  - source-table: public.audit\n    primary-key: event_id\nlog:\n")
	r := e.start()
	e.exec(`UPDATE audit SET note = 'changed' WHERE event_id <= 10`, `DELETE FROM audit WHERE event_id > 290`,
		`INSERT INTO audit VALUES (1000, 'late')`)
	e.waitCaughtUp(r, time.Minute)
	e.stop(r)
	e.mustVerify(1)

	c := newPipelineEnv(t, "keylesslog", `public\.audit`, "changelog", "")
	c.exec(auditTable, "ALTER TABLE audit OWNER TO u_keylesslog")
	r = c.start()
	c.waitStreaming(r) // changes before the snapshot would be read as 'r' rows
	c.exec(`UPDATE audit SET note = 'changed' WHERE event_id <= 10`, `DELETE FROM audit WHERE event_id > 290`,
		`INSERT INTO audit VALUES (1000, 'late')`)
	c.waitCaughtUp(r, time.Minute)
	c.stop(r)
	n, ops := sinkRows(t, c, "audit")
	want := map[string]int{"r": 300, "u": 10, "d": 10, "c": 1}
	if n != 321 || ops["r"] != want["r"] || ops["u"] != want["u"] || ops["d"] != want["d"] || ops["c"] != want["c"] {
		t.Fatalf("changelog holds %d rows %v, want 321 %v", n, ops, want)
	}
	out, code = c.verify()
	if code != 0 || !strings.Contains(out, "SKIPPED") {
		t.Fatalf("verify of a keyless changelog table: exit %d\n%s", code, out)
	}
}

// TestSnapshotModes: initial_only stops by itself after the snapshot;
// never streams only what changes after the slot exists.
func TestSnapshotModes(t *testing.T) {
	needServers(t)
	e := newPipelineEnv(t, "onlyinit", `public\.orders`, "upsert", "  snapshot.mode: initial_only\n")
	e.exec(`CREATE TABLE orders (id int PRIMARY KEY, item text)`, `INSERT INTO orders SELECT g, 'i' || g FROM generate_series(1, 2000) g`,
		`ALTER TABLE orders OWNER TO u_onlyinit`)
	out, code := runFloe(t, e, "run", "--config", e.config)
	if code != 0 {
		t.Fatalf("initial_only run: exit %d\n%s", code, out)
	}
	if n, _ := sinkRows(t, e, "orders"); n != 2000 {
		t.Fatalf("initial_only wrote %d rows, want 2000", n)
	}
	e.mustVerify(1)

	n := newPipelineEnv(t, "nosnap", `public\.orders`, "changelog", "  snapshot.mode: never\n")
	n.exec(`CREATE TABLE orders (id int PRIMARY KEY, item text)`, `INSERT INTO orders SELECT g, 'i' || g FROM generate_series(1, 2000) g`,
		`ALTER TABLE orders OWNER TO u_nosnap`)
	r := n.start()
	n.waitStreaming(r)
	n.exec(`INSERT INTO orders VALUES (5000, 'new')`, `DELETE FROM orders WHERE id = 1`)
	n.waitCaughtUp(r, time.Minute)
	n.stop(r)
	total, ops := sinkRows(t, n, "orders")
	if total != 2 || ops["c"] != 1 || ops["d"] != 1 {
		t.Fatalf("snapshot.mode never wrote %d rows %v, want only the insert and the delete", total, ops)
	}
}

// TestReconnectAfterLostConnection: when the server drops the replication
// connection, floe run starts again from the committed positions instead of
// exiting, and loses nothing.
func TestReconnectAfterLostConnection(t *testing.T) {
	needServers(t)
	e := newPipelineEnv(t, "reconnect", `public\.orders`, "upsert", "")
	e.exec(`CREATE TABLE orders (id int PRIMARY KEY, item text)`, `INSERT INTO orders SELECT g, 'i' || g FROM generate_series(1, 1000) g`,
		`ALTER TABLE orders OWNER TO u_reconnect`)
	r := e.start()
	e.waitStreaming(r)
	e.exec(`INSERT INTO orders SELECT g, 'before' FROM generate_series(1001, 1500) g`)
	e.exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_replication WHERE application_name <> 'x'`)
	e.exec(`UPDATE orders SET item = 'after' WHERE id <= 300`, `DELETE FROM orders WHERE id > 1400`)
	e.waitCaughtUp(r, time.Minute)
	e.stop(r)
	if !strings.Contains(e.tail(100000), "connection lost; restarting") {
		t.Fatalf("floe did not report restarting after the connection loss; log:\n%s", e.tail(30))
	}
	e.mustVerify(1)
}

// TestVerifyFindsDifferences: `floe verify`, the oracle of every
// correctness test, reports a row missing in Iceberg, a row only in
// Iceberg and a row whose values differ (naming the column and both
// values), in both sink modes, and exits non-zero.
func TestVerifyFindsDifferences(t *testing.T) {
	needServers(t)
	for _, mode := range []string{"upsert", "changelog"} {
		t.Run(mode, func(t *testing.T) {
			db := "verifydiff_" + mode
			e := newPipelineEnv(t, db, `public\.orders`, mode, "")
			e.exec(`CREATE TABLE orders (id int PRIMARY KEY, item text, qty int)`,
				`INSERT INTO orders SELECT g, 'i' || g, g FROM generate_series(1, 100) g`,
				"ALTER TABLE orders OWNER TO u_"+db)
			r := e.start()
			e.waitCaughtUp(r, time.Minute)
			e.stop(r)
			e.mustVerify(1)
			// Changed while floe is stopped: Iceberg now lags the source.
			e.exec(`INSERT INTO orders VALUES (500, 'new', 1)`, `DELETE FROM orders WHERE id = 7`,
				`UPDATE orders SET qty = 4242 WHERE id = 42`)
			out, code := e.verify()
			if code == 0 {
				t.Fatalf("verify exited 0 on a lagging table:\n%s", out)
			}
			for _, want := range []string{"MISMATCH", "1 missing, 1 extra, 1 differ", "(id=500) missing in iceberg",
				"(id=7) only in iceberg", "(id=42) differs", "(id=42) qty: source 4242, iceberg 42"} {
				if !strings.Contains(out, want) {
					t.Errorf("verify output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}
