package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/postgres"
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
// preflight check. Sources report problems as capture.Problem
// (Field, Message, Fix).
type floeSource interface {
	capture.Source
	Check(ctx context.Context) []capture.Problem
}

// openSource builds the configured source; it does not connect yet.
func openSource(cfg *Config, log *slog.Logger) (floeSource, error) {
	keys, err := keyOverrides(cfg)
	if err != nil {
		return nil, err
	}
	switch cfg.Source.Type {
	case "postgres":
	case "mysql":
		return openMySQL(cfg, log, keys)
	default:
		return nil, fmt.Errorf("source.type: %q is not supported (fix: use postgres or mysql)", cfg.Source.Type)
	}
	return postgres.New(postgres.Config{
		Host:            cfg.Source.Hostname,
		Port:            cfg.Source.Port,
		User:            cfg.Source.Username,
		Password:        cfg.Source.Password,
		Database:        cfg.Source.Database,
		Tables:          cfg.Source.TableRegexps,
		SlotName:        cfg.Source.SlotName,
		PublicationName: cfg.Source.PublicationName,
		KeyOverrides:    keys,
		RequireKey:      cfg.Sink.Mode == "upsert",
		Logger:          log.With("component", "capture"),
	})
}

// keyOverrides collects the keys named by routes. A route that names a key
// must name exactly one table, so its source-table is taken literally.
func keyOverrides(cfg *Config) (map[capture.TableID][]string, error) {
	out := map[capture.TableID][]string{}
	for i, r := range cfg.Route {
		if len(r.PrimaryKey) == 0 {
			continue
		}
		name := strings.ReplaceAll(r.SourceTable, `\.`, ".")
		schemaName, table, ok := strings.Cut(name, ".")
		if !ok || regexp.QuoteMeta(name) != strings.ReplaceAll(name, ".", `\.`) {
			return nil, fmt.Errorf("route[%d].primary-key: the route's source-table %q must name one table as schema.table", i, r.SourceTable)
		}
		out[capture.TableID{Schema: schemaName, Name: table}] = r.PrimaryKey
	}
	return out, nil
}

// newRouter builds the table router from sink.namespace and route:.
func newRouter(cfg *Config) *transform.Router {
	routes := make([]transform.Route, 0, len(cfg.Route))
	for _, r := range cfg.Route {
		ns, name := r.SinkIdent()
		if ns == "" {
			ns = cfg.Sink.Namespace
		}
		routes = append(routes, transform.Route{Source: r.SourceRegexp, Namespace: ns, Name: name, Key: r.PrimaryKey})
	}
	return transform.NewRouter(cfg.Sink.Namespace, routes)
}

func sinkMode(cfg *Config) (transform.Mode, error) {
	return transform.ParseMode(cfg.Sink.Mode)
}

// openCatalog opens the configured Iceberg catalog.
func openCatalog(ctx context.Context, cfg *Config, log *slog.Logger) (*lakewriter.Catalog, error) {
	return lakewriter.Open(ctx, lakewriter.Options{
		CatalogType: cfg.Sink.Catalog.Type,
		CatalogName: cfg.Sink.Catalog.Name,
		URI:         cfg.Sink.Catalog.URI,
		Warehouse:   cfg.Sink.Warehouse,
		Credential:  cfg.Sink.Catalog.Credential,
		Token:       cfg.Sink.Catalog.Token,
		S3: lakewriter.S3Options{
			Endpoint:        cfg.Sink.S3.Endpoint,
			Region:          cfg.Sink.S3.Region,
			PathStyle:       cfg.Sink.S3.PathStyle,
			AccessKeyID:     cfg.Sink.S3.AccessKeyID,
			SecretAccessKey: cfg.Sink.S3.SecretAccessKey,
		},
		Timeout: cfg.Sink.Timeout,
		Logger:  log.With("component", "lakewriter"),
	})
}

// serveMetrics serves /metrics and /healthz on addr until ctx is done. It
// returns once the listener is bound, so a bad address fails the start.
func serveMetrics(ctx context.Context, addr string, reg *prometheus.Registry, log *slog.Logger) error {
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("server.metrics-address: listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: mux}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	log.Info("serving metrics", "address", ln.Addr().String())
	return nil
}

// isTerminal reports whether f is a terminal (for the progress bar).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
