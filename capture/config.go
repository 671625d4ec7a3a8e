package capture

import (
	"cmp"
	"log/slog"
	"regexp"
	"time"

	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/schema/problem"
)

// Defaults of the settings every source's Config has. Each source's
// Defaults() starts from these; cmd/floe takes its defaults from there.
const (
	// DefaultHost is the database host when none is given.
	DefaultHost = "127.0.0.1"
	// DefaultMaxBatchChanges is the number of changes above which a
	// transaction is emitted in parts.
	DefaultMaxBatchChanges = 10000
	// DefaultMaxBatchBytes is the size (Change.Size) above which a
	// transaction is emitted in parts, so that its values, however large,
	// are never all in memory at once.
	DefaultMaxBatchBytes = 8 << 20
	// DefaultHeartbeatInterval is how long a stream may stay idle before
	// it emits an empty batch.
	DefaultHeartbeatInterval = 10 * time.Second
)

// SourceConfig is the part of a source's Config that every source has;
// each source's Config embeds it. The settings of the configuration file
// are named in parentheses (source.*).
type SourceConfig struct {
	Host     string // source.hostname; default DefaultHost
	Port     int    // source.port; default the source's
	User     string // source.username; required
	Password string
	// Tables are regular expressions on the source's qualified table
	// names (source.tables, required); a table is captured when its name
	// fully matches one of them (they are anchored by the source).
	Tables []*regexp.Regexp
	// KeyOverrides name the key columns of tables without a primary key
	// (see KeyOverride for what discovery requires of them).
	KeyOverrides map[TableID]KeyOverride
	// ColumnTypes, when set, returns the user's choice of Iceberg types
	// for the columns of a table (route columns:, the sink-wide default
	// for PostgreSQL numeric without precision). Discovery applies it
	// through the dialect package (pgtype.ApplyTypes) before it builds
	// the decoders, so snapshot and stream decode alike; an override that
	// cannot apply is a Problem naming its field. nil chooses nothing.
	ColumnTypes func(TableID) schema.ColumnTypes
	// RequireKey makes a table without a primary key and without an
	// override an error (upsert mode).
	RequireKey bool
	// MaxBatchChanges splits larger transactions into parts (default
	// DefaultMaxBatchChanges).
	MaxBatchChanges int
	// MaxBatchBytes splits transactions into parts of about this size
	// (Change.Size; default DefaultMaxBatchBytes). A change larger than
	// it makes a part of its own.
	MaxBatchBytes int
	// HeartbeatInterval is how long the stream may stay idle before the
	// server is made to send something, so that an idle stream still
	// emits an empty Batch (source.heartbeat-interval; default
	// DefaultHeartbeatInterval). Each source's Config says how.
	HeartbeatInterval time.Duration
	// StallTimeout is how long the stream may bring nothing before it is
	// deemed stalled and Stream fails with a StallError
	// (source.stall-timeout; default DefaultStallTimeout(HeartbeatInterval);
	// at least 2 x HeartbeatInterval, since an idle stream brings only
	// heartbeats). Each source's Config says how it tells.
	StallTimeout time.Duration
	// Liveness, when set, receives what the stream knows about itself
	// (see Liveness).
	Liveness *Liveness
	Logger   *slog.Logger // nil discards
}

// DefaultSourceConfig returns the defaults of SourceConfig for a source
// whose servers listen on port. The stall timeout is the one that goes
// with the default heartbeat; WithDefaults derives it from the
// heartbeat it ends with.
func DefaultSourceConfig(port int) SourceConfig {
	return SourceConfig{
		Host:              DefaultHost,
		Port:              port,
		MaxBatchChanges:   DefaultMaxBatchChanges,
		MaxBatchBytes:     DefaultMaxBatchBytes,
		HeartbeatInterval: DefaultHeartbeatInterval,
		StallTimeout:      DefaultStallTimeout(DefaultHeartbeatInterval),
	}
}

// WithDefaults fills the zero fields of c from d (the source's defaults,
// see DefaultSourceConfig): a zero StallTimeout becomes
// DefaultStallTimeout of the heartbeat, a nil Logger one that discards.
func (c SourceConfig) WithDefaults(d SourceConfig) SourceConfig {
	c.Host = cmp.Or(c.Host, d.Host)
	c.Port = cmp.Or(c.Port, d.Port)
	c.MaxBatchChanges = cmp.Or(c.MaxBatchChanges, d.MaxBatchChanges)
	c.MaxBatchBytes = cmp.Or(c.MaxBatchBytes, d.MaxBatchBytes)
	c.HeartbeatInterval = cmp.Or(c.HeartbeatInterval, d.HeartbeatInterval)
	c.StallTimeout = cmp.Or(c.StallTimeout, DefaultStallTimeout(c.HeartbeatInterval))
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Check adds the problems of c to v: the endpoint (CheckEndpoint), the
// table patterns (CheckTables; example is a source.tables value in the
// source's naming), the stream timing (CheckStream) and the batch
// limits. It does not connect.
func (c SourceConfig) Check(v *problem.Checks, example string) {
	CheckEndpoint(v, c.Host, c.Port, c.User)
	CheckTables(v, c.Tables, example)
	CheckStream(v, c.HeartbeatInterval, c.StallTimeout)
	v.Between("MaxBatchChanges", c.MaxBatchChanges, 1, 1<<30)
	v.Between("MaxBatchBytes", c.MaxBatchBytes, 1, 1<<40)
}

// CheckEndpoint checks the connection settings every source has:
// source.hostname, source.port and source.username.
func CheckEndpoint(c *problem.Checks, host string, port int, user string) {
	c.Required("source.hostname", host, "set the database host")
	c.Between("source.port", port, 1, 65535)
	c.Required("source.username", user, "set the replication user, e.g. `username: floe`")
}

// CheckTables reports a source without table patterns (source.tables);
// example is a value of the setting in the source's own naming
// ("public.orders, public\\.line_.*").
func CheckTables(c *problem.Checks, tables []*regexp.Regexp, example string) {
	if len(tables) == 0 {
		c.Add("source.tables", "list the tables, e.g. `tables: "+example+"`", "required")
	}
}

// CheckStream checks source.heartbeat-interval and source.stall-timeout:
// an idle stream brings only heartbeats, so the stall timeout must cover
// at least two of them.
func CheckStream(c *problem.Checks, heartbeat, stall time.Duration) {
	c.Positive("source.heartbeat-interval", heartbeat)
	if heartbeat > 0 && stall < 2*heartbeat {
		c.Add("source.stall-timeout", "use at least 2 x source.heartbeat-interval ("+(2*heartbeat).String()+"), or leave it unset for 3 x",
			"%s is too short: an idle stream brings only a heartbeat every %s", stall, heartbeat)
	}
}
