package main

import (
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"time"
	_ "time/tzdata" // server-time-zone names resolve in the static binary without the system's zoneinfo

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/mysql"
)

// DefaultServerID derives a replica server id from the pipeline name: a
// stable FNV-1a hash folded into 1000..4294967294, away from the small ids
// servers and hand-configured replicas usually take.
func DefaultServerID(pipeline string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte("floe:" + pipeline))
	return 1000 + int(h.Sum32()%(1<<32-1-1000))
}

// mysqlTimeZone parses source.server-time-zone. "" and "UTC" (any case)
// are time.UTC: DATETIME stays a wall clock (Iceberg timestamp). Any other
// IANA name, Etc/UTC included, makes DATETIME the instant of its wall
// clock in that zone (Iceberg timestamptz); see mysql.Config.ServerTimeZone.
func mysqlTimeZone(name string) (*time.Location, error) {
	if name == "" || strings.EqualFold(name, "utc") {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	return loc, nil
}

var _ floeSource = (*mysql.Source)(nil)

// openMySQL builds the MySQL/MariaDB source of cfg; it does not connect yet.
func openMySQL(cfg *Config, log *slog.Logger, keys map[capture.TableID]capture.KeyOverride, live *capture.Liveness) (floeSource, error) {
	loc, err := mysqlTimeZone(cfg.Source.ServerTimeZone)
	if err != nil {
		return nil, fmt.Errorf("source.server-time-zone: %w", err)
	}
	src, err := mysql.New(mysql.Config{
		Host:           cfg.Source.Hostname,
		Port:           cfg.Source.Port,
		User:           cfg.Source.Username,
		Password:       cfg.Source.Password,
		Tables:         cfg.Source.TableRegexps,
		ServerID:       uint32(cfg.Source.ServerID),
		ServerTimeZone: loc,
		ZeroDate:       cfg.Source.ZeroDate,
		KeyOverrides:   keys,
		RequireKey:     cfg.Sink.Mode == "upsert",
		Logger:         log.With("component", "capture"),

		HeartbeatInterval: cfg.Source.HeartbeatInterval,
		StallTimeout:      cfg.Source.StallTimeout,
		Liveness:          live,
	})
	if err != nil {
		return nil, err
	}
	return src, nil
}
