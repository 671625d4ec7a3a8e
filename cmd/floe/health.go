package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
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
	registerProcessMetrics(reg)
	_, _, err := listen(ctx, "server.metrics-address", addr, healthMux(reg, ready), log)
	return err
}

// registerProcessMetrics adds the Go runtime and process collectors to reg
// once, whichever server asks first.
func registerProcessMetrics(reg *prometheus.Registry) {
	for _, c := range []prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(c); err != nil && !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
			panic(err)
		}
	}
}

// healthMux serves /metrics, /healthz and /readyz.
func healthMux(reg *prometheus.Registry, ready func() (bool, string)) *http.ServeMux {
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
	return mux
}

// listen serves h on addr (the value of setting) until ctx is done or the
// returned stop is called; stop waits for the requests in flight. It
// returns the bound address once the listener is bound, so a bad address
// fails the start. Requests' contexts end with ctx.
func listen(ctx context.Context, setting, addr string, h http.Handler, log *slog.Logger) (bound string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("%s: listen on %s: %w", setting, addr, err)
	}
	// Handlers are counted so that stop waits for them even after ctx
	// ended, when Close has dropped their connections already.
	var inFlight sync.WaitGroup
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inFlight.Add(1)
		defer inFlight.Done()
		h.ServeHTTP(w, r)
	})
	srv := &http.Server{Handler: counted, ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", "setting", setting, "err", err)
		}
	}()
	closed := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
		case <-closed:
		}
		_ = srv.Close()
	}()
	log.Info("serving http", "setting", setting, "address", ln.Addr().String())
	var once sync.Once
	return ln.Addr().String(), func() {
		once.Do(func() {
			// Requests in flight see ctx's end (BaseContext) or finish.
			_ = srv.Shutdown(context.WithoutCancel(ctx))
			close(closed)
			<-served
			inFlight.Wait()
		})
	}, nil
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
