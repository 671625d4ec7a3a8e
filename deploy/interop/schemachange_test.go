package interop

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/capture/postgres"
)

// The schema-change tests run every schema change Floe follows (the
// steps of cmd/floe's DDL torture tests) against a streaming `floe run`
// writing to S3 and the SQL catalog on PostgreSQL, SIGKILL floe once in
// the middle, and then read the evolved tables through Trino and
// PyIceberg, before and after `floe compact`: every row of every remaining
// table must equal the source in the source's final columns, the widened
// and renamed columns must read with their new types and names, the
// dropped column must keep what the README promises (earlier rows their
// values, later ones NULL), and the dropped table must stay readable and
// marked floe.dropped-at.

// schemaStep is one schema change and the DML after it, which touches the
// changed columns.
type schemaStep struct {
	what string
	// before, when set, runs first: it records what the checks need from
	// before the change (files, rows).
	before func()
	sql    []string
	// kill: SIGKILL floe right after the statements, before it has
	// committed them, and start it again; the change is then replayed.
	kill bool
	// logged, when set, are the parts of one log line floe writes once it
	// has followed the change; the step writes marker rows until it does
	// (a new table is looked for at a checkpoint tick, a dropped one is
	// retired once the stream passes a transaction after the drop).
	logged []string
}

// schemaRun applies schemaSteps to one lake while floe run streams.
type schemaRun struct {
	t     *testing.T
	exec  func(...string)  // runs statements on the source
	start func() *floeRun  // starts floe run
	sync  func(r *floeRun) // waits until everything written so far is committed
	nudge func()           // writes one marker row (a transaction floe captures)
	log   string           // floe's log file
}

// apply runs step against the source while r streams and waits until floe
// has committed it; it returns the run streaming afterwards.
func (s schemaRun) apply(r *floeRun, step schemaStep) *floeRun {
	s.t.Helper()
	begin := time.Now()
	s.t.Logf("%s: applying", step.what)
	if step.before != nil {
		step.before()
	}
	s.exec(step.sql...)
	if step.kill {
		r.Kill()
		s.t.Logf("%s: floe SIGKILLed right after the change", step.what)
		r = s.start()
	}
	if len(step.logged) > 0 {
		s.untilLogged(r, step.logged...)
	}
	s.sync(r)
	s.t.Logf("%s: committed in %s", step.what, time.Since(begin).Round(time.Millisecond))
	return r
}

// untilLogged writes a marker row every 300 ms until one line of floe's
// log holds every part; floe exiting first or a minute without the line
// fails the test.
func (s schemaRun) untilLogged(r *floeRun, parts ...string) {
	s.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !logLine(s.log, parts...) {
		if time.Now().After(deadline) {
			s.t.Fatalf("floe logged no line with %q within a minute; log:\n%s", parts, tailFile(s.log, 40))
		}
		s.nudge()
		select {
		case <-r.Exited:
			s.t.Fatalf("floe run exited: %v; log:\n%s", r.Err, tailFile(s.log, 40))
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// keepLogOnFailure copies floe's whole log to
// $TMPDIR/floe-failed-tests/<test>.log when the test fails (the lake's
// directory is removed at cleanup; the failure message shows only a tail).
func keepLogOnFailure(t *testing.T, log string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		dir := filepath.Join(os.TempDir(), "floe-failed-tests")
		keep := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+".log")
		b, err := os.ReadFile(log)
		if err == nil {
			err = os.MkdirAll(dir, 0o755)
		}
		if err == nil {
			err = os.WriteFile(keep, b, 0o644)
		}
		if err != nil {
			t.Logf("keep floe's log: %v", err)
			return
		}
		t.Logf("floe's log is kept in %s", keep)
	})
}

