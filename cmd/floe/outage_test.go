package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/floe-cdc/floe/deploy/testdb"
)

// sourceOutage is how long the tests keep the source server down.
const sourceOutage = 20 * time.Second

// stayUp fails the test when floe run exits within d.
func stayUp(t *testing.T, e *pipelineEnv, r *running, d time.Duration, during string) {
	t.Helper()
	select {
	case <-r.Exited:
		t.Fatalf("floe run exited %s: %v; log:\n%s", during, r.Err, e.tail(40))
	case <-time.After(d):
	}
}

// retriesLogged counts the log lines that report a lost connection to
// endpoint and retry.
func retriesLogged(e *pipelineEnv, endpoint string) int {
	re := regexp.MustCompile(`msg="connection lost; restarting from the committed positions" .*endpoint=` + regexp.QuoteMeta(endpoint) + ` err=.* attempt=\d+ retry_in=`)
	return len(re.FindAllString(e.tail(1000000), -1))
}

// TestSourceOutagePostgres: PostgreSQL goes down (immediate shutdown, as
// in a crash) for 20 s while floe run streams. floe keeps running, logs
// each retry with the endpoint and the error, reconnects once the server
// is back, and Iceberg ends equal to the source.
func TestSourceOutagePostgres(t *testing.T) {
	ctx := context.Background()
	pg := ownPostgres(t)
	e := newPipelineEnvOn(t, pg, "outage", `public\.orders`, "upsert", "")
	e.exec(`CREATE TABLE orders (id int PRIMARY KEY, item text, qty int)`,
		`INSERT INTO orders SELECT g, 'i' || g, g FROM generate_series(1, 2000) g`, `ALTER TABLE orders OWNER TO u_outage`)
	r := e.start()
	e.waitStreaming(r)
	e.exec(`UPDATE orders SET qty = qty + 1 WHERE id % 3 = 0`, `INSERT INTO orders SELECT g, 'before', g FROM generate_series(2001, 2500) g`)
	e.waitCaughtUp(r, time.Minute)

	if err := pg.Halt(); err != nil {
		t.Fatal(err)
	}
	stayUp(t, e, r, sourceOutage, "while PostgreSQL was down")
	if err := pg.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	e.exec(`DELETE FROM orders WHERE id % 7 = 0`, `UPDATE orders SET item = 'after' WHERE id <= 400`,
		`INSERT INTO orders SELECT g, 'after', g FROM generate_series(2501, 3000) g`)
	e.waitCaughtUp(r, 2*time.Minute)
	e.stop(r)

	endpoint := "127.0.0.1:" + strconv.Itoa(pg.Port)
	if n := retriesLogged(e, endpoint); n < 2 {
		t.Fatalf("%d retries logged with endpoint=%s during a %s outage, want several; log:\n%s", n, endpoint, sourceOutage, e.tail(40))
	}
	t.Logf("%d retries logged during the outage", retriesLogged(e, endpoint))
	e.mustVerify(1)
}

// TestSourceOutageMariaDB: MariaDB shuts down for 20 s while floe run
// streams; floe keeps running, retries, and catches up once it is back.
func TestSourceOutageMariaDB(t *testing.T) {
	e := newMySQLEnv(t, "my_outage", "upsert", "")
	e.seed(500)
	r := e.start()
	e.waitStreaming(r)
	ctx := context.Background()
	w := &mysqlWorkload{e: e, rng: rand.New(rand.NewPCG(3, 4)), next: 500}
	for range 50 {
		if err := w.step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	e.waitCaughtUp(r, time.Minute)

	if err := e.m.Halt(); err != nil {
		t.Fatal(err)
	}
	stayUp(t, e.pipelineEnv, r, sourceOutage, "while MariaDB was down")
	if err := e.m.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		if err := w.step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	e.waitCaughtUp(r, 2*time.Minute)
	e.stop(r)

	endpoint := "127.0.0.1:" + strconv.Itoa(e.m.Port)
	if n := retriesLogged(e.pipelineEnv, endpoint); n < 2 {
		t.Fatalf("%d retries logged with endpoint=%s during a %s outage, want several; log:\n%s", n, endpoint, sourceOutage, e.tail(40))
	}
	e.mustVerify(3)
}

// TestSourceUnreachableAtStart: at the very start an unreachable source
// is a configuration error until proven otherwise (a wrong host or port):
// floe run exits at once with one line and creates nothing.
func TestSourceUnreachableAtStart(t *testing.T) {
	needServers(t)
	e := newPipelineEnv(t, "unreachable", `public\.orders`, "upsert", "")
	port, err := testdb.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	rewriteConfig(t, e, fmt.Sprintf("port: %d\n", sharedPG.Port), fmt.Sprintf("port: %d\n", port))
	start := time.Now()
	out, code := runFloe(t, e, "run", "--config", e.config)
	expectOneLineError(t, out, code, "source.hostname: cannot reach PostgreSQL at 127.0.0.1:"+strconv.Itoa(port), "connection refused", "fix: ")
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("floe run took %v to give up", d)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "catalog.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("floe run created its catalog before reaching the source: %v", err)
	}
}
