package testdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// MariaDBOptions configures a throwaway MariaDB (or MySQL) server.
type MariaDBOptions struct {
	// ExtraConf lines are appended to the [mariadbd] ([mysqld]) section of the
	// server's option file, after the defaults, so they override them
	// (e.g. "binlog_format=MIXED", "default_time_zone='+02:00'").
	ExtraConf []string
	// Server is the server to run, as kind-version ("mariadb-11.4",
	// "mariadb-11.8", "mysql-9.7"): "" takes $FLOE_TEST_MYSQL (EnvMySQL),
	// and "" or "mariadb-10.11" there is the Debian MariaDB; others are
	// fetched once by deploy/testdb/fetch-server.sh.
	Server string
}

// MariaDB is a running throwaway MariaDB or MySQL server listening on
// 127.0.0.1:Port, with its data directory, socket, option file and log
// (server.log) in Dir.
//
// The server runs with log_bin, binlog_format=ROW, binlog_row_image=FULL,
// binlog_row_metadata=FULL, server_id=1, skip-name-resolve,
// character_set_server=utf8mb4 and default_time_zone='+00:00'; MariaDB
// also with gtid_strict_mode=ON, log_slave_updates and
// utf8mb4_general_ci, MySQL with gtid_mode=ON, enforce_gtid_consistency,
// log_replica_updates and its default collation (utf8mb4_0900_ai_ci).
// The user root has no password and may connect over TCP from 127.0.0.1
// and over the socket.
type MariaDB struct {
	Port int
	Dir  string
	// Flavor is FlavorMariaDB or FlavorMySQL; Version is the server's
	// SELECT VERSION() ("11.4.5-MariaDB", "9.7.4-2").
	Flavor, Version string
	clientPath      string
	clientArgs      []string
	tzinfo          string
	server          string // the server program (mariadbd or mysqld)
	cred            *syscall.Credential
	serverProc
}

// mariadbBinaries are the programs the server needs; each entry lists
// accepted names, newest first.
var mariadbBinaries = [][]string{
	{"mariadbd", "mysqld"},
	{"mariadb-install-db", "mysql_install_db"},
	{"mariadb", "mysql"},
}

// mariadbSearchPath holds the directories searched besides $PATH (the
// server binary lives in /usr/sbin, which a non-root $PATH may lack).
var mariadbSearchPath = []string{"/usr/sbin", "/usr/bin", "/usr/local/mysql/bin"}

// findProgram returns the path of the first of names found on $PATH or in
// mariadbSearchPath.
func findProgram(names ...string) (string, error) {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
		for _, d := range mariadbSearchPath {
			p := filepath.Join(d, n)
			if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("%s not found: install MariaDB with 'apt-get install -y mariadb-server' (or run 'make deps')", names[0])
}

// mariadbPrograms returns the server, install-db and client paths.
func mariadbPrograms() (server, installDB, client string, err error) {
	var paths [3]string
	for i, names := range mariadbBinaries {
		if paths[i], err = findProgram(names...); err != nil {
			return "", "", "", err
		}
	}
	return paths[0], paths[1], paths[2], nil
}

// EnsureMariaDBInstalled installs the Debian mariadb-server package when
// the server, mariadb-install-db or the client is missing, as root or
// through sudo. The system service the package may start is stopped and
// disabled: tests start their own servers.
func EnsureMariaDBInstalled(ctx context.Context) error {
	if _, _, _, err := mariadbPrograms(); err == nil {
		return nil
	}
	// Run as root directly, else through non-interactive sudo; env passes
	// DEBIAN_FRONTEND through sudo's environment reset.
	prefix := []string{"env", "DEBIAN_FRONTEND=noninteractive"}
	if os.Geteuid() != 0 {
		if _, err := exec.LookPath("sudo"); err != nil {
			return errors.New("MariaDB is not installed and this process is neither root nor has sudo: run 'apt-get install -y mariadb-server' as root")
		}
		prefix = append([]string{"sudo", "-n"}, prefix...)
	}
	steps := [][]string{
		{"apt-get", "update", "-qq"},
		{"apt-get", "install", "-y", "-qq", "mariadb-server"},
	}
	for _, step := range steps {
		args := append(append([]string{}, prefix...), step...)
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w\n%s", strings.Join(step, " "), err, out)
		}
	}
	// Best effort: the package's service is not used.
	for _, step := range [][]string{{"systemctl", "disable", "--now", "mariadb"}, {"service", "mariadb", "stop"}} {
		args := append(append([]string{}, prefix...), step...)
		_ = exec.CommandContext(ctx, args[0], args[1:]...).Run() // best effort
	}
	_, _, _, err := mariadbPrograms()
	return err
}

