package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/checkpoint"
)

// The admin API's table actions: POST /actions/pause?table=SCHEMA.TABLE
// and POST /actions/resume?table=SCHEMA.TABLE (bearer token
// server.admin-token), and the client floe pause / floe resume use. The
// table is the SOURCE table, as floe resnapshot --table names it. What a
// pause means for exactly-once is in checkpoint/control.go: the table
// stands as after a crash at its last commit, its changes stay at the
// source (nothing past its position is acknowledged), and a resume
// replays them.

// tableAction is the answer of POST /actions/pause and /actions/resume.
type tableAction struct {
	V      int    `json:"v"`
	Action string `json:"action"`
	// Table is the source table, Sink its Iceberg table.
	Table string `json:"table"`
	Sink  string `json:"sink_table,omitempty"`
	// Changed is false when the table already was as asked.
	Changed bool `json:"changed"`
	// State is the table's state in /status when the answer was written:
	// paused, pausing (asked, not in effect yet: the table is not
	// streaming yet, or the run is busy), or another state after a resume.
	State string `json:"state"`
	// Position is the table's committed position: where a paused table
	// stands.
	Position string `json:"position,omitempty"`
}

// actionWait is how long an action's request waits for the pipeline to
// show its effect before answering 202 Accepted.
const actionWait = 30 * time.Second

func (a *admin) servePause(w http.ResponseWriter, r *http.Request) {
	a.serveTableAction(w, r, "pause")
}

func (a *admin) serveResume(w http.ResponseWriter, r *http.Request) {
	a.serveTableAction(w, r, "resume")
}

