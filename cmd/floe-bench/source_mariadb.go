package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	driver "github.com/go-sql-driver/mysql"

	"github.com/floe-cdc/floe/capture/mysql"
	"github.com/floe-cdc/floe/deploy/testdb"
)

const (
	myDatabase = "bench"
	myUser     = "floe_bench"
	myPassword = "bench-pw"
	// myRawServerID is the replica id of the raw binlog reader: below the
	// range floe derives its default server-id from (1000 and up).
	myRawServerID = 999
)

// myServerConf tunes the throwaway server for throughput (loader and
// workload): a buffer pool that holds the data set, a redo log large
// enough not to force flushes, no fsync per commit or per binlog write.
var myServerConf = []string{
	"innodb_buffer_pool_size=2G",
	"innodb_log_file_size=1G",
	"innodb_log_buffer_size=64M",
	"innodb_flush_log_at_trx_commit=2",
	"sync_binlog=0",
	"max_binlog_size=1G",
	"max_allowed_packet=256M",
	"innodb_io_capacity=2000",
}

// myTable is one generated table: its DDL, the SELECT list that makes row
// seq (over the sequence engine's seq_A_to_B tables), the SET list of its
// workload updates and its share of the rows. Same shapes as pgTables.
var myTables = []benchTable{
	{
		name: "customers", share: 0.1,
		ddl: `id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL, email VARCHAR(128), country CHAR(2), balance DECIMAL(12,2),
  active BOOLEAN, created_at TIMESTAMP(6) NULL, birthday DATE, note TEXT`,
		gen: `seq, CONCAT('customer ', seq), CONCAT('user', seq, '@example.com'), ELT(1 + seq % 5, 'DE','FR','US','JP','BR'),
  (seq % 100000) / 100, seq % 3 <> 0, TIMESTAMP'2020-01-01 00:00:00' + INTERVAL seq * 17 SECOND,
  DATE'1950-01-01' + INTERVAL (seq % 20000) DAY, CONCAT('note ', MD5(seq))`,
		set: `balance = balance + 1, active = NOT active`,
	},
	{
		name: "orders", share: 0.4,
		ddl: `id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, status VARCHAR(16), amount DECIMAL(12,2), qty INT,
  placed_at TIMESTAMP(6) NULL, shipped_at DATETIME(6), ref BINARY(16), comment TEXT`,
		gen: `seq, 1 + seq % 500000, ELT(1 + seq % 4, 'new','paid','shipped','done'), (seq % 99991) / 10, 1 + seq % 7,
  TIMESTAMP'2021-01-01 00:00:00' + INTERVAL seq * 11 SECOND, TIMESTAMP'2021-01-02 00:00:00' + INTERVAL seq * 13 SECOND,
  UNHEX(MD5(seq)), CONCAT('order ', MD5(seq * 7))`,
		set: `status = 'done', amount = amount + 1`,
	},
	{
		name: "events", share: 0.3,
		ddl: `id BIGINT PRIMARY KEY, kind ENUM('view','click','buy'), payload JSON, score DOUBLE, at TIMESTAMP(6) NULL,
  tags VARCHAR(32), session BINARY(16)`,
		gen: `seq, ELT(1 + seq % 3, 'view','click','buy'), JSON_OBJECT('n', seq, 'page', CONCAT('/p/', seq % 1000)),
  seq * 0.37, TIMESTAMP'2022-01-01 00:00:00' + INTERVAL seq * 3 SECOND, CONCAT('t', seq % 10, ',x', seq % 7),
  UNHEX(MD5(CONCAT('s', seq)))`,
		set: `score = score + 1`,
	},
	{
		name: "items", share: 0.2,
		ddl: `id BIGINT PRIMARY KEY, sku VARCHAR(20), price DECIMAL(10,2), weight FLOAT, day DATE, flags SMALLINT,
  data VARBINARY(16), descr TEXT`,
		gen: `seq, CONCAT('SKU-', LPAD(seq, 10, '0')), (seq % 100000) / 100, (seq % 1000) * 0.25,
  DATE'2022-01-01' + INTERVAL (seq % 1000) DAY, seq % 5, UNHEX(MD5(seq)), CONCAT('item ', MD5(seq * 3))`,
		set: `price = price + 0.01`,
	},
}

