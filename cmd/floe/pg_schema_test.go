package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/lakewriter/ledger"
	"github.com/floe-cdc/floe/schema"
)

// pgSchemaChanges are the ALTERs the PostgreSQL schema tests run while
// floe streams, each with statements that write in the new layout: an
// added column, widenings (smallint -> int, numeric(18,4) ->
// numeric(24,4), real -> double precision, varchar growth), DROP NOT
// NULL and a dropped column. The workload keeps running between them
// (it names no column they drop or narrow).
var pgSchemaChanges = [][]string{
	{`ALTER TABLE accounts ADD COLUMN nick varchar(12)`,
		`UPDATE accounts SET nick = 'n' || id WHERE id % 5 = 0`},
	{`ALTER TABLE accounts ALTER COLUMN small TYPE int, ALTER COLUMN balance TYPE numeric(24,4)`,
		`ALTER TABLE events ALTER COLUMN amount TYPE double precision, ALTER COLUMN kind TYPE varchar(40)`,
		`UPDATE accounts SET small = 100000 + id, balance = balance * 1000000 WHERE id % 7 = 0`,
		`UPDATE events SET kind = repeat('k', 30), amount = amount + 0.1234567891 WHERE seq % 9 = 0`},
	{`ALTER TABLE accounts ALTER COLUMN name DROP NOT NULL`,
		`UPDATE accounts SET name = NULL WHERE id % 11 = 0`},
	{`ALTER TABLE accounts DROP COLUMN ratio, ALTER COLUMN nick TYPE varchar(30)`,
		`UPDATE accounts SET nick = 'a longer nick ' || id WHERE id % 13 = 0`},
}

// checkEvolvedLayouts checks that the Iceberg tables followed
// pgSchemaChanges, and (history) that the accounts history records them
// in floe.schema-change (in changelog mode every column is optional from
// the start, so DROP NOT NULL changes nothing there).
func checkEvolvedLayouts(t *testing.T, e *pipelineEnv, mode string, history bool) {
	t.Helper()
	accounts, events := e.sinkTable("accounts").Layout(), e.sinkTable("events").Layout()
	for _, c := range []struct {
		layout    *schema.Table
		name, typ string
		nullable  bool
		what      string
	}{
		{accounts, "nick", "string", true, "the added column"},
		{accounts, "small", "int", true, "smallint widened to int (the same Iceberg type)"},
		{accounts, "balance", "decimal(24, 4)", true, "numeric(18,4) widened to numeric(24,4)"},
		{accounts, "name", "string", true, "name after DROP NOT NULL"},
		{accounts, "ratio", "double", true, "the dropped column, kept"},
		{events, "amount", "double", true, "real widened to double precision"},
		{events, "kind", "string", true, "varchar(20) grown to varchar(40)"},
	} {
		i := c.layout.Index(c.name)
		if i < 0 || c.layout.Columns[i].Type.String() != c.typ || c.layout.Columns[i].Nullable != c.nullable {
			t.Fatalf("iceberg layout %s lacks %s (%s %s, optional %v)", c.layout, c.what, c.name, c.typ, c.nullable)
		}
	}
	if !history {
		return
	}
	var recorded []string
	for _, s := range sinkHistory(t, e, "accounts") {
		if v := s.Props[ledger.PropSchemaChange]; v != "" {
			recorded = append(recorded, v)
		}
	}
	all := strings.Join(recorded, "\n")
	wants := []string{"add column nick", "decimal(24, 4)"}
	if mode == "upsert" {
		wants = append(wants, "make column name optional")
	}
	for _, want := range wants {
		if !strings.Contains(all, want) {
			t.Fatalf("the accounts history records no schema change with %q:\n%s", want, all)
		}
	}
	t.Logf("accounts schema changes recorded: %s", all)
}

