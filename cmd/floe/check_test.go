package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/floe-cdc/floe/deploy/testdb"
)

// configLine is the 1-based line of the config file that holds needle.
func configLine(t *testing.T, e *pipelineEnv, needle string) int {
	t.Helper()
	b, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, needle) {
			return i + 1
		}
	}
	t.Fatalf("config has no line with %q", needle)
	return 0
}

// refusedByBoth runs floe check and floe run and expects each to fail with
// one output line holding every fragment; check's line also starts with
// the file and the field's line (atLine; 0 for a field the file does not
// have). It returns check's output.
func refusedByBoth(t *testing.T, e *pipelineEnv, atLine int, fragments ...string) string {
	t.Helper()
	at := e.config + ": " // a field the file does not have
	if atLine > 0 {
		at = e.config + ":" + strconv.Itoa(atLine) + ": "
	}
	out, code := runFloe(t, e, "check", "--config", e.config)
	expectOneLineError(t, out, code, append([]string{at}, fragments...)...)
	checkOut := out
	out, code = runFloe(t, e, "run", "--config", e.config)
	expectOneLineError(t, out, code, fragments...)
	return checkOut
}

// mustCheck runs floe check and expects it to pass.
func mustCheck(t *testing.T, e *pipelineEnv) string {
	t.Helper()
	out, code := runFloe(t, e, "check", "--config", e.config)
	if code != 0 || !strings.Contains(out, ": OK: ") {
		t.Fatalf("floe check: exit %d\n%s", code, out)
	}
	return out
}

