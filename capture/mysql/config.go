package mysql

import (
	"context"
	"database/sql"
	sqldriver "database/sql/driver"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	driver "github.com/go-sql-driver/mysql"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/internal/toolkit"
	"github.com/floe-cdc/floe/schema/mysqltype"
	"github.com/floe-cdc/floe/schema/problem"
)

// Config configures a MySQL / MariaDB source. Start from Defaults(); New
// fills the zero fields from it and refuses a Config Validate faults.
//
// Of the settings every source has (capture.SourceConfig): Port defaults
// to 3306; Tables match "database.table"; HeartbeatInterval is the binlog
// heartbeat period the server is asked for, and StallTimeout bounds each
// read of the binlog stream, which an idle server fills only with those
// heartbeats.
type Config struct {
	capture.SourceConfig
	// ServerID is the replica server id the binlog connection registers
	// with (source.server-id, 1 to MaxServerID); it must differ from the
	// server's and from every other replica's. Required: floe run uses
	// DefaultServerID(pipeline).
	ServerID uint32
	// ServerTimeZone is the zone whose wall clocks the DATETIME columns
	// hold (source.server-time-zone, see ParseServerTimeZone). time.UTC
	// (the default, also for nil) keeps DATETIME a wall
	// clock without a zone (Iceberg timestamp, never shifted); any other
	// location, Etc/UTC included, maps DATETIME to Iceberg timestamptz,
	// each value the UTC instant of its wall clock in that zone (DST gaps
	// and overlaps: see schema.ZonedInstant). TIMESTAMP is an instant
	// either way: sessions read it in UTC (time_zone '+00:00'), the binlog
	// carries it as epoch seconds.
	ServerTimeZone *time.Location
	// ZeroDate is the treatment of zero dates ('0000-00-00'), passed to the
	// schema decoders (source.zero-date: error, null or epoch; "" is
	// error; see mysqltype.Options).
	ZeroDate string
}

// MaxServerID is the largest replica server id.
const MaxServerID = 1<<32 - 1

// Defaults returns the defaults of every setting that has one. ServerID
// has none (see DefaultServerID). The stall timeout is the one that goes
// with the default heartbeat; New derives it from the Config's own
// heartbeat when it is zero.
func Defaults() Config {
	return Config{SourceConfig: capture.DefaultSourceConfig(3306), ServerTimeZone: time.UTC}
}

// withDefaults fills the zero fields of c from Defaults().
func (c Config) withDefaults() Config {
	d := Defaults()
	c.SourceConfig = c.SourceConfig.WithDefaults(d.SourceConfig)
	if c.ServerTimeZone == nil {
		c.ServerTimeZone = d.ServerTimeZone
	}
	return c
}

// Validate returns every problem of c, each naming its field in the
// configuration file (source.*) and the fix; settings no file sets are
// named by their Go field name. It does not connect.
func (c Config) Validate() []Problem {
	var v problem.Checks
	c.Check(&v, `shop.orders, shop\.line_.*`)
	v.Between("source.server-id", int(c.ServerID), 1, MaxServerID)
	if c.ZeroDate != "" {
		v.OneOf("source.zero-date", c.ZeroDate, mysqltype.ZeroDateError, mysqltype.ZeroDateNull, mysqltype.ZeroDateEpoch)
	}
	return v.List
}

// ParseServerTimeZone reads source.server-time-zone. "" and "UTC" (any
// case) are time.UTC: DATETIME stays a wall clock (Iceberg timestamp). Any
// other IANA name, Etc/UTC included, makes DATETIME the instant of its
// wall clock in that zone (Iceberg timestamptz); see
// Config.ServerTimeZone. An unknown name is a Problem.
func ParseServerTimeZone(name string) (*time.Location, error) {
	if name == "" || strings.EqualFold(name, "utc") {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, problem.New("source.server-time-zone", "use an IANA zone name such as UTC or Europe/Berlin", "unknown time zone %q", name)
	}
	return loc, nil
}

