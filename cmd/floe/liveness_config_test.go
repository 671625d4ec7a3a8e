package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestConfigLiveness: source.heartbeat-interval, source.stall-timeout and
// server.ready-max-lag, their defaults, checks and round trip.
func TestConfigLiveness(t *testing.T) {
	cfg, err := ParseConfig("c.yaml", []byte(minimalYAML), nil)
	require.NoError(t, err)
	require.Equal(t, 10*time.Second, cfg.Source.HeartbeatInterval)
	require.Equal(t, 30*time.Second, cfg.Source.StallTimeout)
	require.Equal(t, 5*time.Minute, cfg.Server.ReadyMaxLag)

	y := strings.Replace(minimalYAML, "  tables: public.orders\n", "  tables: public.orders\n  heartbeat-interval: 2s\n", 1)
	cfg, err = ParseConfig("c.yaml", []byte(y), nil)
	require.NoError(t, err)
	require.Equal(t, 6*time.Second, cfg.Source.StallTimeout, "the stall timeout follows the heartbeat")

	y = strings.Replace(minimalYAML, "  tables: public.orders\n", "  tables: public.orders\n  heartbeat-interval: 2s\n  stall-timeout: 45s\n", 1) +
		"server:\n  ready-max-lag: 90s\n"
	cfg, err = ParseConfig("c.yaml", []byte(y), nil)
	require.NoError(t, err)
	require.Equal(t, 45*time.Second, cfg.Source.StallTimeout)
	require.Equal(t, 90*time.Second, cfg.Server.ReadyMaxLag)
	back, err := ParseConfig("redacted", []byte(cfg.Redacted()), nil)
	require.NoError(t, err, cfg.Redacted())
	require.Equal(t, cfg.Source.HeartbeatInterval, back.Source.HeartbeatInterval)
	require.Equal(t, cfg.Source.StallTimeout, back.Source.StallTimeout)
	require.Equal(t, cfg.Server.ReadyMaxLag, back.Server.ReadyMaxLag)

	bad := strings.Replace(minimalYAML, "  tables: public.orders\n", "  tables: public.orders\n  heartbeat-interval: 10s\n  stall-timeout: 15s\n", 1) +
		"server:\n  ready-max-lag: 0s\n"
	_, err = ParseConfig("c.yaml", []byte(bad), nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), "source.stall-timeout: 15s is too short: an idle stream brings only a heartbeat every 10s")
	require.Contains(t, err.Error(), "use at least 2 x source.heartbeat-interval (20s)")
	require.Contains(t, err.Error(), "server.ready-max-lag")
	_, err = ParseConfig("c.yaml", []byte(strings.Replace(minimalYAML, "  tables: public.orders\n", "  tables: public.orders\n  heartbeat-interval: -1s\n", 1)), nil)
	require.ErrorContains(t, err, "source.heartbeat-interval")
}
