package main

import (
	"errors"

	_ "time/tzdata" // server-time-zone names resolve in the static binary without the system's zoneinfo

	"github.com/floe-cdc/floe/capture/mysql"
	"github.com/floe-cdc/floe/schema/problem"
	"github.com/floe-cdc/floe/transform"
)

// mysqlType is source.type mysql (MySQL and MariaDB; the flavour is
// detected on connect).
var mysqlType = sourceType{
	name: "mysql",
	defaults: func(c *Config) {
		if !c.set("source.port") && c.Source.Port == DefaultConfig().Source.Port {
			c.Source.Port = mysql.Defaults().Port
		}
		if c.Source.ServerID == 0 {
			c.Source.ServerID = int(mysql.DefaultServerID(c.Pipeline.Name))
		}
	},
	validate: func(c *Config) []Problem {
		mc, problems := mysqlConfig(c)
		return appendNew(problems, mc.Validate())
	},
	open: func(c *Config, env sourceEnv) (floeSource, error) {
		mc, problems := mysqlConfig(c)
		if len(problems) > 0 {
			return nil, problem.List(problems)
		}
		mc.ColumnTypes = env.types
		mc.KeyOverrides, mc.Liveness, mc.Logger = env.keys, env.live, env.log.With("component", "capture")
		return mysql.New(mc)
	},
}

var _ floeSource = (*mysql.Source)(nil)

// mysqlConfig maps the source: section onto mysql.Config. A server-id
// outside the range of ids and an unknown server-time-zone are problems
// of the mapping; the value is then left at its default, for Validate.
func mysqlConfig(c *Config) (mysql.Config, []Problem) {
	s := c.Source
	var v problem.Checks
	mc := mysql.Defaults()
	mc.Host, mc.Port, mc.User, mc.Password, mc.Tables = s.Hostname, s.Port, s.Username, s.Password, s.TableRegexps
	if s.ServerID < 0 || s.ServerID > mysql.MaxServerID {
		v.Between("source.server-id", s.ServerID, 1, mysql.MaxServerID)
	} else {
		mc.ServerID = uint32(s.ServerID)
	}
	if loc, err := mysql.ParseServerTimeZone(s.ServerTimeZone); err != nil {
		var p Problem
		if !errors.As(err, &p) {
			p = Problem{Field: "source.server-time-zone", Message: err.Error()}
		}
		v.List = append(v.List, p)
	} else {
		mc.ServerTimeZone = loc
	}
	mc.ZeroDate = s.ZeroDate
	mc.HeartbeatInterval, mc.StallTimeout = s.HeartbeatInterval, s.StallTimeout
	mc.RequireKey = c.Sink.Mode == transform.Upsert.String()
	return mc, v.List
}
