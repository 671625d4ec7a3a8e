package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/capture/postgres"
	"github.com/floe-cdc/floe/deploy/e2e"
	"github.com/floe-cdc/floe/deploy/testdb"
)

// adminEnv is a pipelineEnv whose floe run serves the admin API on a free
// port with a token, and the floe invocations that reach it.
type adminEnv struct {
	*pipelineEnv
	base  string // http://127.0.0.1:PORT
	token string
}

func newAdminEnv(t *testing.T, e *pipelineEnv) *adminEnv {
	t.Helper()
	port, err := testdb.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	a := &adminEnv{pipelineEnv: e, base: "http://127.0.0.1:" + strconv.Itoa(port), token: "e2e-admin-token-" + e.db}
	rewriteConfig(t, e, "\nlog:\n", fmt.Sprintf("\nserver:\n  admin-address: :%d\n  admin-token: ${FLOE_ADMIN_TOKEN}\nlog:\n", port))
	return a
}

// floe is the env's pipeline with the admin token in its environment.
func (a *adminEnv) floe() *e2e.Pipeline {
	f := a.pipelineEnv.floe()
	f.Env = append(f.Env, "FLOE_ADMIN_TOKEN="+a.token)
	return f
}

// verb runs a floe verb and fails the test unless it exits 0.
func (a *adminEnv) verb(args ...string) string {
	a.t.Helper()
	out, code := a.floe().Run(time.Minute, append([]string{args[0], "--config", a.config}, args[1:]...)...)
	if code != 0 {
		a.t.Fatalf("floe %s: exit %d:\n%s\nlog:\n%s", strings.Join(args, " "), code, out, a.tail(40))
	}
	return out
}