// TestCheckCatchesWhatRunRejects: what floe run refuses once it knows the
// tables (a sink table shared, a route that never applies, a column named
// like a metadata column, a route key that is not unique or allows NULL)
// floe check reports too, each as one line naming the field, its file
// line, the cause and the fix; and what run would trip over (the slot in
// use, a warehouse it cannot write) check reports beforehand.
func TestCheckCatchesWhatRunRejects(t *testing.T) {
	needServers(t)
	e := newPipelineEnv(t, "checkrun", `public\.orders`, "upsert", "")
	e.exec(`CREATE TABLE orders (id int PRIMARY KEY, item text)`, `INSERT INTO orders SELECT g, 'i' || g FROM generate_series(1, 50) g`,
		`CREATE SCHEMA s2`, `CREATE TABLE s2.orders (id int PRIMARY KEY)`,
		`CREATE TABLE events (v int, note text)`, `ALTER TABLE events REPLICA IDENTITY FULL`,
		`INSERT INTO events VALUES (1, 'a'), (1, 'b'), (2, 'c')`,
		`CREATE TABLE meta (id int PRIMARY KEY, _floe_op text)`,
		`ALTER TABLE orders OWNER TO u_checkrun`, `ALTER TABLE s2.orders OWNER TO u_checkrun`,
		`ALTER TABLE events OWNER TO u_checkrun`, `ALTER TABLE meta OWNER TO u_checkrun`, `GRANT USAGE ON SCHEMA s2 TO u_checkrun`)
	withRoutes := func(routes string) func() {
		rewriteConfig(t, e, "\nlog:\n", "\nroute:\n"+routes+"log:\n")
		return func() { rewriteConfig(t, e, "\nroute:\n"+routes+"log:\n", "\nlog:\n") }
	}

	t.Run("two tables routed to one sink table", func(t *testing.T) {
		rewriteConfig(t, e, `tables: public\.orders`, `tables: public\.orders, s2\.orders`)
		defer rewriteConfig(t, e, `tables: public\.orders, s2\.orders`, `tables: public\.orders`)
		out := refusedByBoth(t, e, 0, "route: tables public.orders and s2.orders both write to sink table lake.orders",
			"fix: add a route for each of them but one, with its own sink-table")
		if n := strings.Count(out, "both write"); n != 1 {
			t.Fatalf("the collision is reported %d times, want once:\n%s", n, out)
		}
	})
	t.Run("a route that matches no captured table", func(t *testing.T) {
		defer withRoutes("  - source-table: public\\.order_.*\n    sink-table: archive\n")()
		refusedByBoth(t, e, configLine(t, e, "source-table: public\\.order_"), `route[0].source-table: public\.order_.* matches none of the captured tables`, "fix: correct the pattern")
	})
	t.Run("a column named like a metadata column, in changelog mode", func(t *testing.T) {
		rewriteConfig(t, e, `tables: public\.orders`, `tables: public\.meta`)
		rewriteConfig(t, e, "mode: upsert", "mode: changelog")
		defer rewriteConfig(t, e, "mode: changelog", "mode: upsert")
		defer rewriteConfig(t, e, `tables: public\.meta`, `tables: public\.orders`)
		out := refusedByBoth(t, e, configLine(t, e, "tables:"), "table public.meta: source column _floe_op collides with a floe metadata column")
		expectOneLineError(t, out, 1, "source.tables: table public.meta: source column _floe_op", "fix: rename the column, or exclude the table from source.tables")
	})
	t.Run("a route key that is not unique, then one that allows NULL", func(t *testing.T) {
		rewriteConfig(t, e, `tables: public\.orders`, `tables: public\.events`)
		defer rewriteConfig(t, e, `tables: public\.events`, `tables: public\.orders`)
		defer withRoutes("  - source-table: public.events\n    primary-key: v\n")()
		at := configLine(t, e, "primary-key: v")
		// Three rows, two sharing v = 1: keyed by v they would land as two.
		refusedByBoth(t, e, at, "route[0].primary-key: no unique index of table public.events covers exactly the key columns (v), it has no unique index",
			"two rows sharing a key value would collapse into one Iceberg row", `ALTER TABLE "public"."events" ADD UNIQUE ("v")`)
		e.exec(`UPDATE events SET v = 3 WHERE note = 'b'`, `ALTER TABLE events ADD UNIQUE (v)`)
		refusedByBoth(t, e, at, "route[0].primary-key: key column v of table public.events allows NULL",
			`ALTER TABLE "public"."events" ALTER COLUMN "v" SET NOT NULL`)
		e.exec(`ALTER TABLE events ALTER COLUMN v SET NOT NULL`)
		mustCheck(t, e)
		r := e.start()
		e.waitCaughtUp(r, time.Minute)
		e.stop(r)
		e.mustVerify(1)
	})
	t.Run("the slot in use by another consumer", func(t *testing.T) {
		r := e.start()
		waitSlotActive(t, e, r)
		out, code := runFloe(t, e, "check", "--config", e.config)
		expectOneLineError(t, out, code, "source.slot.name: replication slot \"floe_checkrun\" is in use by another consumer (walsender PID",
			"fix: stop the other reader (another floe run of this pipeline?), or give this pipeline its own source.slot.name")
		e.stop(r)
		mustCheck(t, e)
	})
	t.Run("a warehouse that is a file", func(t *testing.T) {
		file := filepath.Join(e.dir, "lake-file")
		if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		rewriteConfig(t, e, "warehouse: "+e.dir+"/warehouse", "warehouse: "+file+"/wh")
		defer rewriteConfig(t, e, "warehouse: "+file+"/wh", "warehouse: "+e.dir+"/warehouse")
		out, code := runFloe(t, e, "check", "--config", e.config)
		expectOneLineError(t, out, code, e.config+":"+strconv.Itoa(configLine(t, e, "warehouse:"))+": sink.warehouse: "+file+"/wh cannot be created: "+file+" is a file, not a directory")
	})
	t.Run("a warehouse this user may not write", func(t *testing.T) {
		checkUnwritableWarehouse(t, e)
	})
	t.Run("an unreachable host names source.hostname", func(t *testing.T) {
		port, err := testdb.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		old := "port: " + strconv.Itoa(e.pg.Port)
		rewriteConfig(t, e, old, "port: "+strconv.Itoa(port))
		defer rewriteConfig(t, e, "port: "+strconv.Itoa(port), old)
		out, code := runFloe(t, e, "check", "--config", e.config)
		expectOneLineError(t, out, code, "source.hostname: cannot reach PostgreSQL", "fix: check source.hostname and source.port")
		if strings.Contains(out, "source.host ") || strings.Contains(out, "source.host,") {
			t.Fatalf("a fix names source.host, which is not a key:\n%s", out)
		}
		// floe run refuses with floe check's line: file, line, field, cause, fix.
		line := e.config + ":" + strconv.Itoa(configLine(t, e, "hostname:")) + ": source.hostname: cannot reach PostgreSQL"
		expectOneLineError(t, out, code, line)
		runOut, runCode := runFloe(t, e, "run", "--config", e.config)
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, line) {
				expectOneLineError(t, runOut, runCode, "floe: "+l)
			}
		}
	})
}

// waitSlotActive waits until a walsender streams from e's slot (the log
// holds earlier runs' lines, so it cannot tell).
func waitSlotActive(t *testing.T, e *pipelineEnv, r *running) {
	t.Helper()
	c := e.conn()
	deadline := time.Now().Add(time.Minute)
	for {
		var active bool
		err := c.QueryRow(context.Background(), "SELECT active FROM pg_replication_slots WHERE slot_name = $1", e.slot).Scan(&active)
		if err == nil && active {
			return
		}
		select {
		case <-r.Exited:
			t.Fatalf("floe run exited: %v; log:\n%s", r.Err, e.tail(40))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot %s not active after a minute (%v); log:\n%s", e.slot, err, e.tail(40))
		}
	}
}

