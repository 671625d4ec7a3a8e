package main

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/postgres"
	"github.com/floe-cdc/floe/checkpoint"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/admin_status.golden")

const testAdminToken = "s3cret-token-0123456789"

// testAdmin is an admin API without a catalog over a board holding two
// tables; compact counts its calls.
func testAdmin(t *testing.T, token string, compacted *int) *admin {
	t.Helper()
	cfg, err := ParseConfig("a.yaml", []byte(minimalYAML), nil)
	require.NoError(t, err)
	cfg.Server.AdminToken = token
	board := checkpoint.NewStatusBoard()
	board.Publish(checkpoint.LiveStatus{Applied: "pg.v1:0/20", Acknowledged: "pg.v1:0/10", Tables: []checkpoint.TableLive{
		{Source: "public.orders", Sink: "shop.orders", Checkpoint: 3, Position: "pg.v1:0/10"},
		{Source: "public.items", Sink: "shop.items", Snapshotting: true, ChunksDone: 1, ChunksTotal: 4},
	}})
	return &admin{cfg: cfg, reg: prometheus.NewRegistry(), board: board, live: capture.NewLiveness(),
		lag: func() float64 { return 1.5 }, log: slog.New(slog.DiscardHandler),
		compact: func(context.Context) ([]tableCompaction, error) {
			*compacted++
			return []tableCompaction{{Table: "shop.orders", Outcome: "ok", SnapshotID: 7}}, nil
		}}
}

// TestAdminActionsNeedToken: an action runs only with the configured
// bearer token; without a configured token every action is refused, and
// reading /status needs none.
func TestAdminActionsNeedToken(t *testing.T) {
	post := func(h http.Handler, auth string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/actions/compact", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	calls := 0
	off := testAdmin(t, "", &calls).handler()
	w := post(off, "Bearer anything")
	require.Equal(t, http.StatusForbidden, w.Code)
	require.Contains(t, w.Body.String(), "set server.admin-token")

	h := testAdmin(t, testAdminToken, &calls).handler()
	for _, auth := range []string{"", "Bearer wrong", "Bearer " + testAdminToken + "x", "Basic " + testAdminToken, testAdminToken} {
		w := post(h, auth)
		require.Equal(t, http.StatusUnauthorized, w.Code, "Authorization %q", auth)
		require.Equal(t, `Bearer realm="floe"`, w.Header().Get("WWW-Authenticate"))
	}
	require.Zero(t, calls, "no refused request may run the action")

	w = post(h, "Bearer "+testAdminToken)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, 1, calls)
	var res compactResult
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &res))
	require.Equal(t, compactResult{V: 1, Tables: []tableCompaction{{Table: "shop.orders", Outcome: "ok", SnapshotID: 7}}}, res)

	r := httptest.NewRequest(http.MethodGet, "/actions/compact", nil)
	r.Header.Set("Authorization", "Bearer "+testAdminToken)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	require.Equal(t, http.StatusMethodNotAllowed, w.Code, "an action is a POST")
	require.Equal(t, 1, calls)

	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/status", nil))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var st AdminStatus
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &st))
	require.Equal(t, 1, st.V)
	require.Len(t, st.Tables, 2)
	require.Equal(t, "pg.v1:0/10", st.Tables[0].Position)
	require.Equal(t, "streaming", st.Tables[0].State)
	require.Equal(t, [3]any{"snapshotting", 1, 4}, [3]any{st.Tables[1].State, st.Tables[1].ChunksDone, st.Tables[1].ChunksTotal})
	require.Equal(t, 1.5, st.Tables[1].LagSeconds)
}

// TestAdminStatusBeforeRecovery: /status answers 503 until the pipeline
// has published its tables.
func TestAdminStatusBeforeRecovery(t *testing.T) {
	calls := 0
	a := testAdmin(t, "", &calls)
	a.board = checkpoint.NewStatusBoard()
	w := httptest.NewRecorder()
	a.handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/status", nil))
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.Contains(t, w.Body.String(), "not recovered its tables yet")
}

