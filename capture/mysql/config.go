package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	driver "github.com/go-sql-driver/mysql"

	"github.com/floe-cdc/floe/capture"
)

// Config configures a MySQL / MariaDB source.
type Config struct {
	Host     string // default "localhost"
	Port     int    // default 3306
	User     string
	Password string
	// Tables are regular expressions on "database.table"; a table is
	// captured when its name fully matches one of them (they are anchored here).
	Tables []*regexp.Regexp
	// ServerID is the replica server id the binlog connection registers
	// with; it must differ from the server's and from every other replica's.
	// Required (cmd/floe derives a default from the pipeline name).
	ServerID uint32
	// ServerTimeZone is the zone whose wall clocks the DATETIME columns
	// hold. time.UTC (the default, also for nil) keeps DATETIME a wall
	// clock without a zone (Iceberg timestamp, never shifted); any other
	// location, Etc/UTC included, maps DATETIME to Iceberg timestamptz,
	// each value the UTC instant of its wall clock in that zone (DST gaps
	// and overlaps: see schema.ZonedInstant). TIMESTAMP is an instant
	// either way: sessions read it in UTC (time_zone '+00:00'), the binlog
	// carries it as epoch seconds.
	ServerTimeZone *time.Location
	// ZeroDate is the treatment of zero dates ('0000-00-00'), passed to the
	// schema decoders (see schema.MySQLOptions).
	ZeroDate string
	// KeyOverrides name the key columns of tables without a primary key.
	KeyOverrides map[capture.TableID][]string
	// RequireKey makes a table without a primary key and without an
	// override an error (upsert mode).
	RequireKey bool
	// MaxBatchChanges splits larger transactions into parts (default 10000).
	MaxBatchChanges int
	// MaxBatchBytes splits transactions into parts of about this size
	// (capture.Change.Size; default capture.DefaultMaxBatchBytes). A
	// change larger than it makes a part of its own.
	MaxBatchBytes int
	// HeartbeatInterval is the binlog heartbeat period the server is asked
	// for; an idle stream emits an empty Batch at most this often (default 10s).
	HeartbeatInterval time.Duration
	Logger            *slog.Logger
}

// Flavors, as detected from SELECT VERSION().
const (
	FlavorMySQL   = "mysql"
	FlavorMariaDB = "mariadb"
)

// Source is the MySQL/MariaDB capture.Source, capture.Snapshotter and
// capture.RowReader. Lifecycle: Discover -> Start ->
// PlanChunks/ReadChunk/EndSnapshot -> Stream -> Close.
type Source struct {
	cfg      Config
	log      *slog.Logger
	patterns capture.TablePatterns // Config.Tables

	dbOnce sync.Once
	db     *sql.DB
	dbErr  error

	mu       sync.Mutex
	flavor   string
	gtidMode bool // MySQL gtid_mode=ON (MariaDB always uses GTIDs)
	tables   capture.Tables[*table]
	life     capture.Lifecycle
	from     Position
	ended    bool
	// marks are the chunk watermarks the stream reconciles (SetWatermarks).
	marks map[capture.TableID]*chunkMarks
	// collations are the server's collations by id, read once (see
	// tablemap.go).
	collations map[uint64]collationInfo

	ackMu sync.Mutex
	acked *Position
}

var (
	_ capture.Source         = (*Source)(nil)
	_ capture.Snapshotter    = (*Source)(nil)
	_ capture.RowReader      = (*Source)(nil)
	_ capture.Watermarker    = (*Source)(nil)
	_ capture.SchemaFollower = (*Source)(nil)
)

// New validates cfg, applies defaults and returns a Source. It does not connect.
func New(cfg Config) (*Source, error) {
	if cfg.Host == "" {
		cfg.Host = "localhost"
	}
	if cfg.Port == 0 {
		cfg.Port = 3306
	}
	if cfg.ServerTimeZone == nil {
		cfg.ServerTimeZone = time.UTC
	}
	cfg.MaxBatchChanges, cfg.HeartbeatInterval, cfg.Logger = capture.StreamDefaults(cfg.MaxBatchChanges, cfg.HeartbeatInterval, cfg.Logger)
	cfg.MaxBatchBytes = capture.BatchBytesDefault(cfg.MaxBatchBytes)
	problems := problemList(capture.RequireUser(cfg.User))
	problems = append(problems, capture.RequireTables(cfg.Tables, "database.table")...)
	if cfg.ServerID == 0 {
		problems = append(problems, Problem{Field: "source.server-id", Message: "no replica server id given", Fix: "set source.server-id to a number no other replica of this server uses"})
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return &Source{cfg: cfg, log: cfg.Logger, patterns: capture.NewTablePatterns(cfg.Tables)}, nil
}

// Problem is capture.Problem: one thing wrong with the source or its
// configuration, with the field and the fix.
type Problem = capture.Problem

// problemList is an error made of several problems.
type problemList = capture.Problems

func (s *Source) addr() string {
	return net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port))
}

