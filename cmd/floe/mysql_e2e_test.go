package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/mysql"
	"github.com/floe-cdc/floe/deploy/e2e"
	"github.com/floe-cdc/floe/deploy/testdb"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
)

// mysqlEnv is one test's MariaDB server (started for the test and stopped
// at its end), database, config and directories. The pipelineEnv helpers
// that do not touch PostgreSQL (start, stop, kill, verify, tail) apply.
type mysqlEnv struct {
	*pipelineEnv
	m    *testdb.MariaDB
	root *sql.DB
}

// mysqlSchema covers the common MySQL types, a composite key and a marker
// table that waitCaughtUp writes.
const mysqlSchema = `CREATE TABLE accounts (
  id BIGINT PRIMARY KEY, name VARCHAR(60) NOT NULL, balance DECIMAL(18,4), ratio DOUBLE, small SMALLINT,
  flag TINYINT(1), born DATE, seen DATETIME(6), changed TIMESTAMP(6) NULL, doc JSON, bin VARBINARY(64),
  big MEDIUMTEXT, u BIGINT UNSIGNED, mood ENUM('happy','sad','ok'), tags SET('a','b','c'), y YEAR, tm TIME(3), bits BIT(5))
|CREATE TABLE events (tenant VARCHAR(20) NOT NULL, seq BIGINT NOT NULL, kind VARCHAR(20), amount FLOAT, PRIMARY KEY (tenant, seq))
|CREATE TABLE floe_marker (id INT PRIMARY KEY, at DATETIME(6))`

// newMySQLEnv starts a MariaDB for the test with database db, its CDC user
// u_<db> and the tables of mysqlSchema, and writes a config with extraSource
// under source:.
func newMySQLEnv(t *testing.T, db, mode, extraSource string) *mysqlEnv {
	t.Helper()
	needServers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	m := testdb.StartMariaDBForTest(ctx, t, testdb.MariaDBOptions{})
	root := m.DatabaseForTest(t, db, "u_"+db, testPassword, "")
	f := e2e.NewPipeline(t, floeBin)
	e := &mysqlEnv{pipelineEnv: &pipelineEnv{t: t, db: db, dir: f.Dir, config: f.Config, logPath: f.Log}, m: m, root: root}
	f.WriteConfig(e2e.Config{Name: db,
		Source: e2e.Source{Type: "mysql", Port: m.Port, User: "u_" + db, Tables: db + `\.(accounts|events|floe_marker)`,
			Extra: "  snapshot.parallelism: 2\n" + extraSource},
		Sink: e2e.Sink{Mode: mode}})
	for _, s := range strings.Split(mysqlSchema, "|") {
		e.sql(s)
	}
	return e
}

func (e *mysqlEnv) sql(stmts ...string) {
	e.t.Helper()
	for _, s := range stmts {
		if _, err := e.root.Exec(s); err != nil {
			e.t.Fatalf("exec %q: %v", s, err)
		}
	}
}

// seed inserts n accounts and n events with the sequence engine.
func (e *mysqlEnv) seed(n int) {
	e.sql(fmt.Sprintf(`INSERT INTO accounts SELECT seq, CONCAT('name ', seq), seq * 1.5, seq / 7, seq %% 1000, seq %% 2,
		'2000-01-01' + INTERVAL (seq %% 9000) DAY, '2020-02-29 10:00:00.123456' + INTERVAL seq SECOND,
		FROM_UNIXTIME(1600000000 + seq), JSON_OBJECT('k', seq, 'n', 'x'), UNHEX(HEX(seq)), REPEAT('big', seq %% 50),
		18446744073709551615 - seq, ELT(1 + seq %% 3, 'happy', 'sad', 'ok'), 'a,c', 1901 + seq %% 200, '12:34:56.789', seq %% 32
		FROM %s`, e.m.Seq(1, int64(n))),
		fmt.Sprintf(`INSERT INTO events SELECT CONCAT('t', seq %% 10), seq, 'seed', seq / 3 FROM %s`, e.m.Seq(1, int64(n))))
}

// mysqlWorkload makes random transactions: inserts, updates, key changes,
// deletes, multi-table transactions and occasional large ones.
type mysqlWorkload struct {
	e    *mysqlEnv
	rng  *rand.Rand
	next int64
	txns int
	// ddlAt are schema changes run before the step with that many
	// transactions done.
	ddlAt map[int]string
}

