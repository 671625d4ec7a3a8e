package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/capture/mysql"
)

// TestMariaDBCheckCatchesWhatRunRejects: a route key that is not unique or
// allows NULL is refused by floe check and floe run; a server id another
// binlog reader uses is reported by floe check (as a doubt it names when
// the user may not list the replicas, exactly when it may), and floe run
// refuses to start beside it rather than disconnect it.
func TestMariaDBCheckCatchesWhatRunRejects(t *testing.T) {
	e := newMySQLEnv(t, "my_check", "upsert", "")
	e.sql("CREATE TABLE logs (v INT, note VARCHAR(10))", "INSERT INTO logs VALUES (1, 'a'), (1, 'b'), (2, 'c')")
	rewriteConfig(t, e.pipelineEnv, `(accounts|events|floe_marker)`, `(accounts|events|floe_marker|logs)`)
	rewriteConfig(t, e.pipelineEnv, "\nlog:\n", "\nroute:\n  - source-table: my_check.logs\n    primary-key: v\nlog:\n")
	at := configLine(t, e.pipelineEnv, "primary-key: v")
	// Three rows, two sharing v = 1: keyed by v they would land as two.
	refusedByBoth(t, e.pipelineEnv, at, "route[0].primary-key: no unique index of table my_check.logs covers exactly the key columns (v), it has no unique index",
		"two rows sharing a key value would collapse into one Iceberg row", "ALTER TABLE `my_check`.`logs` ADD UNIQUE (`v`)")
	e.sql("UPDATE logs SET v = 3 WHERE note = 'b'", "ALTER TABLE logs ADD UNIQUE (v)")
	refusedByBoth(t, e.pipelineEnv, at, "route[0].primary-key: key column v of table my_check.logs allows NULL",
		"ALTER TABLE `my_check`.`logs` MODIFY `v` <its type> NOT NULL")
	e.sql("ALTER TABLE logs MODIFY v INT NOT NULL")
	mustCheck(t, e.pipelineEnv)

	r := e.start()
	e.waitStreaming(r)
	id := strconv.FormatUint(uint64(mysql.DefaultServerID("my_check")), 10)
	out, code := runFloe(t, e.pipelineEnv, "check", "--config", e.config)
	expectOneLineError(t, out, code, "source.server-id: 1 replica(s) are connected to 127.0.0.1:", `user "u_my_check" may not list them`,
		"so floe check cannot tell whether one uses server id "+id, "fix: GRANT REPLICATION MASTER ADMIN ON *.* TO 'u_my_check'@'<host>'")
	e.sql("GRANT REPLICATION MASTER ADMIN ON *.* TO 'u_my_check'@'127.0.0.1'")
	out, code = runFloe(t, e.pipelineEnv, "check", "--config", e.config)
	expectOneLineError(t, out, code, `source.server-id: a replica (host "floe") is already connected with server id `+id,
		"fix: stop the other reader (another floe run of this pipeline?), or give this pipeline a different source.server-id")
	// A second run (its own state dir) refuses to start rather than
	// disconnect the first.
	b, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	second := &pipelineEnv{t: t, db: e.db, dir: e.dir, config: filepath.Join(e.dir, "second.yaml"), logPath: e.logPath}
	if err := os.WriteFile(second.config, []byte(strings.Replace(string(b), "dir: "+e.dir+"/state", "dir: "+e.dir+"/state2", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code = runFloe(t, second, "run", "--config", second.config)
	expectOneLineError(t, out, code, "source.server-id: a replica (host \"floe\") is already connected with server id "+id)
	select {
	case <-r.Exited:
		t.Fatalf("the first floe run ended: %v; log:\n%s", r.Err, e.tail(40))
	default:
	}
	rewriteConfig(t, second, "  server-time-zone: UTC\n", "  server-time-zone: UTC\n  server-id: 4242\n")
	if out, code := runFloe(t, second, "check", "--config", second.config); code != 0 {
		t.Fatalf("floe check with a server id of its own: exit %d\n%s", code, out)
	}
	e.waitCaughtUp(r, 2*time.Minute)
	e.stop(r)
	e.mustVerify(4)
}
