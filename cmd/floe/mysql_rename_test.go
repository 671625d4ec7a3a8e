package main

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/apache/iceberg-go/table"

	"github.com/floe-cdc/floe/lakewriter/ledger"
)

// fieldIDs returns the Iceberg field id of each column of sink table name,
// and its identifier field ids.
func fieldIDs(t *testing.T, e *pipelineEnv, name string) (map[string]int, []int) {
	t.Helper()
	ids := map[string]int{}
	var ident []int
	err := e.sinkTable(name).Maintain(context.Background(), func(_ context.Context, tbl *table.Table) (*table.Table, error) {
		for _, f := range tbl.Schema().Fields() {
			ids[f.Name] = f.ID
		}
		ident = tbl.Schema().IdentifierFieldIDs
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids, ident
}

// TestMySQLRenameColumn: columns renamed by RENAME COLUMN and CHANGE
// (a key column among them) while floe streams, with DML before and after
// each rename and SIGKILLs in between, are renamed in Iceberg: the field
// ids stay (rows written before read under the new name), no column of
// the old name comes back, floe.schema-change records the rename that was
// committed before a kill, and `floe verify` finds every table equal.
//
// The first rename is followed by a kill once only the renamed table has
// committed past it (events' position stays before it), so the restart
// replays accounts rows in the old layout that the table already holds:
// they must not add the old name back.
func TestMySQLRenameColumn(t *testing.T) {
	for _, mode := range []string{"upsert", "changelog"} {
		t.Run(mode, func(t *testing.T) {
			e := newMySQLEnv(t, "my_rename_"+mode, mode, "")
			e.seed(2000)
			r := e.start()
			e.waitStreaming(r)
			e.waitCaughtUp(r, 2*time.Minute)
			accounts0, _ := fieldIDs(t, e.pipelineEnv, "accounts")
			marker0, markerKey0 := fieldIDs(t, e.pipelineEnv, "floe_marker")

			// Rows before and after the rename in one checkpoint window;
			// events gets no change, so its position stays behind.
			e.sql("UPDATE accounts SET small = small + 1 WHERE id <= 50",
				"ALTER TABLE accounts RENAME COLUMN small TO small2",
				"UPDATE accounts SET small2 = small2 + 7 WHERE id <= 60")
			e.waitCaughtUp(r, 2*time.Minute)
			e.kill(r)

			// A workload with more renames, killed at random moments.
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
			w := &mysqlWorkload{e: e, rng: rng, next: 2000, ddlAt: map[int]string{
				30:  "ALTER TABLE accounts CHANGE ratio ratio2 DOUBLE",
				40:  "UPDATE accounts SET ratio2 = -ratio2, small2 = small2 + 1 WHERE id % 9 = 0",
				90:  "ALTER TABLE floe_marker RENAME COLUMN id TO mid, RENAME COLUMN `at` TO at2",
				140: "UPDATE accounts SET ratio2 = ratio2 * 2 WHERE id % 11 = 0",
			}}
			ctx := context.Background()
			for kill := range 3 {
				r = e.start()
				e.waitStreaming(r)
				for range 60 + rng.IntN(20) {
					if err := w.step(ctx); err != nil {
						t.Fatal(err)
					}
				}
				if kill == 2 {
					e.waitCaughtUp(r, 2*time.Minute)
				}
				time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond)
				e.kill(r)
			}
			if len(w.ddlAt) > 0 {
				t.Fatalf("the workload ended before the schema changes %v", w.ddlAt)
			}

			r = e.start()
			e.waitCaughtUp(r, 3*time.Minute)
			e.stop(r)
			t.Logf("floe verify:\n%s", e.mustVerify(3))

			accounts, _ := fieldIDs(t, e.pipelineEnv, "accounts")
			marker, markerKey := fieldIDs(t, e.pipelineEnv, "floe_marker")
			for _, c := range []struct {
				got, want int
				what      string
			}{
				{accounts["small2"], accounts0["small"], "accounts.small renamed small2"},
				{accounts["ratio2"], accounts0["ratio"], "accounts.ratio renamed ratio2 by CHANGE"},
				{marker["mid"], marker0["id"], "floe_marker key id renamed mid"},
				{marker["at2"], marker0["at"], "floe_marker.at renamed at2"},
			} {
				if c.want == 0 || c.got != c.want {
					t.Fatalf("%s: field id %d, want the old column's %d (accounts %v, floe_marker %v)", c.what, c.got, c.want, accounts, marker)
				}
			}
			for _, old := range []string{"small", "ratio"} {
				if _, ok := accounts[old]; ok {
					t.Fatalf("accounts has a column %s again after its rename: %v", old, accounts)
				}
			}
			if mode == "upsert" && (len(markerKey) != 1 || markerKey[0] != markerKey0[0]) {
				t.Fatalf("floe_marker identifier fields %v, want %v (the renamed key)", markerKey, markerKey0)
			}
			var recorded []string
			for _, s := range sinkHistory(t, e.pipelineEnv, "accounts") {
				if v := s.Props[ledger.PropSchemaChange]; v != "" {
					recorded = append(recorded, v)
				}
			}
			all := strings.Join(recorded, "\n")
			// The rename before the first kill was committed (caught up); the
			// record of a later one is lost when a kill falls between its schema
			// commit and the table's next commit, as for any schema change.
			for _, want := range []string{"rename column small to small2"} {
				if !strings.Contains(all, want) {
					t.Fatalf("the accounts history records no schema change %q:\n%s", want, all)
				}
			}
		})
	}
}
