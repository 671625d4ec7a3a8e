package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
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
//
// Of the settings every source has (capture.SourceConfig): Port defaults
// to 5432; Tables match "schema.table"; after HeartbeatInterval of an
// idle stream a heartbeat message is written; when the stream has
// delivered nothing (not even that heartbeat) for StallTimeout, the
// server is asked whether the walsender still makes progress, and if it
// does not, Stream fails with a capture.StallError (see stall.go).
type Config struct {
	capture.SourceConfig
	Database string // source.database; required
	// SlotName is the logical replication slot (source.slot.name): 1 to
	// 63 of a-z, 0-9 and _; default IdentFor("") = "floe" (floe run uses
	// IdentFor(pipeline)).
	SlotName string
	// PublicationName is the publication holding the captured tables
	// (source.publication.name): 1 to 63 bytes; default as SlotName.
	PublicationName string
	// StatusInterval is how often a standby status update is sent (default 10s).
	StatusInterval time.Duration
}

// Defaults returns the defaults of every setting that has one. The
// stall timeout is the one that goes with the default heartbeat; New
// derives it from the Config's own heartbeat when it is zero.
func Defaults() Config {
	return Config{
		SourceConfig:    capture.DefaultSourceConfig(5432),
		SlotName:        IdentFor(""),
		PublicationName: IdentFor(""),
		StatusInterval:  10 * time.Second,
	}
}

// withDefaults fills the zero fields of c from Defaults().
func (c Config) withDefaults() Config {
	d := Defaults()
	c.SourceConfig = c.SourceConfig.WithDefaults(d.SourceConfig)
	c.SlotName = cmp.Or(c.SlotName, d.SlotName)
	c.PublicationName = cmp.Or(c.PublicationName, d.PublicationName)
	c.StatusInterval = cmp.Or(c.StatusInterval, d.StatusInterval)
	return c
}

// Validate returns every problem of c, each naming its field in the
// configuration file (source.*) and the fix; settings no file sets are
// named by their Go field name. It does not connect.
func (c Config) Validate() []Problem {
	var v problem.Checks
	c.Check(&v, `public.orders, public\.line_.*`)
	v.Required("source.database", c.Database, "set the database to capture")
	if !slotNameRE.MatchString(c.SlotName) {
		v.Add("source.slot.name", "use 1 to 63 characters of a-z, 0-9 and _", "bad replication slot name %q", c.SlotName)
	}
	if c.PublicationName == "" || len(c.PublicationName) > 63 {
		v.Add("source.publication.name", "use 1 to 63 bytes", "bad publication name %q", c.PublicationName)
	}
	v.Positive("StatusInterval", c.StatusInterval)
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
	cfg  Config
	base toolkit.Base // log, table patterns, read bound, type choices

	chunkSizes toolkit.ChunkSizes // rows per snapshot chunk, by table: sizes the next chunk's batch

	mu       sync.Mutex
	tables   toolkit.Tables[*table] // discovered, in name order
	life     toolkit.Lifecycle
	from     Position
	exact    bool
	snapAt   Position // the position snapshot chunks are read at: from, or an exported snapshot's
	snapName string
	snapTime time.Time
	snapConn *pgconn.PgConn // replication connection holding the exported snapshot
	// exported is set while a snapshot ExportSnapshot took is held: Stream
	// leaves it to EndSnapshot (capture.SnapshotExporter).
	exported bool
	readers  *readerPool

	acked atomic.Uint64 // highest acknowledged LSN
	// ddlTrigger is set when Discover found Floe's DDL event trigger on a
	// server whose pgoutput streams its messages (ddltrigger.go).
	ddlTrigger atomic.Bool
	// beats are the heartbeats written and not yet delivered, with the
	// WAL positions they end at (stall.go).
	beats owedBeats
	// inspect looks at the stream's walsender for the stall check;
	// nil means inspectWalsender (a test may see the looks take time).
	inspect func(ctx context.Context, pid uint32) walsender
}

var _ toolkit.Backend = (*Source)(nil)

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
	cc.DialFunc = pgconn.DialFunc(capture.BoundedDial(capture.DialFunc(cc.DialFunc), s.addr(), s.base.Reads, s.base.Log))
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
	return capture.UnreachableProblem("PostgreSQL", s.addr(), err)
}

// connectRefusals are the server's refusals of a connection the user can
// fix by configuration, by SQLSTATE: the setting that causes each, and
// the message and fix as templates; classifyPgConnectError fills in
// {user} and {database} (quoted), {addr}, {reason} (the server's message)
// and {role} (the user as an SQL identifier).
var connectRefusals = map[string]struct{ field, message, fix string }{
	"28P01": {"source.password",
		"password authentication failed for user {user} at {addr}",
		"check source.username and source.password"},
	"28000": {"source.username",
		"server rejected user {user} at {addr}: {reason}",
		"allow the user in pg_hba.conf (for database and for replication connections) or correct source.username"},
	"3D000": {"source.database",
		"database {database} does not exist at {addr}",
		"correct source.database or create the database"},
	"42501": {"source.username",
		"user {user} may not open a replication connection: {reason}",
		"run ALTER ROLE {role} REPLICATION"},
	"53300": {"source",
		"no free connection slot at {addr}: {reason}",
		"raise max_connections / max_wal_senders or close idle connections"},
}

// classifyPgConnectError maps the server's refusal of a connection to
// the setting that causes it (connectRefusals).
func (s *Source) classifyPgConnectError(pgErr *pgconn.PgError) (Problem, bool) {
	r, ok := connectRefusals[pgErr.Code]
	if !ok {
		return Problem{}, false
	}
	fill := strings.NewReplacer(
		"{user}", strconv.Quote(s.cfg.User),
		"{database}", strconv.Quote(s.cfg.Database),
		"{addr}", s.addr(),
		"{reason}", pgErr.Message,
		"{role}", pgx.Identifier{s.cfg.User}.Sanitize()).Replace
	return Problem{Field: r.field, Message: fill(r.message), Fix: fill(r.fix)}, true
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