// waitCommitted writes a floe.sync message and waits until /status shows
// sink committed at or past it: then sink holds every change committed
// before the call. (The server's WAL position is no target: WAL that
// carries nothing for the slot, such as a running-xacts record or another
// database's, follows the last change, and a quiet table's position moves
// over it only at a Sync or after the idle-commit interval.)
func (a *adminEnv) waitCommitted(ctx context.Context, sink string) {
	a.t.Helper()
	var lsn string
	if err := a.conn().QueryRow(ctx, "SELECT pg_logical_emit_message(false, $1, 'waitCommitted')::text", postgres.SyncPrefix).Scan(&lsn); err != nil {
		a.t.Fatal(err)
	}
	wal, err := postgres.DecodePosition("pg.v1:" + lsn)
	if err != nil {
		a.t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if p, err := postgres.DecodePosition(a.tableStatus(sink).Position); err == nil && p.Compare(wal) >= 0 {
			return
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("%s did not commit past %s; log:\n%s", sink, wal, a.tail(40))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// mustVerify fails the test unless floe verify finds want tables equal.
func (a *adminEnv) mustVerify(want int) string {
	a.t.Helper()
	out, code := a.floe().Run(0, "verify", "--config", a.config)
	if code != 0 || strings.Count(out, "OK ") != want {
		a.t.Fatalf("floe verify exit %d, want %d OK tables:\n%s\nfloe log tail:\n%s", code, want, out, a.tail(60))
	}
	return out
}

// tableStatus returns /status's entry for the Iceberg table sink.
func (a *adminEnv) tableStatus(sink string) AdminTableStatus {
	a.t.Helper()
	var st AdminStatus
	if err := json.Unmarshal([]byte(httpGet(a.t, a.base+"/status")), &st); err != nil {
		a.t.Fatal(err)
	}
	for _, ts := range st.Tables {
		if ts.Table == sink {
			return ts
		}
	}
	a.t.Fatalf("/status has no table %s", sink)
	return AdminTableStatus{}
}

// slotConfirmed is the slot's confirmed_flush_lsn: what floe acknowledged.
func (a *adminEnv) slotConfirmed(ctx context.Context) postgres.Position {
	a.t.Helper()
	var lsn string
	if err := a.conn().QueryRow(ctx, "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", a.slot).Scan(&lsn); err != nil {
		a.t.Fatal(err)
	}
	p, err := postgres.DecodePosition("pg.v1:" + lsn)
	if err != nil {
		a.t.Fatal(err)
	}
	return p
}

// TestPauseResumeEndToEnd: floe pause stops one table's commits through
// the admin API of a real floe run on PostgreSQL while the other table's
// checkpoints go on; /status shows it paused at an unchanging position,
// and the slot is acknowledged nothing past it. floe resume brings it up
// and floe verify finds both tables equal to the source. Then it is
// paused again, changed, and floe run is SIGKILLed while it is paused: the
// next floe run (which pauses nothing) loses none of its changes.
func TestPauseResumeEndToEnd(t *testing.T) {
	needServers(t)
	ctx := context.Background()
	e := newPipelineEnv(t, "pauseresume", "public.orders, public.items", "upsert", "")
	e.exec(`CREATE TABLE orders (id bigint PRIMARY KEY, n int NOT NULL)`,
		`CREATE TABLE items (id bigint PRIMARY KEY, name text)`,
		`INSERT INTO orders SELECT g, 0 FROM generate_series(1, 100) g`,
		`INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 100) g`,
		"ALTER TABLE orders OWNER TO u_pauseresume", "ALTER TABLE items OWNER TO u_pauseresume")
	a := newAdminEnv(t, e)
	r := a.floe().Start()
	e.waitStreaming(r)

	// With a wrong token the action is refused.
	wrong := e.floe()
	wrong.Env = append(wrong.Env, "FLOE_ADMIN_TOKEN=wrong")
	out, code := wrong.Run(time.Minute, "pause", "--config", e.config, "public.items")
	if code == 0 || !strings.Contains(out, "401 Unauthorized") {
		t.Fatalf("floe pause with a wrong token: exit %d:\n%s", code, out)
	}
	out = a.verb("pause", "public.items")
	if !strings.Contains(out, "public.items (lake.items) is paused at position pg.v1:") {
		t.Fatalf("floe pause printed:\n%s", out)
	}
	paused := a.tableStatus("lake.items")
	if paused.State != "paused" || paused.Position == "" {
		t.Fatalf("/status after pause: state %q position %q", paused.State, paused.Position)
	}
	pausedAt, err := postgres.DecodePosition(paused.Position)
	if err != nil {
		t.Fatal(err)
	}
	if out := a.verb("status"); !strings.Contains(out, "paused") {
		t.Fatalf("floe status does not show the pause:\n%s", out)
	}

	// Both tables change; orders' checkpoints go on, items stays put.
	for i := 0; i < 10; i++ {
		e.exec(fmt.Sprintf("UPDATE orders SET n = n + 1 WHERE id <= %d", 10*(i+1)),
			fmt.Sprintf("UPDATE items SET name = 'paused %d' WHERE id = %d", i, i+1),
			fmt.Sprintf("INSERT INTO items VALUES (%d, 'new')", 1000+i),
			fmt.Sprintf("DELETE FROM items WHERE id = %d", 50+i))
	}
	a.waitCommitted(ctx, "lake.orders")
	still := a.tableStatus("lake.items")
	if still.State != "paused" || still.Position != paused.Position || still.Checkpoint != paused.Checkpoint {
		t.Fatalf("the paused table moved: %+v, paused at %+v", still, paused)
	}
	if ack := a.slotConfirmed(ctx); ack.Compare(pausedAt) > 0 {
		t.Fatalf("the slot was acknowledged %s, past the paused table's %s", ack, pausedAt)
	}

	t.Logf("%s: resume", time.Now().Format(time.TimeOnly))
	out = a.verb("resume", "public.items")
	if !strings.Contains(out, "public.items (lake.items) streams again") {
		t.Fatalf("floe resume printed:\n%s", out)
	}
	e.waitCaughtUp(r, 2*time.Minute)
	if st := a.tableStatus("lake.items"); st.State != "streaming" {
		t.Fatalf("/status after resume: %q", st.State)
	}
	t.Logf("floe verify after resume:\n%s", a.mustVerify(2))

	// Paused again, changed, then SIGKILL: nothing of items is lost.
	a.verb("pause", "public.items")
	e.exec("UPDATE items SET name = 'killed' WHERE id <= 20", "DELETE FROM items WHERE id BETWEEN 90 AND 95",
		"INSERT INTO items VALUES (2000, 'after kill')", "UPDATE orders SET n = -1 WHERE id = 1")
	a.waitCommitted(ctx, "lake.orders")
	if st := a.tableStatus("lake.items"); st.State != "paused" {
		t.Fatalf("items is %q before the kill", st.State)
	}
	streams := strings.Count(e.tail(1<<30), "msg=streaming")
	t.Logf("%s: SIGKILL while items is paused", time.Now().Format(time.TimeOnly))
	e.kill(r)
	r = a.floe().Start()
	for strings.Count(e.tail(1<<30), "msg=streaming") == streams {
		select {
		case <-r.Exited:
			t.Fatalf("floe run exited: %v; log:\n%s", r.Err, e.tail(40))
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Logf("%s: restarted, streaming", time.Now().Format(time.TimeOnly))
	e.waitCaughtUp(r, 2*time.Minute)
	t.Logf("%s: caught up", time.Now().Format(time.TimeOnly))
	if st := a.tableStatus("lake.items"); st.State != "streaming" {
		t.Fatalf("after a restart items is %q; a pause lasts as long as its process", st.State)
	}
	a.floe().Stop(r)
	t.Logf("floe verify after SIGKILL while paused:\n%s", a.mustVerify(2))
}
