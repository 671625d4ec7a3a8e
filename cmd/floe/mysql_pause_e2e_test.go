package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/deploy/testdb"
)

// TestMySQLPauseResume: on MariaDB, a table paused through floe pause
// commits nothing while the workload changes it and the other tables
// commit on; floe resume restarts the binlog stream from its position
// (GTID set) and floe verify finds every table equal.
func TestMySQLPauseResume(t *testing.T) {
	e := newMySQLEnv(t, "my_pause", "upsert", "")
	e.seed(500)
	port, err := testdb.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	rewriteConfig(t, e.pipelineEnv, "\nlog:\n", fmt.Sprintf("\nserver:\n  admin-address: :%d\n  admin-token: my-pause-token-0123456789\nlog:\n", port))
	r := e.start()
	e.waitStreaming(r)
	status := func(sink string) AdminTableStatus {
		var st AdminStatus
		if err := json.Unmarshal([]byte(httpGet(t, base+"/status")), &st); err != nil {
			t.Fatal(err)
		}
		for _, ts := range st.Tables {
			if ts.Table == sink {
				return ts
			}
		}
		t.Fatalf("/status has no %s", sink)
		return AdminTableStatus{}
	}
	out, code := e.runVerb("pause", "--config", e.config, "my_pause.events")
	if code != 0 || !strings.Contains(out, "is paused at position") {
		t.Fatalf("floe pause: exit %d:\n%s", code, out)
	}
	paused := status("lake.events")
	w := &mysqlWorkload{e: e, rng: rand.New(rand.NewPCG(3, 4)), next: 500}
	ctx := context.Background()
	for range 80 {
		if err := w.step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	e.waitCaughtUp(r, 2*time.Minute) // the marker table commits on
	if st := status("lake.events"); st.State != "paused" || st.Position != paused.Position {
		t.Fatalf("the paused table moved: %+v, paused at %+v", st, paused)
	}
	out, code = e.runVerb("resume", "--config", e.config, "my_pause.events")
	if code != 0 || !strings.Contains(out, "streams again") {
		t.Fatalf("floe resume: exit %d:\n%s", code, out)
	}
	for range 20 {
		if err := w.step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	e.waitCaughtUp(r, 2*time.Minute)
	e.stop(r)
	t.Logf("floe verify:\n%s", e.mustVerify(3))
	if !strings.Contains(e.tail(1<<30), "restarting the stream from the committed positions for a resumed table") {
		t.Fatalf("the resume did not restart the stream; log:\n%s", e.tail(40))
	}
}
