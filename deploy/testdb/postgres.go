package testdb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresOptions configures a throwaway PostgreSQL cluster.
type PostgresOptions struct {
	// WALLevel is wal_level; default "logical".
	WALLevel string
	// ExtraConf lines are appended to postgresql.conf.
	ExtraConf []string
	// Version is the PostgreSQL version to run: "" takes $FLOE_TEST_PG
	// (EnvPostgres), and "" or "15" there is the Debian server; any other
	// ("13", "14", "16", "17", "18", or a full version) is fetched once
	// by deploy/testdb/fetch-server.sh.
	Version string
}

// Postgres is a running throwaway cluster listening on 127.0.0.1:Port.
// Superuser "postgres" connects without a password over TCP; every other
// role authenticates with scram-sha-256.
type Postgres struct {
	Port int
	Dir  string
	// Version is the server's server_version ("16.16").
	Version string
	bin     string
	cred    *syscall.Credential
	serverProc
}

// PostgresBinDir returns the newest /usr/lib/postgresql/N/bin that holds a
// server, or an error saying how to install one.
func PostgresBinDir() (string, error) {
	if d := os.Getenv("FLOE_PG_BINDIR"); d != "" {
		return d, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(matches) == 0 {
		return "", errors.New("no PostgreSQL server found under /usr/lib/postgresql: install it with 'apt-get install -y postgresql' (or run 'make deps')")
	}
	sort.Slice(matches, func(i, j int) bool { return versionOf(matches[i]) > versionOf(matches[j]) })
	return filepath.Dir(matches[0]), nil
}

func versionOf(p string) int {
	parts := strings.Split(p, string(filepath.Separator))
	for i, s := range parts {
		if s == "postgresql" && i+1 < len(parts) {
			n, _ := strconv.Atoi(parts[i+1])
			return n
		}
	}
	return 0
}

// EnsurePostgresInstalled installs the Debian postgresql package when no
// server binary is present and the process runs as root.
func EnsurePostgresInstalled(ctx context.Context) error {
	if _, err := PostgresBinDir(); err == nil {
		return nil
	}
	if os.Geteuid() != 0 {
		return errors.New("PostgreSQL server is not installed and this process is not root: run 'sudo apt-get install -y postgresql'")
	}
	for _, args := range [][]string{{"apt-get", "update", "-qq"}, {"apt-get", "install", "-y", "-qq", "postgresql"}} {
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w\n%s", strings.Join(args, " "), err, out)
		}
	}
	_, err := PostgresBinDir()
	return err
}

// StartPostgres initialises a cluster in a new temporary directory, starts
// it on a free port and waits until it accepts connections. Stop it with
// Stop; the directory is removed then. The default version's Debian
// package is installed first when missing (EnsurePostgresInstalled).
func StartPostgres(ctx context.Context, opts PostgresOptions) (*Postgres, error) {
	bin, err := postgresBin(ctx, postgresSpec(opts.Version))
	if err != nil {
		return nil, err
	}
	if opts.WALLevel == "" {
		opts.WALLevel = "logical"
	}
	dir, err := os.MkdirTemp("", "floe-pg-")
	if err != nil {
		return nil, fmt.Errorf("create cluster dir: %w", err)
	}
	cred, err := serverCredential()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("chown cluster dir: %w", err)
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	port, err := FreePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	conf := []string{
		"listen_addresses = '127.0.0.1'",
		fmt.Sprintf("port = %d", port),
		fmt.Sprintf("unix_socket_directories = '%s'", dir),
		"wal_level = " + opts.WALLevel,
		"max_replication_slots = 20",
		"max_wal_senders = 20",
		"max_connections = 100",
		"fsync = off",
		"synchronous_commit = off",
		"full_page_writes = off",
		"shared_buffers = 128MB",
		"wal_sender_timeout = 60s",
		"log_min_messages = warning",
		// pg_hba.conf asks for scram-sha-256; PostgreSQL 13 stores md5
		// hashes unless told otherwise.
		"password_encryption = 'scram-sha-256'",
	}
	conf = append(conf, opts.ExtraConf...)
	if err := appendFile(filepath.Join(data, "postgresql.conf"), strings.Join(conf, "\n")+"\n"); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	hba := strings.Join([]string{
		"local all all trust",
		"host all postgres 127.0.0.1/32 trust",
		"host replication postgres 127.0.0.1/32 trust",
		"host all all 127.0.0.1/32 scram-sha-256",
		"host replication all 127.0.0.1/32 scram-sha-256",
	}, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("write pg_hba.conf: %w", err)
	}
	if cred != nil {
		_ = os.Chown(filepath.Join(data, "pg_hba.conf"), int(cred.Uid), int(cred.Gid))
	}
	p := &Postgres{Port: port, Dir: dir, bin: bin, cred: cred}
	if err := p.launch(ctx); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return p, nil
}

