package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/capture/postgres"
	"github.com/floe-cdc/floe/lakewriter/ledger"
)

const pgRenameSchema = `CREATE TABLE items (id bigint PRIMARY KEY, a int, b text NOT NULL, c double precision);
CREATE TABLE other (id int PRIMARY KEY, v text);
INSERT INTO items SELECT g, g % 100, 'b' || g, g / 3.0 FROM generate_series(1, 500) g;
INSERT INTO other SELECT g, 'v' || g FROM generate_series(1, 20) g;`

// newPGRenameEnv is a pipeline over items and other, owned by the CDC user.
func newPGRenameEnv(t *testing.T, db string) *pipelineEnv {
	t.Helper()
	needServers(t)
	e := newPipelineEnv(t, db, `public\.(items|other)`, "upsert", "")
	e.exec(pgRenameSchema)
	for _, tbl := range []string{"items", "other"} {
		e.exec(fmt.Sprintf("ALTER TABLE %s OWNER TO u_%s", tbl, db))
	}
	return e
}

// TestPostgresRenameColumn: with the DDL event trigger installed, columns
// renamed while floe streams (a plain column with rows changed before and
// after it, one renamed to a quoted name in a transaction that then
// writes rows, the key column) are renamed in Iceberg: field ids kept, no
// column of an old name back, floe.schema-change recording each rename,
// `floe verify` equal. A SIGKILL falls after a rename that only the
// renamed table has committed past (its rows before the rename are
// replayed); a rename made while floe is down is replayed from the slot
// with the discovered layout renamed already.
//
// floe check --fix as the CDC user (not a superuser) cannot install the
// trigger and says so; the documented SQL run by a superuser does, and
// floe check stops noting its absence.
func TestPostgresRenameColumn(t *testing.T) {
	e := newPGRenameEnv(t, "pgrename")
	out, code := runFloe(t, e, "check", "--config", e.config)
	if code != 0 || !strings.Contains(out, "note: no DDL event trigger") {
		t.Fatalf("floe check without the trigger: exit %d, want 0 and a note:\n%s", code, out)
	}
	out, code = runFloe(t, e, "check", "--fix", "--config", e.config)
	if code != 1 || !strings.Contains(out, "install the DDL event trigger") || !strings.Contains(out, "superuser") {
		t.Fatalf("floe check --fix as a non-superuser: exit %d, want 1 and a line naming the superuser:\n%s", code, out)
	}
	e.exec(postgres.DDLTriggerSQL)
	if out := mustCheck(t, e); strings.Contains(out, "note:") {
		t.Fatalf("floe check notes a missing trigger after it was installed:\n%s", out)
	}

	r := e.startStreaming()
	e.waitCaughtUp(r, 2*time.Minute)
	ids0, key0 := fieldIDs(t, e, "items")

	// Rows before and after the rename; other gets no change, so its
	// position stays before the rename and a restart replays items' rows
	// in the old layout, which the table already holds.
	e.exec(`UPDATE items SET a = a + 1 WHERE id <= 50`,
		`ALTER TABLE items RENAME COLUMN a TO a2`,
		`UPDATE items SET a2 = a2 + 7 WHERE id <= 60`)
	e.waitCaughtUp(r, 2*time.Minute)
	e.kill(r)

	// A rename to a quoted name with rows written after it in the same
	// transaction, while floe is down: the next run discovers the layout
	// renamed already and replays the ALTER's message from the slot.
	e.exec(`BEGIN; ALTER TABLE items RENAME b TO "B two"; UPDATE items SET "B two" = 'x' || id WHERE id % 7 = 0; COMMIT`)

	// The key renamed, then rows changed and deleted by it.
	r = e.startStreaming()
	e.exec(`ALTER TABLE items RENAME COLUMN id TO item_id`,
		`UPDATE items SET c = -c WHERE item_id % 5 = 0`,
		`DELETE FROM items WHERE item_id % 11 = 0`,
		`INSERT INTO items SELECT g, g, 'new', 0.5 FROM generate_series(1001, 1100) g`,
		`UPDATE other SET v = v || '!'`)
	e.waitCaughtUp(r, 2*time.Minute)
	e.stop(r)
	t.Logf("floe verify:\n%s", e.mustVerify(2))
	log := e.tail(1 << 30)
	if !strings.Contains(log, `rename column b to B two (replayed)`) {
		t.Fatalf("the log shows no rename replayed with the discovered layout renamed already:\n%s", e.tail(60))
	}
	t.Logf("renames followed: %d", strings.Count(log, `msg="column renamed on a captured table"`))

	ids, key := fieldIDs(t, e, "items")
	for _, c := range []struct{ now, was string }{{"a2", "a"}, {"B two", "b"}, {"item_id", "id"}} {
		if ids0[c.was] == 0 || ids[c.now] != ids0[c.was] {
			t.Fatalf("items.%s renamed %s: field id %d, want %d (now %v)", c.was, c.now, ids[c.now], ids0[c.was], ids)
		}
		if _, ok := ids[c.was]; ok {
			t.Fatalf("items has a column %s again after its rename: %v", c.was, ids)
		}
	}
	if len(key) != 1 || key[0] != key0[0] {
		t.Fatalf("items identifier fields %v, want %v (the renamed key)", key, key0)
	}
	var recorded []string
	for _, s := range sinkHistory(t, e, "items") {
		if v := s.Props[ledger.PropSchemaChange]; v != "" {
			recorded = append(recorded, v)
		}
	}
	all := strings.Join(recorded, "\n")
	for _, want := range []string{"rename column a to a2", "rename column b to B two", "rename column id to item_id"} {
		if !strings.Contains(all, want) {
			t.Fatalf("the items history records no schema change %q:\n%s", want, all)
		}
	}
}

