package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/floe-cdc/floe/capture"
)

// serveMetrics serves /metrics, /healthz and /readyz on addr until ctx is
// done. It returns once the listener is bound, so a bad address fails the
// start. ready decides /readyz.
func serveMetrics(ctx context.Context, addr string, reg *prometheus.Registry, ready func() (bool, string), log *slog.Logger) error {
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, why := ready()
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "not ready: "+why+"\n")
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("server.metrics-address: listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
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

// readiness is /readyz: ready while a stream runs and the source lag
// (floe_capture_source_lag_seconds) is within maxLag. Not ready during the
// initial snapshot, while reconnecting (after a lost connection or a
// stall) and while the lag exceeds the budget; the reason says which.
func readiness(live *capture.Liveness, lag func() float64, maxLag time.Duration) func() (bool, string) {
	return func() (bool, string) {
		st := live.Status(time.Now())
		if !st.Streaming {
			if !st.Streamed {
				return false, "not streaming yet (starting, or taking the initial snapshot)"
			}
			return false, "not streaming: " + st.Reason
		}
		if l := lag(); l > maxLag.Seconds() {
			return false, fmt.Sprintf("source lag %.1fs exceeds server.ready-max-lag %s", l, maxLag)
		}
		return true, ""
	}
}
