package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/checkpoint"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/transform"
)

// newLogger builds the process logger from the log: section.
func newLogger(cfg LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// floeSource is what the verbs need of a source: capture plus the
// preflight check (capture.Checker).
type floeSource interface {
	capture.Source
	capture.Checker
}

// openSource builds the configured source; it does not connect yet.
func openSource(cfg *Config, log *slog.Logger) (floeSource, error) {
	return openStreamingSource(cfg, log, nil)
}

// openStreamingSource is openSource for floe run: the source reports its
// stream's liveness to live (may be nil).
func openStreamingSource(cfg *Config, log *slog.Logger, live *capture.Liveness) (floeSource, error) {
	t, ok := lookupSourceType(cfg.Source.Type)
	if !ok {
		return nil, fmt.Errorf("source.type: %q is not supported (fix: use %s)", cfg.Source.Type, strings.Join(sourceTypeNames(), " or "))
	}
	keys, err := keyOverrides(cfg)
	if err != nil {
		return nil, err
	}
	return t.open(cfg, sourceEnv{log: log, keys: keys, live: live, types: columnTypesFor(cfg)})
}

// keyOverrides collects the keys named by routes, each with its route's
// field. A route that names a key must name exactly one table, so its
// source-table is taken literally.
func keyOverrides(cfg *Config) (map[capture.TableID]capture.KeyOverride, error) {
	out := map[capture.TableID]capture.KeyOverride{}
	for i, r := range cfg.Route {
		if len(r.PrimaryKey) == 0 {
			continue
		}
		name, ok := literalTable(r.SourceTable)
		if !ok {
			return nil, fmt.Errorf("route[%d].primary-key: the route's source-table %q must name one table as schema.table", i, r.SourceTable)
		}
		schemaName, table, _ := strings.Cut(name, ".")
		out[capture.TableID{Schema: schemaName, Name: table}] = capture.KeyOverride{Columns: r.PrimaryKey, Field: fmt.Sprintf("route[%d].primary-key", i)}
	}
	return out, nil
}

// newRouter builds the table router from sink.namespace and route:.
func newRouter(cfg *Config) *transform.Router {
	routes := make([]transform.Route, 0, len(cfg.Route))
	for i, r := range cfg.Route {
		ns, name := r.SinkIdent()
		if ns == "" {
			ns = cfg.Sink.Namespace
		}
		routes = append(routes, transform.Route{Source: r.SourceRegexp, Namespace: ns, Name: name, Key: r.PrimaryKey,
			Arrange: arrangement(cfg, i)})
	}
	return transform.NewRouter(cfg.Sink.Namespace, routes).WithDefaultArrangement(arrangement(cfg, -1))
}

func sinkMode(cfg *Config) (transform.Mode, error) {
	return transform.ParseMode(cfg.Sink.Mode)
}

// sinkOptions maps the sink: section onto lakewriter.Options.
func sinkOptions(cfg *Config) lakewriter.Options {
	k := cfg.Sink
	return lakewriter.Options{
		CatalogType: k.Catalog.Type,
		CatalogName: k.Catalog.Name,
		URI:         k.Catalog.URI,
		Warehouse:   k.Warehouse,
		Credential:  k.Catalog.Credential,
		Token:       k.Catalog.Token,
		S3: lakewriter.S3Options{
			Endpoint:        k.S3.Endpoint,
			Region:          k.S3.Region,
			PathStyle:       k.S3.PathStyle,
			AccessKeyID:     k.S3.AccessKeyID,
			SecretAccessKey: k.S3.SecretAccessKey,
		},
		Timeout:                k.Timeout,
		DeleteMode:             k.DeleteMode,
		PositionDeletesMaxKeys: k.PositionDeletesMaxKeys,
	}
}

// openCatalog opens the configured Iceberg catalog.
func openCatalog(ctx context.Context, cfg *Config, log *slog.Logger) (*lakewriter.Catalog, error) {
	opts := sinkOptions(cfg)
	opts.Logger = log.With("component", "lakewriter")
	return lakewriter.Open(ctx, opts)
}

// checkpointConfig maps pipeline.checkpoint-interval,
// pipeline.checkpoint-max-changes and -max-mb,
// pipeline.schema-change-behavior, pipeline.memory-limit-mb (the table
// buffers' share), pipeline.on-unfollowable-change, pipeline.dead-letter
// and source.snapshot.*
// onto checkpoint.Config; the rest keeps its defaults.
func checkpointConfig(cfg *Config) checkpoint.Config {
	cc := checkpoint.Defaults()
	cc.Interval = cfg.Pipeline.CheckpointInterval
	cc.MaxCheckpointChanges = cfg.Pipeline.CheckpointMaxChanges
	cc.MaxCheckpointBytes = int64(cfg.Pipeline.CheckpointMaxMB) << 20
	cc.SchemaChangeBehavior = transform.Behavior(cfg.Pipeline.SchemaChangeBehavior)
	cc.SnapshotMode = cfg.Source.SnapshotMode
	cc.SnapshotParallelism = cfg.Source.SnapshotParallelism
	cc.SnapshotChunkRows = cfg.Source.SnapshotChunkRows
	cc.MemoryBudget = tableBufferBudget(cfg)
	cc.UnfollowableChange = cmp.Or(cfg.Pipeline.OnUnfollowableChange, cc.UnfollowableChange)
	cc.DeadLetter = cmp.Or(cfg.Pipeline.DeadLetter, cc.DeadLetter)
	return cc
}

// isTerminal reports whether f is a terminal (for the progress bar).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
