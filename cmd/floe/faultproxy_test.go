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
	"github.com/Shopify/toxiproxy/v2/toxics"
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
	// timeout 0: a connection that carries data while the toxic is on is
	// reset (RST) at once, and that data is dropped (toxiproxy's
	// ResetToxic); a connection that carries none is left alone.
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
	return func() { f.remove(ft.name, names...) }
}

// remove removes the named toxics. When toxiproxy dropped data while
// removing them (see toxiDrop), the proxy is restarted: every connection
// through it is closed, as a cut link would close them, instead of going
// on corrupt.
func (f *faultProxy) remove(fault string, names ...string) {
	drops := toxiLog.count(toxiDrop)
	ctx := zerolog.New(toxiLog).WithContext(context.Background())
	for _, name := range names {
		if err := f.proxy.Toxics.RemoveToxic(ctx, name); err != nil {
			f.t.Errorf("remove %s from the %s proxy: %v", name, f.endpoint, err)
		}
	}
	if toxiLog.count(toxiDrop) > drops {
		f.t.Logf("toxiproxy dropped data of a connection to %s while removing %s; its connections are closed instead", f.endpoint, fault)
		f.proxy.Stop()
		if err := f.proxy.Start(); err != nil {
			f.t.Fatalf("restart the fault proxy for %s on %s: %v", f.endpoint, f.addr(), err)
		}
	}
}

func (f *faultProxy) String() string { return fmt.Sprintf("%s via %s", f.endpoint, f.addr()) }

// A commit fault breaks a connection at the moment a commit (or another
// request the test names) has been sent to the server: the request
// reaches the server, which carries it out, and its reply is lost — the
// connection goes silent (half-open) or is closed. Two toxics do it: a
// watch on the requests (upstream) that fires when it has seen the
// request's patterns in order on one connection, and a gate on the
// replies (downstream) that, once fired, drops or closes every
// connection's replies until the fault is cleared. The watch fires the
// gate before it forwards the request, so its reply is always caught.
//
// The state both share lives in commitFaults, by proxy name.
var commitFaults sync.Map // proxy name -> *commitFault

type commitFault struct {
	fired chan struct{} // closed when the watch fired
	once  sync.Once
}

func (f *commitFault) fire() { f.once.Do(func() { close(f.fired) }) }

func (f *commitFault) hasFired() bool {
	select {
	case <-f.fired:
		return true
	default:
		return false
	}
}

func commitFaultOf(proxy string) *commitFault {
	v, _ := commitFaults.Load(proxy)
	f, _ := v.(*commitFault)
	return f
}

// watchToxic forwards everything and fires its proxy's commit fault when
// the patterns of Seq have passed in order on one connection.
type watchToxic struct {
	Proxy string   `json:"proxy"`
	Seq   []string `json:"seq"`
}

// watchState is one connection's progress through Seq.
type watchState struct {
	next int    // index of the pattern looked for
	tail []byte // the end of the data seen, for a pattern split between chunks
}

func (t *watchToxic) NewState() any { return &watchState{} }

func (t *watchToxic) Pipe(stub *toxics.ToxicStub) {
	st, _ := stub.State.(*watchState)
	for {
		select {
		case <-stub.Interrupt:
			return
		case c := <-stub.Input:
			if c == nil {
				stub.Close()
				return
			}
			if st != nil && t.seen(st, c.Data) {
				if f := commitFaultOf(t.Proxy); f != nil {
					f.fire()
				}
			}
			stub.Output <- c
		}
	}
}

// seen advances st over data and reports whether the last pattern was
// reached.
func (t *watchToxic) seen(st *watchState, data []byte) bool {
	buf := append(st.tail, data...)
	for st.next < len(t.Seq) {
		i := bytes.Index(buf, []byte(t.Seq[st.next]))
		if i < 0 {
			break
		}
		buf = buf[i+len(t.Seq[st.next]):]
		st.next++
	}
	if st.next == len(t.Seq) {
		st.next, st.tail = 0, nil
		return true
	}
	keep := 0
	for _, p := range t.Seq {
		keep = max(keep, len(p)-1)
	}
	if len(buf) > keep {
		buf = buf[len(buf)-keep:]
	}
	st.tail = append([]byte(nil), buf...)
	return false
}

// gateToxic passes replies until its proxy's commit fault fired, then
// drops them (Mode "drop": half-open) or closes the connection at the
// first one (Mode "close").
type gateToxic struct {
	Proxy string `json:"proxy"`
	Mode  string `json:"mode"`
}

// gateState records whether the gate dropped data of a connection.
type gateState struct{ dropped bool }

func (t *gateToxic) NewState() any { return &gateState{} }

func (t *gateToxic) Pipe(stub *toxics.ToxicStub) {
	st, _ := stub.State.(*gateState)
	for {
		select {
		case <-stub.Interrupt:
			return
		case c := <-stub.Input:
			if c == nil {
				stub.Close()
				return
			}
			f := commitFaultOf(t.Proxy)
			if f == nil || !f.hasFired() {
				stub.Output <- c
				continue
			}
			if t.Mode == "close" {
				stub.Close()
				return
			}
			if st != nil {
				st.dropped = true
			}
		}
	}
}

// Cleanup closes a connection whose replies were dropped: its stream
// lost bytes, and no client can read on from there.
func (t *gateToxic) Cleanup(stub *toxics.ToxicStub) {
	if st, _ := stub.State.(*gateState); st != nil && st.dropped {
		stub.Close()
	}
}

func init() {
	toxics.Register("floe_watch", new(watchToxic))
	toxics.Register("floe_gate", new(gateToxic))
}

// commitFaultKind is how a commit fault breaks the connection.
type commitFaultKind struct {
	name string // reset, half-open
	mode string // gate mode: close, drop
}

var (
	commitReset    = commitFaultKind{name: "reset", mode: "close"}
	commitHalfOpen = commitFaultKind{name: "half-open", mode: "drop"}
)

// injectAtCommit arms a commit fault of kind k that fires once the
// request patterns seq have passed on one connection. It returns a channel
// closed when it fired and the function that clears it (a gate that
// dropped replies closes those connections as it goes).
func (f *faultProxy) injectAtCommit(k commitFaultKind, seq ...string) (fired <-chan struct{}, clear func()) {
	f.t.Helper()
	name := f.proxy.Name
	cf := &commitFault{fired: make(chan struct{})}
	commitFaults.Store(name, cf)
	add := func(toxic, stream string, attrs map[string]any) string {
		tname := "commit_" + k.name + "_" + stream
		body, _ := json.Marshal(map[string]any{"name": tname, "type": toxic, "stream": stream, "toxicity": 1.0, "attributes": attrs})
		if _, err := f.proxy.Toxics.AddToxicJson(strings.NewReader(string(body))); err != nil {
			f.t.Fatalf("add the %s commit fault to the %s proxy: %v", k.name, f.endpoint, err)
		}
		return tname
	}
	// The gate first: the watch may fire as soon as it is in place.
	gate := add("floe_gate", "downstream", map[string]any{"proxy": name, "mode": k.mode})
	watch := add("floe_watch", "upstream", map[string]any{"proxy": name, "seq": seq})
	return cf.fired, func() {
		f.remove(k.name+" at a commit", watch, gate)
		commitFaults.Delete(name)
	}
}