// StartMariaDB initialises a data directory (mariadb-install-db, or
// mysqld --initialize-insecure for MySQL) in a new temporary directory,
// starts the server on a free port of 127.0.0.1 and waits until it accepts
// connections. When the process runs as root the server runs as the OS
// user "mysql". Stop it with Stop; the directory is removed then. If the
// calling process dies, the server is killed. The default server's Debian
// package is installed first when missing (EnsureMariaDBInstalled).
func StartMariaDB(ctx context.Context, opts MariaDBOptions) (*MariaDB, error) {
	spec, err := mysqlSpec(opts.Server)
	if err != nil {
		return nil, err
	}
	in, err := mysqlInstallFor(ctx, spec)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "floe-mariadb-")
	if err != nil {
		return nil, fmt.Errorf("create server dir: %w", err)
	}
	fail := func(err error) (*MariaDB, error) {
		os.RemoveAll(dir)
		return nil, err
	}
	cred, osUser, err := mariadbCredential()
	if err != nil {
		return fail(err)
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fail(fmt.Errorf("chown server dir: %w", err))
		}
	}
	port, err := FreePort()
	if err != nil {
		return fail(err)
	}
	m := &MariaDB{Port: port, Dir: dir, Flavor: in.flavor, clientPath: in.client, clientArgs: in.clientArgs(), tzinfo: in.tzinfo}
	if err := os.Mkdir(m.tmpDir(), 0o700); err != nil {
		return fail(fmt.Errorf("create the server's tmpdir: %w", err))
	}
	if cred != nil {
		if err := os.Chown(m.tmpDir(), int(cred.Uid), int(cred.Gid)); err != nil {
			return fail(fmt.Errorf("chown the server's tmpdir: %w", err))
		}
	}
	conf := append(in.conf(m, osUser, port), opts.ExtraConf...)
	cnf := filepath.Join(dir, "my.cnf")
	if err := os.WriteFile(cnf, []byte(strings.Join(conf, "\n")+"\n"), 0o644); err != nil {
		return fail(fmt.Errorf("write my.cnf: %w", err))
	}
	if err := in.initialize(ctx, cnf, cred); err != nil {
		return fail(err)
	}
	m.server, m.cred = in.server, cred
	if err := m.launch(ctx); err != nil {
		return fail(fmt.Errorf("%s: %w", spec, err))
	}
	// install-db creates root@localhost only; skip-name-resolve makes TCP
	// clients from 127.0.0.1 need an IP-addressed account.
	if err := m.Exec(ctx, "",
		"CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'",
		"GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION"); err != nil {
		m.Stop()
		return nil, fmt.Errorf("create root@127.0.0.1: %w", err)
	}
	rows, err := m.Query(ctx, "", "SELECT VERSION()")
	if err != nil || len(rows) != 1 {
		m.Stop()
		return nil, fmt.Errorf("read the server version: %v (rows %v)", err, rows)
	}
	m.Version = rows[0][0]
	return m, nil
}