func (w *mysqlWorkload) step(ctx context.Context) error {
	if ddl, ok := w.ddlAt[w.txns]; ok {
		if _, err := w.e.root.ExecContext(ctx, ddl); err != nil {
			return fmt.Errorf("%s: %w", ddl, err)
		}
		delete(w.ddlAt, w.txns)
	}
	tx, err := w.e.root.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	n := 1 + w.rng.IntN(4)
	for range n {
		id := 1 + w.rng.Int64N(w.next)
		var q string
		switch w.rng.IntN(6) {
		case 0:
			w.next++
			q = fmt.Sprintf(`INSERT INTO accounts (id, name, balance, doc, changed, mood, tm) VALUES (%d, 'new', %d.25, '{"a": [1, 2.5, null]}', NOW(6), 'ok', '-01:02:03.5')`, w.next+1_000_000, w.rng.IntN(1000))
		case 1:
			q = fmt.Sprintf("UPDATE accounts SET balance = balance + 1, name = CONCAT(name, '+'), seen = NOW(6), tags = 'b' WHERE id = %d", id)
		case 2:
			q = fmt.Sprintf("UPDATE accounts SET id = id + 2000000 WHERE id = %d", id)
		case 3:
			q = fmt.Sprintf("DELETE FROM accounts WHERE id = %d", id)
		case 4:
			q = fmt.Sprintf("INSERT INTO events (tenant, seq, kind, amount) VALUES ('w', %d, 'step', %f) ON DUPLICATE KEY UPDATE kind = 'again'", w.rng.Int64N(1_000_000), w.rng.Float64())
		default:
			q = fmt.Sprintf("DELETE FROM events WHERE tenant = 't%d' AND seq = %d", id%10, id)
		}
		if _, err := tx.ExecContext(ctx, q); err != nil {
			_ = tx.Rollback()
			return err
		}
	}
	w.txns++
	return tx.Commit()
}

// bulk inserts rows events in one transaction.
func (w *mysqlWorkload) bulk(ctx context.Context, tenant string, rows int) error {
	_, err := w.e.root.ExecContext(ctx, fmt.Sprintf("INSERT INTO events (tenant, seq, kind, amount) SELECT '%s', seq, 'bulk', seq FROM %s", tenant, w.e.m.Seq(1, int64(rows))))
	w.txns++
	return err
}

