package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture/mysql"
	"github.com/floe-cdc/floe/capture/postgres"
	"github.com/floe-cdc/floe/checkpoint"
	"github.com/floe-cdc/floe/compaction"
	"github.com/floe-cdc/floe/lakewriter"
)

// readmeBlock returns the first ```yaml block of the README after heading.
func readmeBlock(t *testing.T, heading string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	s := string(b)
	i := strings.Index(s, "\n"+heading+"\n")
	require.GreaterOrEqual(t, i, 0, "README has no heading %q", heading)
	s = s[i:]
	start := strings.Index(s, "```yaml\n")
	require.GreaterOrEqual(t, start, 0, "no yaml block after %q", heading)
	s = s[start+len("```yaml\n"):]
	end := strings.Index(s, "```")
	require.GreaterOrEqual(t, end, 0)
	return s[:end]
}

// TestREADMEDefaults: the README's configuration reference shows each
// setting that has a default at that default, and it is the one Floe
// applies: DefaultConfig takes every default from the package that owns
// it, and a configuration without the keys gets them. A default changed
// in a package fails here until the README says the same.
func TestREADMEDefaults(t *testing.T) {
	doc, err := ParseConfig("README.md", []byte(readmeBlock(t, "## Running it")), testEnv(map[string]string{"PGPASSWORD": "pw", "FLOE_ADMIN_TOKEN": "t"}))
	require.NoError(t, err, "the README's configuration must be valid")
	def, err := ParseConfig("minimal.yaml", []byte(minimalYAML), nil)
	require.NoError(t, err)

	require.Equal(t, def.Pipeline.CheckpointInterval, doc.Pipeline.CheckpointInterval, "pipeline.checkpoint-interval")
	require.Equal(t, [2]int{def.Pipeline.CheckpointMaxChanges, def.Pipeline.CheckpointMaxMB},
		[2]int{doc.Pipeline.CheckpointMaxChanges, doc.Pipeline.CheckpointMaxMB}, "pipeline.checkpoint-max-changes, -max-mb")
	require.Equal(t, MinCheckpointMaxChanges, 1000, "README: at least 1000")
	require.Equal(t, MinCheckpointInterval, time.Second, "README: at least 1s")
	ds, ss := def.Source, doc.Source
	require.Equal(t, [2]any{ds.Hostname, ds.Port}, [2]any{ss.Hostname, ss.Port}, "source.hostname, source.port")
	require.Equal(t, [2]string{ds.SlotName, ds.PublicationName}, [2]string{ss.SlotName, ss.PublicationName}, "slot.name, publication.name")
	require.Equal(t, [3]any{ds.SnapshotMode, ds.SnapshotParallelism, ds.SnapshotChunkRows},
		[3]any{ss.SnapshotMode, ss.SnapshotParallelism, ss.SnapshotChunkRows}, "source.snapshot.*")
	require.Equal(t, [2]time.Duration{ds.HeartbeatInterval, ds.StallTimeout}, [2]time.Duration{ss.HeartbeatInterval, ss.StallTimeout},
		"heartbeat-interval, stall-timeout")
	dk, sk := def.Sink, doc.Sink
	require.Equal(t, [2]string{dk.Catalog.Type, dk.Catalog.Name}, [2]string{sk.Catalog.Type, sk.Catalog.Name}, "sink.catalog type and name")
	require.Equal(t, [2]any{dk.Mode, dk.Timeout}, [2]any{sk.Mode, sk.Timeout}, "sink.mode, sink.timeout")
	require.True(t, doc.Compaction.On())
	doc.Compaction.Enabled = nil
	require.Equal(t, def.Compaction, doc.Compaction, "compaction:")
	require.Equal(t, def.Server.ReadyMaxLag, doc.Server.ReadyMaxLag, "server.ready-max-lag")
	require.Equal(t, def.Server.MetricsAddress, "", "server.metrics-address: empty (default) = off")
	require.Equal(t, [2]string{"", ""}, [2]string{def.Server.AdminAddress, def.Server.AdminToken}, "server.admin-*: empty (default) = off")
	require.Equal(t, def.Log, doc.Log, "log:")
	require.Equal(t, def.Pipeline.DeadLetter, doc.Pipeline.DeadLetter, "pipeline.dead-letter")

	// The defaults a configuration gets are the packages' own.
	pg, cp, lw := postgres.Defaults(), checkpoint.Defaults(), lakewriter.Defaults()
	require.Equal(t, [3]any{pg.Host, pg.Port, pg.HeartbeatInterval}, [3]any{ds.Hostname, ds.Port, ds.HeartbeatInterval})
	require.Equal(t, pg.StallTimeout, ds.StallTimeout)
	require.Equal(t, postgres.IdentFor("shop"), ds.SlotName)
	require.Equal(t, [4]any{cp.Interval, cp.SnapshotMode, cp.SnapshotParallelism, cp.SnapshotChunkRows},
		[4]any{def.Pipeline.CheckpointInterval, ds.SnapshotMode, ds.SnapshotParallelism, ds.SnapshotChunkRows})
	require.Equal(t, [3]any{lw.CatalogType, lw.CatalogName, lw.Timeout}, [3]any{dk.Catalog.Type, dk.Catalog.Name, dk.Timeout})
	require.Equal(t, compaction.Defaults(), def.Compaction)
	require.Equal(t, cp.DeadLetter, def.Pipeline.DeadLetter)
	require.Equal(t, compaction.Defaults().Options(nil), compaction.DefaultOptions(), "one rewrite cap for floe run and the library")
}

// TestREADMEMySQLDefaults: the README's MySQL source: block shows the
// MySQL defaults.
func TestREADMEMySQLDefaults(t *testing.T) {
	doc := "pipeline:\n  name: shop\n" + readmeBlock(t, "## MySQL and MariaDB") + "sink:\n  type: iceberg\n"
	cfg, err := ParseConfig("README.md", []byte(doc), testEnv(map[string]string{"MYSQL_PASSWORD": "pw"}))
	require.NoError(t, err, "the README's MySQL source must be valid")
	def, err := ParseConfig("my.yaml", []byte(strings.Replace(minimalYAML, "type: postgres", "type: mysql", 1)), nil)
	require.NoError(t, err)
	my := mysql.Defaults()
	require.Equal(t, my.Port, def.Source.Port)
	require.Equal(t, [2]any{def.Source.Hostname, def.Source.Port}, [2]any{cfg.Source.Hostname, cfg.Source.Port}, "hostname, port")
	require.Equal(t, [2]any{def.Source.SnapshotMode, def.Source.SnapshotParallelism},
		[2]any{cfg.Source.SnapshotMode, cfg.Source.SnapshotParallelism}, "snapshot.*")
	// zero-date and server-time-zone are shown at what unset means.
	require.Equal(t, "", my.ZeroDate, "unset zero-date is error")
	require.Equal(t, "error", cfg.Source.ZeroDate)
	loc, err := mysql.ParseServerTimeZone(cfg.Source.ServerTimeZone)
	require.NoError(t, err)
	require.Equal(t, my.ServerTimeZone, loc, "server-time-zone")
	require.Equal(t, int(mysql.DefaultServerID("shop")), def.Source.ServerID, "server-id: derived from pipeline.name")
}
