package postgres

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/capture"
)

// TestConfigDefaults pins the documented defaults (README: source:, and
// what floe run passes for a pipeline).
func TestConfigDefaults(t *testing.T) {
	d := Defaults()
	if d.Host != "127.0.0.1" || d.Port != 5432 || d.SlotName != "floe" || d.PublicationName != "floe" ||
		d.HeartbeatInterval != 10*time.Second || d.StallTimeout != 30*time.Second ||
		d.StatusInterval != 10*time.Second || d.MaxBatchChanges != 10000 {
		t.Fatalf("Defaults() = %+v", d)
	}
	// A zero Config takes them; the stall timeout follows its own heartbeat.
	c := Config{SourceConfig: capture.SourceConfig{HeartbeatInterval: 2 * time.Second}}.withDefaults()
	if c.Host != d.Host || c.Port != d.Port || c.SlotName != d.SlotName || c.StallTimeout != 6*time.Second || c.Logger == nil {
		t.Fatalf("withDefaults = %+v", c)
	}
	for in, want := range map[string]string{
		"":                      "floe",
		"shop":                  "floe_shop",
		"My-Shop.eu 2":          "floe_my_shop_eu_2",
		"Çafé":                  "floe__af_", // every rune outside [a-z0-9_] becomes _
		strings.Repeat("a", 80): "floe_" + strings.Repeat("a", 58),
	} {
		if got := IdentFor(in); got != want {
			t.Errorf("IdentFor(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestConfigValidate: a bad value names its field and the fix; a good
// Config has no problem.
func TestConfigValidate(t *testing.T) {
	good := Defaults()
	good.User, good.Database, good.Tables = "floe", "shop", []*regexp.Regexp{regexp.MustCompile(`public\.t`)}
	if ps := good.Validate(); len(ps) != 0 {
		t.Fatalf("problems of a good config: %v", ps)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no host", func(c *Config) { c.Host = "" }, "source.hostname: required (fix: set the database host)"},
		{"port", func(c *Config) { c.Port = 70000 }, "source.port: 70000 is out of range (fix: use a value from 1 to 65535)"},
		{"no user", func(c *Config) { c.User = "" }, "source.username: required (fix: set the replication user"},
		{"no database", func(c *Config) { c.Database = "" }, "source.database: required (fix: set the database to capture)"},
		{"no tables", func(c *Config) { c.Tables = nil }, "source.tables: required (fix: list the tables, e.g. `tables: public.orders, public\\.line_.*`)"},
		{"slot name", func(c *Config) { c.SlotName = "Floe-Shop" }, `source.slot.name: bad replication slot name "Floe-Shop" (fix: use 1 to 63 characters of a-z, 0-9 and _)`},
		{"long slot name", func(c *Config) { c.SlotName = strings.Repeat("a", 64) }, "source.slot.name: bad replication slot name"},
		{"publication", func(c *Config) { c.PublicationName = strings.Repeat("p", 64) }, "source.publication.name: bad publication name"},
		{"heartbeat", func(c *Config) { c.HeartbeatInterval = 0 }, "source.heartbeat-interval: 0s is not positive"},
		{"stall", func(c *Config) { c.StallTimeout = 15 * time.Second }, "source.stall-timeout: 15s is too short"},
		{"batch", func(c *Config) { c.MaxBatchChanges = 0 }, "MaxBatchChanges: 0 is out of range"},
	} {
		c := good
		tc.edit(&c)
		ps := c.Validate()
		if len(ps) != 1 || !strings.HasPrefix(ps[0].Error(), tc.want) || ps[0].Fix == "" {
			t.Errorf("%s: problems %v, want one starting %q", tc.name, ps, tc.want)
		}
	}
}

// TestNewValidates: New refuses what Validate reports, every problem at
// once, as capture.Problems.
func TestNewValidates(t *testing.T) {
	_, err := New(Config{SlotName: "Bad-Name"})
	for _, part := range []string{"source.username", "source.database", "source.tables", "source.slot.name"} {
		if err == nil || !strings.Contains(err.Error(), part) {
			t.Errorf("New error %v, want it to name %s", err, part)
		}
	}
	if _, ok := err.(capture.Problems); !ok {
		t.Errorf("New error is %T, want capture.Problems", err)
	}
}