// waitCaughtUp writes a marker and waits until its Iceberg table has
// committed a position at or after the server's position after the write.
func (e *mysqlEnv) waitCaughtUp(r *running, timeout time.Duration) {
	e.t.Helper()
	e.sql("REPLACE INTO floe_marker VALUES (1, NOW(6))")
	target, err := e2e.MySQLPosition(e.root, e.m.Flavor)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx := context.Background()
	cfg := e.loadConfig()
	cat, err := openCatalog(ctx, cfg, newLogger(cfg.Log, io.Discard))
	if err != nil {
		e.t.Fatal(err)
	}
	defer cat.Close()
	marker := lakewriter.Ident{Namespace: cfg.Sink.Namespace, Name: "floe_marker"}
	// timeout bounds the wait for progress, not the catch-up: a floe that
	// keeps committing checkpoints (a long backlog on a loaded machine)
	// is waited for; one that commits none for timeout is stuck.
	commits := func() int { return strings.Count(e.tail(100000), `msg="checkpoint committed"`) }
	if err := e2e.WaitCommitted(ctx, cat, marker, cfg.Pipeline.Name, target, timeout, r, commits); err != nil {
		e.t.Fatalf("%v; log:\n%s", err, e.tail(60))
	}
	// The marker's table lands beside the checkpoint's other tables, not
	// after them: wait for the checkpoint itself, logged once every table
	// of it has landed.
	deadline := time.Now().Add(timeout)
	for !checkpointLoggedAt(e.tail(100000), target) {
		if time.Now().After(deadline) {
			e.t.Fatalf("floe committed %v to floe_marker but logged no checkpoint at or past it within %v; log:\n%s", target, timeout, e.tail(60))
		}
		select {
		case <-r.Exited:
			e.t.Fatalf("floe run exited while its checkpoint landed: %v; log:\n%s", r.Err, e.tail(60))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// checkpointCommitted finds the position of each "checkpoint committed"
// line of a floe log.
var checkpointCommitted = regexp.MustCompile(`msg="checkpoint committed" .*?\bposition=(\S+)`)

// checkpointLoggedAt reports whether log has a committed checkpoint at or
// past target.
func checkpointLoggedAt(log string, target capture.Position) bool {
	for _, m := range checkpointCommitted.FindAllStringSubmatch(log, -1) {
		if p, err := mysql.DecodePosition(m[1]); err == nil && p.Compare(target) >= 0 {
			return true
		}
	}
	return false
}

func TestMySQLEndToEnd(t *testing.T) {
	for _, mode := range []string{"upsert", "changelog"} {
		t.Run(mode, func(t *testing.T) {
			e := newMySQLEnv(t, "my_e2e_"+mode, mode, "  snapshot.chunk-rows: 700\n")
			e.seed(3000)
			out, err := e.floeCmd("check", "--config", e.config).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "OK") {
				t.Fatalf("floe check: %v\n%s", err, out)
			}
			r := e.start()
			e.waitStreaming(r)
			w := &mysqlWorkload{e: e, rng: rand.New(rand.NewPCG(1, 2)), next: 3000}
			ctx := context.Background()
			for i := range 300 {
				if err := w.step(ctx); err != nil {
					t.Fatal(err)
				}
				if i == 150 {
					if err := w.bulk(ctx, "bulk", 25_000); err != nil { // split: more than 10000 changes
						t.Fatal(err)
					}
				}
			}
			e.sql("UPDATE accounts SET doc = NULL, born = NULL, big = NULL WHERE id % 97 = 0")
			// A schema change while streaming: the Iceberg table evolves
			// and its first commit after it records the change.
			e.sql("ALTER TABLE accounts ADD COLUMN nick VARCHAR(12) NULL, MODIFY small INT, MODIFY balance DECIMAL(24,4)",
				"UPDATE accounts SET nick = CONCAT('n', id), balance = balance * 1000000 WHERE id % 5 = 0")
			start := time.Now()
			e.waitCaughtUp(r, 2*time.Minute)
			t.Logf("caught up %v after the workload (%d transactions)", time.Since(start).Round(time.Millisecond), w.txns)
			e.stop(r)
			t.Logf("floe verify:\n%s", e.mustVerify(3))
			var recorded string
			for _, s := range sinkHistory(t, e.pipelineEnv, "accounts") {
				if v := s.Props[ledger.PropSchemaChange]; v != "" {
					recorded = v
				}
			}
			if !strings.Contains(recorded, "add column nick") || !strings.Contains(recorded, "decimal(24, 4)") {
				t.Fatalf("the accounts history records no schema change with the added column and the widened decimal: %q", recorded)
			}
			t.Logf("schema change recorded: %s", recorded)
		})
	}
}

// TestMySQLSchemaChangeDuringSnapshot: ALTERs that widen a column, add one
// and drop one land while the initial snapshot is being read, followed by
// updates that use the new layout. Chunks read after the ALTER are refused
// by the source (capture.ErrLayoutChanged), the run starts again from the
// committed positions with the new layout, and the tables end equal to
// the source. Before the fix those chunks were decoded with the layout
// the snapshot started with (a DOUBLE read as FLOAT lost its digits, the
// added column was not read), and the stream dropped the changes that
// carried the right values because the chunks' watermarks were past them.
func TestMySQLSchemaChangeDuringSnapshot(t *testing.T) {
	e := newMySQLEnv(t, "my_ddl_snap", "upsert", "  snapshot.chunk-rows: 500\n")
	e.seed(100_000)
	appendLog(t, e.pipelineEnv, "=== test: start 0 ===")
	r := e.start()
	waitForLog(t, e.pipelineEnv, r, "snapshot planned")
	e.sql("ALTER TABLE events MODIFY amount DOUBLE, ADD COLUMN note VARCHAR(20) NULL",
		"UPDATE events SET amount = amount + 0.1234567891, note = 'after' WHERE seq % 3 = 0",
		"ALTER TABLE accounts ADD COLUMN nick VARCHAR(20) NULL",
		"UPDATE accounts SET nick = CONCAT('n', id) WHERE id % 7 = 0")
	if strings.Contains(e.tail(1<<30), "snapshot complete") {
		t.Fatalf("the snapshot ended before the ALTERs, so the test shows nothing; log:\n%s", e.tail(40))
	}
	e.waitCaughtUp(r, 3*time.Minute)
	e.stop(r)
	t.Logf("floe verify:\n%s", e.mustVerify(3))
	if !strings.Contains(e.tail(1<<30), "table layout changed during its snapshot") {
		t.Fatalf("no chunk read was refused after the ALTERs; log:\n%s", e.tail(40))
	}
}
