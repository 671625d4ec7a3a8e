package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/floe-cdc/floe/capture/postgres"
)

// pgTortureSteps is every kind of schema change Floe follows on
// PostgreSQL, each with the DML that shows it, in the order the torture
// test runs them (the workload of workload_test.go never names the
// columns they touch, and tolerates every one).
var pgTortureSteps = []tortureStep{
	{what: "add column", sql: []string{`ALTER TABLE accounts ADD COLUMN nick varchar(12)`,
		`UPDATE accounts SET nick = 'n' || id WHERE id % 5 = 0`}},
	{what: "add column with a default (filled into every row: re-snapshotted online)", sql: []string{
		`ALTER TABLE accounts ADD COLUMN tier int DEFAULT 3`,
		`UPDATE accounts SET tier = 4 WHERE id % 9 = 0`}},
	{what: "add table", sql: []string{`CREATE TABLE extra (id int PRIMARY KEY, v text)`, `ALTER TABLE extra OWNER TO u_pgtorture`,
		`INSERT INTO extra SELECT g, 'x' || g FROM generate_series(1, 3000) g`}},
	{what: "rename column", sql: []string{`ALTER TABLE accounts RENAME COLUMN nick TO nickname`,
		`UPDATE accounts SET nickname = 'r' || id WHERE id % 7 = 0`, `UPDATE extra SET v = v || '+' WHERE id % 3 = 0`}},
	{what: "widen", sql: []string{`ALTER TABLE events ALTER COLUMN amount TYPE double precision, ALTER COLUMN kind TYPE varchar(40)`,
		`UPDATE events SET kind = repeat('k', 30), amount = amount + 0.1234567891 WHERE seq % 9 = 0`}},
	{what: "drop NOT NULL", sql: []string{`ALTER TABLE accounts ALTER COLUMN name DROP NOT NULL`,
		`UPDATE accounts SET name = NULL WHERE id % 11 = 0`}},
	{what: "set NOT NULL", sql: []string{`ALTER TABLE accounts ALTER COLUMN tier SET NOT NULL`,
		`UPDATE accounts SET tier = tier + 10 WHERE id % 13 = 0`}},
	{what: "drop table", sql: []string{`DROP TABLE gone`, `UPDATE extra SET v = v || '!' WHERE id % 4 = 0`}},
	{what: "drop column", sql: []string{`ALTER TABLE accounts DROP COLUMN ratio`,
		`UPDATE accounts SET nickname = 'd' || id WHERE id % 17 = 0`, `DELETE FROM extra WHERE id % 10 = 0`}},
}

// TestPostgresDDLTorture runs every supported schema change of
// pgTortureSteps, with the DDL event trigger installed, while the crash
// workload keeps changing the tables and background compaction runs every
// second. Each change lands either while floe run streams (it is then
// SIGKILLed at a random moment after it) or while floe is down (it is
// then found at start or replayed from the slot). Afterwards `floe
// verify` finds every table equal, the dropped table is kept and marked,
// the Iceberg schema history of accounts holds each change (see
// checkTortureHistory), and the registry holds one version of each
// table's subject per Iceberg schema, none twice, and no other but those
// a kill left unused (see checkOneVersionPerSchema).
func TestPostgresDDLTorture(t *testing.T) {
	needServers(t)
	ctx := context.Background()
	const db = "pgtorture"
	e := newPipelineEnv(t, db, `public\.(accounts|events|notes|scratch|extra|gone)`, "upsert", "  snapshot.chunk-rows: 2000\n")
	e.exec(testSchema, `CREATE TABLE gone (id int PRIMARY KEY, v text)`, `INSERT INTO gone SELECT g, 'g' || g FROM generate_series(1, 500) g`)
	const seeded = 20_000
	e.exec(seedSQL(seeded)...)
	for _, tbl := range []string{"accounts", "events", "notes", "scratch", "gone"} {
		e.exec(fmt.Sprintf("ALTER TABLE %s OWNER TO u_%s", tbl, db))
	}
	e.exec(postgres.DDLTriggerSQL)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 23))
	seed := rng.Uint64() % 1000
	t.Logf("random seed %d", seed)
	ddlTorture(t, e, pgDeadlockRetrying{newWorkload(ctx, t, e, seeded, seed)}, rng, e.exec, pgTortureSteps)
	t.Logf("floe verify:\n%s", e.mustVerify(5))

	if e.sinkTable("gone").Property("floe.dropped-at") == "" {
		t.Fatalf("the dropped table gone is not marked floe.dropped-at")
	}
	checkTortureHistory(t, e, "public.accounts")
	for _, name := range []string{"accounts", "events", "extra"} {
		checkOneVersionPerSchema(t, e, "public", name)
	}
}

// tortureStep is one schema change of a torture test and the DML that
// shows it.
type tortureStep struct {
	what string
	sql  []string
}