// serveTableAction asks the run's Control to pause or resume the table
// named by ?table= and waits (up to actionWait) until the status board
// shows it done.
func (a *admin) serveTableAction(w http.ResponseWriter, r *http.Request, action string) {
	id, err := parseSourceTable(r.URL.Query().Get("table"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	a.log.Info("table action requested through the admin API", "action", action, "table", id.String(), "remote", r.RemoteAddr)
	var changed bool
	if action == "pause" {
		changed, err = a.control.Pause(id)
	} else {
		changed, err = a.control.Resume(id)
	}
	if err != nil {
		a.refused(w, id, err)
		return
	}
	want := action == "pause"
	res := tableAction{V: adminStatusVersion, Action: action, Table: id.String(), Changed: changed}
	a.answerWhenShown(w, r, id, &res, func(tl checkpoint.TableLive) bool {
		res.Sink, res.State, res.Position = tl.Sink, tableState(tl), tl.Position
		return tl.Paused == want
	})
}

// refused answers an action the run's Control refused for table id: 404
// for a table the pipeline does not capture, 503 for a run that cannot
// take it now.
func (a *admin) refused(w http.ResponseWriter, id capture.TableID, err error) {
	if errors.Is(err, checkpoint.ErrUnknownTable) {
		http.Error(w, fmt.Sprintf("table %s: this pipeline does not capture it (source.tables: %s); name a captured SOURCE table as SCHEMA.TABLE",
			id, strings.Join(a.cfg.Source.Tables, ", ")), http.StatusNotFound)
		return
	}
	http.Error(w, err.Error(), http.StatusServiceUnavailable)
}

// answerWhenShown polls the status board every 20 ms, passing table id's
// entry to shown, which updates res and reports whether the action's
// effect is there; it answers res with 200 once it is, or with 202
// Accepted after actionWait (or when the request ends).
func (a *admin) answerWhenShown(w http.ResponseWriter, r *http.Request, id capture.TableID, res any, shown func(checkpoint.TableLive) bool) {
	ctx, cancel := context.WithTimeout(r.Context(), actionWait)
	defer cancel()
	for {
		if tl, ok := a.tableLive(id); ok && shown(tl) {
			writeJSON(w, http.StatusOK, res)
			return
		}
		select {
		case <-ctx.Done():
			writeJSON(w, http.StatusAccepted, res)
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// resnapshotAction is the answer of POST /actions/resnapshot.
type resnapshotAction struct {
	V     int    `json:"v"`
	Table string `json:"table"`
	Sink  string `json:"sink_table,omitempty"`
	// State is the table's state in /status when the answer was written:
	// snapshotting once its reset commit landed, or streaming again when
	// its new snapshot already ended.
	State string `json:"state"`
	// ChunksDone of ChunksTotal chunks of its new snapshot are committed.
	ChunksDone  int `json:"chunks_done"`
	ChunksTotal int `json:"chunks_total"`
}

// serveResnapshot asks the run to empty the table named by ?table= and
// snapshot it again (checkpoint.Control.Resnapshot: the run commits what
// it holds, starts its stream again, and resets the table as it resets a
// table whose continuity was lost), and answers once the table's reset
// commit landed (202 when that takes longer than actionWait).
func (a *admin) serveResnapshot(w http.ResponseWriter, r *http.Request) {
	id, err := parseSourceTable(r.URL.Query().Get("table"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if a.cfg.Source.SnapshotMode == "never" {
		http.Error(w, "source.snapshot.mode is never, so floe snapshots no table; set it to initial to re-snapshot tables online", http.StatusConflict)
		return
	}
	a.log.Info("re-snapshot requested through the admin API", "table", id.String(), "remote", r.RemoteAddr)
	if err := a.control.Resnapshot(id); err != nil {
		a.refused(w, id, err)
		return
	}
	res := resnapshotAction{V: adminStatusVersion, Table: id.String()}
	a.answerWhenShown(w, r, id, &res, func(tl checkpoint.TableLive) bool {
		res.Sink, res.State, res.ChunksDone, res.ChunksTotal = tl.Sink, tableState(tl), tl.ChunksDone, tl.ChunksTotal
		// Done once its reset commit landed: a small table may be
		// snapshotted and streaming again before the next poll.
		return !a.control.ResnapshotPending(id)
	})
}

// tableLive returns what the status board last showed of source table id.
func (a *admin) tableLive(id capture.TableID) (checkpoint.TableLive, bool) {
	live, ok := a.board.Load()
	if !ok {
		return checkpoint.TableLive{}, false
	}
	for _, tl := range live.Tables {
		if tl.Source == id.String() {
			return tl, true
		}
	}
	return checkpoint.TableLive{}, false
}

// parseSourceTable reads a SCHEMA.TABLE source table name.
func parseSourceTable(name string) (capture.TableID, error) {
	schemaName, table, ok := strings.Cut(name, ".")
	if !ok || schemaName == "" || table == "" {
		return capture.TableID{}, fmt.Errorf("table %q: want the source table as SCHEMA.TABLE (PostgreSQL schema.table, MySQL database.table), e.g. ?table=public.orders", name)
	}
	return capture.TableID{Schema: schemaName, Name: table}, nil
}

// postAdminAction sends POST path?query to the running floe run's admin
// API with server.admin-token and decodes its JSON answer into out. It
// fails with the fix when the API is off, nothing answers, or the answer
// is an error.
func postAdminAction(ctx context.Context, cfg *Config, path string, query url.Values, out any) (code int, err error) {
	if cfg.Server.AdminAddress == "" {
		return 0, errors.New("server.admin-address is not set: this verb acts on a running floe run through its admin API (fix: set server.admin-address and server.admin-token, and restart floe run)")
	}
	host, port, _ := net.SplitHostPort(adminListenAddress(cfg.Server.AdminAddress))
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	u := "http://" + net.JoinHostPort(host, port) + path + "?" + query.Encode()
	ctx, cancel := context.WithTimeout(ctx, actionWait+30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+cfg.Server.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return 0, fmt.Errorf("no floe run answers at server.admin-address %s: this verb acts on a running floe run (fix: start floe run with this configuration)", cfg.Server.AdminAddress)
		}
		return 0, fmt.Errorf("server.admin-address: POST %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, fmt.Errorf("server.admin-address: POST %s: %w", u, err)
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("server.admin-address: POST %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, out); err != nil {
		return resp.StatusCode, fmt.Errorf("server.admin-address: POST %s: %w", u, err)
	}
	return resp.StatusCode, nil
}
