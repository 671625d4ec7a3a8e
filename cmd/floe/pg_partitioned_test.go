package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestPartitionedTableAsOneTable: a PostgreSQL partitioned table that
// source.tables matches is captured as one table, and its partitions,
// which the same pattern matches, are not captured again. Rows that move
// between partitions (an UPDATE of the partition key) arrive as changes of
// the parent. Attaching a partition that already holds rows, and detaching
// one, change the table's rows without change events: floe run stops
// before committing past either, and the next run snapshots the table anew
// while the other table resumes (the detached partition, an ordinary table
// now, is captured on its own). After each step `floe verify` finds every
// table equal.
func TestPartitionedTableAsOneTable(t *testing.T) {
	needServers(t)
	e := newPipelineEnv(t, "pg_parts", `public\.(m|m_.*|a1)`, "upsert", "")
	e.exec(`CREATE TABLE m (id int, region text, v text, n int, PRIMARY KEY (id, region)) PARTITION BY LIST (region)`,
		`CREATE TABLE m_eu PARTITION OF m FOR VALUES IN ('eu')`,
		`CREATE TABLE m_us PARTITION OF m FOR VALUES IN ('us')`,
		`CREATE TABLE m_rest PARTITION OF m DEFAULT`,
		`INSERT INTO m SELECT g, (ARRAY['eu','us','sa'])[g % 3 + 1], 'm ' || g, g FROM generate_series(1, 3000) g`,
		`CREATE TABLE a1 (id int PRIMARY KEY, v text, n int)`,
		`INSERT INTO a1 SELECT g, 'a1 ' || g, g FROM generate_series(1, 300) g`)
	for _, tbl := range []string{"m", "m_eu", "m_us", "m_rest", "a1"} {
		e.exec(fmt.Sprintf("ALTER TABLE %s OWNER TO u_pg_parts", tbl))
	}

	r := e.startStreaming()
	e.exec(`UPDATE m SET region = 'us', v = v || ' moved' WHERE region = 'eu' AND id % 4 = 0`,
		`UPDATE m SET region = 'eu', n = n + 1 WHERE region = 'sa' AND id % 5 = 0`,
		`UPDATE m SET v = v || ' stayed' WHERE id % 7 = 0`,
		`DELETE FROM m WHERE id % 11 = 0`,
		`INSERT INTO m SELECT g, 'sa', 'new ' || g, g FROM generate_series(5001, 5100) g`)
	e.changeRows("a1", 1000)
	e.waitCaughtUp(r, 2*time.Minute)
	if got := e.mustVerify(2); !strings.Contains(got, "public.m") || strings.Contains(got, "public.m_eu") {
		t.Fatalf("floe verify should compare public.m as one table and not its partitions:\n%s", got)
	}

	// A partition attached with rows of its own: they join m without a
	// change event.
	e.exec(`CREATE TABLE m_apac (id int, region text, v text, n int, PRIMARY KEY (id, region))`,
		`INSERT INTO m_apac SELECT g, 'apac', 'apac ' || g, g FROM generate_series(10001, 10200) g`,
		`ALTER TABLE m_apac OWNER TO u_pg_parts`,
		`ALTER TABLE m ATTACH PARTITION m_apac FOR VALUES IN ('apac')`)
	e.changeRows("a1", 2000)
	e.exec(`UPDATE m SET v = v || ' after attach' WHERE id % 13 = 0`)
	e.requireStop(r, "table public.m is pg.v1:rel=")
	e.catchUp(func() { e.exec(`UPDATE m SET n = n + 7 WHERE id % 17 = 0`) })
	e.mustVerify(2)
	e.requireReset("public.m", "identity")

	// A partition detached: its rows leave m without a change event.
	r = e.startStreaming()
	e.exec(`ALTER TABLE m DETACH PARTITION m_us`)
	e.changeRows("a1", 3000)
	e.requireStop(r, "table public.m is pg.v1:rel=")
	e.catchUp(nil)
	// m_us is an ordinary table now, which the pattern matches: it is
	// captured on its own from this run on.
	if got := e.mustVerify(3); !strings.Contains(got, "public.m_us") {
		t.Fatalf("floe verify should compare the detached public.m_us as a table of its own:\n%s", got)
	}
}

// requireStop waits for floe run r to exit with an error whose log line
// contains want.
func (e *pipelineEnv) requireStop(r *running, want string) {
	e.t.Helper()
	select {
	case <-r.Exited:
	case <-time.After(2 * time.Minute):
		e.t.Fatalf("floe run goes on; want it to stop with %q; log:\n%s", want, e.tail(40))
	}
	if r.Err == nil || !strings.Contains(e.tail(20), want) {
		e.t.Fatalf("floe run exited with %v, want a stop with %q; log:\n%s", r.Err, want, e.tail(20))
	}
}