// TestPostgresSchemaEvolution streams a workload while the source tables
// are altered between its batches (pgSchemaChanges): floe follows every
// change at its position, and ends with `floe verify` equal, the Iceberg
// layouts evolved, floe.schema-change recorded, and (upsert) the added
// column read back from Iceberg equal to the source's, compared here
// without floe verify.
func TestPostgresSchemaEvolution(t *testing.T) {
	needServers(t)
	for _, mode := range []string{"upsert", "changelog"} {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			db := "pgddl_" + mode
			e := newPipelineEnv(t, db, `public\.(accounts|events|notes|scratch)`, mode, "  snapshot.chunk-rows: 2000\n")
			e.exec(testSchema)
			e.exec(seedSQL(4000)...)
			for _, tbl := range []string{"accounts", "events", "notes", "scratch"} {
				e.exec(fmt.Sprintf("ALTER TABLE %s OWNER TO u_%s", tbl, db))
			}
			r := e.start()
			e.waitStreaming(r)
			w := newWorkload(ctx, t, e, 4000, 3)
			for _, ddl := range pgSchemaChanges {
				for range 100 {
					if err := w.step(ctx); err != nil {
						t.Fatal(err)
					}
				}
				e.exec(ddl...)
			}
			for range 100 {
				if err := w.step(ctx); err != nil {
					t.Fatal(err)
				}
			}
			e.waitCaughtUp(r, 2*time.Minute)
			e.stop(r)
			t.Logf("floe verify:\n%s", e.mustVerify(4))
			checkEvolvedLayouts(t, e, mode, true)
			if mode == "upsert" {
				compareNicks(t, e)
			}
		})
	}
}