// checkUnwritableWarehouse runs floe check on a copy of e's config whose
// warehouse is a directory the checking user may not write: as root (who
// may write anything), check runs as the unprivileged uid 65534.
func checkUnwritableWarehouse(t *testing.T, e *pipelineEnv) {
	t.Helper()
	base, err := os.MkdirTemp("", "floe-perm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	wh, open := filepath.Join(base, "lake"), filepath.Join(base, "open")
	for _, d := range []string{wh, open} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.NewReplacer("dir: "+e.dir+"/state", "dir: "+open+"/state", "sqlite://"+e.dir+"/catalog.db", "sqlite://"+open+"/catalog.db",
		"warehouse: "+e.dir+"/warehouse", "warehouse: "+wh).Replace(string(b))
	config := filepath.Join(base, "floe.yaml")
	if err := os.WriteFile(config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(floeBin, "check", "--config", config)
	cmd.Env = append(os.Environ(), "FLOE_TEST_PASSWORD="+testPassword)
	cmd.Dir = base
	uid := os.Geteuid()
	if uid == 0 {
		uid = 65534
		if err := os.Chmod(base, 0o755); err != nil {
			t.Fatal(err)
		}
		// The binary's directory is the test's own temp dir.
		if err := os.Chmod(filepath.Dir(floeBin), 0o755); err != nil {
			t.Fatal(err)
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	} else if err := os.Chmod(wh, 0o555); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	expectOneLineError(t, string(out), code, "sink.warehouse: directory "+wh+" is not writable by this user (uid "+strconv.Itoa(uid)+")",
		"fix: make it writable for the user floe runs as")
	if strings.Contains(string(out), "state.dir:") || strings.Contains(string(out), "sink.catalog.uri:") {
		t.Fatalf("writable paths reported:\n%s", out)
	}
}

// TestConfigRelativeToItsFile: a configuration without state, catalog or
// warehouse keys names the same state dir, catalog and lake from every
// working directory: the defaults sit beside the file. floe run from one
// directory and floe verify from another see the same tables, and floe
// check prints where the paths resolved.
func TestConfigRelativeToItsFile(t *testing.T) {
	needServers(t)
	e := newPipelineEnv(t, "relpaths", `public\.orders`, "upsert", "")
	e.exec(`CREATE TABLE orders (id int PRIMARY KEY, item text)`, `INSERT INTO orders SELECT g, 'i' || g FROM generate_series(1, 100) g`,
		`ALTER TABLE orders OWNER TO u_relpaths`)
	b, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.NewReplacer("state:\n  dir: "+e.dir+"/state\n", "", "  catalog:\n    type: sql\n    uri: sqlite://"+e.dir+"/catalog.db\n", "",
		"  warehouse: "+e.dir+"/warehouse\n", "").Replace(string(b))
	if strings.Contains(cfg, e.dir) {
		t.Fatalf("the config still names a path:\n%s", cfg)
	}
	confDir := filepath.Join(e.dir, "conf")
	if err := os.Mkdir(confDir, 0o755); err != nil {
		t.Fatal(err)
	}
	e.config = filepath.Join(confDir, "floe.yaml")
	if err := os.WriteFile(e.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	wd1, wd2 := filepath.Join(e.dir, "wd1"), filepath.Join(e.dir, "wd2")
	for _, d := range []string{wd1, wd2} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	inDir := func(dir string, args ...string) *exec.Cmd {
		cmd := e.floeCmd(args...)
		cmd.Dir = dir
		return cmd
	}
	r, err := testdb.StartLogged(inDir(wd1, "run", "--config", e.config), e.logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Kill)
	e.waitCaughtUp(r, time.Minute)
	e.stop(r)
	out, err := inDir(wd2, "verify", "--config", e.config).CombinedOutput()
	if err != nil || strings.Count(string(out), "OK ") != 1 {
		t.Fatalf("floe verify from another directory: %v\n%s", err, out)
	}
	for _, wd := range []string{wd1, wd2} {
		if _, err := os.Stat(filepath.Join(wd, ".floe")); !os.IsNotExist(err) {
			t.Fatalf("%s/.floe exists (%v): a default resolved against the working directory", wd, err)
		}
	}
	if _, err := os.Stat(filepath.Join(confDir, ".floe", "catalog.db")); err != nil {
		t.Fatalf("no catalog beside the config file: %v", err)
	}
	want := "paths: state.dir " + confDir + "/.floe/relpaths (default), sink.catalog.uri sqlite://" + confDir + "/.floe/catalog.db (default), sink.warehouse " +
		confDir + "/.floe/warehouse (default); relative paths and defaults resolve against " + confDir + ", the config file's directory"
	for _, wd := range []string{wd1, wd2} {
		out, err := inDir(wd, "check", "--config", e.config).CombinedOutput()
		if err != nil || !strings.Contains(string(out), want) {
			t.Fatalf("floe check from %s: %v\n%s\nwant the line %q", wd, err, out, want)
		}
	}
}
