package postgres

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/deploy/testdb"
)

// findProblem returns the problem for field whose message contains part.
func findProblem(ps []Problem, field, part string) (Problem, bool) {
	for _, p := range ps {
		if p.Field == field && strings.Contains(p.Message, part) {
			return p, true
		}
	}
	return Problem{}, false
}

func checkOneLine(t *testing.T, ps []Problem) {
	t.Helper()
	for _, p := range ps {
		if p.Fix == "" || strings.ContainsAny(p.Error(), "\r\n") {
			t.Errorf("problem %q: want one line with a fix", p.Error())
		}
	}
}

func TestCheck(t *testing.T) {
	e := newEnv(t)
	e.exec(`CREATE TABLE present (id int PRIMARY KEY)`)
	ctx := testCtx(t)

	if ps := e.source(e.config(`public\.present`)).Check(ctx); len(ps) != 0 {
		t.Fatalf("healthy source: problems %v", ps)
	}

	tests := []struct {
		name         string
		mutate       func(*Config)
		field, part  string
		fixPart      string
		onlyOneFound bool
	}{
		{"wrong password", func(c *Config) { c.Password = "wrong" }, "source.password", "password authentication failed", "source.password", true},
		{"missing database", func(c *Config) { c.Database = "nope" }, "source.database", `database "nope" does not exist`, "source.database", true},
		{"missing table", func(c *Config) { c.Tables = append(c.Tables, mustRE(`public\.missing`)) }, "source.tables", `pattern "public\.missing" matches no table`, "pattern", false},
		{"unreachable", func(c *Config) { c.Port = freePort(t) }, "source.hostname", "cannot reach PostgreSQL", "source.port", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := e.config(`public\.present`)
			tc.mutate(&cfg)
			ps := e.source(cfg).Check(ctx)
			checkOneLine(t, ps)
			p, ok := findProblem(ps, tc.field, tc.part)
			if !ok || !strings.Contains(p.Fix, tc.fixPart) || (tc.onlyOneFound && len(ps) != 1) {
				t.Fatalf("problems %v, want %s: ...%s... with a fix naming %s", ps, tc.field, tc.part, tc.fixPart)
			}
		})
	}

	t.Run("table owned by another role", func(t *testing.T) {
		if err := testPG.Exec(ctx, e.db, `CREATE TABLE public.admins (id int PRIMARY KEY)`); err != nil {
			t.Fatal(err)
		}
		ps := e.source(e.config(`public\.(present|admins)`)).Check(ctx)
		checkOneLine(t, ps)
		if _, ok := findProblem(ps, "source.username", "does not own public.admins"); !ok || len(ps) != 1 {
			t.Fatalf("problems %v", ps)
		}
	})

	t.Run("no replication privilege", func(t *testing.T) {
		if err := testPG.Exec(ctx, "postgres", fmt.Sprintf("ALTER ROLE %s NOREPLICATION", e.user)); err != nil {
			t.Fatal(err)
		}
		defer testPG.Exec(context.Background(), "postgres", fmt.Sprintf("ALTER ROLE %s REPLICATION", e.user))
		ps := e.source(e.config(`public\.present`)).Check(ctx)
		checkOneLine(t, ps)
		p, ok := findProblem(ps, "source.username", "REPLICATION")
		if !ok || p.Fix != fmt.Sprintf(`run ALTER ROLE "%s" REPLICATION`, e.user) || len(ps) != 1 {
			t.Fatalf("problems %v", ps)
		}
		// The replication connection itself fails with the same advice.
		s := e.source(e.config(`public\.present`))
		_, err := s.connectReplication(ctx)
		if err == nil || !strings.Contains(err.Error(), "ALTER ROLE") {
			t.Fatalf("replication connect without privilege: %v", err)
		}
	})
}

func TestCheckWALLevelReplica(t *testing.T) {
	if testPG == nil {
		t.Skip("integration test")
	}
	ctx := testCtx(t)
	pg, err := testdb.StartPostgres(ctx, testdb.PostgresOptions{WALLevel: "replica"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Stop() })
	if _, err := pg.CreateDatabase(ctx, "shop", "floe", testPassword); err != nil {
		t.Fatal(err)
	}
	if err := pg.Exec(ctx, "shop", `CREATE TABLE public.t (id int PRIMARY KEY)`, `ALTER TABLE public.t OWNER TO floe`); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{SourceConfig: capture.SourceConfig{Host: "127.0.0.1", Port: pg.Port, User: "floe", Password: testPassword, Tables: []*regexp.Regexp{mustRE(`public\.t`)}}, Database: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	ps := s.Check(ctx)
	checkOneLine(t, ps)
	p, ok := findProblem(ps, "source", `wal_level is "replica"`)
	if !ok || !strings.Contains(p.Fix, "ALTER SYSTEM SET wal_level = logical") || !strings.Contains(p.Fix, "restart") || len(ps) != 1 {
		t.Fatalf("problems %v, want exactly the wal_level one", ps)
	}
}