// compareNicks compares accounts.nick, read from Iceberg, with the
// source's, key by key.
func compareNicks(t *testing.T, e *pipelineEnv) {
	t.Helper()
	want := map[int64]string{}
	rows, err := e.conn().Query(context.Background(), `SELECT id, nick FROM accounts WHERE nick IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var nick string
		if err := rows.Scan(&id, &nick); err != nil {
			t.Fatal(err)
		}
		want[id] = nick
	}
	if rows.Err() != nil || len(want) < 100 {
		t.Fatalf("source has %d nicks (err %v), want >= 100", len(want), rows.Err())
	}
	got := icebergColumn(t, e, "accounts", "id", "nick")
	if len(got) != len(want) {
		t.Fatalf("iceberg has %d nicks, the source %d", len(got), len(want))
	}
	for id, nick := range want {
		if got[id] != nick {
			t.Fatalf("account %d: iceberg nick %q, source %q", id, got[id], nick)
		}
	}
}

// TestPostgresSchemaChangeDuringSnapshot: a rewriting ALTER (smallint ->
// int) and an added column land while the initial snapshot is read. A
// chunk read after the rewrite is refused (under the snapshot taken
// before it the table reads as empty), floe run starts again at once with
// the new layout, and the tables end equal to the source. Before the fix
// those chunks were read as empty and their rows were lost.
func TestPostgresSchemaChangeDuringSnapshot(t *testing.T) {
	needServers(t)
	db := "pgddl_snap"
	e := newPipelineEnv(t, db, `public\.(accounts|events|notes|scratch)`, "upsert", "  snapshot.chunk-rows: 500\n")
	e.exec(testSchema)
	e.exec(seedSQL(60_000)...)
	for _, tbl := range []string{"accounts", "events", "notes", "scratch"} {
		e.exec(fmt.Sprintf("ALTER TABLE %s OWNER TO u_%s", tbl, db))
	}
	appendLog(t, e, "=== test: start 0 ===")
	r := e.start()
	waitForLog(t, e, r, "snapshot planned")
	e.exec(`ALTER TABLE accounts ALTER COLUMN small TYPE int, ADD COLUMN nick varchar(12)`,
		`UPDATE accounts SET small = 100000 + id, nick = 'n' || id WHERE id % 7 = 0`)
	if strings.Contains(e.tail(1<<30), "snapshot complete") {
		t.Fatalf("the snapshot ended before the ALTER, so the test shows nothing; log:\n%s", e.tail(40))
	}
	e.waitCaughtUp(r, 3*time.Minute)
	e.stop(r)
	t.Logf("floe verify:\n%s", e.mustVerify(4))
	if !strings.Contains(e.tail(1<<30), "table layout changed during its snapshot") {
		t.Fatalf("no chunk read was refused after the ALTER; log:\n%s", e.tail(40))
	}
}

// ddlWorkload is the PostgreSQL crash workload with schema changes run
// before the steps numbered in ddlAt.
type ddlWorkload struct {
	*workload
	ddlAt map[int][]string
}

func (w *ddlWorkload) step(ctx context.Context) error {
	if ddl, ok := w.ddlAt[w.txns]; ok {
		if err := w.reconnect(ctx); err != nil {
			return err
		}
		for _, s := range ddl {
			if _, err := w.conn.Exec(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		delete(w.ddlAt, w.txns)
	}
	return w.workload.step(ctx)
}

// TestPostgresSchemaCrash is TestCrashExactlyOnce (upsert) with
// pgSchemaChanges run between SIGKILLs: runs that restart before a
// change replay its Relation messages from the slot, and `floe verify`
// must still find every table equal, with the layouts evolved.
func TestPostgresSchemaCrash(t *testing.T) {
	needServers(t)
	ctx := context.Background()
	db := "pgddl_crash"
	// Chunks as small as TestCrashExactlyOnce's: with 2000-row chunks a
	// fast machine read the whole snapshot before the early kills.
	e := newPipelineEnv(t, db, `public\.(accounts|events|notes|scratch)`, "upsert", "  snapshot.chunk-rows: 250\n")
	e.exec(testSchema)
	const seeded = 40_000
	e.exec(seedSQL(seeded)...)
	for _, tbl := range []string{"accounts", "events", "notes", "scratch"} {
		e.exec(fmt.Sprintf("ALTER TABLE %s OWNER TO u_%s", tbl, db))
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 17))
	seed := rng.Uint64() % 1000
	t.Logf("random seed %d", seed)
	w := &ddlWorkload{workload: newWorkload(ctx, t, e, seeded, seed), ddlAt: map[int][]string{}}
	for i, ddl := range pgSchemaChanges {
		w.ddlAt[300+400*i] = ddl
	}
	crashLoop(t, e, w, rng, 4)
	if len(w.ddlAt) > 0 {
		t.Fatalf("the workload ended before the schema changes %v", w.ddlAt)
	}
	// Background compaction expired the snapshots that recorded the
	// changes; the log shows them.
	checkEvolvedLayouts(t, e, "upsert", false)
	if n := strings.Count(e.tail(1<<30), `msg="iceberg table evolved with its source"`); n < len(pgSchemaChanges) {
		t.Fatalf("the log shows %d Iceberg evolutions, want at least %d", n, len(pgSchemaChanges))
	}
}

// TestPostgresSchemaChangeRefused: a column added with a default (the
// server fills it into every existing row without a row event) stops
// floe run with one line naming the table, the column and floe
// resnapshot, and a restart stops again (at start). After `floe resnapshot`
// the run resumes, although the slot replays the table's changes from
// before the ALTER (checkpoints are an hour apart here, so the last
// commit is far before it), and the tables end equal, the new column
// with its default in every row. Before the refused change was carried
// as unreadable changes (which a re-snapshotted table skips) instead of
// ending the stream, the resumed run stopped at it again, forever.
func TestPostgresSchemaChangeRefused(t *testing.T) {
	needServers(t)
	ctx := context.Background()
	db := "pgddl_refused"
	e := newPipelineEnv(t, db, `public\.(accounts|events|notes|scratch)`, "upsert", "")
	rewriteConfig(t, e, "checkpoint-interval: 1s", "checkpoint-interval: 1h")
	stopOnUnfollowable(t, e)
	e.exec(testSchema)
	e.exec(seedSQL(2000)...)
	for _, tbl := range []string{"accounts", "events", "notes", "scratch"} {
		e.exec(fmt.Sprintf("ALTER TABLE %s OWNER TO u_%s", tbl, db))
	}
	r := e.start()
	e.waitStreaming(r)
	w := newWorkload(ctx, t, e, 2000, 5)
	steps := func(n int) {
		t.Helper()
		for range n {
			if err := w.step(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	steps(100)
	e.exec(`ALTER TABLE accounts ADD COLUMN d int DEFAULT 5`)
	steps(100)
	fragments := []string{"floe: pipeline " + db + ": ", "schema change of captured table public.accounts: column d: it was added with a DEFAULT",
		"re-snapshot the table with `floe resnapshot --config FILE --table public.accounts`"}
	log := waitExit(t, e, r, 2*time.Minute)
	expectOneLineError(t, log, 1, fragments...)
	// The restart stops at start: the Iceberg table lacks the column the
	// catalog has, with its default (capture.AddedColumnChecker).
	out, code := runFloe(t, e, "run", "--config", e.config)
	expectOneLineError(t, out, code, "floe: pipeline "+db+": ", "schema change of captured table public.accounts found at start: column d: it was added with a DEFAULT",
		"re-snapshot the table with `floe resnapshot --config FILE --table public.accounts`")

	out, code = runFloe(t, e, "resnapshot", "--config", e.config, "--table", "public.accounts")
	if code != 0 {
		t.Fatalf("floe resnapshot: exit %d\n%s", code, out)
	}
	steps(50)
	r = e.start()
	e.waitCaughtUp(r, 2*time.Minute)
	e.stop(r)
	t.Logf("floe verify:\n%s", e.mustVerify(4))
	if i := e.sinkTable("accounts").Layout().Index("d"); i < 0 {
		t.Fatalf("the re-snapshotted accounts table has no column d")
	}
}
