package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/internal/toolkit"
	"github.com/floe-cdc/floe/schema/problem"
)

// Config configures a PostgreSQL source. Start from Defaults(); New
// fills the zero fields from it and refuses a Config Validate faults.
type Config struct {
	Host     string // source.hostname; default capture.DefaultHost
	Port     int    // source.port; default 5432
	User     string // source.username; required
	Password string
	Database string // source.database; required
	// Tables are regular expressions on "schema.table" (source.tables,
	// required); a table is captured when its name fully matches one of
	// them (they are anchored here).
	Tables []*regexp.Regexp
	// SlotName is the logical replication slot (source.slot.name): 1 to
	// 63 of a-z, 0-9 and _; default IdentFor("") = "floe" (floe run uses
	// IdentFor(pipeline)).
	SlotName string
	// PublicationName is the publication holding the captured tables
	// (source.publication.name): 1 to 63 bytes; default as SlotName.
	PublicationName string
	// KeyOverrides name the key columns of tables without a primary key
	// (see capture.KeyOverride for what discovery requires of them).
	KeyOverrides map[capture.TableID]capture.KeyOverride
	// RequireKey makes a table without a primary key and without an
	// override an error (upsert mode).
	RequireKey bool
	// StatusInterval is how often a standby status update is sent (default 10s).
	StatusInterval time.Duration
	// HeartbeatInterval is how long the stream may stay idle before a
	// heartbeat message is written (source.heartbeat-interval; default
	// capture.DefaultHeartbeatInterval).
	HeartbeatInterval time.Duration
	// StallTimeout is how long the stream may deliver nothing while Floe
	// waits for it (not even its own heartbeat) before the server is asked
	// whether the walsender still makes progress; if it does not, Stream
	// fails with a capture.StallError (source.stall-timeout; default
	// capture.DefaultStallTimeout(HeartbeatInterval), at least 2 x
	// HeartbeatInterval; see stall.go).
	StallTimeout time.Duration
	// Liveness, when set, receives what the stream knows about itself
	// (see capture.Liveness).
	Liveness *capture.Liveness
	// MaxBatchChanges splits larger transactions into parts (default
	// capture.DefaultMaxBatchChanges).
	MaxBatchChanges int
	// MaxBatchBytes splits transactions into parts of about this size
	// (capture.Change.Size; default capture.DefaultMaxBatchBytes). A
	// change larger than it makes a part of its own.
	MaxBatchBytes int
	Logger        *slog.Logger // nil discards
}

// Defaults returns the defaults of every setting that has one. The
// stall timeout is the one that goes with the default heartbeat; New
// derives it from the Config's own heartbeat when it is zero.
func Defaults() Config {
	return Config{
		Host:              capture.DefaultHost,
		Port:              5432,
		SlotName:          IdentFor(""),
		PublicationName:   IdentFor(""),
		StatusInterval:    10 * time.Second,
		HeartbeatInterval: capture.DefaultHeartbeatInterval,
		StallTimeout:      capture.DefaultStallTimeout(capture.DefaultHeartbeatInterval),
		MaxBatchChanges:   capture.DefaultMaxBatchChanges,
		MaxBatchBytes:     capture.DefaultMaxBatchBytes,
	}
}