// quietLogger drops the driver's own log lines; errors reach us as values.
type quietLogger struct{}

func (quietLogger) Print(...any) {}

// pool returns the query connection pool. Every connection runs with
// time_zone '+00:00' (TIMESTAMP text is UTC), utf8mb4, and the text
// protocol (interpolated parameters), so snapshot values arrive as the
// text the schema text decoders read.
func (s *Source) pool() (*sql.DB, error) {
	s.dbOnce.Do(func() {
		c := driver.NewConfig()
		c.User, c.Passwd, c.Net, c.Addr = s.cfg.User, s.cfg.Password, "tcp", s.addr()
		c.Params = map[string]string{"time_zone": "'+00:00'"}
		c.InterpolateParams = true
		c.Timeout = 10 * time.Second
		c.Logger = quietLogger{}
		if err := c.Apply(driver.Charset("utf8mb4", "")); err != nil {
			s.dbErr = fmt.Errorf("connection settings: %w", err)
			return
		}
		conn, err := driver.NewConnector(c)
		if err != nil {
			s.dbErr = fmt.Errorf("connection settings: %w", err)
			return
		}
		s.db = sql.OpenDB(conn)
		s.db.SetMaxOpenConns(capture.ChunkReaders + 2)
		s.db.SetMaxIdleConns(capture.ChunkReaders + 2)
		s.db.SetConnMaxIdleTime(time.Minute)
	})
	return s.db, s.dbErr
}

// conn returns one pooled connection after checking the server is
// reachable, mapping connection failures to Problems.
func (s *Source) conn(ctx context.Context) (*sql.Conn, error) {
	db, err := s.pool()
	if err != nil {
		return nil, err
	}
	c, err := db.Conn(ctx)
	if err != nil {
		return nil, s.connectError(err)
	}
	if err := c.PingContext(ctx); err != nil {
		c.Close()
		return nil, s.connectError(err)
	}
	if err := s.detectFlavor(ctx, c); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// detectFlavor reads the server version and GTID mode once.
func (s *Source) detectFlavor(ctx context.Context, c *sql.Conn) error {
	s.mu.Lock()
	known := s.flavor != ""
	s.mu.Unlock()
	if known {
		return nil
	}
	var version string
	if err := c.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return fmt.Errorf("read server version: %w", err)
	}
	flavor, gtid := FlavorMySQL, false
	if strings.Contains(strings.ToLower(version), "mariadb") {
		flavor, gtid = FlavorMariaDB, true
	} else {
		var mode string
		if err := c.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_mode").Scan(&mode); err == nil && strings.EqualFold(mode, "ON") {
			gtid = true
		}
	}
	s.mu.Lock()
	s.flavor, s.gtidMode = flavor, gtid
	s.mu.Unlock()
	s.log.Debug("server detected", "version", version, "flavor", flavor, "gtid", gtid)
	return nil
}

// Flavor returns "mariadb" or "mysql" once the source has connected, "" before.
func (s *Source) Flavor() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flavor
}

// connectError turns a failed connection attempt into a one-line Problem
// naming the setting to change, or returns it wrapped.
func (s *Source) connectError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("connect to %s: %w", s.addr(), err)
	}
	var me *driver.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1045: // ER_ACCESS_DENIED_ERROR
			return Problem{Field: "source.password",
				Message: fmt.Sprintf("access denied for user %q at %s: %s", s.cfg.User, s.addr(), me.Message),
				Fix:     "check source.username and source.password (and that the user may connect from this host)"}
		case 1040: // ER_CON_COUNT_ERROR
			return Problem{Field: "source", Message: fmt.Sprintf("too many connections at %s", s.addr()),
				Fix: "raise max_connections or close idle connections"}
		}
		return fmt.Errorf("connect to %s: %w", s.addr(), err)
	}
	var (
		dnsErr *net.DNSError
		opErr  *net.OpError
	)
	if errors.As(err, &dnsErr) || errors.As(err, &opErr) {
		return Problem{Field: "source.hostname",
			Message: fmt.Sprintf("cannot reach MySQL at %s: %v", s.addr(), err),
			Fix:     "check source.hostname and source.port and that the server accepts TCP connections"}
	}
	return fmt.Errorf("connect to %s: %w", s.addr(), err)
}

// Close releases connections. A running Stream closes its own binlog
// connection when its context ends. Safe to call more than once.
func (s *Source) Close() error {
	if !s.life.BeginClose() {
		return nil
	}
	s.dbOnce.Do(func() {}) // waits for a pool being opened; makes s.db safe to read
	if s.db != nil {
		return s.db.Close()
	}
	return nil
}

// quoteIdent quotes a MySQL identifier with backticks.
func quoteIdent(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}