// TestAdminListensOnLocalhost: a bare :port binds the loopback interface
// only; a configured host is used as given.
func TestAdminListensOnLocalhost(t *testing.T) {
	require.Equal(t, "127.0.0.1:9465", adminListenAddress(":9465"))
	require.Equal(t, "0.0.0.0:9465", adminListenAddress("0.0.0.0:9465"))
	require.Equal(t, "[::1]:9465", adminListenAddress("[::1]:9465"))

	calls := 0
	a := testAdmin(t, testAdminToken, &calls)
	a.cfg.Server.AdminAddress = ":0"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, stop, err := serveAdmin(ctx, a.cfg, a)
	require.NoError(t, err)
	defer stop()
	host, _, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	require.True(t, net.ParseIP(host).IsLoopback(), "bound to %s", addr)

	resp, err := http.Get("http://" + addr + "/healthz")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, "ok\n", string(body))
}

// TestFetchAdminStatus: floe status reads /status from a running floe run
// and falls back to the catalog (ok false, no error) when nothing listens.
func TestFetchAdminStatus(t *testing.T) {
	calls := 0
	a := testAdmin(t, "", &calls)
	srv := httptest.NewServer(a.handler())
	cfg := *a.cfg
	cfg.Server.AdminAddress = strings.TrimPrefix(srv.URL, "http://")
	st, ok, err := fetchAdminStatus(context.Background(), &cfg)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "shop.orders", st.Tables[0].Table)

	var out strings.Builder
	require.NoError(t, printAdminStatus(&out, st))
	require.Contains(t, out.String(), "pipeline shop (live, from floe run): not streaming")
	require.Regexp(t, `shop.items +public.items +snapshotting +0 +none`, out.String())

	srv.Close() // nothing listens there now
	_, ok, err = fetchAdminStatus(context.Background(), &cfg)
	require.NoError(t, err)
	require.False(t, ok)
}

// TestAdminStatusGolden pins the /status document's field names and
// shapes (version 1). Run with -update after a deliberate change, and
// bump adminStatusVersion when a field's meaning changes or one goes.
func TestAdminStatusGolden(t *testing.T) {
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	last := at.Add(-time.Hour)
	st := AdminStatus{V: adminStatusVersion, Pipeline: "shop", At: at, Streaming: true, Ready: true, LagSeconds: 0.25,
		Applied: "pg.v1:0/1A2B3C4D", Acknowledged: "pg.v1:0/1A2B3C00", Tables: []AdminTableStatus{{
			TableStatus: TableStatus{Table: "shop.orders", Checkpoint: 42, Position: "pg.v1:0/1A2B3C00", CommitTime: at.Add(-2 * time.Second),
				SnapshotID: 5551234, SchemaID: 1, Snapshot: "complete", DataFiles: 7, DeleteFiles: 2, Snapshots: 20, LastCompaction: &last, DeadLetters: 3},
			Source: "public.orders", FreshnessSeconds: 2, LagSeconds: 0.25, LagBytes: ptr(int64(76)), State: "streaming",
			Running: RunningCommit{Checkpoint: 41, Position: "pg.v1:0/1A2B3B00", SnapshotID: 5551233, LastCommit: at.Add(-3 * time.Second)},
		}, {
			TableStatus: TableStatus{Table: "shop.items", Checkpoint: 42, Position: "pg.v1:0/1A2B3C00", CommitTime: at.Add(-2 * time.Second),
				SnapshotID: 5551235, Snapshot: "2/5 chunks", ConvergeUntil: "pg.v1:0/1A2B3C4D", DataFiles: 2, Snapshots: 3},
			Source: "public.items", FreshnessSeconds: 2, LagSeconds: 0.25, State: "snapshotting", ChunksDone: 2, ChunksTotal: 5,
			Running: RunningCommit{LastCommit: at.Add(-time.Minute)},
		}}}
	got, err := json.MarshalIndent(st, "", "  ")
	require.NoError(t, err)
	got = append(got, '\n')
	path := filepath.Join("testdata", "admin_status.golden")
	if *updateGolden {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(want), string(got))

	var back AdminStatus
	require.NoError(t, json.Unmarshal(want, &back))
	require.Equal(t, st, back, "the golden document decodes to what floe status reads")
}

func ptr[T any](v T) *T { return &v }

