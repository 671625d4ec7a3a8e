package main

import (
	"github.com/floe-cdc/floe/capture/postgres"
	"github.com/floe-cdc/floe/transform"
)

// postgresType is source.type postgres.
var postgresType = sourceType{
	name:     "postgres",
	defaults: func(*Config) {}, // DefaultConfig's are PostgreSQL's
	validate: func(c *Config) []Problem { return postgresConfig(c).Validate() },
	open: func(c *Config, env sourceEnv) (floeSource, error) {
		pc := postgresConfig(c)
		pc.ColumnTypes = env.types
		pc.KeyOverrides, pc.Liveness, pc.Logger = env.keys, env.live, env.log.With("component", "capture")
		return postgres.New(pc)
	},
}

var _ floeSource = (*postgres.Source)(nil)

// postgresConfig maps the source: section onto postgres.Config.
func postgresConfig(c *Config) postgres.Config {
	s := c.Source
	pc := postgres.Defaults()
	pc.Host, pc.Port, pc.User, pc.Password = s.Hostname, s.Port, s.Username, s.Password
	pc.Database, pc.Tables = s.Database, s.TableRegexps
	pc.SlotName, pc.PublicationName = s.SlotName, s.PublicationName
	pc.HeartbeatInterval, pc.StallTimeout = s.HeartbeatInterval, s.StallTimeout
	pc.RequireKey = c.Sink.Mode == transform.Upsert.String()
	return pc
}
