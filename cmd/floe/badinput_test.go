package main

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/deploy/testdb"
)

// runFloe runs a floe verb to completion (at most 2 minutes) and returns
// its combined output and exit code.
func runFloe(t *testing.T, e *pipelineEnv, args ...string) (string, int) {
	t.Helper()
	f := e.floe()
	f.T = t
	return f.Run(2*time.Minute, args...)
}

// rewriteConfig replaces old with new in the env's config file.
func rewriteConfig(t *testing.T, e *pipelineEnv, old, new string) {
	t.Helper()
	b, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("config has no %q", old)
	}
	if err := os.WriteFile(e.config, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// expectOneLineError asserts a failing exit and a message holding every
// fragment on one line.
func expectOneLineError(t *testing.T, out string, code int, fragments ...string) {
	t.Helper()
	if code == 0 {
		t.Fatalf("exit 0, want a failure; output:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		ok := true
		for _, f := range fragments {
			ok = ok && strings.Contains(line, f)
		}
		if ok {
			t.Logf("exit %d: %s", code, line)
			return
		}
	}
	t.Fatalf("no output line holds all of %q; output:\n%s", fragments, out)
}

func TestBadInput(t *testing.T) {
	needServers(t)
	e := newPipelineEnv(t, "badinput", `public\.orders`, "upsert", "")
	e.exec(`CREATE TABLE orders (id int PRIMARY KEY, item text)`, `INSERT INTO orders SELECT g, 'i' || g FROM generate_series(1, 500) g`,
		`ALTER TABLE orders OWNER TO u_badinput`)

	t.Run("typo in a config key", func(t *testing.T) {
		rewriteConfig(t, e, "checkpoint-interval:", "checkpoint-intervall:")
		defer rewriteConfig(t, e, "checkpoint-intervall:", "checkpoint-interval:")
		for _, verb := range []string{"check", "run"} {
			out, code := runFloe(t, e, verb, "--config", e.config)
			expectOneLineError(t, out, code, "pipeline.checkpoint-intervall", "checkpoint-interval")
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		rewriteConfig(t, e, "${FLOE_TEST_PASSWORD}", "wrong-password")
		defer rewriteConfig(t, e, "wrong-password", "${FLOE_TEST_PASSWORD}")
		for _, verb := range []string{"check", "run"} {
			out, code := runFloe(t, e, verb, "--config", e.config)
			expectOneLineError(t, out, code, "source.password")
			if strings.Contains(out, "wrong-password") {
				t.Fatalf("the password leaked into the output:\n%s", out)
			}
		}
	})
	t.Run("missing table", func(t *testing.T) {
		rewriteConfig(t, e, `public\.orders`, `public\.orderz`)
		out, code := runFloe(t, e, "check", "--config", e.config)
		expectOneLineError(t, out, code, "source.tables", "orderz")
		out, code = runFloe(t, e, "run", "--config", e.config)
		expectOneLineError(t, out, code, "orderz")
		// Nothing half-written: with the table name fixed, a run mirrors
		// the table and verify passes.
		rewriteConfig(t, e, `public\.orderz`, `public\.orders`)
		out, code = runFloe(t, e, "check", "--config", e.config)
		if code != 0 {
			t.Fatalf("floe check after the fix: exit %d\n%s", code, out)
		}
		r := e.start()
		e.waitCaughtUp(r, time.Minute)
		e.stop(r)
		e.mustVerify(1)
	})
	t.Run("wal_level not logical", func(t *testing.T) {
		ctx := context.Background()
		pg, err := testdb.StartPostgres(ctx, testdb.PostgresOptions{WALLevel: "replica"})
		if err != nil {
			t.Fatal(err)
		}
		defer pg.Stop()
		other := &pipelineEnv{t: t, pg: pg, db: "badinput", dir: t.TempDir()}
		if _, err := pg.CreateDatabase(ctx, "badinput", "u_badinput", testPassword); err != nil {
			t.Fatal(err)
		}
		if err := pg.Exec(ctx, "badinput", `CREATE TABLE orders (id int PRIMARY KEY)`); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(e.config)
		if err != nil {
			t.Fatal(err)
		}
		other.config = other.dir + "/floe.yaml"
		cfg := strings.Replace(string(b), "port: "+strconv.Itoa(sharedPG.Port), "port: "+strconv.Itoa(pg.Port), 1)
		if err := os.WriteFile(other.config, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		out, code := runFloe(t, other, "check", "--config", other.config)
		expectOneLineError(t, out, code, "wal_level", "logical")
		out, code = runFloe(t, other, "run", "--config", other.config)
		expectOneLineError(t, out, code, "wal_level", "logical")
	})
	t.Run("PostgreSQL table altered while floe was stopped", func(t *testing.T) {
		// The table was mirrored by "missing table". A column added with a
		// default fills every existing row without a WAL change, and with
		// no change of the table after it no Relation message shows it:
		// the run refuses to add it to the Iceberg table at start and
		// names the fix (with on-unfollowable-change: stop; by default it
		// snapshots the table again, TestPostgresUnfollowableResnapshot).
		stopOnUnfollowable(t, e)
		e.exec(`ALTER TABLE orders ADD COLUMN extra int DEFAULT 5`)
		out, code := runFloe(t, e, "run", "--config", e.config)
		expectOneLineError(t, out, code, "public.orders found at start: column extra", "DEFAULT", "floe resnapshot")
	})
}

// TestBadInputMessages: the fix a stopping value or schema change names is
// one that works, and types are named, not numbered.
func TestBadInputMessages(t *testing.T) {
	needServers(t)
	e := newPipelineEnv(t, "badmsg", `public\.nums`, "upsert", "")
	e.exec(`CREATE TABLE nums (id int PRIMARY KEY, v numeric)`, `INSERT INTO nums VALUES (1, 1.5), (2, 'NaN')`,
		`CREATE TABLE notes (id int PRIMARY KEY, body text)`,
		`ALTER TABLE nums OWNER TO u_badmsg`, `ALTER TABLE notes OWNER TO u_badmsg`)
	t.Run("NaN in a numeric column", func(t *testing.T) {
		// The stop and its message (the default writes the row to the
		// dead-letter table and goes on, TestDeadLettersPostgres).
		rewriteConfig(t, e, "pipeline:\n", "pipeline:\n  dead-letter: off\n")
		// Declaring a precision is no fix: numeric(p,s) takes NaN as well.
		e.exec(`SELECT 'NaN'::numeric(10,2)`)
		out, code := runFloe(t, e, "run", "--config", e.config)
		expectOneLineError(t, out, code, `column v (numeric): value "NaN": Iceberg decimals cannot store NaN`,
			"numeric(p,s) holds NaN too, so declaring a precision does not help", "SET v = NULL WHERE v = 'NaN'", "CHECK (v <> 'NaN')")
		if strings.Contains(out, "declare it numeric(p,s)") {
			t.Fatalf("the fix still suggests numeric(p,s):\n%s", out)
		}
	})
	t.Run("a type change that cannot be followed is named with its types", func(t *testing.T) {
		rewriteConfig(t, e, `tables: public\.nums`, `tables: public\.notes`)
		stopOnUnfollowable(t, e)
		r := e.start()
		e.waitStreaming(r)
		// Added columns are followed; a type change that is not a
		// widening stops the run, naming both types.
		e.exec(`ALTER TABLE notes ADD COLUMN extra text, ADD COLUMN label varchar(20), ADD COLUMN amount numeric(10,2)`,
			`INSERT INTO notes VALUES (1, 'b', 'x', 'l', 1.25)`,
			`ALTER TABLE notes ALTER COLUMN amount TYPE numeric(12,4)`,
			`INSERT INTO notes VALUES (2, 'b', 'x', 'l', 1.25)`)
		select {
		case <-r.Exited:
		case <-time.After(2 * time.Minute):
			t.Fatalf("floe run did not stop at the schema change; log:\n%s", e.tail(40))
		}
		log := e.tail(200)
		expectOneLineError(t, log, 1, "public.notes", "column amount: type changed from numeric(10,2) to numeric(12,4)")
		if strings.Contains(log, "type 25") {
			t.Fatalf("a type is named by its OID:\n%s", log)
		}
	})
}