// TestAdminLagBytes: a table's lag in bytes is the source's reported end
// minus the table's committed position, for a PostgreSQL source, and
// absent before the source reported its end.
func TestAdminLagBytes(t *testing.T) {
	calls := 0
	a := testAdmin(t, "", &calls)
	committed := postgres.Position{LSN: 0x1_0000_0010}
	a.board.Publish(checkpoint.LiveStatus{Tables: []checkpoint.TableLive{
		{Source: "public.orders", Sink: "shop.orders", Position: committed.String(), Committed: committed},
		{Source: "public.items", Sink: "shop.items"}, // nothing committed
	}})
	st, err := a.status(context.Background())
	require.NoError(t, err)
	require.Nil(t, st.Tables[0].LagBytes, "no end reported yet")

	a.live.ServerEnd(postgres.Position{LSN: 0x1_0000_0400})
	st, err = a.status(context.Background())
	require.NoError(t, err)
	require.NotNil(t, st.Tables[0].LagBytes)
	require.Equal(t, int64(0x3F0), *st.Tables[0].LagBytes)
	require.Nil(t, st.Tables[1].LagBytes)

	a.live.ServerEnd(postgres.Position{LSN: 0x1_0000_0008}) // an end before the table's position
	st, err = a.status(context.Background())
	require.NoError(t, err)
	require.Equal(t, int64(0), *st.Tables[0].LagBytes)
}

// TestAdminConfig: server.admin-token is ${VAR} expanded and never shown
// in the configuration dump; a bad server.admin-address names the fix.
func TestAdminConfig(t *testing.T) {
	doc := minimalYAML + "server:\n  admin-address: :9465\n  admin-token: ${TOK}\n"
	cfg, err := ParseConfig("a.yaml", []byte(doc), testEnv(map[string]string{"TOK": testAdminToken}))
	require.NoError(t, err)
	require.Equal(t, testAdminToken, cfg.Server.AdminToken)
	require.Equal(t, "127.0.0.1:9465", adminListenAddress(cfg.Server.AdminAddress))
	out := cfg.Redacted()
	require.NotContains(t, out, testAdminToken)
	require.Contains(t, out, "admin-token: '***'")
	require.Contains(t, out, "admin-address: :9465")

	_, err = ParseConfig("a.yaml", []byte(minimalYAML+"server:\n  admin-address: localhost\n"), nil)
	require.ErrorContains(t, err, `server.admin-address: bad listen address "localhost" (fix: write :port (127.0.0.1 only) or host:port`)
}

// TestAdminPage: the status page shows each table of /status with its
// charts: a point per sample of the last hour (older ones dropped) and
// one for now, placed by time and scaled to the largest value.
func TestAdminPage(t *testing.T) {
	calls := 0
	a := testAdmin(t, "", &calls)
	now := time.Now()
	a.board.Publish(checkpoint.LiveStatus{Tables: []checkpoint.TableLive{
		{Source: "public.orders", Sink: "shop.orders", Position: "pg.v1:0/10", LastCommit: now.Add(-4 * time.Second)},
	}})
	require.True(t, a.hist.record(now.Add(-2*time.Hour), a))
	require.True(t, a.hist.record(now.Add(-30*time.Minute), a))
	require.Len(t, a.hist.samples("shop.orders"), 1, "samples older than an hour are dropped")

	c := sparkline(now, []sample{{at: now.Add(-30 * time.Minute), lag: 2}, {at: now, lag: 4}}, func(s sample) float64 { return s.lag })
	require.Equal(t, chart{Points: "120.0,20.0 240.0,0.0", Max: 4, Samples: 2}, c)

	w := httptest.NewRecorder()
	a.handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	body := w.Body.String()
	require.Contains(t, body, `<tr class="table" data-table="shop.orders" data-state="streaming" data-data-files="0" data-delete-files="0" data-schema-id="0">`)
	require.Contains(t, body, `<svg class="chart lag" data-samples="2"`)
	require.Contains(t, body, `id="pipeline" data-streaming="false"`)

	w = httptest.NewRecorder()
	a.handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/nothing", nil))
	require.Equal(t, http.StatusNotFound, w.Code)
}