// TestPostgresRenameWithoutTrigger: without the DDL event trigger a
// rename is refused, never taken for a drop and an add: floe run stops
// with one line naming the table, the column, the trigger and floe
// resnapshot.
func TestPostgresRenameWithoutTrigger(t *testing.T) {
	e := newPGRenameEnv(t, "pgrename_notrig")
	stopOnUnfollowable(t, e)
	r := e.startStreaming()
	e.waitCaughtUp(r, 2*time.Minute)
	e.exec(`ALTER TABLE items RENAME COLUMN a TO a2`, `UPDATE items SET a2 = 0 WHERE id = 1`)
	select {
	case <-r.Exited:
	case <-time.After(time.Minute):
		t.Fatalf("floe run did not stop at the rename; log:\n%s", e.tail(40))
	}
	log := e.tail(40)
	for _, want := range []string{"items", "column a2", "renamed", "floe check --fix", "floe resnapshot"} {
		if !strings.Contains(log, want) {
			t.Fatalf("the stop names no %q; log:\n%s", want, log)
		}
	}
	if ids, _ := fieldIDs(t, e, "items"); ids["a2"] != 0 {
		t.Fatalf("items got a column a2 although the rename was refused: %v", ids)
	}
}

// TestPostgresRenameReplayedFromOldName: with the DDL event trigger
// installed, a rename that the replay reaches after rows of the table in
// the old layout (so the stream's first Relation message of the table
// names the old column, whose attnum the catalog no longer shows) is
// followed in place at its position: the field id is kept, no column of
// an old name comes back, no floe.reset commit, `floe verify` equal.
//
// Twice: rows changed while floe is stopped, then the rename, then more
// rows; and rows changed while floe runs with checkpoints an hour apart
// (so nothing of them is committed) and SIGKILLed, then the key column
// renamed and another column renamed twice, then more rows.
func TestPostgresRenameReplayedFromOldName(t *testing.T) {
	e := newPGRenameEnv(t, "pgrename_old")
	e.exec(postgres.DDLTriggerSQL)
	e.catchUp(nil)
	ids0, key0 := fieldIDs(t, e, "items")

	// Stopped: rows in the old layout, the rename, rows in the new one.
	e.exec(`UPDATE items SET a = a + 1 WHERE id <= 50`,
		`ALTER TABLE items RENAME COLUMN a TO a2`,
		`UPDATE items SET a2 = a2 + 7 WHERE id BETWEEN 40 AND 90`)
	e.catchUp(nil)
	if ids, _ := fieldIDs(t, e, "items"); ids["a2"] != ids0["a"] {
		t.Fatalf("after a rename replayed from the old name: fields %v, want a2 with a's id %d", ids, ids0["a"])
	}

	// Killed before any checkpoint committed the rows in the old layout.
	rewriteConfig(t, e, "checkpoint-interval: 1s", "checkpoint-interval: 1h")
	r := e.startStreaming()
	commits := len(sinkHistory(t, e, "items"))
	e.exec(`UPDATE items SET b = b || '.' WHERE id % 3 = 0`, `DELETE FROM items WHERE id % 13 = 0`)
	time.Sleep(2 * time.Second) // the stream reads the rows; no checkpoint commits them
	e.kill(r)
	if n := len(sinkHistory(t, e, "items")); n != commits {
		t.Fatalf("items has %d commits after the kill, want %d (none of the rows before the rename)", n, commits)
	}
	e.exec(`ALTER TABLE items RENAME COLUMN id TO item_id`,
		`UPDATE items SET c = -c WHERE item_id % 5 = 0`,
		`ALTER TABLE items RENAME b TO "B two"`,
		`ALTER TABLE items RENAME "B two" TO b3`,
		`INSERT INTO items SELECT g, g, 'new', 0.5 FROM generate_series(1001, 1100) g`,
		`UPDATE items SET b3 = b3 || '!' WHERE item_id % 4 = 0`)
	r = e.startStreaming()
	e.waitCaughtUp(r, 2*time.Minute)
	e.stop(r)
	t.Logf("floe verify:\n%s", e.mustVerify(2))
	if n := strings.Count(e.tail(1<<30), "(the stream named the old column)"); n != 2 {
		t.Fatalf("the log shows %d renames of a column the stream named under its old name, want 2 (a, id):\n%s", n, e.tail(80))
	}

	ids, key := fieldIDs(t, e, "items")
	for _, c := range []struct{ now, was string }{{"a2", "a"}, {"b3", "b"}, {"item_id", "id"}} {
		if ids0[c.was] == 0 || ids[c.now] != ids0[c.was] {
			t.Fatalf("items.%s renamed %s: field id %d, want %d (now %v)", c.was, c.now, ids[c.now], ids0[c.was], ids)
		}
		if _, ok := ids[c.was]; ok {
			t.Fatalf("items has a column %s again after its rename: %v", c.was, ids)
		}
	}
	if _, ok := ids["B two"]; ok || len(ids) != len(ids0) {
		t.Fatalf("items fields %v, want the %d fields of %v renamed", ids, len(ids0), ids0)
	}
	if len(key) != 1 || key[0] != key0[0] {
		t.Fatalf("items identifier fields %v, want %v (the renamed key)", key, key0)
	}
	schemas := icebergSchemas(t, e, "items")
	t.Logf("items schema %d: %s", schemas[len(schemas)-1].ID, schemas[len(schemas)-1])
	var recorded []string
	for _, s := range sinkHistory(t, e, "items") {
		if v := s.Props[ledger.PropReset]; v != "" {
			t.Fatalf("items was reset (%s); the renames should have been followed in place", v)
		}
		if v := s.Props[ledger.PropSchemaChange]; v != "" {
			recorded = append(recorded, v)
		}
	}
	all := strings.Join(recorded, "\n")
	for _, want := range []string{"rename column a to a2", "rename column id to item_id", "rename column b to B two", "rename column B two to b3"} {
		if !strings.Contains(all, want) {
			t.Fatalf("the items history records no schema change %q:\n%s", want, all)
		}
	}

	// The documented fallback: a rename in a query text of several
	// statements (which one emitted the DDL message is not known) is not
	// followed by name; the table is re-snapshotted online, never given
	// a wrong column.
	rewriteConfig(t, e, "checkpoint-interval: 1h", "checkpoint-interval: 1s")
	e.exec(`UPDATE other SET v = v || '?' WHERE id <= 10`,
		`ALTER TABLE other RENAME v TO v2; ALTER TABLE other ADD COLUMN w int`,
		`UPDATE other SET v2 = v2 || '#', w = id WHERE id > 5`)
	e.catchUp(nil)
	t.Logf("floe verify:\n%s", e.mustVerify(2))
	if !resetLogged(e, "public.other") {
		t.Fatalf("other was not re-snapshotted for a rename in a query text of several statements:\n%s", e.tail(60))
	}
}

