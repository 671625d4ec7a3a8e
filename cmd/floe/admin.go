package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/checkpoint"
	"github.com/floe-cdc/floe/lakewriter"
)

// The admin API (server.admin-address): /metrics, /healthz and /readyz as
// on server.metrics-address, GET /status (the pipeline's live and
// committed state as JSON, adminStatusVersion), POST /actions/compact
// (one maintenance pass now) and POST /actions/pause and /actions/resume
// (one table, admin_actions.go), which require the bearer token
// server.admin-token. Reading needs no token; every request that changes
// state does, and is refused when no token is configured.

// adminStatusVersion is the "v" of the /status document; a change of a
// field's meaning or a removed field makes a new version (golden:
// testdata/admin_status.golden).
const adminStatusVersion = 1

// admin is the admin API of one floe run.
type admin struct {
	cfg   *Config
	reg   *prometheus.Registry
	board *checkpoint.StatusBoard
	live  *capture.Liveness
	// lag is floe_capture_source_lag_seconds.
	lag func() float64
	// cat reads the tables' committed state; nil: the board's tables are
	// listed without it (tests).
	cat *lakewriter.Catalog
	// compact runs one maintenance pass (compactor.pass).
	compact func(ctx context.Context) ([]tableCompaction, error)
	// control carries the table actions to the run's coordinators.
	control *checkpoint.Control
	log     *slog.Logger
	now     func() time.Time
	// hist holds the samples of the status page's charts.
	hist history
}

