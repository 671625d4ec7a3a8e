package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/floe-cdc/floe/capture/mysql"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/transform"
)

// TestMySQLCrashExactlyOnce is TestCrashExactlyOnce against MariaDB:
// SIGKILLs over the snapshot and streaming under a running workload, the
// state dir deleted once, then `floe verify` must find every table equal.
// In changelog mode the logs are also audited row by row: snapshot chunks
// are read at watermarks, so no change may be logged that a key's
// snapshot row already holds.
func TestMySQLCrashExactlyOnce(t *testing.T) {
	for _, mode := range []string{"upsert", "changelog"} {
		t.Run(mode, func(t *testing.T) {
			e := newMySQLEnv(t, "my_crash_"+mode, mode, "  snapshot.chunk-rows: 2000\n")
			const seeded = 100_000 // a snapshot long enough for early kills to land in it
			e.seed(seeded)

			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 13))
			seed := rng.Uint64() % 1000
			t.Logf("random seed %d", seed)
			// Schema changes while floe runs, is killed and restarts: the
			// Iceberg tables evolve with them (a new column that later
			// changes get values in, a widened type, a dropped column).
			w := &mysqlWorkload{e: e, rng: rand.New(rand.NewPCG(seed, 5)), next: seeded, ddlAt: map[int]string{
				400:  "ALTER TABLE accounts ADD COLUMN nick VARCHAR(20) NULL",
				500:  "UPDATE accounts SET nick = CONCAT('n', id) WHERE id % 7 = 0",
				900:  "ALTER TABLE accounts MODIFY small INT",
				1400: "ALTER TABLE accounts DROP COLUMN ratio",
				1800: "ALTER TABLE events ADD COLUMN note TEXT NULL, MODIFY amount DOUBLE",
			}}
			crashLoop(t, e, w, rng, 3)
			if len(w.ddlAt) > 0 {
				t.Fatalf("the workload ended before the schema changes %v", w.ddlAt)
			}
			// The Iceberg tables followed the schema changes (and verify,
			// which compares every source column, found them equal).
			accounts, events := e.sinkTable("accounts").Layout(), e.sinkTable("events").Layout()
			for _, c := range []struct {
				layout      *schema.Table
				name, typ   string
				description string
			}{
				{accounts, "nick", "string", "the added column"},
				{accounts, "ratio", "double", "the dropped column, kept"},
				{events, "note", "string", "the added column"},
				{events, "amount", "double", "FLOAT widened to DOUBLE"},
			} {
				i := c.layout.Index(c.name)
				if i < 0 || c.layout.Columns[i].Type.String() != c.typ {
					t.Fatalf("iceberg layout %s lacks %s (%s %s)", c.layout, c.description, c.name, c.typ)
				}
			}
			if mode == "changelog" {
				auditChangelog(t, e.pipelineEnv, "accounts", "id")          // BIGINT key
				auditChangelog(t, e.pipelineEnv, "events", "tenant", "seq") // by collation weights
			}
		})
	}
}

func (w *mysqlWorkload) transactions() int { return w.txns }

// auditChangelog reads a changelog table and checks, per key (the source
// table's key columns), that it has
// at most one snapshot row ('r') and no other row at or before that
// row's position: a change the snapshot row already holds, logged again,
// would be one (the duplicate that chunks reconciled by watermarks rule
// out). It requires that some snapshot rows were read after the
// snapshot's start, so that the audit had something to find.
func auditChangelog(t *testing.T, e *pipelineEnv, name string, keyColumns ...string) {
	t.Helper()
	tbl := e.sinkTable(name)
	layout := tbl.Layout()
	opCol, posCol := layout.Index(transform.ColOp), layout.Index(transform.ColPos)
	var key []int
	for _, c := range keyColumns {
		key = append(key, layout.Index(c))
	}
	type logged struct {
		op  string
		pos mysql.Position
	}
	byKey := map[string][]logged{}
	if err := tbl.Scan(context.Background(), func(r schema.Row) error {
		p, err := mysql.DecodePosition(r[posCol].(string))
		if err != nil {
			return err
		}
		k := ""
		for _, i := range key {
			k += fmt.Sprintf("%v|", r[i])
		}
		byKey[k] = append(byKey[k], logged{op: r[opCol].(string), pos: p})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var first *mysql.Position
	snapRows, later := 0, 0
	for k, rows := range byKey {
		var snap *logged
		for i, r := range rows {
			if r.op != "r" {
				continue
			}
			if snap != nil {
				t.Fatalf("%s key %s has two snapshot rows (at %s and %s)", name, k, snap.pos, r.pos)
			}
			snap = &rows[i]
		}
		if snap == nil {
			continue
		}
		snapRows++
		if first == nil || snap.pos.Compare(*first) < 0 {
			p := snap.pos
			first = &p
		}
		for _, r := range rows {
			if r.op != "r" && r.pos.Compare(snap.pos) <= 0 {
				t.Fatalf("%s key %s: %q row at %s is at or before its snapshot row's position %s: logged twice", name, k, r.op, r.pos, snap.pos)
			}
		}
	}
	for _, rows := range byKey {
		for _, r := range rows {
			if r.op == "r" && r.pos.Compare(*first) > 0 {
				later++
			}
		}
	}
	if later == 0 {
		t.Fatalf("%s: all %d snapshot rows are at one position: no chunk was read at a later watermark, the audit shows nothing", name, snapRows)
	}
	t.Logf("changelog audit of %s: %d keys, %d snapshot rows (%d read at later watermarks), no change logged twice", name, len(byKey), snapRows, later)
}