// mariaSource is the MariaDB benchSource. Positions are the GTID sequence
// numbers of the server's single replication domain (0-1-N).
type mariaSource struct {
	m      *testdb.MariaDB
	log    *slog.Logger
	rng    *rand.Rand
	ranges map[string]*idRange
	db     *sql.DB // root, multi statements: loader and workload

	mu       sync.Mutex
	cursors  map[string]string    // raw cursor -> GTID list it starts after
	commitAt map[uint64]time.Time // paced workload: GTID sequence -> when COMMIT returned
}

var _ benchSource = (*mariaSource)(nil)

// startMariaDB starts a tuned throwaway server with the bench database.
// testdb.StartMariaDB installs the server when it needs Debian's (and
// fetches another server named by $FLOE_TEST_MYSQL).
func startMariaDB(ctx context.Context, log *slog.Logger) (*mariaSource, error) {
	m, err := testdb.StartMariaDB(ctx, testdb.MariaDBOptions{ExtraConf: myServerConf})
	if err != nil {
		return nil, fmt.Errorf("start mariadb: %w", err)
	}
	log.Info("mariadb started", "port", m.Port, "pid", m.PID(), "dir", m.Dir)
	fail := func(err error) (*mariaSource, error) {
		_ = m.Stop()
		return nil, err
	}
	if err := m.CreateDatabase(ctx, myDatabase, myUser, myPassword); err != nil {
		return fail(fmt.Errorf("create bench database: %w", err))
	}
	db, err := openMy(m, "root", "", map[string]string{"time_zone": "'+00:00'"}, true)
	if err != nil {
		return fail(err)
	}
	return &mariaSource{m: m, log: log, rng: rand.New(rand.NewPCG(4, 2)), ranges: map[string]*idRange{}, db: db,
		cursors: map[string]string{}, commitAt: map[uint64]time.Time{}}, nil
}

// openMy opens a go-sql-driver pool on the bench database as user, with
// the session variables params.
func openMy(m *testdb.MariaDB, user, password string, params map[string]string, multi bool) (*sql.DB, error) {
	c := driver.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr, c.DBName = user, password, "tcp", m.Addr(), myDatabase
	c.Params = params
	c.MultiStatements = multi
	c.InterpolateParams = true
	if err := c.Apply(driver.Charset("utf8mb4", "")); err != nil {
		return nil, fmt.Errorf("connection settings: %w", err)
	}
	conn, err := driver.NewConnector(c)
	if err != nil {
		return nil, fmt.Errorf("connection settings: %w", err)
	}
	return sql.OpenDB(conn), nil
}

func (s *mariaSource) Kind() string { return srcMariaDB }

func (s *mariaSource) Stop() error {
	if s.db != nil {
		s.db.Close()
	}
	return s.m.Stop()
}

func (s *mariaSource) Version(ctx context.Context) (string, error) {
	var v string
	if err := s.db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v); err != nil {
		return "", fmt.Errorf("read server version: %w", err)
	}
	return v, nil
}

// Load creates the tables (logged, so the binlog has a GTID before the
// workloads) and fills them server-side from the sequence engine, two
// statements of at most 500k rows at once, without binlogging the rows
// (sql_log_bin=0: the snapshot does not read the binlog). Then it
// analyzes the tables and takes the average row size from InnoDB's
// statistics (data length per row, pages included).
func (s *mariaSource) Load(ctx context.Context, rows int64) (loadInfo, error) {
	start := time.Now()
	names := make([]string, len(myTables))
	for i, t := range myTables {
		names[i] = t.name
		if _, err := s.db.ExecContext(ctx, fmt.Sprintf("CREATE TABLE %s (%s) ENGINE=InnoDB", t.name, t.ddl)); err != nil {
			return loadInfo{}, fmt.Errorf("create table %s: %w", t.name, err)
		}
	}
	stmts, total := loadPlan(myTables, rows, s.ranges, mariaSeries)
	loader, err := openMy(s.m, "root", "", map[string]string{"time_zone": "'+00:00'", "sql_log_bin": "0"}, false)
	if err != nil {
		return loadInfo{}, err
	}
	defer loader.Close()
	err = runLoad(ctx, stmts, func(context.Context) (func(context.Context, string) error, func(), error) {
		exec := func(ctx context.Context, sql string) error { _, err := loader.ExecContext(ctx, sql); return err }
		return exec, func() {}, nil
	})
	if err != nil {
		return loadInfo{}, err
	}
	var bytes float64
	for _, t := range myTables {
		if _, err := s.db.ExecContext(ctx, "ANALYZE TABLE "+t.name); err != nil {
			return loadInfo{}, fmt.Errorf("analyze %s: %w", t.name, err)
		}
		var avg float64
		err := s.db.QueryRowContext(ctx, "SELECT AVG_ROW_LENGTH FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
			myDatabase, t.name).Scan(&avg)
		if err != nil {
			return loadInfo{}, fmt.Errorf("measure %s: %w", t.name, err)
		}
		r := s.ranges[t.name]
		bytes += avg * float64(r.hi-r.lo)
	}
	return loadInfo{Tables: names, Rows: total, AvgRowBytes: bytes / float64(total), Elapsed: time.Since(start)}, nil
}