// withDefaults fills the zero fields of c from Defaults().
func (c Config) withDefaults() Config {
	d := Defaults()
	c.Host = cmp.Or(c.Host, d.Host)
	c.Port = cmp.Or(c.Port, d.Port)
	c.SlotName = cmp.Or(c.SlotName, d.SlotName)
	c.PublicationName = cmp.Or(c.PublicationName, d.PublicationName)
	c.StatusInterval = cmp.Or(c.StatusInterval, d.StatusInterval)
	c.HeartbeatInterval = cmp.Or(c.HeartbeatInterval, d.HeartbeatInterval)
	c.StallTimeout = cmp.Or(c.StallTimeout, capture.DefaultStallTimeout(c.HeartbeatInterval))
	c.MaxBatchChanges = cmp.Or(c.MaxBatchChanges, d.MaxBatchChanges)
	c.MaxBatchBytes = cmp.Or(c.MaxBatchBytes, d.MaxBatchBytes)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate returns every problem of c, each naming its field in the
// configuration file (source.*) and the fix; settings no file sets are
// named by their Go field name. It does not connect.
func (c Config) Validate() []Problem {
	var v problem.Checks
	capture.CheckEndpoint(&v, c.Host, c.Port, c.User)
	v.Required("source.database", c.Database, "set the database to capture")
	capture.CheckTables(&v, c.Tables, `public.orders, public\.line_.*`)
	if !slotNameRE.MatchString(c.SlotName) {
		v.Add("source.slot.name", "use 1 to 63 characters of a-z, 0-9 and _", "bad replication slot name %q", c.SlotName)
	}
	if c.PublicationName == "" || len(c.PublicationName) > 63 {
		v.Add("source.publication.name", "use 1 to 63 bytes", "bad publication name %q", c.PublicationName)
	}
	capture.CheckStream(&v, c.HeartbeatInterval, c.StallTimeout)
	v.Positive("StatusInterval", c.StatusInterval)
	v.Between("MaxBatchChanges", c.MaxBatchChanges, 1, 1<<30)
	v.Between("MaxBatchBytes", c.MaxBatchBytes, 1, 1<<40)
	return v.List
}

// IdentFor is the default slot and publication name of a pipeline:
// "floe_<pipeline>" lowercased, every rune outside [a-z0-9_] replaced by
// '_', cut to PostgreSQL's 63-byte identifier limit; "floe" without a
// pipeline name.
func IdentFor(pipeline string) string {
	if pipeline == "" {
		return "floe"
	}
	s := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			return r
		}
		return '_'
	}, "floe_"+strings.ToLower(pipeline))
	return s[:min(len(s), 63)]
}

// sessionParams are set on every connection so that every value's text
// form is the one the schema decoders expect, for snapshot and stream alike.
var sessionParams = map[string]string{
	"DateStyle":          "ISO",
	"IntervalStyle":      "iso_8601",
	"TimeZone":           "UTC",
	"extra_float_digits": "3",
	"bytea_output":       "hex",
	"lc_monetary":        "C",
	"application_name":   "floe",
}

// setSession sets sessionParams on a connection's settings.
func setSession(cc *pgconn.Config) {
	for k, v := range sessionParams {
		cc.RuntimeParams[k] = v
	}
}

var slotNameRE = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)

// Source is the PostgreSQL capture.Source and capture.Snapshotter.
// Lifecycle: Discover -> Start -> PlanChunks/ReadChunk/EndSnapshot -> Stream -> Close.
type Source struct {
	cfg      Config
	log      *slog.Logger
	patterns toolkit.TablePatterns // Config.Tables

	mu       sync.Mutex
	tables   toolkit.Tables[*table] // discovered, in name order
	life     toolkit.Lifecycle
	from     Position
	exact    bool
	snapAt   Position // the position snapshot chunks are read at: from, or an exported snapshot's
	snapName string
	snapTime time.Time
	snapConn *pgconn.PgConn // replication connection holding the exported snapshot
	readers  *readerPool
	reads    *capture.ReadBound // bounds every read of the query connections (capture/readbound.go)

	acked atomic.Uint64 // highest acknowledged LSN
}

var (
	_ capture.Source           = (*Source)(nil)
	_ capture.Snapshotter      = (*Source)(nil)
	_ capture.RowReader        = (*Source)(nil)
	_ capture.TableScanner     = (*Source)(nil)
	_ capture.Checker          = (*Source)(nil)
	_ capture.ExclusiveChecker = (*Source)(nil)
	_ capture.StreamHolder     = (*Source)(nil)
)

// New applies the defaults to cfg's zero fields, validates it and
// returns a Source; an invalid cfg is a capture.Problems error. It does
// not connect.
func New(cfg Config) (*Source, error) {
	cfg = cfg.withDefaults()
	if problems := cfg.Validate(); len(problems) > 0 {
		return nil, capture.Problems(problems)
	}
	return &Source{cfg: cfg, log: cfg.Logger, patterns: toolkit.NewTablePatterns(cfg.Tables), reads: capture.NewReadBound(cfg.StallTimeout)}, nil
}

// Problem is capture.Problem: one thing wrong with the source or its
// configuration, with the field and the fix.
type Problem = capture.Problem

// problemList is an error made of several problems.
type problemList = capture.Problems

// dsn renders the connection settings as a keyword/value string.
func (s *Source) dsn() string {
	q := func(v string) string {
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
	}
	return fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=%s connect_timeout=10",
		q(s.cfg.Host), s.cfg.Port, q(s.cfg.User), q(s.cfg.Password), q(s.cfg.Database))
}