// postgresBin returns the directory of spec's initdb and postgres.
func postgresBin(ctx context.Context, spec ServerSpec) (string, error) {
	if spec.Version == "" {
		if err := EnsurePostgresInstalled(ctx); err != nil {
			return "", err
		}
		return PostgresBinDir()
	}
	tree, err := fetchServer(ctx, spec)
	if err != nil {
		return "", err
	}
	return filepath.Join(tree, "bin"), nil
}

// launch starts the server on the cluster in p.Dir (its log appended to
// server.log) and waits until it accepts connections.
func (p *Postgres) launch(ctx context.Context) error {
	cmd := exec.Command(filepath.Join(p.bin, "postgres"), "-D", filepath.Join(p.Dir, "data"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred, Setpgid: true, Pdeathsig: syscall.SIGQUIT}
	log := filepath.Join(p.Dir, "server.log")
	done, err := launchServer(ctx, cmd, log, log, syscall.SIGQUIT, 30*time.Second, func(ctx context.Context) error {
		conn, err := pgx.Connect(ctx, p.AdminDSN("postgres"))
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		return conn.QueryRow(ctx, "SHOW server_version").Scan(&p.Version)
	})
	if err != nil {
		return err
	}
	p.cmd, p.done = cmd, done
	return nil
}

// AdminDSN is a superuser connection string for database db.
func (p *Postgres) AdminDSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.Port, db)
}

// DSN is a connection string for a password-authenticated role.
func (p *Postgres) DSN(db, user, password string) string {
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", user, password, p.Port, db)
}

// Exec runs SQL statements as the superuser in database db.
func (p *Postgres) Exec(ctx context.Context, db string, sql ...string) error {
	conn, err := pgx.Connect(ctx, p.AdminDSN(db))
	if err != nil {
		return fmt.Errorf("connect to %s: %w", db, err)
	}
	defer conn.Close(ctx)
	for _, s := range sql {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("exec %q: %w", truncate(s, 80), err)
		}
	}
	return nil
}

// CreateDatabase creates database db owned by a new LOGIN REPLICATION role
// user with the given password, and returns that role's DSN.
func (p *Postgres) CreateDatabase(ctx context.Context, db, user, password string) (string, error) {
	err := p.Exec(ctx, "postgres",
		fmt.Sprintf("CREATE ROLE %s LOGIN REPLICATION PASSWORD '%s'", pgx.Identifier{user}.Sanitize(), strings.ReplaceAll(password, "'", "''")),
		fmt.Sprintf("CREATE DATABASE %s OWNER %s", pgx.Identifier{db}.Sanitize(), pgx.Identifier{user}.Sanitize()))
	if err != nil {
		return "", err
	}
	return p.DSN(db, user, password), nil
}

// Stop shuts the server down (fast shutdown, then kill after 10 s) and
// removes its directory. Safe to call more than once.
func (p *Postgres) Stop() error {
	if p == nil {
		return nil
	}
	return p.stop(syscall.SIGINT, p.Dir) // SIGINT: fast shutdown
}

// FreePort asks the kernel for a free TCP port on 127.0.0.1.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// serverCredential returns the credential of the "postgres" OS user when
// running as root (the server refuses to run as root), else nil.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs the 'postgres' OS user (installed with the postgresql package): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