func (s *mariaSource) FloeSourceYAML(pipeline, snapshotMode string, names []string, parallelism, chunkRows int) string {
	own := fmt.Sprintf("  tables: %s\\.(%s)\n  server-time-zone: UTC\n", myDatabase, strings.Join(names, "|"))
	return sourceYAML("mysql", s.m.Port, myUser, own, snapshotMode, parallelism, chunkRows)
}

func (s *mariaSource) FloeEnv() []string { return []string{pgPasswordEnv + "=" + myPassword} }

// RawSnapshot reads every table in key-range chunks of chunkRows rows
// (the shape of floe's chunk query), parallelism at once, as the floe
// user over the text protocol, scanning each row's column bytes and
// dropping them.
func (s *mariaSource) RawSnapshot(ctx context.Context, parallelism, chunkRows int) (int64, error) {
	chunks := rawChunks(myTables, s.ranges, chunkRows)
	db, err := openMy(s.m, myUser, myPassword, map[string]string{"time_zone": "'+00:00'"}, false)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(parallelism)
	return runWorkers(ctx, chunks, parallelism, func(ctx context.Context) (func(context.Context, rawChunk) (int64, error), func(), error) {
		c, err := db.Conn(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("connect: %w", err)
		}
		drain := func(ctx context.Context, ch rawChunk) (int64, error) {
			n, err := drainQuery(ctx, c, fmt.Sprintf("SELECT * FROM %s WHERE id > %d AND id <= %d ORDER BY id", ch.table, ch.lo, ch.hi))
			if err != nil {
				return 0, fmt.Errorf("read chunk of %s: %w", ch.table, err)
			}
			return n, nil
		}
		return drain, func() { c.Close() }, nil
	})
}

// drainQuery runs q and scans every row into reused raw byte slices.
func drainQuery(ctx context.Context, c *sql.Conn, q string) (int64, error) {
	rows, err := c.QueryContext(ctx, q)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var n int64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

// OpenRawCursor records the server's current GTID position: the raw
// decoder starts after it.
func (s *mariaSource) OpenRawCursor(ctx context.Context, name string) error {
	var gtid string
	if err := s.db.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_binlog_pos").Scan(&gtid); err != nil {
		return fmt.Errorf("read gtid_binlog_pos for %s: %w", name, err)
	}
	s.mu.Lock()
	s.cursors[name] = gtid
	s.mu.Unlock()
	return nil
}

// CloseRawCursor forgets the cursor and the commit times recorded so far
// (the server keeps no replica state).
func (s *mariaSource) CloseRawCursor(ctx context.Context, name string) error {
	s.mu.Lock()
	delete(s.cursors, name)
	clear(s.commitAt)
	s.mu.Unlock()
	return nil
}

// DecodeFloePosition maps floe's "mysql.v1:mariadb:0-1-N" to N.
func (s *mariaSource) DecodeFloePosition(str string) (pos, error) {
	p, err := mysql.DecodePosition(str)
	if err != nil {
		return 0, err
	}
	if p.Kind != mysql.KindMariaDB {
		return 0, fmt.Errorf("position %q is not a MariaDB GTID position", str)
	}
	return mariaSeq(p.Maria)
}

// mariaSeq is the sequence number of domain 0, the only one the bench
// server uses (0 when empty).
func mariaSeq(gs []mysql.MariaGTID) (pos, error) {
	var seq uint64
	for _, g := range gs {
		if g.Domain != 0 {
			return 0, fmt.Errorf("GTID %s is outside domain 0", g)
		}
		seq = g.Seq
	}
	return pos(seq), nil
}

// DropPipeline has nothing to do: a MySQL-family server keeps no state
// for floe (no slot, no publication).
func (s *mariaSource) DropPipeline(ctx context.Context, pipeline string) error { return nil }
