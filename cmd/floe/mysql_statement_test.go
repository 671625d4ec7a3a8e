package main

import (
	"context"
	"testing"
	"time"
)

// waitExit waits for a floe run to end by itself and returns its log.
func waitExit(t *testing.T, e *pipelineEnv, r *running, within time.Duration) string {
	t.Helper()
	select {
	case <-r.Exited:
	case <-time.After(within):
		t.Fatalf("floe run still runs after %v; log:\n%s", within, e.tail(40))
	}
	if r.Err == nil {
		t.Fatalf("floe run exited 0; log:\n%s", e.tail(40))
	}
	return e.tail(1 << 20)
}

// TestMariaDBStatementFormat: a statement a session logs as text
// (binlog_format=STATEMENT) stops floe run when it changes a captured
// table, with one line naming the table, the position and the fix, and
// never when it only changes other tables; the fix (that session back on
// ROW, then floe resnapshot of the table) brings the table back in line
// with the source.
func TestMariaDBStatementFormat(t *testing.T) {
	e := newMySQLEnv(t, "my_stmt", "upsert", "")
	stopOnUnfollowable(t, e.pipelineEnv)
	e.seed(200)
	e.sql("CREATE TABLE other (id INT PRIMARY KEY, v INT)")
	r := e.start()
	e.waitStreaming(r)
	ctx := context.Background()
	conn, err := e.root.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	statement := func(stmts ...string) {
		t.Helper()
		for _, q := range stmts {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				t.Fatalf("exec %q: %v", q, err)
			}
		}
	}
	statement("SET SESSION binlog_format = 'STATEMENT'",
		"INSERT INTO other SELECT id, small FROM accounts WHERE id <= 10",
		"UPDATE other JOIN events ON events.seq = other.id SET other.v = events.seq",
		"DELETE other FROM other JOIN accounts ON accounts.id = other.id WHERE other.id = 1")
	e.waitCaughtUp(r, 2*time.Minute) // statements on tables floe does not capture pass

	statement("UPDATE accounts SET name = 'statement' WHERE id <= 3")
	log := waitExit(t, e.pipelineEnv, r, 2*time.Minute)
	expectOneLineError(t, log, 1, "floe: pipeline my_stmt: ", "UPDATE changed captured table my_stmt.accounts at mysql.v1:mariadb:0-1-",
		"(binlog binlog.0", "the server logged it as a statement, not as rows", `"UPDATE accounts SET name = 'statement' WHERE id <= 3"`,
		"fix: make the writing sessions log rows (binlog_format=ROW", "then re-snapshot the table with floe resnapshot --table my_stmt.accounts")
	// It stays stopped: a restart stops at the same statement.
	out, code := runFloe(t, e.pipelineEnv, "run", "--config", e.config)
	expectOneLineError(t, out, code, "UPDATE changed captured table my_stmt.accounts")

	statement("SET SESSION binlog_format = 'ROW'", "UPDATE accounts SET name = 'rows again' WHERE id = 4")
	out, code = runFloe(t, e.pipelineEnv, "resnapshot", "--config", e.config, "--table", "my_stmt.accounts")
	if code != 0 {
		t.Fatalf("floe resnapshot: exit %d\n%s", code, out)
	}
	r = e.start()
	e.waitCaughtUp(r, 2*time.Minute)
	e.stop(r)
	e.mustVerify(3)
}
