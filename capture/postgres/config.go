package postgres

import (
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
)

// Config configures a PostgreSQL source.
type Config struct {
	Host     string // default "localhost"
	Port     int    // default 5432
	User     string
	Password string
	Database string
	// Tables are regular expressions on "schema.table"; a table is captured
	// when its name fully matches one of them (they are anchored here).
	Tables []*regexp.Regexp
	// SlotName is the logical replication slot (default "floe"); it must be
	// lower-case letters, digits and underscores, at most 63 characters.
	SlotName string
	// PublicationName is the publication holding the captured tables (default "floe").
	PublicationName string
	// KeyOverrides name the key columns of tables without a primary key.
	KeyOverrides map[capture.TableID][]string
	// RequireKey makes a table without a primary key and without an
	// override an error (upsert mode).
	RequireKey bool
	// StatusInterval is how often a standby status update is sent (default 10s).
	StatusInterval time.Duration
	// HeartbeatInterval is how long the stream may stay idle before a
	// heartbeat message is written (default 10s).
	HeartbeatInterval time.Duration
	// MaxBatchChanges splits larger transactions into parts (default 10000).
	MaxBatchChanges int
	// MaxBatchBytes splits transactions into parts of about this size
	// (capture.Change.Size; default capture.DefaultMaxBatchBytes). A
	// change larger than it makes a part of its own.
	MaxBatchBytes int
	Logger        *slog.Logger
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

var slotNameRE = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)

// Source is the PostgreSQL capture.Source and capture.Snapshotter.
// Lifecycle: Discover -> Start -> PlanChunks/ReadChunk/EndSnapshot -> Stream -> Close.
type Source struct {
	cfg      Config
	log      *slog.Logger
	patterns capture.TablePatterns // Config.Tables

	mu       sync.Mutex
	tables   capture.Tables[*table] // discovered, in name order
	life     capture.Lifecycle
	from     Position
	exact    bool
	snapAt   Position // the position snapshot chunks are read at: from, or an exported snapshot's
	snapName string
	snapTime time.Time
	snapConn *pgconn.PgConn // replication connection holding the exported snapshot
	readers  *readerPool

	acked atomic.Uint64 // highest acknowledged LSN
}

var (
	_ capture.Source      = (*Source)(nil)
	_ capture.Snapshotter = (*Source)(nil)
	_ capture.RowReader   = (*Source)(nil)
)

// New validates cfg, applies defaults and returns a Source. It does not connect.
func New(cfg Config) (*Source, error) {
	if cfg.Host == "" {
		cfg.Host = "localhost"
	}
	if cfg.Port == 0 {
		cfg.Port = 5432
	}
	if cfg.SlotName == "" {
		cfg.SlotName = "floe"
	}
	if cfg.PublicationName == "" {
		cfg.PublicationName = "floe"
	}
	if cfg.StatusInterval <= 0 {
		cfg.StatusInterval = 10 * time.Second
	}
	cfg.MaxBatchChanges, cfg.HeartbeatInterval, cfg.Logger = capture.StreamDefaults(cfg.MaxBatchChanges, cfg.HeartbeatInterval, cfg.Logger)
	cfg.MaxBatchBytes = capture.BatchBytesDefault(cfg.MaxBatchBytes)
	problems := problemList(capture.RequireUser(cfg.User))
	if cfg.Database == "" {
		problems = append(problems, Problem{Field: "source.database", Message: "no database given", Fix: "set source.database"})
	}
	problems = append(problems, capture.RequireTables(cfg.Tables, "schema.table")...)
	if !slotNameRE.MatchString(cfg.SlotName) {
		problems = append(problems, Problem{Field: "source.slot.name", Message: fmt.Sprintf("invalid replication slot name %q", cfg.SlotName), Fix: "use lower-case letters, digits and underscores, at most 63 characters"})
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
	for k, v := range sessionParams {
		cc.RuntimeParams[k] = v
	}
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
	for k, v := range sessionParams {
		cc.RuntimeParams[k] = v
	}
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
		Fix:     "check source.host and source.port and that the server accepts TCP connections"}, true
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