// TestPostgresRenameChainReplayed: renames made while floe is down,
// a column renamed twice, are replayed from the slot before any row of
// the table: the discovered layout has the last name, and each DDL
// message renames the Iceberg column once more, keeping its field id.
func TestPostgresRenameChainReplayed(t *testing.T) {
	e := newPGRenameEnv(t, "pgrename_chain")
	e.exec(postgres.DDLTriggerSQL)
	e.catchUp(nil)
	ids0, _ := fieldIDs(t, e, "other")
	e.exec(`ALTER TABLE other RENAME v TO v1`, `ALTER TABLE other RENAME v1 TO v2`, `UPDATE other SET v2 = v2 || '!' WHERE id % 2 = 0`)
	e.catchUp(nil)
	t.Logf("floe verify:\n%s", e.mustVerify(2))
	ids, _ := fieldIDs(t, e, "other")
	if ids["v2"] != ids0["v"] || ids["v"] != 0 || ids["v1"] != 0 {
		t.Fatalf("other fields %v, want v2 with v's id %d and neither v nor v1", ids, ids0["v"])
	}
	for _, s := range sinkHistory(t, e, "other") {
		if v := s.Props[ledger.PropReset]; v != "" {
			t.Fatalf("other was reset (%s); the renames should have been followed in place", v)
		}
	}
}
