package mysql

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/capture"
)

// TestConfigDefaults pins the documented defaults (README: the MySQL
// source: block).
func TestConfigDefaults(t *testing.T) {
	d := Defaults()
	if d.Host != "127.0.0.1" || d.Port != 3306 || d.ServerID != 0 || d.ServerTimeZone != time.UTC || d.ZeroDate != "" ||
		d.HeartbeatInterval != 10*time.Second || d.StallTimeout != 30*time.Second || d.MaxBatchChanges != 10000 {
		t.Fatalf("Defaults() = %+v", d)
	}
	c := Config{SourceConfig: capture.SourceConfig{HeartbeatInterval: 2 * time.Second}}.withDefaults()
	if c.Port != 3306 || c.ServerTimeZone != time.UTC || c.StallTimeout != 6*time.Second || c.Logger == nil {
		t.Fatalf("withDefaults = %+v", c)
	}
	// The derived server id is stable: changing it would make a running
	// pipeline register as another replica.
	if id := DefaultServerID("shop"); id != DefaultServerID("shop") || id < 1000 || id == DefaultServerID("shop2") {
		t.Fatalf("DefaultServerID(shop) = %d", id)
	}
	if got := DefaultServerID("my_check"); got != 310158382 {
		t.Fatalf("DefaultServerID(my_check) = %d, the derivation changed", got)
	}
}

// TestConfigValidate: a bad value names its field and the fix.
func TestConfigValidate(t *testing.T) {
	good := Defaults()
	good.User, good.ServerID, good.Tables = "floe", 5401, []*regexp.Regexp{regexp.MustCompile(`shop\.t`)}
	if ps := good.Validate(); len(ps) != 0 {
		t.Fatalf("problems of a good config: %v", ps)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no server id", func(c *Config) { c.ServerID = 0 }, "source.server-id: 0 is out of range (fix: use a value from 1 to 4294967295)"},
		{"zero date", func(c *Config) { c.ZeroDate = "nul" }, `source.zero-date: unknown value "nul" (fix: use error or null or epoch (did you mean null?))`},
		{"no tables", func(c *Config) { c.Tables = nil }, "source.tables: required (fix: list the tables, e.g. `tables: shop.orders, shop\\.line_.*`)"},
		{"no user", func(c *Config) { c.User = "" }, "source.username: required"},
		{"port", func(c *Config) { c.Port = 0 }, "source.port: 0 is out of range"},
		{"stall", func(c *Config) { c.StallTimeout = c.HeartbeatInterval }, "source.stall-timeout: 10s is too short"},
	} {
		c := good
		tc.edit(&c)
		ps := c.Validate()
		if len(ps) != 1 || !strings.HasPrefix(ps[0].Error(), tc.want) || ps[0].Fix == "" {
			t.Errorf("%s: problems %v, want one starting %q", tc.name, ps, tc.want)
		}
	}
	if _, err := New(Config{}); err == nil || !strings.Contains(err.Error(), "source.server-id") {
		t.Fatalf("New without a server id: %v", err)
	}
}

func TestParseServerTimeZone(t *testing.T) {
	for _, name := range []string{"", "UTC", "utc"} {
		if loc, err := ParseServerTimeZone(name); err != nil || loc != time.UTC {
			t.Errorf("ParseServerTimeZone(%q) = %v, %v; want time.UTC", name, loc, err)
		}
	}
	if loc, err := ParseServerTimeZone("Etc/UTC"); err != nil || loc == time.UTC || loc.String() != "Etc/UTC" {
		t.Errorf("Etc/UTC is a zone of its own (DATETIME becomes timestamptz): %v, %v", loc, err)
	}
	_, err := ParseServerTimeZone("Mars/Olympus")
	if err == nil || err.Error() != `source.server-time-zone: unknown time zone "Mars/Olympus" (fix: use an IANA zone name such as UTC or Europe/Berlin)` {
		t.Errorf("unknown zone: %v", err)
	}
}
