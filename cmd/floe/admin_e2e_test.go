package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/capture/postgres"
	"github.com/floe-cdc/floe/deploy/e2e"
	"github.com/floe-cdc/floe/deploy/testdb"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
	"github.com/floe-cdc/floe/schema"
)

// TestAdminAPIEndToEnd runs floe run with the admin API against a real
// PostgreSQL while a workload streams, and checks /status against what
// the Iceberg tables hold: each table's reported commit (snapshot id) is
// in its history with the reported position and checkpoint, positions
// move while changes stream and never pass the server's WAL, and after
// catching up the reported files and schema equal the tables' and the
// tables reported with data files are exactly those holding rows. It then
// runs a compaction pass through the API (refused without the token) and
// finds its rewrite snapshot in the table's history, and checks that
// floe status prints the live state while floe run runs and the catalog's
// after it stopped.
func TestAdminAPIEndToEnd(t *testing.T) {
	needServers(t)
	ctx := context.Background()
	e := newPipelineEnv(t, "adminapi", "public.orders, public.items, public.empty", "upsert", "")
	e.exec(`CREATE TABLE orders (id bigint PRIMARY KEY, n int NOT NULL, note text)`,
		`CREATE TABLE items (id bigint PRIMARY KEY, name text)`,
		`CREATE TABLE empty (id bigint PRIMARY KEY)`,
		`INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 500) g`,
		`INSERT INTO orders SELECT g, 0, 'seed' FROM generate_series(1, 200) g`,
		"ALTER TABLE orders OWNER TO u_adminapi", "ALTER TABLE items OWNER TO u_adminapi", "ALTER TABLE empty OWNER TO u_adminapi")
	port, err := testdb.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	const token = "e2e-admin-token-0123456789"
	// A bare :port: the API listens on 127.0.0.1 only. The background
	// compactor never fires during the test (1h); min-input-files 2 and
	// delete-file-threshold 1 make the requested pass rewrite.
	rewriteConfig(t, e, "\nlog:\n", fmt.Sprintf("\nserver:\n  admin-address: :%d\n  admin-token: ${FLOE_ADMIN_TOKEN}\n"+
		"compaction:\n  interval: 1h\n  min-input-files: 2\n  delete-file-threshold: 1\nlog:\n", port))
	f := e.floe()
	f.Env = append(f.Env, "FLOE_ADMIN_TOKEN="+token)
	r := f.Start()
	e.waitStreaming(r)

	cat := openTestCatalog(t, e, token)
	pg := e.conn()
	walNow := func() postgres.Position {
		var lsn string
		if err := pg.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
			t.Fatal(err)
		}
		p, err := postgres.DecodePosition("pg.v1:" + lsn)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	// Stream for a while; each /status read is checked against Iceberg.
	var first, last *AdminStatus
	for i := 0; i < 12; i++ {
		for j := 0; j < 20; j++ {
			id := 1 + (i*20+j)%200
			e.exec(fmt.Sprintf("UPDATE orders SET n = n + 1, note = 'u%d' WHERE id = %d", i, id),
				fmt.Sprintf("INSERT INTO orders VALUES (%d, 1, 'new')", 1000+i*20+j))
		}
		st := getStatus(t, base)
		checkStatusAgainstLake(t, ctx, cat, st, walNow())
		if first == nil {
			first = st
		}
		last = st
		time.Sleep(400 * time.Millisecond)
	}
	if !last.Streaming || last.V != 1 || len(last.Tables) != 3 {
		t.Fatalf("status while streaming: %+v", last)
	}
	p0, p1 := statusTable(t, first, "lake.orders"), statusTable(t, last, "lake.orders")
	if decodePos(t, p1.Position).Compare(decodePos(t, p0.Position)) <= 0 || p1.Checkpoint <= p0.Checkpoint {
		t.Errorf("lake.orders did not move while streaming: %s (checkpoint %d) then %s (checkpoint %d)",
			p0.Position, p0.Checkpoint, p1.Position, p1.Checkpoint)
	}

	// Caught up, nothing writes data files any more: files and schema
	// are the tables' own, and rows are where data files are reported.
	e.waitCaughtUp(r, 2*time.Minute)
	// The coordinator publishes at the end of a checkpoint, after its
	// Iceberg commits: a read during one (a keepalive cuts one) sees it
	// behind Iceberg, the next one level with it.
	var st *AdminStatus
	for deadline := time.Now().Add(30 * time.Second); ; {
		st = getStatus(t, base)
		if level(st) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	wal := walNow()
	checkStatusAgainstLake(t, ctx, cat, st, wal)
	for _, ts := range st.Tables {
		tbl := loadSink(t, ctx, cat, ts.Table)
		data, deletes, err := tbl.FileCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ts.DataFiles != data || ts.DeleteFiles != deletes || ts.SchemaID != tbl.SchemaID() {
			t.Errorf("%s: status says %d data, %d delete files, schema %d; the table has %d, %d, %d",
				ts.Table, ts.DataFiles, ts.DeleteFiles, ts.SchemaID, data, deletes, tbl.SchemaID())
		}
		rows := 0
		if err := tbl.Scan(ctx, func(schema.Row) error { rows++; return nil }); err != nil {
			t.Fatal(err)
		}
		if (rows > 0) != (ts.DataFiles > 0) {
			t.Errorf("%s: %d rows in Iceberg but status reports %d data files", ts.Table, rows, ts.DataFiles)
		}
		// The WAL bytes after the table's position up to the server's
		// end, which is not past the WAL now.
		if ts.LagBytes == nil {
			t.Errorf("%s: no lag_bytes from a PostgreSQL source", ts.Table)
		} else if most := int64(wal.LSN - decodePos(t, ts.Running.Position).LSN); *ts.LagBytes < 0 || *ts.LagBytes > most {
			t.Errorf("%s: lag_bytes %d, want 0..%d (WAL %s, position %s)", ts.Table, *ts.LagBytes, most, wal, ts.Running.Position)
		}
		if ts.Running.SnapshotID != ts.SnapshotID || ts.Running.Position != ts.Position {
			t.Errorf("%s: caught up, the coordinator's last commit %+v is not Iceberg's (%d at %s)", ts.Table,
				ts.Running, ts.SnapshotID, ts.Position)
		}
		if ts.State != "streaming" || ts.Snapshot != "complete" || ts.Source == "" {
			t.Errorf("%s: state %q, snapshot %q, source %q after catching up", ts.Table, ts.State, ts.Snapshot, ts.Source)
		}
		t.Logf("%s: %d rows, %+v", ts.Table, rows, ts)
	}
	if statusTable(t, st, "lake.empty").DataFiles != 0 || statusTable(t, st, "lake.orders").DeleteFiles == 0 {
		t.Fatalf("the workload should leave lake.empty without files and lake.orders with delete files: %+v", st.Tables)
	}

	// The status page, as a real browser renders it, shows /status.
	t.Run("page", func(t *testing.T) { checkPage(t, base, st) })

	// floe status asks the running floe run.
	out, code := f.Run(0, "status", "--config", e.config)
	if code != 0 || !strings.Contains(out, "pipeline adminapi (live, from floe run): streaming") {
		t.Fatalf("floe status while running, exit %d:\n%s", code, out)
	}

	// A compaction pass through the API: refused without the token.
	if code, body := postAction(t, base+"/actions/compact", ""); code != http.StatusUnauthorized {
		t.Fatalf("compact without a token: %d %s", code, body)
	}
	code, body := postAction(t, base+"/actions/compact", token)
	if code != http.StatusOK {
		t.Fatalf("compact: %d %s\nlog:\n%s", code, body, e.tail(40))
	}
	var res compactResult
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		t.Fatalf("compact answer %q: %v", body, err)
	}
	var rewrite int64
	for _, tc := range res.Tables {
		if tc.Table == "lake.orders" {
			rewrite = tc.SnapshotID
		}
	}
	if rewrite == 0 {
		t.Fatalf("the pass rewrote nothing in lake.orders: %s", body)
	}
	hist, err := loadSink(t, ctx, cat, "lake.orders").History(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range hist {
		if s.ID == rewrite {
			found = ledger.IsCompaction(s.Props)
		}
	}
	if !found {
		t.Fatalf("lake.orders' history has no compaction snapshot %d", rewrite)
	}
	after := statusTable(t, getStatus(t, base), "lake.orders")
	if after.LastCompaction == nil || after.DeleteFiles != 0 {
		t.Errorf("after the pass: last compaction %v, %d delete files", after.LastCompaction, after.DeleteFiles)
	}

	e.stop(r)
	out, code = f.Run(0, "status", "--config", e.config)
	if code != 0 || strings.Contains(out, "live, from floe run") || !strings.Contains(out, "lake.orders") {
		t.Fatalf("floe status after the run stopped reads the catalog; exit %d:\n%s", code, out)
	}
	if out, code := f.Run(0, "verify", "--config", e.config); code != 0 || strings.Count(out, "OK ") != 3 {
		t.Fatalf("floe verify exit %d:\n%s", code, out)
	}
}

// checkStatusAgainstLake: every table of st with a commit names a snapshot
// of its Iceberg table that carries the reported position and checkpoint,
// at or before the server's WAL position wal (read after st).
func checkStatusAgainstLake(t *testing.T, ctx context.Context, cat *lakewriter.Catalog, st *AdminStatus, wal postgres.Position) {
	t.Helper()
	for _, ts := range st.Tables {
		if ts.SnapshotID == 0 {
			t.Errorf("%s: no commit reported: %+v", ts.Table, ts)
			continue
		}
		hist, err := loadSink(t, ctx, cat, ts.Table).History(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var snap *lakewriter.Snapshot
		for i := range hist {
			if hist[i].ID == ts.SnapshotID {
				snap = &hist[i]
			}
		}
		if snap == nil {
			t.Errorf("%s: reported snapshot %d is not in the table's history", ts.Table, ts.SnapshotID)
			continue
		}
		cp, _ := ledger.ParseCheckpoint(snap.Props)
		if snap.Props[ledger.PropPosition] != ts.Position || cp != ts.Checkpoint || snap.Props[ledger.PropPipeline] != st.Pipeline {
			t.Errorf("%s: snapshot %d records position %s, checkpoint %d; status says %s, %d", ts.Table, ts.SnapshotID,
				snap.Props[ledger.PropPosition], cp, ts.Position, ts.Checkpoint)
		}
		if p := decodePos(t, ts.Position); p.Compare(wal) > 0 {
			t.Errorf("%s: position %s is past the server's WAL %s", ts.Table, ts.Position, wal)
		}
		if want := time.UnixMilli(snap.TimestampMs).UTC(); !ts.CommitTime.Equal(want) {
			t.Errorf("%s: commit time %s, snapshot's %s", ts.Table, ts.CommitTime, want)
		}
		// The running coordinator's view: a commit of the table's
		// history with the same position and checkpoint, not after the
		// Iceberg fields' one.
		if rc := ts.Running; rc.SnapshotID != 0 {
			var run *lakewriter.Snapshot
			for i := range hist {
				if hist[i].ID == rc.SnapshotID {
					run = &hist[i]
				}
			}
			if run == nil {
				t.Errorf("%s: the running coordinator's snapshot %d is not in the table's history", ts.Table, rc.SnapshotID)
			} else if rcp, _ := ledger.ParseCheckpoint(run.Props); run.Props[ledger.PropPosition] != rc.Position || rcp != rc.Checkpoint {
				t.Errorf("%s: snapshot %d records %s, checkpoint %d; the coordinator says %s, %d", ts.Table, rc.SnapshotID,
					run.Props[ledger.PropPosition], rcp, rc.Position, rc.Checkpoint)
			}
			if rc.Checkpoint > ts.Checkpoint || decodePos(t, rc.Position).Compare(decodePos(t, ts.Position)) > 0 {
				t.Errorf("%s: the coordinator's commit (%d at %s) is ahead of Iceberg's (%d at %s)", ts.Table,
					rc.Checkpoint, rc.Position, ts.Checkpoint, ts.Position)
			}
		}
		if ts.FreshnessSeconds < 0 || ts.FreshnessSeconds > st.At.Sub(ts.CommitTime).Seconds()+1 {
			t.Errorf("%s: freshness %.1fs for a commit at %s, status at %s", ts.Table, ts.FreshnessSeconds, ts.CommitTime, st.At)
		}
	}
}

// level reports whether the coordinator's view of every table is the
// Iceberg commit /status reports.
func level(st *AdminStatus) bool {
	for _, ts := range st.Tables {
		if ts.Running.SnapshotID != ts.SnapshotID {
			return false
		}
	}
	return true
}

func getStatus(t *testing.T, base string) *AdminStatus {
	t.Helper()
	st := &AdminStatus{}
	if err := json.Unmarshal([]byte(httpGet(t, base+"/status")), st); err != nil {
		t.Fatal(err)
	}
	return st
}

func statusTable(t *testing.T, st *AdminStatus, table string) AdminTableStatus {
	t.Helper()
	for _, ts := range st.Tables {
		if ts.Table == table {
			return ts
		}
	}
	t.Fatalf("status has no table %s: %+v", table, st.Tables)
	return AdminTableStatus{}
}

func decodePos(t *testing.T, s string) postgres.Position {
	t.Helper()
	p, err := postgres.DecodePosition(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func postAction(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// openTestCatalog opens the env's catalog for the test's own reads.
func openTestCatalog(t *testing.T, e *pipelineEnv, token string) *lakewriter.Catalog {
	t.Helper()
	data, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig(e.config, data, testEnv(map[string]string{e2e.PasswordEnv: testPassword, "FLOE_ADMIN_TOKEN": token}))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := openCatalog(context.Background(), cfg, newLogger(cfg.Log, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	return cat
}

func loadSink(t *testing.T, ctx context.Context, cat *lakewriter.Catalog, name string) *lakewriter.Table {
	t.Helper()
	ns, table, _ := cutLast(name)
	tbl, err := cat.LoadTable(ctx, lakewriter.Ident{Namespace: ns, Name: table})
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// pageRow is one table row of the status page's DOM.
var pageRow = regexp.MustCompile(`<tr class="table" data-table="([^"]+)" data-state="([^"]+)" data-data-files="(\d+)" data-delete-files="(\d+)" data-schema-id="(\d+)">`)

// checkPage renders the status page in headless Chromium and checks what
// it shows against want, a /status read after floe caught up (when files
// no longer change): the same tables with the same state, files and
// schema, a chart of each table's lag and freshness with samples, and the
// pipeline streaming.
func checkPage(t *testing.T, base string, want *AdminStatus) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed (deploy/install-deps.sh installs the Debian package chromium): the status page cannot be checked in a browser")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--user-data-dir="+t.TempDir(), "--dump-dom", base+"/")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	dom := string(out)
	if !strings.Contains(dom, `id="pipeline" data-streaming="true"`) {
		t.Errorf("the page does not show the pipeline streaming:\n%s", dom)
	}
	rows := pageRow.FindAllStringSubmatch(dom, -1)
	if len(rows) != len(want.Tables) {
		t.Fatalf("the page shows %d tables, /status %d:\n%s", len(rows), len(want.Tables), dom)
	}
	for i, m := range rows {
		ts := want.Tables[i]
		got := fmt.Sprintf("%s %s data=%s deletes=%s schema=%s", m[1], m[2], m[3], m[4], m[5])
		wantRow := fmt.Sprintf("%s %s data=%d deletes=%d schema=%d", ts.Table, ts.State, ts.DataFiles, ts.DeleteFiles, ts.SchemaID)
		if got != wantRow {
			t.Errorf("page row %d: %s; /status: %s", i, got, wantRow)
		}
	}
	charts := regexp.MustCompile(`<svg class="chart (fresh|lag)" data-samples="(\d+)"[^>]*>.*?<polyline points="([^"]*)"`).FindAllStringSubmatch(dom, -1)
	if len(charts) != 2*len(want.Tables) {
		t.Fatalf("the page has %d charts, want 2 per table:\n%s", len(charts), dom)
	}
	for _, c := range charts {
		if n, _ := strconv.Atoi(c[2]); n < 2 || len(strings.Fields(c[3])) != n {
			t.Errorf("%s chart with %s samples and points %q: want the samples taken so far and now, one point each", c[1], c[2], c[3])
		}
	}
}
