package capture

import (
	"fmt"
	"log/slog"
	"regexp"
	"time"
)

// Defaults of the settings every source's Config has.
const (
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

// StreamDefaults returns the settings every source's Config has with the
// defaults in place of unset (zero or negative) values: MaxBatchChanges,
// HeartbeatInterval, and a logger that discards everything.
func StreamDefaults(maxBatchChanges int, heartbeat time.Duration, log *slog.Logger) (int, time.Duration, *slog.Logger) {
	if maxBatchChanges <= 0 {
		maxBatchChanges = DefaultMaxBatchChanges
	}
	if heartbeat <= 0 {
		heartbeat = DefaultHeartbeatInterval
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return maxBatchChanges, heartbeat, log
}

// BatchBytesDefault returns maxBatchBytes, or DefaultMaxBatchBytes when
// it is unset (zero or negative).
func BatchBytesDefault(maxBatchBytes int) int {
	if maxBatchBytes <= 0 {
		return DefaultMaxBatchBytes
	}
	return maxBatchBytes
}

// RequireUser reports a missing user name (source.username).
func RequireUser(user string) []Problem {
	if user != "" {
		return nil
	}
	return []Problem{{Field: "source.username", Message: "no user name given", Fix: "set source.username"}}
}

// RequireTables reports missing table patterns (source.tables); form is
// what the patterns are matched against ("schema.table").
func RequireTables(tables []*regexp.Regexp, form string) []Problem {
	if len(tables) > 0 {
		return nil
	}
	return []Problem{{Field: "source.tables", Message: "no tables given", Fix: fmt.Sprintf("list the tables to capture as %q patterns", form)}}
}
