package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
	zlog "github.com/rs/zerolog/log"
)

// faultProxy is a real TCP proxy (toxiproxy, in-process) between floe and
// one endpoint. Toxics added to it act on every connection through it,
// the open ones and those made later, until they are removed.
type faultProxy struct {
	t        *testing.T
	endpoint string // what the proxy stands in front of, for messages
	proxy    *toxiproxy.Proxy
	host     string
	port     int
}

var (
	toxiServerOnce sync.Once
	toxiServer     *toxiproxy.ApiServer
	// toxiLog receives toxiproxy's warnings.
	toxiLog = &lockedBuffer{}
)

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// count returns how often s occurs in what was written.
func (l *lockedBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

// toxiDrop is what toxiproxy logs when it drops data: removing (or
// updating) a toxic forwards the chunks the toxic still holds, but gives
// up on one after 5 s when the client does not read (backpressure) and
// drops it. That is no network fault (TCP never loses bytes silently
// inside a stream); a MySQL or PostgreSQL client then reads a corrupt
// stream, e.g. waits forever for a packet of a bogus length.
const toxiDrop = "Could not write last packets"

// newFaultProxy starts a proxy on a free 127.0.0.1 port in front of
// upstream (host:port) and stops it at the test's end.
func newFaultProxy(t *testing.T, endpoint, upstream string) *faultProxy {
	t.Helper()
	toxiServerOnce.Do(func() {
		// Toxics log through zerolog's global logger, toxic removal
		// through the context's.
		zerolog.SetGlobalLevel(zerolog.WarnLevel)
		zlog.Logger = zerolog.New(toxiLog)
		toxiServer = toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	})
	p := toxiproxy.NewProxy(toxiServer, strings.ReplaceAll(endpoint, " ", "_"), "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		t.Fatalf("start fault proxy for %s: %v", endpoint, err)
	}
	t.Cleanup(p.Stop)
	host, port, err := net.SplitHostPort(p.Listen)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(port)
	return &faultProxy{t: t, endpoint: endpoint, proxy: p, host: host, port: n}
}

// addr is the proxy's host:port, which floe is configured to use.
func (f *faultProxy) addr() string { return net.JoinHostPort(f.host, strconv.Itoa(f.port)) }

// fault is one kind of network fault: toxics on both directions.
type fault struct {
	name  string // latency, bandwidth, reset, half-open
	toxic string // toxiproxy toxic type
	attrs map[string]any
	// halfOpen faults are judged by how long floe takes to notice them.
	halfOpen bool
}

var (
	faultLatency   = fault{name: "latency", toxic: "latency", attrs: map[string]any{"latency": 150, "jitter": 100}}
	faultBandwidth = fault{name: "bandwidth", toxic: "bandwidth", attrs: map[string]any{"rate": 48}} // KB/s
	faultReset     = fault{name: "reset", toxic: "reset_peer", attrs: map[string]any{"timeout": 0}}
	// timeout 0: the data is dropped and the connection stays open, with
	// no RST and no FIN, until the toxic is removed.
	faultHalfOpen = fault{name: "half-open", toxic: "timeout", attrs: map[string]any{"timeout": 0}, halfOpen: true}
)

// inject adds f on both directions and returns the function that removes
// it (removing a half-open toxic closes the connections it held). When
// toxiproxy dropped data while removing it (see toxiDrop), the proxy is
// restarted: every connection through it is closed, as a cut link would
// close them, instead of going on corrupt.
func (f *faultProxy) inject(ft fault) (clear func()) {
	f.t.Helper()
	var names []string
	for _, stream := range []string{"upstream", "downstream"} {
		name := ft.name + "_" + stream
		body, _ := json.Marshal(map[string]any{"name": name, "type": ft.toxic, "stream": stream, "toxicity": 1.0, "attributes": ft.attrs})
		if _, err := f.proxy.Toxics.AddToxicJson(strings.NewReader(string(body))); err != nil {
			f.t.Fatalf("add %s toxic to the %s proxy: %v", ft.name, f.endpoint, err)
		}
		names = append(names, name)
	}
	return func() {
		drops := toxiLog.count(toxiDrop)
		ctx := zerolog.New(toxiLog).WithContext(context.Background())
		for _, name := range names {
			if err := f.proxy.Toxics.RemoveToxic(ctx, name); err != nil {
				f.t.Errorf("remove %s from the %s proxy: %v", name, f.endpoint, err)
			}
		}
		if toxiLog.count(toxiDrop) > drops {
			f.t.Logf("toxiproxy dropped data of a connection to %s while removing %s; its connections are closed instead", f.endpoint, ft.name)
			f.proxy.Stop()
			if err := f.proxy.Start(); err != nil {
				f.t.Fatalf("restart the fault proxy for %s on %s: %v", f.endpoint, f.addr(), err)
			}
		}
	}
}

func (f *faultProxy) String() string { return fmt.Sprintf("%s via %s", f.endpoint, f.addr()) }
