package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// configWithOtherStateDir writes a copy of the env's config whose state
// dir is another one: the state dir's lock cannot see the running floe.
func configWithOtherStateDir(t *testing.T, e *pipelineEnv) string {
	t.Helper()
	b, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	old := "dir: " + e.dir + "/state\n"
	if !strings.Contains(string(b), old) {
		t.Fatalf("config has no %q", old)
	}
	path := filepath.Join(e.dir, "copy.yaml")
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, "dir: "+e.dir+"/other-state\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestResnapshotWhileStreamingPostgres: floe resnapshot from a copy of the
// config with another state dir refuses while floe run streams from the
// slot, naming the walsender, and drops nothing; with floe stopped it
// drops the table, and the next run snapshots it again.
func TestResnapshotWhileStreamingPostgres(t *testing.T) {
	needServers(t)
	e := newPipelineEnv(t, "rsguard", `public\.orders`, "upsert", "")
	e.exec(`CREATE TABLE orders (id int PRIMARY KEY, item text)`, `INSERT INTO orders SELECT g, 'i' || g FROM generate_series(1, 1000) g`,
		`ALTER TABLE orders OWNER TO u_rsguard`)
	r := e.start()
	e.waitCaughtUp(r, time.Minute)
	out, code := e.runVerb("resnapshot", "--config", configWithOtherStateDir(t, e), "--table", "public.orders")
	expectOneLineError(t, out, code, "a floe run of this pipeline is streaming: replication slot floe_rsguard is active: walsender PID",
		"application floe", "nothing was dropped", "fix: stop that floe run")
	e.exec(`UPDATE orders SET item = 'after' WHERE id <= 100`)
	e.waitCaughtUp(r, time.Minute)
	e.stop(r)
	e.mustVerify(1)

	out, code = e.runVerb("resnapshot", "--config", e.config, "--table", "public.orders")
	if code != 0 || !strings.Contains(out, "dropped lake.orders") {
		t.Fatalf("resnapshot with floe stopped: exit %d\n%s", code, out)
	}
	r = e.start()
	e.waitCaughtUp(r, time.Minute)
	e.stop(r)
	e.mustVerify(1)
}

// TestResnapshotWhileStreamingMariaDB: the same with MariaDB: the running
// pipeline's binlog reader holds its server id.
func TestResnapshotWhileStreamingMariaDB(t *testing.T) {
	e := newMySQLEnv(t, "my_rsguard", "upsert", "")
	e.seed(300)
	r := e.start()
	e.waitCaughtUp(r, time.Minute)
	copied := configWithOtherStateDir(t, e.pipelineEnv)
	// Without the privilege for SHOW SLAVE HOSTS the user still sees its
	// own binlog dump thread.
	out, code := e.runVerb("resnapshot", "--config", copied, "--table", "my_rsguard.events")
	expectOneLineError(t, out, code, "a floe run of this pipeline is streaming: binlog dump thread", `of user "u_my_rsguard"`,
		"nothing was dropped", "fix: stop that floe run")
	// With it, the replica registered with the pipeline's server id.
	e.sql("GRANT REPLICATION MASTER ADMIN ON *.* TO 'u_my_rsguard'@'127.0.0.1'")
	out, code = e.runVerb("resnapshot", "--config", copied, "--table", "my_rsguard.events")
	expectOneLineError(t, out, code, fmt.Sprintf("a floe run of this pipeline is streaming: server id %d is registered by a binlog reader", e.loadConfig().Source.ServerID),
		"nothing was dropped", "fix: stop that floe run")
	e.sql("UPDATE events SET kind = 'after' WHERE seq <= 100")
	e.waitCaughtUp(r, time.Minute)
	e.stop(r)
	e.mustVerify(3)

	out, code = e.runVerb("resnapshot", "--config", e.config, "--table", "my_rsguard.events")
	if code != 0 || !strings.Contains(out, "dropped lake.events") {
		t.Fatalf("resnapshot with floe stopped: exit %d\n%s", code, out)
	}
	r = e.start()
	e.waitCaughtUp(r, time.Minute)
	e.stop(r)
	e.mustVerify(3)
}
