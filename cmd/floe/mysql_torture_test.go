package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
)

// mysqlTortureSteps is every kind of schema change Floe follows on
// MySQL/MariaDB, as pgTortureSteps is for PostgreSQL (same columns and
// tables, so checkTortureHistory applies to both).
func mysqlTortureSteps(e *mysqlEnv) []tortureStep {
	return []tortureStep{
		{what: "add column", sql: []string{`ALTER TABLE accounts ADD COLUMN nick VARCHAR(12) NULL`,
			`UPDATE accounts SET nick = CONCAT('n', id) WHERE id % 5 = 0`}},
		{what: "add column with a default (filled into every row: re-snapshotted online)", sql: []string{
			`ALTER TABLE accounts ADD COLUMN tier INT NULL DEFAULT 3`,
			`UPDATE accounts SET tier = 4 WHERE id % 9 = 0`}},
		{what: "add table", sql: []string{`CREATE TABLE extra (id INT PRIMARY KEY, v VARCHAR(40))`,
			`INSERT INTO extra SELECT seq, CONCAT('x', seq) FROM ` + e.m.Seq(1, 3000)}},
		{what: "rename column", sql: []string{`ALTER TABLE accounts RENAME COLUMN nick TO nickname`,
			`UPDATE accounts SET nickname = CONCAT('r', id) WHERE id % 7 = 0`, `UPDATE extra SET v = CONCAT(v, '+') WHERE id % 3 = 0`}},
		{what: "widen", sql: []string{`ALTER TABLE events MODIFY amount DOUBLE, MODIFY kind VARCHAR(40)`,
			`UPDATE events SET kind = REPEAT('k', 30), amount = amount + 0.1234567891 WHERE seq % 9 = 0`}},
		{what: "drop NOT NULL", sql: []string{`ALTER TABLE accounts MODIFY name VARCHAR(60) NULL`,
			`UPDATE accounts SET name = NULL WHERE id % 11 = 0`}},
		{what: "set NOT NULL", sql: []string{`ALTER TABLE accounts MODIFY tier INT NOT NULL DEFAULT 3`,
			`UPDATE accounts SET tier = tier + 10 WHERE id % 13 = 0`}},
		{what: "drop table", sql: []string{`DROP TABLE gone`, `UPDATE extra SET v = CONCAT(v, '!') WHERE id % 4 = 0`}},
		{what: "drop column", sql: []string{`ALTER TABLE accounts DROP COLUMN ratio`,
			`UPDATE accounts SET nickname = CONCAT('d', id) WHERE id % 17 = 0`, `DELETE FROM extra WHERE id % 10 = 0`}},
	}
}

// TestMySQLDDLTorture is TestPostgresDDLTorture on MariaDB: every
// supported schema change, interleaved with the crash workload, SIGKILLs
// and background compaction; afterwards `floe verify` equal, the dropped
// table kept and marked, the schema history in order, and one registry
// version per Iceberg schema.
func TestMySQLDDLTorture(t *testing.T) {
	e := newMySQLEnv(t, "mytorture", "upsert", "  snapshot.chunk-rows: 2000\n")
	rewriteConfig(t, e.pipelineEnv, "(accounts|events|floe_marker)", "(accounts|events|floe_marker|extra|gone)")
	const seeded = 20_000
	e.seed(seeded)
	e.sql(`CREATE TABLE gone (id INT PRIMARY KEY, v VARCHAR(20))`, `INSERT INTO gone SELECT seq, CONCAT('g', seq) FROM `+e.m.Seq(1, 500))
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 29))
	seed := rng.Uint64() % 1000
	t.Logf("random seed %d", seed)
	w := deadlockRetrying{&mysqlWorkload{e: e, rng: rand.New(rand.NewPCG(seed, 5)), next: seeded}}
	ddlTorture(t, e, w, rng, e.sql, mysqlTortureSteps(e))
	t.Logf("floe verify:\n%s", e.mustVerify(4))

	if e.sinkTable("gone").Property("floe.dropped-at") == "" {
		t.Fatalf("the dropped table gone is not marked floe.dropped-at")
	}
	checkTortureHistory(t, e.pipelineEnv, e.db+".accounts")
	for _, name := range []string{"accounts", "events", "extra"} {
		checkOneVersionPerSchema(t, e.pipelineEnv, e.db, name)
	}
}

// deadlockRetrying runs a workload step again when MariaDB chose its
// transaction as a deadlock victim (error 1213), which the torture's own
// statements on the same rows can cause: the server rolled it back, so
// nothing of it happened.
type deadlockRetrying struct{ *mysqlWorkload }

func (w deadlockRetrying) step(ctx context.Context) error {
	for {
		err := w.mysqlWorkload.step(ctx)
		var my *gomysql.MySQLError
		if !errors.As(err, &my) || my.Number != 1213 {
			return err
		}
	}
}