// pgDeadlockRetrying runs a workload step again when PostgreSQL chose its
// transaction as a deadlock victim (SQLSTATE 40P01), which the torture's
// own statements cause: a step's bulk UPDATE locks rows in another order
// than a workload transaction updating two of them (seen once in a
// fresh-clone make test, while floe was down). The server rolled the
// transaction back, so nothing of it happened.
type pgDeadlockRetrying struct{ *workload }

func (w pgDeadlockRetrying) step(ctx context.Context) error {
	for {
		err := w.workload.step(ctx)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "40P01" {
			return err
		}
	}
}

// ddlTorture runs steps against env's source (exec runs a step's
// statements) while workload w keeps changing the tables and background
// compaction runs every second. Each step lands either while floe run
// streams (it is then SIGKILLed at a random moment after it) or while
// floe is down (found at start, or replayed from the log). It ends with
// floe caught up and stopped.
func ddlTorture(t *testing.T, env crashEnv, w crashWorkload, rng *rand.Rand, exec func(...string), steps []tortureStep) {
	t.Helper()
	e := env.base()
	e.appendConfig("compaction:\n  interval: 1s\n  min-input-files: 2\n  expire-snapshots-older-than: 5s\n  retain-last: 3\n")
	stopWork := inBackground(w.step, 3*time.Millisecond)
	defer stopWork()

	appendLog(t, e, "=== test: start 0 ===")
	r := e.start()
	e.waitStreaming(r)
	for i, step := range steps {
		running := rng.IntN(2) == 0
		if running {
			exec(step.sql...)
		}
		wait := time.Duration(50+rng.IntN(2000)) * time.Millisecond
		time.Sleep(wait)
		stillRunning(t, e, r)
		e.kill(r)
		if !running {
			exec(step.sql...)
		}
		t.Logf("step %d (%s) while floe %s; killed after %v", i, step.what, map[bool]string{true: "streamed", false: "was down"}[running], wait)
		appendLog(t, e, fmt.Sprintf("=== test: start %d ===", i+1))
		r = e.start()
		waitForLog(t, e, r, "msg=streaming")
	}
	if err := stopWork(); err != nil {
		t.Fatalf("workload: %v", err)
	}
	t.Logf("workload: %d transactions", w.transactions())
	env.waitCaughtUp(r, 3*time.Minute)
	stillRunning(t, e, r)
	e.stop(r)
}

