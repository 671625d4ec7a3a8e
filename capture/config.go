package capture

import (
	"regexp"
	"time"

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