// logLine reports whether one line of the log at path holds every part.
func logLine(path string, parts ...string) bool {
	b, _ := os.ReadFile(path)
	for _, line := range strings.Split(string(b), "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}

// checkedTable is one table the readers must return: want holds the rows
// in columns cols (key first).
type checkedTable struct {
	name string
	cols []col
	want table
}

// compareReaders reads every table of tables (lake.<name> in Trino catalog
// catalog, and through PyIceberg with catalog properties py) and compares
// count and every row and column with want.
func compareReaders(t *testing.T, tr *Trino, catalog string, py map[string]string, stage string, tables []checkedTable) {
	t.Helper()
	ctx := context.Background()
	var names []string
	for _, tc := range tables {
		names = append(names, "lake."+tc.name)
	}
	pyRes := readPython(t, py, names...)
	for _, tc := range tables {
		what := fmt.Sprintf("%s, %s (%s)", stage, tc.name, colNames(tc.cols))
		cnt, err := tr.Query(ctx, "SELECT count(*) FROM "+catalog+".lake."+tc.name)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(cnt.Rows[0][0]); got != strconv.Itoa(len(tc.want)) {
			t.Errorf("%s: trino count(*) = %s, want %d", what, got, len(tc.want))
		}
		if d := diff(tc.want, readTrino(t, tr, catalog+".lake."+tc.name, tc.cols), tc.cols, 20); len(d) > 0 {
			t.Errorf("%s through trino differs:\n%s", what, strings.Join(d, "\n"))
		}
		p := pyRes["lake."+tc.name]
		if d := diff(tc.want, pyTable(t, p, tc.cols), tc.cols, 20); len(d) > 0 {
			t.Errorf("%s through pyiceberg (%s) differs:\n%s", what, p.Reader, strings.Join(d, "\n"))
		}
		t.Logf("%s: %d rows equal in trino and pyiceberg (%s)", what, len(tc.want), p.Reader)
	}
}

func colNames(cols []col) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

// evolvedFacts is what the schema-change tests record before a change to
// check after it.
type evolvedFacts struct {
	preRename map[string]bool // accounts' data files before the rename
	gone      table           // the dropped table's rows before the drop
	ratio     table           // accounts (id, ratio) before ratio was dropped
}

// recordFiles returns the live data files of catalog.lake.name.
func recordFiles(t *testing.T, tr *Trino, catalog, name string) map[string]bool {
	t.Helper()
	res, err := tr.Query(context.Background(), fmt.Sprintf(`SELECT file_path FROM %s.lake."%s$files" WHERE content = 0`, catalog, name))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]bool{}
	for _, r := range res.Rows {
		files[fmt.Sprint(r[0])] = true
	}
	return files
}

// droppedRatio is the documented outcome for accounts.ratio after DROP
// COLUMN (lenient): the column is kept, rows not written since the drop
// keep their values, rows written after it (the ids touched reports) read
// NULL. current is the source's accounts now (key first).
func droppedRatio(before, current table, touched func(id int64) bool) table {
	out := table{}
	for k := range current {
		id, _ := strconv.ParseInt(k, 10, 64)
		v := null
		if prev, ok := before[k]; ok && !touched(id) {
			v = prev[1]
		}
		out[k] = []string{k, v}
	}
	return out
}

// checkEvolvedShape checks what Trino and PyIceberg report of the evolved
// tables' schemas and of the dropped table: events' widened columns with
// their new types, accounts' renamed column under its new name only (and
// values written before the rename read under it, from files written
// before it), the dropped column kept, name nullable, and gone readable,
// equal to its rows before the drop, and marked floe.dropped-at.
func checkEvolvedShape(t *testing.T, tr *Trino, catalog string, py map[string]string, f *evolvedFacts, preRenameRows table) {
	t.Helper()
	ctx := context.Background()
	types := map[string]map[string]string{}
	for _, name := range []string{"accounts", "events"} {
		types[name] = map[string]string{}
		for _, nt := range trinoTypes(t, tr, catalog+".lake."+name) {
			n, typ, _ := strings.Cut(nt, " ")
			types[name][n] = typ
		}
	}
	for c, want := range map[string]string{"n": "bigint", "amount": "double", "kind": "varchar"} {
		if got := types["events"][c]; got != want {
			t.Errorf("trino reports events.%s as %q, want %q (widened)", c, got, want)
		}
	}
	for c, want := range map[string]bool{"nickname": true, "nick": false, "ratio": true, "tier": true} {
		if _, ok := types["accounts"][c]; ok != want {
			t.Errorf("trino lists accounts.%s: %v, want %v (columns %v)", c, ok, want, types["accounts"])
		}
	}
	pySchema := strings.Join(pyIcebergSchema(t, py, "lake.events"), "; ")
	for _, want := range []string{"n long ", "amount double ", "kind string "} {
		if !strings.Contains(pySchema, want) {
			t.Errorf("pyiceberg schema of events lacks %q: %s", want, pySchema)
		}
	}
	nullable, err := tr.Query(ctx, "SELECT is_nullable FROM "+catalog+".information_schema.columns WHERE table_schema = 'lake' AND table_name = 'accounts' AND column_name = 'name'")
	if err != nil {
		t.Fatal(err)
	}
	if len(nullable.Rows) != 1 || fmt.Sprint(nullable.Rows[0][0]) != "YES" {
		t.Errorf("trino reports accounts.name is_nullable %v after DROP NOT NULL, want YES", nullable.Rows)
	}
	checkRenamedFromOldFiles(t, tr, catalog, f.preRename, preRenameRows)
	checkDroppedTable(t, tr, catalog, f.gone)
}

// checkRenamedFromOldFiles checks that rows still in data files written
// before the rename read, through Trino, their pre-rename values under
// the new name nickname: want are the source's rows whose nickname was set
// before the rename (n<id>) and never since.
func checkRenamedFromOldFiles(t *testing.T, tr *Trino, catalog string, preRename map[string]bool, want table) {
	t.Helper()
	res, err := tr.Query(context.Background(), `SELECT CAST(id AS varchar), nickname, "$path" FROM `+catalog+`.lake.accounts WHERE nickname LIKE 'n%'`)
	if err != nil {
		t.Fatal(err)
	}
	old := 0
	for _, r := range res.Rows {
		id, nick, path := fmt.Sprint(r[0]), fmt.Sprint(r[1]), fmt.Sprint(r[2])
		if w, ok := want[id]; !ok || w[1] != nick {
			t.Errorf("trino reads accounts %s nickname %q, the source has %v", id, nick, w)
		}
		if preRename[path] {
			old++
		}
	}
	if len(res.Rows) != len(want) {
		t.Errorf("trino reads %d rows with a pre-rename nickname, the source has %d", len(res.Rows), len(want))
	}
	if old == 0 {
		t.Errorf("none of the %d rows with a pre-rename nickname is read from a file written before the rename (%d such files): the check of old files under the new name did not run", len(res.Rows), len(preRename))
	}
	t.Logf("accounts: %d rows with values written before the rename read as nickname, %d of them from files written before it", len(res.Rows), old)
}

// checkDroppedTable checks that the dropped table gone still reads, in
// Trino, the rows it held before the drop, and carries floe.dropped-at.
func checkDroppedTable(t *testing.T, tr *Trino, catalog string, want table) {
	t.Helper()
	ctx := context.Background()
	cols := []col{{"id", kInt}, {"v", kString}}
	if d := diff(want, readTrino(t, tr, catalog+".lake.gone", cols), cols, 20); len(d) > 0 {
		t.Errorf("the dropped table gone through trino differs from its rows before the drop:\n%s", strings.Join(d, "\n"))
	}
	res, err := tr.Query(ctx, `SELECT value FROM `+catalog+`.lake."gone$properties" WHERE key = 'floe.dropped-at'`)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 1 || fmt.Sprint(res.Rows[0][0]) == "" {
		t.Errorf("the dropped table gone has floe.dropped-at %v in trino, want a position", res.Rows)
	} else {
		t.Logf("gone: %d rows readable after the drop, floe.dropped-at %v", len(want), res.Rows[0][0])
	}
}

// compactAndCompare compares the tables, runs floe compact, checks that
// it left no delete files in the remaining tables, and compares again.
func compactAndCompare(t *testing.T, l *lake, tr *Trino, catalog string, tables func() []checkedTable, remaining ...string) {
	t.Helper()
	// Before compaction the readers apply the equality deletes the upserts
	// wrote; the check is only meaningful if there are some.
	if n := deleteFilesIn(t, tr, catalog, "accounts"); n == 0 {
		t.Fatal("accounts has no delete files before compaction: the DML did not exercise equality deletes")
	}
	compareReaders(t, tr, catalog, l.pySQLCatalog(), "before compaction", tables())
	begin := time.Now()
	out, err := runFloe(l, 3*time.Minute, "compact", "--config", l.configPath)
	if err != nil {
		t.Fatalf("floe compact: %v\n%s", err, out)
	}
	t.Logf("floe compact in %s:\n%s", time.Since(begin).Round(time.Millisecond), out)
	for _, name := range remaining {
		if n := deleteFilesIn(t, tr, catalog, name); n != 0 {
			t.Errorf("%s still has %d delete files after floe compact", name, n)
		}
	}
	compareReaders(t, tr, catalog, l.pySQLCatalog(), "after compaction", tables())
}

const ddlPGSchema = `
CREATE TABLE accounts (id bigint PRIMARY KEY, name varchar(60) NOT NULL, balance numeric(12,2), ratio real, note text);
CREATE TABLE events (seq bigint PRIMARY KEY, kind varchar(20), amount real, n int, ts timestamp);
CREATE TABLE gone (id int PRIMARY KEY, v text);
CREATE TABLE markers (id bigserial PRIMARY KEY, at timestamptz DEFAULT now());
INSERT INTO accounts SELECT g, 'name ' || g, g * 1.25, g / 7.0, CASE WHEN g % 4 = 0 THEN NULL ELSE 'note ü ' || g END
  FROM generate_series(1, 3000) g;
INSERT INTO events SELECT g, 'k' || g % 5, g / 3.0, g * 1000, timestamp '2024-03-01 00:00:00' + g * interval '1.5 second'
  FROM generate_series(1, 2000) g;
INSERT INTO gone SELECT g, 'g' || g FROM generate_series(1, 500) g;
`

// The source's final columns of the tables that remain after the steps.
var (
	ddlAccountsCols = []col{{"id", kInt}, {"name", kString}, {"balance", kDecimal}, {"note", kString},
		{"nickname", kString}, {"tier", kInt}}
	ddlEventsCols = []col{{"seq", kInt}, {"kind", kString}, {"amount", kFloat64}, {"n", kInt}, {"ts", kTimestamp}}
	ddlExtraCols  = []col{{"id", kInt}, {"v", kString}}
	ddlRatioCols  = []col{{"id", kInt}, {"ratio", kFloat32}}
	ddlGoneCols   = []col{{"id", kInt}, {"v", kString}}
)

// readBackEvolved checks what both sources' schema-change tests end with:
// the evolved tables' shape (checkEvolvedShape), then every table, read
// from the source with read (a table, optionally with a WHERE clause, in
// cols), compared row by row through Trino and PyIceberg before and
// after floe compact (compactAndCompare).
func readBackEvolved(t *testing.T, l *lake, tr *Trino, f *evolvedFacts, read func(src string, cols []col) table, start time.Time) {
	t.Helper()
	tables := func() []checkedTable {
		accounts := read("accounts", ddlAccountsCols)
		return []checkedTable{
			{"accounts", ddlAccountsCols, accounts},
			{"events", ddlEventsCols, read("events", ddlEventsCols)},
			{"extra", ddlExtraCols, read("extra", ddlExtraCols)},
			{"accounts", ddlRatioCols, droppedRatio(f.ratio, accounts, ddlTouchedAfterDrop)},
			{"gone", ddlGoneCols, f.gone},
		}
	}
	preRenameRows := read("accounts WHERE nickname LIKE 'n%'", []col{{"id", kInt}, {"nickname", kString}})
	checkEvolvedShape(t, tr, l.name, l.pySQLCatalog(), f, preRenameRows)
	compactAndCompare(t, l, tr, l.name, tables, "accounts", "events", "extra")
	t.Logf("schema changes read back through trino %s and pyiceberg in %s", tr.Version, time.Since(start).Round(time.Second))
}

// ddlTouchedAfterDrop reports the accounts rows the steps write after
// ratio is dropped: the update of id % 17 = 0 and the rows inserted then.
func ddlTouchedAfterDrop(id int64) bool { return id%17 == 0 || id >= 3151 && id <= 3200 }

// pgSchemaSteps are the supported PostgreSQL schema changes (the steps of
// pgTortureSteps in cmd/floe), in order, on the tables of ddlPGSchema.
// The SIGKILL after the widening makes DROP NOT NULL the first change of
// accounts in the restarted session: its Relation message is then the
// session's first for the table, and shows nothing of the change
// (pgoutput does not carry nullability; only the catalog does).
func pgSchemaSteps(l *lake, tr *Trino, f *evolvedFacts) []schemaStep {
	return []schemaStep{
		{what: "add column", sql: []string{`ALTER TABLE accounts ADD COLUMN nick varchar(12)`,
			`UPDATE accounts SET nick = 'n' || id WHERE id % 5 = 0`,
			`INSERT INTO accounts (id, name, balance, ratio, nick) SELECT g, 'new ' || g, g, g / 9.0, 'i' || g FROM generate_series(3001, 3100) g`,
			`DELETE FROM accounts WHERE id % 50 = 1`}},
		{what: "add column with a default (re-snapshotted online)", sql: []string{`ALTER TABLE accounts ADD COLUMN tier int DEFAULT 3`,
			`UPDATE accounts SET tier = 4 WHERE id % 9 = 0`},
			logged: []string{`msg="table reset for its new snapshot"`, "table=public.accounts ", "cause=unfollowable-change"}},
		{what: "add table", sql: []string{`CREATE TABLE extra (id int PRIMARY KEY, v text)`, `ALTER TABLE extra OWNER TO u_` + l.name,
			`INSERT INTO extra SELECT g, 'x' || g FROM generate_series(1, 1500) g`},
			logged: []string{`msg="snapshot planned"`, "table=public.extra "}},
		{what: "rename column", before: func() { f.preRename = recordFiles(l.t, tr, l.name, "accounts") },
			sql: []string{`ALTER TABLE accounts RENAME COLUMN nick TO nickname`,
				`UPDATE accounts SET nickname = 'r' || id WHERE id % 7 = 0`, `UPDATE extra SET v = v || '+' WHERE id % 3 = 0`}},
		{what: "widen int -> bigint, real -> double precision, varchar(20) -> varchar(40)", kill: true, sql: []string{
			`ALTER TABLE events ALTER COLUMN n TYPE bigint, ALTER COLUMN amount TYPE double precision, ALTER COLUMN kind TYPE varchar(40)`,
			`UPDATE events SET kind = repeat('k', 30), amount = amount + 0.1234567891, n = n + 3000000000 WHERE seq % 9 = 0`,
			`INSERT INTO events SELECT g, 'wide ' || g, g / 11.0, g * 5000000000, timestamp '2025-01-01 00:00:00' + g * interval '1 minute' FROM generate_series(2001, 2100) g`}},
		{what: "drop NOT NULL", sql: []string{`ALTER TABLE accounts ALTER COLUMN name DROP NOT NULL`,
			`UPDATE accounts SET name = NULL WHERE id % 11 = 0`,
			`INSERT INTO accounts (id, name, tier, nickname) SELECT g, NULL, 7, 'z' || g FROM generate_series(3101, 3150) g`}},
		{what: "set NOT NULL", sql: []string{`ALTER TABLE accounts ALTER COLUMN tier SET NOT NULL`,
			`UPDATE accounts SET tier = tier + 10 WHERE id % 13 = 0`}},
		{what: "drop table", before: func() { f.gone = l.readPG("gone", ddlGoneCols) },
			sql:    []string{`DROP TABLE gone`, `UPDATE extra SET v = v || '!' WHERE id % 4 = 0`},
			logged: []string{"captured table dropped at the source; its iceberg table is kept", "table=public.gone "}},
		{what: "drop column", before: func() { f.ratio = l.readPG("accounts", ddlRatioCols) },
			sql: []string{`ALTER TABLE accounts DROP COLUMN ratio`,
				`UPDATE accounts SET nickname = 'd' || id WHERE id % 17 = 0`, `DELETE FROM extra WHERE id % 10 = 0`,
				`INSERT INTO accounts (id, name, tier, nickname) SELECT g, 'late ' || g, 1, 'l' || g FROM generate_series(3151, 3200) g`}},
	}
}

// TestTrinoReadsSchemaChangesPostgres runs every schema change Floe
// follows on PostgreSQL (with the DDL event trigger) while floe run
// streams to S3 and the SQL catalog on PostgreSQL, SIGKILLs it once in the
// middle, and checks that Trino and PyIceberg read the evolved tables
// equal to the source, before and after floe compact (see
// checkEvolvedShape for what else they must report).
func TestTrinoReadsSchemaChangesPostgres(t *testing.T) {
	needServers(t)
	tr := trino(t)
	python(t)
	start := time.Now()
	l := newLake(t, "ddlpg")
	keepLogOnFailure(t, l.logPath)
	l.exec(ddlPGSchema, postgres.DDLTriggerSQL)
	for _, tbl := range []string{"accounts", "events", "gone", "markers"} {
		l.exec("ALTER TABLE " + tbl + " OWNER TO u_" + l.name)
	}
	l.writeConfig(`public\..*`, "    type: sql\n    uri: "+l.catalogDSN()+"\n", l.warehouse)
	if err := tr.CreateCatalog(context.Background(), l.name, l.trinoJDBCCatalog()); err != nil {
		t.Fatal(err)
	}
	run := schemaRun{t: t, exec: l.exec, start: l.start, sync: l.sync, log: l.logPath,
		nudge: func() { l.exec("INSERT INTO markers DEFAULT VALUES") }}
	r := l.start()
	l.sync(r)
	t.Logf("source set up and snapshot committed in %s", time.Since(start).Round(time.Millisecond))
	f := &evolvedFacts{}
	steps := pgSchemaSteps(l, tr, f)
	for _, step := range steps {
		r = run.apply(r, step)
	}
	l.catchUpAndStop(r, "markers")
	t.Logf("%d schema changes streamed and committed in %s", len(steps), time.Since(start).Round(time.Millisecond))

	readBackEvolved(t, l, tr, f, l.readPG, start)
}

// readMyCols reads cols of src (a table, optionally with a WHERE clause)
// from MariaDB, each column in myDefaultExpr's rendering of its kind.
func (l *myLake) readMyCols(src string, cols []col) table {
	l.t.Helper()
	exprs := make([]string, len(cols))
	for i, c := range cols {
		exprs[i] = fmt.Sprintf(myDefaultExpr(c.kind), "`"+c.name+"`")
	}
	return l.readMy(src, cols, exprs, make([]func(string) (string, error), len(cols)))
}

// ddlMySchema is ddlPGSchema on MariaDB.
func ddlMySchema(l *myLake) []string {
	return []string{
		`CREATE TABLE accounts (id BIGINT PRIMARY KEY, name VARCHAR(60) NOT NULL, balance DECIMAL(12,2), ratio FLOAT, note TEXT)`,
		`CREATE TABLE events (seq BIGINT PRIMARY KEY, kind VARCHAR(20), amount FLOAT, n INT, ts DATETIME(6))`,
		`CREATE TABLE gone (id INT PRIMARY KEY, v VARCHAR(20))`,
		`CREATE TABLE markers (id INT PRIMARY KEY, at DATETIME(6))`,
		`INSERT INTO accounts SELECT seq, CONCAT('name ', seq), seq * 1.25, seq / 7.0, IF(seq % 4 = 0, NULL, CONCAT('note ü ', seq)) FROM ` + l.m.Seq(1, 3000),
		`INSERT INTO events SELECT seq, CONCAT('k', seq % 5), seq / 3.0, seq * 1000, TIMESTAMPADD(MICROSECOND, seq * 1500000, '2024-03-01 00:00:00') FROM ` + l.m.Seq(1, 2000),
		`INSERT INTO gone SELECT seq, CONCAT('g', seq) FROM ` + l.m.Seq(1, 500),
	}
}

// mySchemaSteps are the supported MySQL/MariaDB schema changes (the steps
// of mysqlTortureSteps in cmd/floe), as pgSchemaSteps on PostgreSQL.
func mySchemaSteps(l *myLake, tr *Trino, f *evolvedFacts) []schemaStep {
	seq := l.m.Seq
	return []schemaStep{
		{what: "add column", sql: []string{`ALTER TABLE accounts ADD COLUMN nick VARCHAR(12) NULL`,
			`UPDATE accounts SET nick = CONCAT('n', id) WHERE id % 5 = 0`,
			`INSERT INTO accounts (id, name, balance, ratio, nick) SELECT seq, CONCAT('new ', seq), seq, seq / 9.0, CONCAT('i', seq) FROM ` + seq(3001, 3100),
			`DELETE FROM accounts WHERE id % 50 = 1`}},
		{what: "add column with a default (re-snapshotted online)", sql: []string{`ALTER TABLE accounts ADD COLUMN tier INT NULL DEFAULT 3`,
			`UPDATE accounts SET tier = 4 WHERE id % 9 = 0`},
			logged: []string{`msg="table reset for its new snapshot"`, "table=" + l.name + ".accounts ", "cause=unfollowable-change"}},
		{what: "add table", sql: []string{`CREATE TABLE extra (id INT PRIMARY KEY, v VARCHAR(40))`,
			`INSERT INTO extra SELECT seq, CONCAT('x', seq) FROM ` + seq(1, 1500)}},
		{what: "rename column", before: func() { f.preRename = recordFiles(l.t, tr, l.name, "accounts") },
			sql: []string{`ALTER TABLE accounts RENAME COLUMN nick TO nickname`,
				`UPDATE accounts SET nickname = CONCAT('r', id) WHERE id % 7 = 0`, `UPDATE extra SET v = CONCAT(v, '+') WHERE id % 3 = 0`}},
		{what: "widen INT -> BIGINT, FLOAT -> DOUBLE, VARCHAR(20) -> VARCHAR(40)", kill: true, sql: []string{
			`ALTER TABLE events MODIFY n BIGINT, MODIFY amount DOUBLE, MODIFY kind VARCHAR(40)`,
			`UPDATE events SET kind = REPEAT('k', 30), amount = amount + 0.1234567891, n = n + 3000000000 WHERE seq % 9 = 0`,
			`INSERT INTO events SELECT seq, CONCAT('wide ', seq), seq / 11.0, seq * 5000000000, TIMESTAMPADD(MINUTE, seq, '2025-01-01 00:00:00') FROM ` + seq(2001, 2100)}},
		{what: "drop NOT NULL", sql: []string{`ALTER TABLE accounts MODIFY name VARCHAR(60) NULL`,
			`UPDATE accounts SET name = NULL WHERE id % 11 = 0`,
			`INSERT INTO accounts (id, name, tier, nickname) SELECT seq, NULL, 7, CONCAT('z', seq) FROM ` + seq(3101, 3150)}},
		{what: "set NOT NULL", sql: []string{`ALTER TABLE accounts MODIFY tier INT NOT NULL DEFAULT 3`,
			`UPDATE accounts SET tier = tier + 10 WHERE id % 13 = 0`}},
		{what: "drop table", before: func() { f.gone = l.readMyCols("gone", ddlGoneCols) },
			sql: []string{`DROP TABLE gone`, `UPDATE extra SET v = CONCAT(v, '!') WHERE id % 4 = 0`}},
		{what: "drop column", before: func() { f.ratio = l.readMyCols("accounts", ddlRatioCols) },
			sql: []string{`ALTER TABLE accounts DROP COLUMN ratio`,
				`UPDATE accounts SET nickname = CONCAT('d', id) WHERE id % 17 = 0`, `DELETE FROM extra WHERE id % 10 = 0`,
				`INSERT INTO accounts (id, name, tier, nickname) SELECT seq, CONCAT('late ', seq), 1, CONCAT('l', seq) FROM ` + seq(3151, 3200)}},
	}
}

// TestTrinoReadsSchemaChangesMySQL is TestTrinoReadsSchemaChangesPostgres
// on MariaDB: every schema change Floe follows from the binlog, a SIGKILL
// in the middle, then Trino and PyIceberg read the evolved tables equal to
// the source before and after floe compact.
func TestTrinoReadsSchemaChangesMySQL(t *testing.T) {
	needServers(t)
	tr := trino(t)
	python(t)
	start := time.Now()
	l := newMyLake(t, "ddlmy")
	keepLogOnFailure(t, l.logPath)
	l.exec(ddlMySchema(l)...)
	l.writeConfig(l.name + `\.(accounts|events|gone|extra|markers)`)
	if err := tr.CreateCatalog(context.Background(), l.name, l.trinoJDBCCatalog()); err != nil {
		t.Fatal(err)
	}
	marker := func() { l.exec("REPLACE INTO markers VALUES (1, NOW(6))") }
	run := schemaRun{t: t, exec: l.exec, start: l.start, log: l.logPath, nudge: marker,
		sync: func(r *floeRun) { marker(); l.waitCommitted(r, "markers", false) }}
	r := l.start()
	run.sync(r)
	t.Logf("source set up and snapshot committed in %s", time.Since(start).Round(time.Millisecond))
	f := &evolvedFacts{}
	steps := mySchemaSteps(l, tr, f)
	for _, step := range steps {
		r = run.apply(r, step)
	}
	marker()
	l.catchUpAndStop(r, "markers")
	t.Logf("%d schema changes streamed and committed in %s", len(steps), time.Since(start).Round(time.Millisecond))

	readBackEvolved(t, l.lake, tr, f, l.readMyCols, start)
}