// connect opens a regular connection with the session parameters set.
func (s *Source) connect(ctx context.Context) (*pgx.Conn, error) {
	cc, err := pgx.ParseConfig(s.dsn())
	if err != nil {
		return nil, fmt.Errorf("parse connection settings: %w", err)
	}
	setSession(&cc.Config)
	cc.DialFunc = pgconn.DialFunc(capture.BoundedDial(capture.DialFunc(cc.DialFunc), s.addr(), s.reads, s.log))
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, s.connectError(err)
	}
	return conn, nil
}

// connectReplication opens a logical replication connection
// (replication=database) with the session parameters set.
func (s *Source) connectReplication(ctx context.Context) (*pgconn.PgConn, error) {
	cc, err := pgconn.ParseConfig(s.dsn())
	if err != nil {
		return nil, fmt.Errorf("parse connection settings: %w", err)
	}
	setSession(cc)
	cc.RuntimeParams["replication"] = "database"
	conn, err := pgconn.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, s.connectError(err)
	}
	return conn, nil
}

// connectError turns a failed connection attempt into a one-line Problem
// naming the setting to change, or returns it wrapped when it is not one
// the user can fix by configuration.
func (s *Source) connectError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("connect to %s: %w", s.addr(), err)
	}
	if p, ok := s.classifyConnectError(err); ok {
		return p
	}
	return fmt.Errorf("connect to %s: %w", s.addr(), oneLine(err))
}

func (s *Source) classifyConnectError(err error) (Problem, bool) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		p, ok := s.classifyPgConnectError(pgErr)
		p.Err = err
		return p, ok
	}
	return s.classifyNetConnectError(err)
}

// classifyPgConnectError maps the server's refusal of a connection to
// the setting that causes it.
func (s *Source) classifyPgConnectError(pgErr *pgconn.PgError) (Problem, bool) {
	switch pgErr.Code {
	case "28P01":
		return Problem{Field: "source.password",
			Message: fmt.Sprintf("password authentication failed for user %q at %s", s.cfg.User, s.addr()),
			Fix:     "check source.username and source.password"}, true
	case "28000":
		return Problem{Field: "source.username",
			Message: fmt.Sprintf("server rejected user %q at %s: %s", s.cfg.User, s.addr(), pgErr.Message),
			Fix:     "allow the user in pg_hba.conf (for database and for replication connections) or correct source.username"}, true
	case "3D000":
		return Problem{Field: "source.database",
			Message: fmt.Sprintf("database %q does not exist at %s", s.cfg.Database, s.addr()),
			Fix:     "correct source.database or create the database"}, true
	case "42501":
		return Problem{Field: "source.username",
			Message: fmt.Sprintf("user %q may not open a replication connection: %s", s.cfg.User, pgErr.Message),
			Fix:     fmt.Sprintf("run ALTER ROLE %s REPLICATION", pgx.Identifier{s.cfg.User}.Sanitize())}, true
	case "53300":
		return Problem{Field: "source",
			Message: fmt.Sprintf("no free connection slot at %s: %s", s.addr(), pgErr.Message),
			Fix:     "raise max_connections / max_wal_senders or close idle connections"}, true
	}
	return Problem{}, false
}

// classifyNetConnectError reports a server that cannot be reached.
func (s *Source) classifyNetConnectError(err error) (Problem, bool) {
	var (
		dnsErr *net.DNSError
		opErr  *net.OpError
		reason error
	)
	switch {
	case errors.As(err, &dnsErr):
		reason = dnsErr
	case errors.As(err, &opErr):
		reason = opErr
	default:
		return Problem{}, false
	}
	return Problem{Field: "source.hostname",
		Message: fmt.Sprintf("cannot reach PostgreSQL at %s: %v", s.addr(), reason),
		Fix:     "check source.hostname and source.port and that the server accepts TCP connections", Err: err}, true
}

func (s *Source) addr() string {
	return net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port))
}

// oneLine returns err with its message folded onto one line.
func oneLine(err error) error {
	if err == nil {
		return nil
	}
	if !strings.Contains(err.Error(), "\n") {
		return err
	}
	return &foldedError{err: err}
}

type foldedError struct{ err error }

func (e *foldedError) Error() string {
	return strings.Join(strings.Fields(strings.ReplaceAll(e.err.Error(), "\n", " ")), " ")
}
func (e *foldedError) Unwrap() error { return e.err }