// initialize creates the data directory the option file cnf names, as
// cred's user.
func (in *mysqlInstall) initialize(ctx context.Context, cnf string, cred *syscall.Credential) error {
	var cmd *exec.Cmd
	if in.installDB == "" {
		cmd = exec.CommandContext(ctx, in.server, "--defaults-file="+cnf, "--initialize-insecure")
	} else {
		args := []string{"--defaults-file=" + cnf, "--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve"}
		if in.basedir != "" {
			args = append(args, "--basedir="+in.basedir)
		}
		cmd = exec.CommandContext(ctx, in.installDB, args...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initialise the %s data directory (%s): %w\n%s", in.spec, filepath.Base(cmd.Path), err, out)
	}
	return nil
}

// launch starts the server on the data directory in m.Dir (its output
// appended to stdout.log) and waits until it accepts connections.
func (m *MariaDB) launch(ctx context.Context) error {
	cmd := exec.Command(m.server, "--defaults-file="+filepath.Join(m.Dir, "my.cnf"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: m.cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	done, err := launchServer(ctx, cmd, filepath.Join(m.Dir, "stdout.log"), filepath.Join(m.Dir, "server.log"),
		syscall.SIGKILL, 60*time.Second, func(ctx context.Context) error {
			_, err := m.Query(ctx, "", "SELECT 1")
			return err
		})
	if err != nil {
		return err
	}
	m.cmd, m.done = cmd, done
	return nil
}

func (m *MariaDB) dataDir() string { return filepath.Join(m.Dir, "data") }
func (m *MariaDB) socket() string  { return filepath.Join(m.Dir, "mariadbd.sock") }

// tmpDir is the server's own tmpdir. With the default, /tmp, every server
// shares one: a server starting up removes every #sql* file there
// (leftovers of its own earlier crashes, it assumes), which are the
// internal temporary tables of the other servers' running queries, and
// those fail with "Error on delete of '/tmp/#sql-temptable-…'".
func (m *MariaDB) tmpDir() string { return filepath.Join(m.Dir, "tmp") }

// Addr is the server's TCP address, "127.0.0.1:Port" (the form
// go-mysql's client.Connect and replication.BinlogSyncerConfig take).
func (m *MariaDB) Addr() string { return "127.0.0.1:" + strconv.Itoa(m.Port) }

// RootDSN is a go-sql-driver/mysql style DSN for user root (no password)
// over TCP, database db (may be empty):
// "root@tcp(127.0.0.1:PORT)/db". go-mysql's client takes the parts
// instead: client.Connect(m.Addr(), "root", "", db).
func (m *MariaDB) RootDSN(db string) string {
	return fmt.Sprintf("root@tcp(%s)/%s", m.Addr(), db)
}

// DSN is the go-sql-driver/mysql style DSN of a password-authenticated
// user over TCP: "user:password@tcp(127.0.0.1:PORT)/db".
func (m *MariaDB) DSN(db, user, password string) string {
	return fmt.Sprintf("%s:%s@tcp(%s)/%s", user, password, m.Addr(), db)
}

// client runs the command-line client as root over the socket in batch
// mode with the given extra arguments and SQL on stdin.
func (m *MariaDB) client(ctx context.Context, db, sql string, args ...string) ([]byte, error) {
	all := []string{"--no-defaults", "--protocol=socket", "--socket=" + m.socket(), "--user=root",
		"--batch", "--raw", "--skip-column-names", "--default-character-set=utf8mb4"}
	all = append(append(all, m.clientArgs...), args...)
	if db != "" {
		all = append(all, "--database="+db)
	}
	cmd := exec.CommandContext(ctx, m.clientPath, all...)
	cmd.Stdin = strings.NewReader(sql)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// Exec runs SQL statements as root in database db (empty: none), each
// on its own; it stops at the first failure.
func (m *MariaDB) Exec(ctx context.Context, db string, sql ...string) error {
	for _, s := range sql {
		// --delimiter keeps a statement containing ';' (a trigger body,
		// a string literal) in one piece.
		if _, err := m.client(ctx, db, s+"\n"+mariadbDelimiter+"\n", "--delimiter="+mariadbDelimiter); err != nil {
			return fmt.Errorf("exec %q: %w", truncate(s, 80), err)
		}
	}
	return nil
}

// LoadTimeZone loads the zone name (a file under /usr/share/zoneinfo,
// e.g. "Europe/Berlin") into the server's time zone tables with the
// flavour's own tzinfo-to-sql program, so that SET time_zone = name works.
func (m *MariaDB) LoadTimeZone(ctx context.Context, name string) error {
	if m.tzinfo == "" {
		return fmt.Errorf("load time zone %s: no mariadb-tzinfo-to-sql or mysql_tzinfo_to_sql for this %s server", name, m.Flavor)
	}
	sql, err := exec.CommandContext(ctx, m.tzinfo, filepath.Join("/usr/share/zoneinfo", name), name).Output()
	if err != nil {
		return fmt.Errorf("load time zone %s: %s: %w", name, m.tzinfo, err)
	}
	return m.Exec(ctx, "mysql", string(sql))
}

// Seq returns a table expression with one integer column, seq, holding
// from..to (from <= to): MariaDB's Sequence engine table seq_FROM_to_TO,
// or on MySQL, which has none, a derived table of digit lists cross
// joined.
func (m *MariaDB) Seq(from, to int64) string {
	if m.Flavor != FlavorMySQL {
		return fmt.Sprintf("seq_%d_to_%d", from, to)
	}
	const digits = "(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 " +
		"UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)"
	var sum, tables []string
	for span, scale := to-from, int64(1); len(tables) == 0 || span > 0; span, scale = span/10, scale*10 {
		alias := fmt.Sprintf("d%d", len(tables))
		sum = append(sum, fmt.Sprintf("%d*%s.d", scale, alias))
		tables = append(tables, digits+" "+alias)
	}
	return fmt.Sprintf("(SELECT seq FROM (SELECT %d + %s AS seq FROM %s) n WHERE seq <= %d) seq_rows",
		from, strings.Join(sum, " + "), strings.Join(tables, ", "), to)
}

// mariadbDelimiter ends each statement Exec sends to the client.
const mariadbDelimiter = "$$floe$$"

// Query runs one statement as root in database db and returns its rows,
// each a slice of column texts (NULL prints as "NULL"; tabs, newlines and
// backslashes inside values are not escaped, so keep to simple values).
func (m *MariaDB) Query(ctx context.Context, db, sql string) ([][]string, error) {
	out, err := m.client(ctx, db, sql+"\n"+mariadbDelimiter+"\n", "--delimiter="+mariadbDelimiter)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", truncate(sql, 80), err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	var rows [][]string
	for _, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		rows = append(rows, strings.Split(line, "\t"))
	}
	return rows, nil
}

// CreateDatabase creates database db and user (from 127.0.0.1 and
// localhost) with the given password, granted ALL on db and, globally,
// SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE and REPLICATION
// CLIENT: what a CDC reader needs.
func (m *MariaDB) CreateDatabase(ctx context.Context, db, user, password string) error {
	qdb := "`" + strings.ReplaceAll(db, "`", "``") + "`"
	pw := "'" + strings.NewReplacer(`\`, `\\`, "'", "''").Replace(password) + "'"
	stmts := []string{"CREATE DATABASE " + qdb + " CHARACTER SET utf8mb4"}
	for _, host := range []string{"127.0.0.1", "localhost"} {
		acct := "'" + strings.ReplaceAll(user, "'", "''") + "'@'" + host + "'"
		stmts = append(stmts,
			"CREATE USER "+acct+" IDENTIFIED BY "+pw,
			"GRANT ALL PRIVILEGES ON "+qdb+".* TO "+acct,
			"GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO "+acct)
	}
	return m.Exec(ctx, "", stmts...)
}

// Stop shuts the server down (SIGTERM, then SIGKILL of its process group
// after 10 s), waits for it to exit and removes Dir. Safe to call more
// than once.
func (m *MariaDB) Stop() error {
	if m == nil {
		return nil
	}
	return m.stop(syscall.SIGTERM, m.Dir)
}

// PID is the server's process id (0 once stopped).
func (m *MariaDB) PID() int {
	if m == nil || m.cmd == nil || m.cmd.Process == nil {
		return 0
	}
	return m.cmd.Process.Pid
}

// mariadbCredential returns, when running as root, the credential of the
// OS user "mysql" (installed with mariadb-server) and its name; otherwise
// nil and the current user's name (the server runs as the caller).
func mariadbCredential() (*syscall.Credential, string, error) {
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			return nil, "", fmt.Errorf("current user: %w", err)
		}
		return nil, u.Username, nil
	}
	u, err := user.Lookup("mysql")
	if err != nil {
		// Without the mysql account the server may still run as root.
		return nil, "root", nil //nolint:nilerr // documented fallback
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, "mysql", nil
}
