package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// needRoot skips a test that mounts file systems or runs floe as another
// user, which only root may do.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts a tmpfs and runs floe as another user")
	}
}

// mountTmpfs mounts a tmpfs with the given options (e.g. "size=16m",
// "ro") at dir, creating dir, and unmounts it when the test ends.
func mountTmpfs(t *testing.T, dir, opts string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs at %s: %v\n%s", dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", dir, err, out)
		}
	})
}

// remount changes the options of the tmpfs at dir.
func remount(t *testing.T, dir, opts string) {
	t.Helper()
	if out, err := exec.Command("mount", "-o", "remount,"+opts, dir).CombinedOutput(); err != nil {
		t.Fatalf("remount %s %s: %v\n%s", dir, opts, err, out)
	}
}

// quickExit is how soon floe must give up on storage it cannot use.
const quickExit = 20 * time.Second

// TestUnwritableWarehouse: a warehouse floe cannot write ends floe run at
// once, with one line naming the setting, the problem, the path and the
// fix, and a non-zero exit: a path that is a file, a read-only file
// system (at the start and when it turns read-only under a running
// pipeline), and a directory the user floe runs as may not write.
func TestUnwritableWarehouse(t *testing.T) {
	needServers(t)
	needRoot(t)
	e := newPipelineEnv(t, "unwritable", `public\.orders`, "upsert", "")
	e.exec(`CREATE TABLE orders (id int PRIMARY KEY, item text)`, `INSERT INTO orders SELECT g, 'i' || g FROM generate_series(1, 500) g`,
		`ALTER TABLE orders OWNER TO u_unwritable`)
	wh := filepath.Join(e.dir, "warehouse")

	quick := func(t *testing.T, cmd *exec.Cmd) (string, int) {
		t.Helper()
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var err error
		select {
		case err = <-done:
		case <-time.After(quickExit):
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("floe run did not give up within %v; output:\n%s", quickExit, lastLines(out.String(), 10))
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return out.String(), ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return out.String(), 0
	}

	t.Run("a file", func(t *testing.T) {
		if err := os.WriteFile(wh, []byte("not a directory"), 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(wh)
		out, code := quick(t, e.floeCmd("run", "--config", e.config))
		expectOneLineError(t, out, code, "sink.warehouse: not a directory: "+wh, "fix: ")
	})

	t.Run("read-only at the start", func(t *testing.T) {
		mountTmpfs(t, wh, "size=8m,ro")
		out, code := quick(t, e.floeCmd("run", "--config", e.config))
		expectOneLineError(t, out, code, "sink.warehouse: read-only file system: "+wh, "fix: mount that file system read-write")
	})

	t.Run("turns read-only while running", func(t *testing.T) {
		mountTmpfs(t, wh, "size=64m")
		r := e.start()
		e.waitCaughtUp(r, time.Minute)
		remount(t, wh, "ro")
		e.exec(`INSERT INTO orders SELECT g, 'late' FROM generate_series(501, 600) g`)
		select {
		case <-r.Exited:
		case <-time.After(quickExit):
			t.Fatalf("floe run keeps running on a read-only warehouse; log:\n%s", e.tail(20))
		}
		if r.Err == nil {
			t.Fatalf("floe run exited 0 on a read-only warehouse; log:\n%s", e.tail(20))
		}
		lines := strings.Split(strings.TrimSpace(e.tail(1)), "\n")
		if last := lines[len(lines)-1]; !strings.HasPrefix(last, "floe: sink.warehouse: read-only file system: "+wh+"/") || !strings.Contains(last, "fix: ") {
			t.Fatalf("last line %q, want the setting, the problem, the path and the fix", last)
		}
		if n := strings.Count(e.tail(1000000), "connection lost"); n > 0 {
			t.Fatalf("a read-only warehouse was retried as a lost connection %d times; log:\n%s", n, e.tail(20))
		}
		remount(t, wh, "rw")
	})

	t.Run("permission denied", func(t *testing.T) {
		// floe runs as nobody: it may read its binary and config and write
		// its state and catalog, but not the warehouse (root's, 0755).
		for _, dir := range []string{filepath.Dir(floeBin), filepath.Dir(e.dir), e.dir} {
			if err := os.Chmod(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.MkdirAll(wh, 0o755); err != nil {
			t.Fatal(err)
		}
		// a fresh state dir and catalog, owned by nobody
		own := filepath.Join(e.dir, "nobody")
		if err := os.MkdirAll(own, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(own, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		cfg, err := os.ReadFile(e.config)
		if err != nil {
			t.Fatal(err)
		}
		asNobody := filepath.Join(own, "floe.yaml")
		text := strings.Replace(string(cfg), "dir: "+e.dir+"/state", "dir: "+own+"/state", 1)
		text = strings.Replace(text, "uri: sqlite://"+e.dir+"/catalog.db", "uri: sqlite://"+own+"/catalog.db", 1)
		if err := os.WriteFile(asNobody, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := e.floeCmd("run", "--config", asNobody)
		cmd.Dir = own
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, code := quick(t, cmd)
		expectOneLineError(t, out, code, "sink.warehouse: permission denied: "+wh, "fix: let the user Floe runs as")
	})
}

// TestFullWarehouse: the warehouse's file system fills up under a running
// pipeline. floe says "no space left on device" with the setting and the
// path, keeps retrying, leaves no empty or partial file behind, and once
// space is freed catches up: verify equal.
func TestFullWarehouse(t *testing.T) {
	needServers(t)
	needRoot(t)
	e := newPipelineEnv(t, "fullwh", `public\.orders`, "upsert", "")
	wh := filepath.Join(e.dir, "warehouse")
	mountTmpfs(t, wh, "size=24m")
	e.exec(`CREATE TABLE orders (id int PRIMARY KEY, item text, pad text)`,
		`INSERT INTO orders SELECT g, 'i' || g, md5(g::text) FROM generate_series(1, 5000) g`, `ALTER TABLE orders OWNER TO u_fullwh`)
	r := e.start()
	e.waitCaughtUp(r, time.Minute)

	filler := filepath.Join(wh, "filler")
	fill(t, filler)
	e.exec(`INSERT INTO orders SELECT g, 'while full', md5(g::text) || md5((g+1)::text) FROM generate_series(5001, 60000) g`,
		`UPDATE orders SET item = 'changed while full' WHERE id <= 1000`)
	want := "sink.warehouse: no space left on device: " + wh + "/"
	deadline := time.Now().Add(time.Minute)
	for strings.Count(e.tail(1000000), want) < 3 {
		select {
		case <-r.Exited:
			t.Fatalf("floe run exited on a full disk: %v; log:\n%s", r.Err, e.tail(20))
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("floe did not report %q three times (one per retry) within a minute; log:\n%s", want, e.tail(20))
		}
	}
	checkWarehouseFiles(t, wh, filler)
	for _, line := range strings.Split(e.tail(1000000), "\n") {
		if strings.Contains(line, want) {
			t.Log(line)
			break
		}
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	e.waitCaughtUp(r, 2*time.Minute)
	e.stop(r)
	checkWarehouseFiles(t, wh, "")
	e.mustVerify(1)
}

// fill writes path until the file system is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := bytes.Repeat([]byte{'f'}, 1<<20)
	for {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			t.Fatal(err)
		}
	}
	for _, n := range []int{64 << 10, 4 << 10, 1} { // the last pages
		for {
			if _, err := f.Write(chunk[:n]); err != nil {
				break
			}
		}
	}
}

// checkWarehouseFiles fails the test for an empty file or a partial one
// in the warehouse: every Parquet file must end with its magic, every
// Avro file start with its, every metadata file parse as JSON.
func checkWarehouseFiles(t *testing.T, wh, skip string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(wh, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path == skip {
			return err
		}
		n++
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		switch {
		case len(b) == 0:
			t.Errorf("empty file left in the warehouse: %s", path)
		case strings.HasSuffix(path, ".parquet") && (!bytes.HasPrefix(b, []byte("PAR1")) || !bytes.HasSuffix(b, []byte("PAR1"))):
			t.Errorf("partial Parquet file left in the warehouse: %s (%d bytes)", path, len(b))
		case strings.HasSuffix(path, ".avro") && !bytes.HasPrefix(b, []byte("Obj\x01")):
			t.Errorf("partial Avro file left in the warehouse: %s (%d bytes)", path, len(b))
		case strings.HasSuffix(path, ".json") && !json.Valid(b):
			t.Errorf("partial metadata file left in the warehouse: %s (%d bytes)", path, len(b))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d files in the warehouse checked for empty and partial ones", n)
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
