package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/iceberg-go"

	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/state"
)

// resnapshotConfig is a pipeline whose source cannot be reached: every
// refusal but the last comes before resnapshot asks the source whether a
// floe run streams from it.
const resnapshotConfig = `pipeline:
  name: rs
state:
  dir: %[1]s/state
source:
  type: postgres
  hostname: 127.0.0.1
  port: 1
  username: nobody
  database: shop
  tables: public\.(a|b), public\.c
sink:
  type: iceberg
  catalog:
    type: sql
    uri: sqlite://%[1]s/catalog.db
  warehouse: %[1]s/warehouse
  namespace: lake
route:
  - source-table: public\.b
    sink-table: other.b_v1
`

// TestResnapshotRefuses covers what resnapshot refuses, and that it drops
// nothing unless every --table passes: a table source.tables does not
// match, a malformed name, a table the catalog does not have, a table of
// another pipeline, and a state dir held by a running floe.
func TestResnapshotRefuses(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg, err := ParseConfig("floe.yaml", fmt.Appendf(nil, resnapshotConfig, dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := openCatalog(ctx, cfg, newLogger(cfg.Log, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	a := lakewriter.Ident{Namespace: "lake", Name: "a"}
	commitTestTable(t, cat, a, "rs")
	commitTestTable(t, cat, lakewriter.Ident{Namespace: "other", Name: "b_v1"}, "someone-else")

	for _, tc := range []struct {
		name   string
		tables []string
		want   []string
	}{
		{"not captured", []string{"public.zzz"},
			[]string{`--table public.zzz: source.tables (public\.(a|b), public\.c) does not match it`}},
		{"not schema.table", []string{"orders"}, []string{`--table "orders": want SCHEMA.TABLE`}},
		{"not in the catalog", []string{"public.c"},
			[]string{"--table public.c: its Iceberg table lake.c is not in the catalog, so there is nothing to drop"}},
		{"another pipeline", []string{"public.b"},
			[]string{`--table public.b: Iceberg table other.b_v1 has 1 snapshots but none of pipeline "rs" (pipeline.name)`}},
		{"all problems at once, nothing dropped", []string{"public.a", "public.zzz", "public.nope", "x"},
			[]string{"public.zzz", "public.nope", `"x"`}},
		{"one bad table drops no other", []string{"public.a", "public.c"}, []string{"lake.c is not in the catalog"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := runResnapshot(ctx, cfg, tc.tables, &out)
			if err == nil {
				t.Fatalf("resnapshot %v succeeded:\n%s", tc.tables, out.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if out.Len() != 0 {
				t.Errorf("printed %q on a refusal", out.String())
			}
			if _, err := cat.LoadTable(ctx, a); err != nil {
				t.Fatalf("lake.a is gone after a refusal: %v", err)
			}
		})
	}

	t.Run("claimed, never committed", func(t *testing.T) {
		// A run that claimed lake.c and stopped before its first commit:
		// the table is the pipeline's (the refusal is for the source, which
		// is not reachable here).
		layout := &schema.Table{Columns: []schema.Column{{Name: "id", Type: iceberg.PrimitiveTypes.Int64}}, Key: []int{0}}
		tbl, err := cat.EnsureTable(ctx, lakewriter.Ident{Namespace: "lake", Name: "c"}, layout, layout.Key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tbl.Commit(ctx, lakewriter.Commit{Token: ledger.PropClaim,
			Props: ledger.Claim{Pipeline: "rs", Epoch: 1, Run: "test"}.Props()}); err != nil {
			t.Fatal(err)
		}
		err = runResnapshot(ctx, cfg, []string{"public.c"}, io.Discard)
		if err == nil || strings.Contains(err.Error(), "none of pipeline") || !strings.Contains(err.Error(), "cannot check that no floe run streams") {
			t.Fatalf("resnapshot of a table the pipeline only claimed: %v", err)
		}
	})

	t.Run("floe running", func(t *testing.T) {
		store, err := state.Open(cfg.State.Dir)
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		err = runResnapshot(ctx, cfg, []string{"public.a"}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "in use by another floe process") || !strings.Contains(err.Error(), "stop floe before resnapshot") {
			t.Fatalf("resnapshot while the state dir is held: %v", err)
		}
	})

	t.Run("source not reachable", func(t *testing.T) {
		err := runResnapshot(ctx, cfg, []string{"public.a"}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "cannot check that no floe run streams from the source, so nothing was dropped") {
			t.Fatalf("resnapshot with the source down: %v", err)
		}
		if _, err := cat.LoadTable(ctx, a); err != nil {
			t.Fatalf("lake.a is gone after a refusal: %v", err)
		}
	})

	t.Run("drops", func(t *testing.T) {
		// The source is asked whether a floe run streams from it (it does
		// not: the slot does not exist).
		needServers(t)
		if _, err := sharedPG.CreateDatabase(ctx, "rs_refuses", "u_rs_refuses", testPassword); err != nil {
			t.Fatal(err)
		}
		cfg.Source.Port, cfg.Source.Database, cfg.Source.Username, cfg.Source.Password = sharedPG.Port, "rs_refuses", "u_rs_refuses", testPassword
		tbl, err := cat.LoadTable(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		loc := tbl.Location()
		if n := countFiles(t, loc); n == 0 {
			t.Fatalf("no files under %s before the drop", loc)
		}
		var out bytes.Buffer
		if err := runResnapshot(ctx, cfg, []string{"public.a", "public.a"}, &out); err != nil {
			t.Fatal(err)
		}
		want := "dropped lake.a (source public.a) and its files: 1 snapshots, last committed at checkpoint 1, position pg.v1:0/1000000\n" +
			"the next floe run snapshots public.a again; the other tables resume from their committed positions\n"
		if out.String() != want {
			t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
		}
		if _, err := cat.LoadTable(ctx, a); !errors.Is(err, lakewriter.ErrNoSuchTable) {
			t.Fatalf("lake.a after resnapshot: %v, want ErrNoSuchTable", err)
		}
		if n := countFiles(t, loc); n != 0 {
			t.Errorf("%d files left under %s after the drop", n, loc)
		}
		if err := runResnapshot(ctx, cfg, []string{"public.a"}, io.Discard); err == nil || !strings.Contains(err.Error(), "nothing to drop") {
			t.Fatalf("second resnapshot: %v", err)
		}
	})

	if !strings.Contains(resnapshotCommand().Long, "Stop floe first") {
		t.Error("the help text does not say that floe must be stopped first")
	}
}

// commitTestTable creates id with one row, committed as pipeline would.
func commitTestTable(t *testing.T, cat *lakewriter.Catalog, id lakewriter.Ident, pipeline string) {
	t.Helper()
	ctx := context.Background()
	layout := &schema.Table{Columns: []schema.Column{{Name: "id", Type: iceberg.PrimitiveTypes.Int64}}, Key: []int{0}}
	tbl, err := cat.EnsureTable(ctx, id, layout, layout.Key)
	if err != nil {
		t.Fatal(err)
	}
	rows := iter.Seq2[schema.Row, error](func(yield func(schema.Row, error) bool) { yield(schema.Row{int64(1)}, nil) })
	_, err = tbl.Commit(ctx, lakewriter.Commit{Rows: rows, Token: ledger.PropCheckpoint, Props: map[string]string{
		ledger.PropPipeline: pipeline, ledger.PropCheckpoint: "1", ledger.PropPosition: "pg.v1:0/1000000",
	}})
	if err != nil {
		t.Fatal(err)
	}
}

// countFiles counts the regular files under a local table location.
func countFiles(t *testing.T, loc string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(strings.TrimPrefix(loc, "file://"), func(_ string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// resnapshotCLI runs `floe resnapshot` with the tables and returns its
// combined output and exit code.
func resnapshotCLI(t *testing.T, e *pipelineEnv, tables ...string) (string, int) {
	t.Helper()
	args := []string{"resnapshot", "--config", e.config}
	for _, tb := range tables {
		args = append(args, "--table", tb)
	}
	return e.runVerb(args...)
}

// sinkHistory returns the history of sink table name, newest first.
func sinkHistory(t *testing.T, e *pipelineEnv, name string) []lakewriter.Snapshot {
	t.Helper()
	hist, err := e.sinkTable(name).History(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return hist
}

// resnapshotScenario is the part both sources share: with floe stopped
// after catching up, and rows of two tables changed meanwhile, it
// re-snapshots one of them (source table resnap, Iceberg table
// resnapSink) and checks that the next run rebuilds that one from
// scratch while the other (kept) continues its history, and that verify
// finds every table equal.
type resnapshotScenario struct {
	e            *pipelineEnv
	resnap       string // source table to re-snapshot
	resnapSink   string
	keptSink     string
	tables       int
	changeRows   func()        // while floe is stopped
	workload     crashWorkload // 60 steps of it run while floe runs
	waitCaughtUp func(r *running)
	// exact: the re-snapshot is read under a snapshot exported for it.
	exact bool
}

// work runs 60 steps of the scenario's workload.
func (s resnapshotScenario) work(t *testing.T, ctx context.Context) {
	t.Helper()
	for range 60 {
		if err := s.workload.step(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func (s resnapshotScenario) run(t *testing.T) {
	e := s.e
	ctx := context.Background()
	r := e.start()
	e.waitStreaming(r)
	s.work(t, ctx)
	s.waitCaughtUp(r)

	out, code := resnapshotCLI(t, e, s.resnap)
	if code == 0 || !strings.Contains(out, "in use by another floe process") || !strings.Contains(out, "stop floe before resnapshot") {
		t.Fatalf("resnapshot while floe runs: exit %d\n%s", code, out)
	}
	e.stop(r)
	t.Logf("first run verified:\n%s", e.mustVerify(s.tables))

	oldResnap := sinkHistory(t, e, s.resnapSink)
	oldKept := sinkHistory(t, e, s.keptSink)
	loc := e.sinkTable(s.resnapSink).Location()
	if len(oldResnap) < 2 || len(oldKept) < 2 {
		t.Fatalf("want a snapshot and streamed commits in both tables, have %d and %d snapshots", len(oldResnap), len(oldKept))
	}
	s.changeRows()

	out, code = resnapshotCLI(t, e, "nope.nope")
	if code != 1 || !strings.Contains(out, "floe: --table nope.nope: source.tables (") {
		t.Fatalf("resnapshot of a table floe does not capture: exit %d\n%s", code, out)
	}
	dropAt := time.Now()
	out, code = resnapshotCLI(t, e, s.resnap)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("dropped lake.%s (source %s) and its files: %d snapshots", s.resnapSink, s.resnap, len(oldResnap))) {
		t.Fatalf("floe resnapshot: exit %d\n%s", code, out)
	}
	t.Logf("floe resnapshot:\n%s", out)
	if n := countFiles(t, loc); n != 0 {
		t.Errorf("%d files left under %s after the drop", n, loc)
	}
	out, code = resnapshotCLI(t, e, s.resnap)
	if code != 1 || !strings.Contains(out, "nothing to drop") {
		t.Fatalf("second resnapshot: exit %d\n%s", code, out)
	}

	r = e.start() // the workload runs while the table is snapshotted again
	s.work(t, ctx)
	s.waitCaughtUp(r)
	e.stop(r)
	verified := e.mustVerify(s.tables)
	t.Logf("floe verify after the re-snapshot:\n%s", verified)
	for _, sink := range []string{s.resnapSink, s.keptSink} {
		if !strings.Contains(verified, "-> lake."+sink+": ") {
			t.Errorf("floe verify does not report lake.%s", sink)
		}
	}

	// The re-snapshotted table starts a new history after the drop; the
	// other continues its own, resumed rather than read again.
	newResnap := sinkHistory(t, e, s.resnapSink)
	old := map[int64]bool{}
	for _, sn := range oldResnap {
		old[sn.ID] = true
	}
	first := newResnap[len(newResnap)-1]
	if old[first.ID] || first.TimestampMs < dropAt.UnixMilli() {
		t.Errorf("lake.%s: first snapshot %d at %d, want a new one after the drop at %d", s.resnapSink, first.ID, first.TimestampMs, dropAt.UnixMilli())
	}
	for _, sn := range newResnap {
		if old[sn.ID] {
			t.Errorf("lake.%s: snapshot %d survived the drop", s.resnapSink, sn.ID)
		}
	}
	newKept := sinkHistory(t, e, s.keptSink)
	if !containsSnapshot(newKept, oldKept[0].ID) || len(newKept) <= len(oldKept) {
		t.Errorf("lake.%s: history of %d snapshots does not continue the old one (head %d, %d snapshots)", s.keptSink, len(newKept), oldKept[0].ID, len(oldKept))
	}
	// Only the re-snapshotted table was read again, with the stream
	// resuming where the other tables stopped (not at an exported
	// snapshot of its own); on PostgreSQL under a snapshot exported for
	// it, exactly.
	log := e.tail(1 << 20)
	var started, exported string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "exact_snapshot=") {
			started = line
		}
		if strings.Contains(line, `msg="snapshot of new tables is exact"`) {
			exported = line
		}
	}
	if !strings.Contains(started, "exact_snapshot=false snapshot=true") || strings.Contains(started, "resume=none") {
		t.Errorf("second run started as %q, want a snapshot while resuming from a committed position", started)
	}
	if s.exact != strings.HasSuffix(exported, " tables="+s.resnap) {
		t.Errorf("the re-snapshot exact: %q, want exact %v", exported, s.exact)
	}
	if n := strings.Count(log, `msg="snapshot planned" pipeline=`+e.db+" table="+s.resnap+" "); n != 2 {
		t.Errorf("%s was snapshotted %d times, want 2", s.resnap, n)
	}
	if n := strings.Count(log, `msg="snapshot planned"`); n != s.tables+1 {
		t.Errorf("%d snapshot plans in the log, want %d (every table once, %s twice)", n, s.tables+1, s.resnap)
	}
}

func containsSnapshot(hist []lakewriter.Snapshot, id int64) bool {
	for _, sn := range hist {
		if sn.ID == id {
			return true
		}
	}
	return false
}

// TestResnapshotPostgres re-snapshots one PostgreSQL table that a route
// renames, after rows of it and of another table changed while floe was
// stopped; the slot survives, and the new snapshot is taken under one
// exported by a temporary slot while a workload runs.
func TestResnapshotPostgres(t *testing.T) {
	needServers(t)
	e := newPipelineEnv(t, "resnap", `public\..*`, "upsert", "  snapshot.chunk-rows: 400\n")
	e.exec(testSchema)
	e.exec(seedSQL(2000)...)
	e.exec("ALTER TABLE accounts OWNER TO u_resnap", "ALTER TABLE events OWNER TO u_resnap",
		"ALTER TABLE notes OWNER TO u_resnap", "ALTER TABLE scratch OWNER TO u_resnap")
	rewriteConfig(t, e, "\nlog:\n", "\nroute:\n  - source-table: public\\.accounts\n    sink-table: accounts_v1\nlog:\n")
	w := newWorkload(context.Background(), t, e, 2000, 11)
	resnapshotScenario{
		e: e, resnap: "public.accounts", resnapSink: "accounts_v1", keptSink: "events", tables: 4,
		changeRows: func() {
			e.exec(`INSERT INTO accounts (id, name, big) VALUES (9000001, 'while stopped', repeat('s', 5000))`,
				`UPDATE accounts SET name = name || ' (stopped)', balance = NULL WHERE id <= 60`,
				`DELETE FROM accounts WHERE id BETWEEN 100 AND 140`,
				`INSERT INTO events VALUES ('stopped', 1, 'k', 1.5, '{}')`,
				`UPDATE events SET kind = 'stopped' WHERE seq <= 40`,
				`DELETE FROM events WHERE seq BETWEEN 50 AND 80`)
		},
		workload:     w,
		waitCaughtUp: func(r *running) { e.waitCaughtUp(r, 2*time.Minute) },
		exact:        true,
	}.run(t)
}

// TestResnapshotMariaDB is TestResnapshotPostgres on MariaDB, where a
// snapshot is always inexact and the binlog resumes at the position the
// other tables committed.
func TestResnapshotMariaDB(t *testing.T) {
	e := newMySQLEnv(t, "my_resnap", "upsert", "  snapshot.chunk-rows: 300\n")
	e.seed(2000)
	w := &mysqlWorkload{e: e, rng: rand.New(rand.NewPCG(5, 6)), next: 2000}
	resnapshotScenario{
		e: e.pipelineEnv, resnap: "my_resnap.accounts", resnapSink: "accounts", keptSink: "events", tables: 3,
		changeRows: func() {
			e.sql(`INSERT INTO accounts (id, name, big) VALUES (9000001, 'while stopped', REPEAT('s', 5000))`,
				`UPDATE accounts SET name = CONCAT(name, ' (stopped)'), balance = NULL WHERE id <= 60`,
				`DELETE FROM accounts WHERE id BETWEEN 100 AND 140`,
				`INSERT INTO events VALUES ('stopped', 1, 'k', 1.5)`,
				`UPDATE events SET kind = 'stopped' WHERE seq <= 40`,
				`DELETE FROM events WHERE seq BETWEEN 50 AND 80`)
		},
		workload:     w,
		waitCaughtUp: func(r *running) { e.waitCaughtUp(r, 2*time.Minute) },
	}.run(t)
}