// DefaultServerID derives a replica server id from a pipeline name: a
// stable FNV-1a hash folded into 1000..MaxServerID-1, away from the small
// ids servers and hand-configured replicas usually take.
func DefaultServerID(pipeline string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte("floe:" + pipeline))
	return uint32(1000 + h.Sum32()%(MaxServerID-1000))
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
	cfg  Config
	base toolkit.Base // log, table patterns, read bound, type choices

	chunkSizes toolkit.ChunkSizes // rows per snapshot chunk, by table: sizes the next chunk's batch

	dbOnce    sync.Once
	db        *sql.DB
	dbErr     error
	connector sqldriver.Connector // db's, for a connection of its own (inLongSnapshot)

	mu       sync.Mutex
	flavor   string
	gtidMode bool // MySQL gtid_mode=ON (MariaDB always uses GTIDs)
	// lockable says, per database, whether the user may lock its tables
	// (lockwindow.go; probed when first asked).
	lockable map[string]bool
	tables   toolkit.Tables[*table]
	life     toolkit.Lifecycle
	from     Position
	ended    bool
	// marks are the chunk watermarks the stream reconciles (SetWatermarks).
	marks map[capture.TableID]*chunkMarks
	// serverAt is the server's position when Start ran; snapshotted holds
	// the tables PlanChunks planned since, whose chunks are all read after
	// it (the stream drops statement-format changes they supersede).
	serverAt    Position
	snapshotted map[capture.TableID]bool
	// collations are the server's collations by id, read once (see
	// tablemap.go).
	collations map[uint64]collationInfo

	// besideWake is the latest watermark registered for a chunk read
	// beside the stream that the stream has not emitted a batch at or
	// past yet (see beside.go); nil when none.
	besideWake atomic.Pointer[Position]
	// progress is how far the stream has read, for chunks read in
	// watermark windows (window.go); onWindowStep is a test hook there.
	progress     streamProgress
	onWindowStep func(step string, n int)

	ackMu sync.Mutex
	acked *Position
}

var (
	_ toolkit.Backend        = (*Source)(nil)
	_ capture.Watermarker    = (*Source)(nil)
	_ capture.SchemaFollower = (*Source)(nil)
)

// New applies the defaults to cfg's zero fields, validates it and
// returns a Source; an invalid cfg is a capture.Problems error. It does
// not connect.
func New(cfg Config) (*Source, error) {
	cfg = cfg.withDefaults()
	return toolkit.NewSource(cfg.SourceConfig, cfg.Validate(), func(base toolkit.Base) *Source {
		return &Source{cfg: cfg, base: base}
	})
}

// Problem is capture.Problem: one thing wrong with the source or its
// configuration, with the field and the fix.
type Problem = capture.Problem

func (s *Source) addr() string {
	return net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port))
}

// driverLogger passes the driver's own log lines to the source's logger
// at debug level. Errors reach us as values, but not always their cause: a
// connection that breaks while a reply is read comes back as the bare
// driver.ErrInvalidConn ("invalid connection"), and only the driver's log
// line says what broke it (an EOF, a reset, a silent connection).
type driverLogger struct{ log *slog.Logger }

func (l driverLogger) Print(v ...any) {
	l.log.Debug("mysql driver", "said", strings.TrimSpace(fmt.Sprint(v...)))
}

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
		c.DialFunc = capture.BoundedDial(nil, s.addr(), s.base.Reads, s.base.Log)
		c.Logger = driverLogger{log: s.base.Log}
		if err := c.Apply(driver.Charset("utf8mb4", "")); err != nil {
			s.dbErr = fmt.Errorf("connection settings: %w", err)
			return
		}
		conn, err := driver.NewConnector(c)
		if err != nil {
			s.dbErr = fmt.Errorf("connection settings: %w", err)
			return
		}
		s.db, s.connector = sql.OpenDB(conn), conn
		s.db.SetMaxOpenConns(toolkit.ChunkReaders + 2)
		s.db.SetMaxIdleConns(toolkit.ChunkReaders + 2)
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
	s.base.Log.Debug("server detected", "version", version, "flavor", flavor, "gtid", gtid)
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
				Fix: "raise max_connections or close idle connections", Err: err}
		}
		return fmt.Errorf("connect to %s: %w", s.addr(), err)
	}
	if p, ok := capture.UnreachableProblem("MySQL", s.addr(), err); ok {
		return p
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