// icebergSchemas returns the schemas Iceberg table name has had, oldest
// first.
func icebergSchemas(t *testing.T, e *pipelineEnv, name string) []*iceberg.Schema {
	t.Helper()
	var schemas []*iceberg.Schema
	err := e.sinkTable(name).Maintain(context.Background(), func(_ context.Context, tbl *table.Table) (*table.Table, error) {
		schemas = tbl.Metadata().Schemas()
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return schemas
}

// checkTortureHistory checks that the schema history of accounts and
// events holds the torture's changes. Changes made while floe was down
// reach Iceberg together at the next start, so only the rename's order
// (after the add) is fixed. The rename is either followed in place (the
// field keeps its id, the old name is gone) or, when the table was reset
// for a change its replayed stream could not follow, lands as a kept old
// column and a new one (see the README).
func checkTortureHistory(t *testing.T, e *pipelineEnv, accounts string) {
	t.Helper()
	schemas := icebergSchemas(t, e, "accounts")
	first := func(pred func(*iceberg.Schema) bool) int {
		for i, sc := range schemas {
			if pred(sc) {
				return i
			}
		}
		return -1
	}
	has := func(col string) func(*iceberg.Schema) bool {
		return func(sc *iceberg.Schema) bool { _, ok := sc.FindFieldByName(col); return ok }
	}
	nick, tier, renamed := first(has("nick")), first(has("tier")), first(has("nickname"))
	optionalName := first(func(sc *iceberg.Schema) bool { f, ok := sc.FindFieldByName("name"); return ok && !f.Required })
	if nick < 0 || tier < 0 || renamed <= nick || optionalName < 0 {
		t.Fatalf("accounts schema history (%d schemas): nick added at %d, tier at %d, renamed nickname at %d, name optional at %d; want each, the rename after the add",
			len(schemas), nick, tier, renamed, optionalName)
	}
	final := schemas[len(schemas)-1]
	was, _ := schemas[nick].FindFieldByName("nick")
	now, _ := final.FindFieldByName("nickname")
	_, kept := final.FindFieldByName("nick")
	switch {
	case was.ID == now.ID && !kept:
		t.Logf("accounts.nick renamed nickname in place (field id %d)", now.ID)
	case was.ID != now.ID && kept && resetLogged(e, accounts):
		t.Logf("accounts.nick kept and nickname added (field %d) by a reset for an unfollowable change", now.ID)
	default:
		t.Fatalf("accounts.nick (field %d) -> nickname (field %d), nick kept %v: neither a rename in place nor a reset's new column", was.ID, now.ID, kept)
	}
	for _, col := range []string{"ratio", "tier"} {
		if _, ok := final.FindFieldByName(col); !ok {
			t.Fatalf("accounts lacks %s in its current schema (the dropped ratio is kept under lenient): %s", col, final)
		}
	}
	if f, _ := final.FindFieldByName("name"); f.Required {
		t.Fatalf("accounts.name is still required after DROP NOT NULL: %s", final)
	}
	events := icebergSchemas(t, e, "events")
	for col, typ := range map[string]iceberg.Type{"amount": iceberg.PrimitiveTypes.Float64, "kind": iceberg.PrimitiveTypes.String} {
		f, ok := events[len(events)-1].FindFieldByName(col)
		if !ok || !f.Type.Equals(typ) {
			t.Fatalf("events.%s is %v in Iceberg, want %s", col, f.Type, typ)
		}
	}
	t.Logf("accounts schema history: %d schemas; events: %d", len(schemas), len(events))
}

// resetLogged reports whether the log shows source table table reset
// for a change its stream could not follow (background compaction
// expires the reset snapshot from the Iceberg history).
func resetLogged(e *pipelineEnv, table string) bool {
	return strings.Contains(e.tail(1<<30), fmt.Sprintf(`msg="table reset for its new snapshot" pipeline=%s table=%s `, e.db, table)) &&
		strings.Contains(e.tail(1<<30), "cause=unfollowable-change")
}

// checkOneVersionPerSchema checks the registry subject of table name (in
// sourceSchema: PostgreSQL's schema, MySQL's database) in the embedded
// registry against the table's Iceberg schemas: each version has its own
// schema id (a replayed change registered nothing twice), each Iceberg
// schema has its version, and the table's properties record the latest.
// A version beyond the Iceberg schemas is allowed only where the log
// accounts for it: floe registers a layout before it evolves the table,
// so a run killed between the two leaves a version no schema took when
// the next run reaches another layout for that change (changes made
// while floe was down are applied with it; PostgreSQL's nullability is
// the catalog's current one). Floe deletes nothing from a registry.
func checkOneVersionPerSchema(t *testing.T, e *pipelineEnv, sourceSchema, name string) {
	t.Helper()
	subject := fmt.Sprintf("%s.%s.%s-value", e.db, sourceSchema, name)
	versions := embeddedVersions(t, e, subject)
	schemas := icebergSchemas(t, e, name)
	ids := map[int]bool{}
	var listed []string
	for _, v := range versions {
		ids[v.ID] = true
		listed = append(listed, fmt.Sprintf("v%d=id%d", v.Version, v.ID))
	}
	interrupted := interruptedRegistrations(e.tail(1<<30), sourceSchema+"."+name)
	if len(ids) != len(versions) || len(versions) < len(schemas) || len(versions) > len(schemas)+len(interrupted) {
		t.Fatalf("%s: the registry holds %d versions (%s) for %d Iceberg schemas, %d of them registered by runs killed before they evolved the table (%v); want one distinct version per schema and no other",
			subject, len(versions), strings.Join(listed, " "), len(schemas), len(interrupted), interrupted)
	}
	props := e.sinkTable(name).Properties()
	if got, want := props["floe.registry.version"], fmt.Sprint(versions[len(versions)-1].Version); got != want {
		t.Fatalf("%s records registry version %s, the subject's latest is %s", name, got, want)
	}
	t.Logf("%s: %d registry versions (%d first registered by a run killed before it evolved the table: %v), %d Iceberg schemas",
		subject, len(versions), len(interrupted), interrupted, len(schemas))
}

// interruptedRegistrations returns the versions that a run in log (runs
// start at the test's "=== test: " markers) registered for the first
// time for source table table while evolving it, and that the same run
// never followed with an evolution of the table: it was killed between
// the two. The first registration of each run is the one at start (the
// table's own layout) and is not counted.
func interruptedRegistrations(log, table string) []string {
	registered := regexp.MustCompile(`msg="schema registered" .*table=` + regexp.QuoteMeta(table) + ` .*version=(\d+)`)
	evolved := `msg="iceberg table evolved with its source" pipeline=`
	seen := map[string]bool{}
	var interrupted []string
	for _, run := range strings.Split(log, "=== test: ") {
		lines := strings.Split(run, "\n")
		first := true
		for i, l := range lines {
			m := registered.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			isNew := !seen[m[1]]
			seen[m[1]] = true
			if first || !isNew {
				first = false
				continue
			}
			followed := false
			for _, later := range lines[i+1:] {
				if strings.Contains(later, evolved) && strings.Contains(later, " table="+table+" ") {
					followed = true
					break
				}
			}
			if !followed {
				interrupted = append(interrupted, "v"+m[1])
			}
		}
	}
	return interrupted
}