// adminListenAddress is where server.admin-address listens: a bare :port
// (no host) listens on 127.0.0.1 only, so the API is local unless a host
// is configured.
func adminListenAddress(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err == nil && host == "" {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return addr
}

// serveAdmin serves the admin API on server.admin-address until ctx is
// done or stop is called (which waits for the requests in flight).
func serveAdmin(ctx context.Context, cfg *Config, a *admin) (addr string, stop func(), err error) {
	registerProcessMetrics(a.reg)
	go a.sampleLoop(ctx)
	return listen(ctx, "server.admin-address", adminListenAddress(cfg.Server.AdminAddress), a.handler(), a.log)
}

// handler is the admin API's routes.
func (a *admin) handler() http.Handler {
	mux := healthMux(a.reg, readiness(a.live, a.lag, a.cfg.Server.ReadyMaxLag))
	mux.HandleFunc("GET /{$}", a.servePage)
	mux.HandleFunc("GET /status", a.serveStatus)
	mux.HandleFunc("POST /actions/compact", a.authorized(a.serveCompact))
	mux.HandleFunc("POST /actions/pause", a.authorized(a.servePause))
	mux.HandleFunc("POST /actions/resume", a.authorized(a.serveResume))
	mux.HandleFunc("POST /actions/resnapshot", a.authorized(a.serveResnapshot))
	return mux
}

// authorized lets a request through to next only with the bearer token
// server.admin-token; without a configured token every such request is
// refused.
func (a *admin) authorized(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		want := a.cfg.Server.AdminToken
		if want == "" {
			http.Error(w, "actions are disabled: set server.admin-token (e.g. admin-token: ${FLOE_ADMIN_TOKEN}) and send it as Authorization: Bearer TOKEN", http.StatusForbidden)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="floe"`)
			http.Error(w, "send server.admin-token as Authorization: Bearer TOKEN", http.StatusUnauthorized)
			return
		}
		next(w, r)
	}
}

// AdminStatus is the /status document.
type AdminStatus struct {
	V        int       `json:"v"`
	Pipeline string    `json:"pipeline"`
	At       time.Time `json:"at"`
	// Streaming is true while the source's stream runs; Reason says why
	// not otherwise.
	Streaming bool   `json:"streaming"`
	Reason    string `json:"reason,omitempty"`
	// Ready is /readyz: streaming within server.ready-max-lag.
	Ready bool `json:"ready"`
	// LagSeconds is floe_capture_source_lag_seconds: how far the stream
	// is behind the source, the same for every table of the pipeline.
	LagSeconds float64 `json:"lag_seconds"`
	// Applied is the position of the last complete transaction applied,
	// Acknowledged the last one acknowledged to the source, as of the
	// last checkpoint ("" before the first).
	Applied      string             `json:"applied_position,omitempty"`
	Acknowledged string             `json:"acknowledged_position,omitempty"`
	Tables       []AdminTableStatus `json:"tables"`
}

// AdminTableStatus is one table: what its Iceberg history holds
// (TableStatus: the pipeline's last commit, its position, snapshot id and
// time, files, schema) and what the running pipeline holds of it.
type AdminTableStatus struct {
	TableStatus
	// Source is the source table captured into it.
	Source string `json:"source_table"`
	// FreshnessSeconds is how long ago the table's last commit landed
	// (the time since which its rows may be stale).
	FreshnessSeconds float64 `json:"freshness_seconds"`
	// LagBytes is how many bytes of the source's change stream lie after
	// the table's committed position (Running.Position) up to the end the
	// server last reported: PostgreSQL WAL bytes. Absent when the source
	// does not know it (MariaDB/MySQL) or has not reported its end yet.
	LagBytes *int64 `json:"lag_bytes,omitempty"`
	// LagSeconds is the pipeline's source lag (AdminStatus.LagSeconds);
	// the table's data is behind the source by at most LagSeconds +
	// FreshnessSeconds.
	LagSeconds float64 `json:"lag_seconds"`
	// State is snapshotting, reconciling (a finished snapshot whose
	// watermarks the stream has not passed), converging, paused (its
	// changes wait at the source after its position), pausing (a pause
	// asked for, not in effect yet) or streaming.
	State string `json:"state"`
	// ChunksDone of ChunksTotal snapshot chunks are committed (0 of 0
	// when no snapshot plan is open).
	ChunksDone  int `json:"chunks_done"`
	ChunksTotal int `json:"chunks_total"`
	// Running is the running coordinator's view of the table's last
	// commit.
	Running RunningCommit `json:"running"`
}

// RunningCommit is the table's last commit as the running coordinator
// holds it (checkpoint.TableLive), published at the end of each
// checkpoint: the same as the Iceberg fields of AdminTableStatus, or one
// checkpoint behind them while a checkpoint commits.
type RunningCommit struct {
	Checkpoint int64  `json:"checkpoint"`
	Position   string `json:"position,omitempty"`
	// SnapshotID is 0 until this run has committed the table.
	SnapshotID int64     `json:"snapshot_id,omitempty"`
	LastCommit time.Time `json:"last_commit"`
}

func (a *admin) serveStatus(w http.ResponseWriter, r *http.Request) {
	st, err := a.status(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// status assembles /status: the live state the coordinator last published
// and, per table, what its Iceberg history holds.
func (a *admin) status(ctx context.Context) (*AdminStatus, error) {
	now := time.Now()
	if a.now != nil {
		now = a.now()
	}
	live, ok := a.board.Load()
	if !ok {
		return nil, errors.New("the pipeline has not recovered its tables yet; try again shortly")
	}
	ls := a.live.Status(now)
	ready, _ := readiness(a.live, a.lag, a.cfg.Server.ReadyMaxLag)()
	st := &AdminStatus{V: adminStatusVersion, Pipeline: a.cfg.Pipeline.Name, At: now.UTC(),
		Streaming: ls.Streaming, Reason: ls.Reason, Ready: ready, LagSeconds: a.lag(),
		Applied: live.Applied, Acknowledged: live.Acknowledged, Tables: []AdminTableStatus{}}
	for _, tl := range live.Tables {
		ts := TableStatus{Table: tl.Sink, Checkpoint: tl.Checkpoint, Position: tl.Position, SnapshotID: tl.SnapshotID, Snapshot: "complete"}
		if a.cat != nil {
			ns, name, _ := cutLast(tl.Sink)
			t, err := a.cat.LoadTable(ctx, lakewriter.Ident{Namespace: ns, Name: name})
			if err != nil {
				return nil, fmt.Errorf("status of %s: %w", tl.Sink, err)
			}
			if ts, err = tableStatus(ctx, a.cfg.Pipeline.Name, t, now); err != nil {
				return nil, fmt.Errorf("status of %s: %w", tl.Sink, err)
			}
		}
		ts.DeadLetters = tl.DeadLetters // the running pipeline's count
		at := AdminTableStatus{TableStatus: ts, Source: tl.Source, LagSeconds: st.LagSeconds,
			ChunksDone: tl.ChunksDone, ChunksTotal: tl.ChunksTotal, State: tableState(tl),
			Running: RunningCommit{Checkpoint: tl.Checkpoint, Position: tl.Position, SnapshotID: tl.SnapshotID, LastCommit: tl.LastCommit.UTC()}}
		if d, ok := ls.ServerEnd.(capture.Distancer); ok && tl.Committed != nil {
			if n, ok := d.BytesAfter(tl.Committed); ok {
				at.LagBytes = &n
			}
		}
		if !ts.CommitTime.IsZero() {
			at.FreshnessSeconds = max(0, now.Sub(ts.CommitTime).Seconds())
		}
		st.Tables = append(st.Tables, at)
	}
	return st, nil
}

func tableState(tl checkpoint.TableLive) string {
	switch {
	case tl.Paused:
		return "paused"
	case tl.Snapshotting:
		return "snapshotting"
	case tl.Reconciling:
		return "reconciling"
	case tl.ConvergeUntil != "":
		return "converging"
	case tl.PauseRequested:
		return "pausing"
	}
	return "streaming"
}

// compactResult is the answer of POST /actions/compact.
type compactResult struct {
	V      int               `json:"v"`
	Tables []tableCompaction `json:"tables"`
}

func (a *admin) serveCompact(w http.ResponseWriter, r *http.Request) {
	a.log.Info("compaction pass requested through the admin API", "remote", r.RemoteAddr)
	res, err := a.compact(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	code := http.StatusOK
	for _, t := range res {
		switch {
		case t.Outcome == "error":
			code = http.StatusInternalServerError
		case t.Outcome == "conflict" && code == http.StatusOK:
			code = http.StatusConflict
		}
	}
	writeJSON(w, code, compactResult{V: adminStatusVersion, Tables: res})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// fetchAdminStatus reads /status from the running floe run at
// server.admin-address; ok is false when none answers there (not
// running, or the API is off), and the caller reads the catalog instead.
func fetchAdminStatus(ctx context.Context, cfg *Config) (st *AdminStatus, ok bool, err error) {
	if cfg.Server.AdminAddress == "" {
		return nil, false, nil
	}
	host, port, _ := net.SplitHostPort(adminListenAddress(cfg.Server.AdminAddress))
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1" // listening on all interfaces: ask locally
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	url := "http://" + net.JoinHostPort(host, port) + "/status"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return nil, false, nil // nothing listens: floe run is not running
		}
		return nil, false, fmt.Errorf("server.admin-address: GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return nil, false, fmt.Errorf("server.admin-address: GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(msg)))
	}
	st = &AdminStatus{}
	if err := json.NewDecoder(resp.Body).Decode(st); err != nil {
		return nil, false, fmt.Errorf("server.admin-address: GET %s: %w", url, err)
	}
	if st.V != adminStatusVersion {
		return nil, false, fmt.Errorf("server.admin-address: %s answers /status version %d; this floe reads version %d (run the same floe version)", url, st.V, adminStatusVersion)
	}
	return st, true, nil
}

// printAdminStatus renders /status for people: the pipeline's live state,
// then the tables as printStatus does, with lag and freshness.
func printAdminStatus(out io.Writer, st *AdminStatus) error {
	state := "streaming"
	if !st.Streaming {
		state = "not streaming: " + orNone(st.Reason)
	}
	fmt.Fprintf(out, "pipeline %s (live, from floe run): %s, source lag %.1fs, ready %t, acknowledged %s\n",
		st.Pipeline, state, st.LagSeconds, st.Ready, orNone(st.Acknowledged))
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "TABLE\tSOURCE\tSTATE\tCHECKPOINT\tPOSITION\tFRESHNESS\tSNAPSHOT\tDATA FILES\tDELETE FILES\tSCHEMA\tDEAD LETTERS")
	for _, t := range st.Tables {
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%d\t%d\t%d\t%d\n", t.Table, t.Source, t.State, t.Checkpoint, orNone(t.Position),
			(time.Duration(t.FreshnessSeconds * float64(time.Second))).Round(time.Second), t.Snapshot, t.DataFiles, t.DeleteFiles, t.SchemaID, t.DeadLetters)
	}
	return w.Flush()
}
