package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/deploy/testdb"
)

// podman runs podman on a private image store under a test directory, so a
// test neither sees nor leaves images in the machine's store.
type podman struct {
	t    *testing.T
	root string
}

// newPodman returns a podman on a fresh store, or skips the test when
// podman or runc is not installed (make deps installs both).
func newPodman(t *testing.T) *podman {
	t.Helper()
	for _, tool := range []string{"podman", "runc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (make deps installs podman and runc): %v", tool, err)
		}
	}
	return &podman{t: t, root: t.TempDir()}
}

// cmd is a podman command on the private store. The vfs driver and the
// cgroupfs manager need no kernel feature beyond chroot and namespaces;
// runc, unlike crun, runs under the hybrid cgroup v1/v2 layout of the test
// machines.
func (p *podman) cmd(args ...string) *exec.Cmd {
	global := []string{"--root", filepath.Join(p.root, "storage"), "--runroot", filepath.Join(p.root, "run"),
		"--storage-driver", "vfs", "--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "file"}
	return exec.Command("podman", append(global, args...)...)
}

// runFlags are the flags of every container the tests run. The explicit
// limits are at or below the test machine's own: podman's defaults would
// raise them, which a process without CAP_SYS_RESOURCE may not.
var runFlags = []string{"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
	"--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges"}

func (p *podman) output(args ...string) (string, error) {
	out, err := p.cmd(args...).CombinedOutput()
	return string(out), err
}

func (p *podman) must(args ...string) string {
	p.t.Helper()
	out, err := p.output(args...)
	require.NoError(p.t, err, "podman %s:\n%s", strings.Join(args, " "), out)
	return out
}

// TestImageRunsWithPodman loads the archive into podman and runs it: floe
// version prints the stamped version; there is no shell to start; and
// `floe run` streams a real PostgreSQL table into a warehouse on a volume
// as uid 65532 with a read-only root file system and no capabilities,
// answers /healthz and /readyz, stops cleanly on SIGTERM, and `floe verify`
// in a second container finds the table equal to the source.
func TestImageRunsWithPodman(t *testing.T) {
	if testing.Short() {
		t.Skip("runs floe in a container against PostgreSQL")
	}
	p := newPodman(t)
	require.Contains(t, p.must("load", "-i", sharedArchive(t)), testTag)
	image := testTag

	out := p.must(append(append([]string{"run", "--rm", "--network", "none"}, runFlags...), image, "version")...)
	require.True(t, strings.HasPrefix(out, "floe "+testVersion+"\n"), "floe version printed:\n%s", out)

	out, err := p.output(append(append([]string{"run", "--rm", "--network", "none"}, runFlags...),
		"--entrypoint", "/bin/sh", image, "-c", "true")...)
	require.Error(t, err, "a shell ran in the image:\n%s", out)
	require.Contains(t, out, "/bin/sh")
	require.Contains(t, out, "no such file or directory")

	streamInContainer(t, p, image)
}

func streamInContainer(t *testing.T, p *podman, image string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	require.NoError(t, testdb.EnsurePostgresInstalled(ctx))
	pg, err := testdb.StartPostgres(ctx, testdb.PostgresOptions{})
	require.NoError(t, err)
	defer pg.Stop()
	dsn, err := pg.CreateDatabase(ctx, "shop", "floe", "s3cret-pass")
	require.NoError(t, err)
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `CREATE TABLE orders (id int PRIMARY KEY, note text NOT NULL);
		INSERT INTO orders SELECT g, 'order ' || g FROM generate_series(1, 500) g`)
	require.NoError(t, err)

	// The state volume belongs to the image's user, as a Kubernetes
	// fsGroup or a systemd StateDirectory would arrange.
	dir := t.TempDir()
	state, conf := filepath.Join(dir, "state"), filepath.Join(dir, "conf")
	require.NoError(t, os.Mkdir(state, 0o750))
	require.NoError(t, os.Chown(state, UID, GID))
	require.NoError(t, os.Mkdir(conf, 0o755))
	port, err := testdb.FreePort()
	require.NoError(t, err)
	config := fmt.Sprintf(`pipeline: {name: imagetest, checkpoint-interval: 1s}
state: {dir: /var/lib/floe/state}
source:
  type: postgres
  hostname: 127.0.0.1
  port: %d
  username: floe
  password: ${PGPASSWORD}
  database: shop
  tables: public.orders
sink:
  type: iceberg
  catalog: {type: sql, name: floe, uri: "sqlite:///var/lib/floe/catalog.db"}
  warehouse: /var/lib/floe/warehouse
  namespace: shop
server:
  metrics-address: 127.0.0.1:%d
log: {format: json}
`, pg.Port, port)
	require.NoError(t, os.WriteFile(filepath.Join(conf, "floe.yaml"), []byte(config), 0o644))
	envFile := filepath.Join(dir, "floe.env")
	require.NoError(t, os.WriteFile(envFile, []byte("PGPASSWORD=s3cret-pass\n"), 0o600))
	mounts := []string{"--network", "host", "--env-file", envFile,
		"-v", conf + ":/etc/floe:ro", "-v", state + ":/var/lib/floe"}

	name := "floe-imagetest-" + strconv.Itoa(os.Getpid())
	p.must(append(append(append([]string{"run", "-d", "--name", name}, runFlags...), mounts...), image)...)
	defer func() {
		if t.Failed() {
			logs, _ := p.output("logs", "--tail", "40", name)
			t.Logf("floe run in the container, last lines:\n%s", logs)
		}
		_, _ = p.output("rm", "-f", "-t", "0", name)
	}()

	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	require.Equal(t, "ok\n", waitHTTP(t, base+"/healthz", 2*time.Minute))
	require.Equal(t, "ready\n", waitHTTP(t, base+"/readyz", 3*time.Minute), "streaming after the snapshot")

	_, err = conn.Exec(ctx, `UPDATE orders SET note = note || ' (paid)' WHERE id % 3 = 0;
		DELETE FROM orders WHERE id % 7 = 0;
		INSERT INTO orders SELECT g, 'late ' || g FROM generate_series(501, 600) g`)
	require.NoError(t, err)
	waitSynced(t, ctx, conn, "floe_imagetest")

	// floe run finishes its checkpoint on SIGTERM and exits 0.
	p.must("stop", "-t", "60", name)
	require.Equal(t, "0\n", p.must("inspect", "--format", "{{.State.ExitCode}}", name))

	var st syscall.Stat_t
	require.NoError(t, syscall.Stat(filepath.Join(state, "catalog.db"), &st))
	require.Equal(t, [2]uint32{UID, GID}, [2]uint32{st.Uid, st.Gid}, "files are written as the image's user")

	out, err := p.output(append(append(append([]string{"run", "--rm"}, runFlags...), mounts...),
		image, "verify", "--config", "/etc/floe/floe.yaml")...)
	require.NoError(t, err, "floe verify in the container:\n%s", out)
	require.Contains(t, out, "OK       public.orders -> shop.orders: source 529 rows")
}

// waitHTTP polls url until it answers 200 and returns the body.
func waitHTTP(t *testing.T, url string, limit time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(limit)
	last := ""
	for {
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return string(body)
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer 200 within %s; last: %s", url, limit, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitSynced writes a floe.sync message and waits until the slot confirms
// it: floe then holds every change written before it.
func waitSynced(t *testing.T, ctx context.Context, conn *pgx.Conn, slot string) {
	t.Helper()
	var lsn string
	require.NoError(t, conn.QueryRow(ctx, "SELECT pg_logical_emit_message(false, 'floe.sync', '')::text").Scan(&lsn))
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var ok bool
		require.NoError(t, conn.QueryRow(ctx, `SELECT coalesce(bool_or(confirmed_flush_lsn >= $1::pg_lsn), false)
			FROM pg_replication_slots WHERE slot_name = $2`, lsn, slot).Scan(&ok))
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the slot %s did not confirm %s within 3 minutes", slot, lsn)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
