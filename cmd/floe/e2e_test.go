package main

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/deploy/testdb"
	"github.com/floe-cdc/floe/schema"
)

// TestEndToEndMixedWorkload snapshots >100k rows over four tables while a
// mixed workload runs, streams a 200k-row insert transaction followed by
// its updates, stops cleanly and shows with `floe verify` that every table
// equals its source, then checks the TOASTed column value by value.
func TestEndToEndMixedWorkload(t *testing.T) {
	needServers(t)
	ctx := context.Background()
	e := newPipelineEnv(t, "mixed", `public\..*`, "upsert", "  snapshot.chunk-rows: 8000\n")
	e.exec(testSchema)
	e.exec(seedSQL(48_000)...)
	e.exec("ALTER TABLE accounts OWNER TO u_mixed", "ALTER TABLE events OWNER TO u_mixed",
		"ALTER TABLE notes OWNER TO u_mixed", "ALTER TABLE scratch OWNER TO u_mixed")

	port, err := testdb.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := "127.0.0.1:" + strconv.Itoa(port)
	rewriteConfig(t, e, "\nlog:\n", "\nserver:\n  metrics-address: "+metricsAddr+"\nlog:\n  format: json\n")
	r := e.start()
	w := newWorkload(ctx, t, e, 48_000, 1)
	wctx, stopWork := context.WithTimeout(ctx, 12*time.Second)
	defer stopWork()
	if err := w.run(wctx); err != nil {
		t.Fatalf("workload: %v", err)
	}
	if err := w.bulk(ctx, "bulk", 200_000); err != nil {
		t.Fatalf("bulk transaction: %v", err)
	}
	wctx, stopWork = context.WithTimeout(ctx, 3*time.Second)
	defer stopWork()
	if err := w.run(wctx); err != nil {
		t.Fatalf("workload: %v", err)
	}
	t.Logf("workload: %d transactions plus one of 300k changes", w.txns)
	e.waitCaughtUp(r, 3*time.Minute)
	for path, want := range map[string]string{"/healthz": "ok", "/metrics": "floe_checkpoint_commits_total"} {
		body := httpGet(t, "http://"+metricsAddr+path)
		if !strings.Contains(body, want) {
			t.Errorf("GET %s lacks %q:\n%.500s", path, want, body)
		}
	}
	e.stop(r)

	out := e.mustVerify(4)
	t.Logf("floe verify:\n%s", out)
	log := e.tail(100000)
	for _, want := range []string{`"msg":"snapshot complete"`, `"msg":"checkpoint committed"`} {
		if !strings.Contains(log, want) {
			t.Errorf("floe log lacks %q", want)
		}
	}

	// An independent check of TOAST fill-in: every big value read back
	// from Iceberg equals the source's, compared as plain strings.
	want := map[int64]string{}
	rows, err := e.conn().Query(ctx, `SELECT id, big FROM accounts WHERE big IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var big string
		if err := rows.Scan(&id, &big); err != nil {
			t.Fatal(err)
		}
		want[id] = big
	}
	if rows.Err() != nil || len(want) < 400 {
		t.Fatalf("source has %d TOASTed rows (err %v), want >= 400", len(want), rows.Err())
	}
	got := icebergColumn(t, e, "accounts", "id", "big")
	for id, big := range want {
		if g, ok := got[id]; !ok || g != big {
			t.Fatalf("account %d: iceberg big has %d bytes (present %v), source %d bytes", id, len(g), ok, len(big))
		}
	}
}

// icebergColumn reads keyCol -> valCol (non-NULL values) from a sink table.
func icebergColumn(t *testing.T, e *pipelineEnv, table, keyCol, valCol string) map[int64]string {
	t.Helper()
	ctx := context.Background()
	tbl := e.sinkTable(table)
	k, v := tbl.Layout().Index(keyCol), tbl.Layout().Index(valCol)
	out := map[int64]string{}
	err := tbl.Scan(ctx, func(row schema.Row) error {
		if s, ok := row[v].(string); ok {
			out[row[k].(int64)] = s
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, err %v", url, resp.StatusCode, err)
	}
	return string(b)
}
