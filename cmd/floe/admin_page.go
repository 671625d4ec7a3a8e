package main

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The status page (GET / on server.admin-address): one screen for the
// pipeline, each table's lag and freshness over the last hour as small
// server-rendered SVG charts, and its files and deletes. No script: the
// charts are polylines computed here. The values are /status's; the
// charts come from samples the admin API takes every sampleEvery.

const (
	sampleEvery  = 10 * time.Second
	sampleWindow = time.Hour
)

// sample is one table's lag and freshness at one instant.
type sample struct {
	at         time.Time
	lag, fresh float64
}

// history keeps each table's samples of the last sampleWindow.
type history struct {
	mu      sync.Mutex
	byTable map[string][]sample
}

// record adds the board's tables at now: freshness is the time since the
// running coordinator's last commit of the table. It reports false
// before the board's first publication.
func (h *history) record(now time.Time, a *admin) bool {
	live, ok := a.board.Load()
	if !ok {
		return false
	}
	lag := a.lag()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.byTable == nil {
		h.byTable = map[string][]sample{}
	}
	for _, tl := range live.Tables {
		s := append(h.byTable[tl.Sink], sample{at: now, lag: lag, fresh: max(0, now.Sub(tl.LastCommit).Seconds())})
		for len(s) > 0 && now.Sub(s[0].at) > sampleWindow {
			s = s[1:]
		}
		h.byTable[tl.Sink] = s
	}
	return true
}

// samples returns a copy of table's samples.
func (h *history) samples(table string) []sample {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]sample(nil), h.byTable[table]...)
}

// sampleLoop records every sampleEvery until ctx is done, and every
// second until the pipeline has published its tables.
func (a *admin) sampleLoop(ctx context.Context) {
	for {
		wait := sampleEvery
		if !a.hist.record(time.Now(), a) {
			wait = time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// pageTable is one table's row on the page.
type pageTable struct {
	AdminTableStatus
	LagChart, FreshChart chart
}

// chart is a sparkline: an SVG polyline over the last hour.
type chart struct {
	Points  string // "x,y x,y ..."
	Max     float64
	Samples int
}

const chartW, chartH = 240.0, 40.0

// sparkline draws values at their times over [now-sampleWindow, now],
// scaled to the largest value (at least 1).
func sparkline(now time.Time, ss []sample, value func(sample) float64) chart {
	c := chart{Max: 1, Samples: len(ss)}
	for _, s := range ss {
		c.Max = max(c.Max, value(s))
	}
	var b strings.Builder
	for _, s := range ss {
		x := chartW * (1 - now.Sub(s.at).Seconds()/sampleWindow.Seconds())
		y := chartH * (1 - value(s)/c.Max)
		fmt.Fprintf(&b, "%.1f,%.1f ", max(0, x), y)
	}
	c.Points = strings.TrimSpace(b.String())
	return c
}

func (a *admin) servePage(w http.ResponseWriter, r *http.Request) {
	st, err := a.status(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	now := st.At
	page := struct {
		*AdminStatus
		Rows []pageTable
	}{AdminStatus: st}
	for _, t := range st.Tables {
		// The stored samples, and this instant as the last point.
		ss := append(a.hist.samples(t.Table), sample{at: now, lag: t.LagSeconds, fresh: t.FreshnessSeconds})
		page.Rows = append(page.Rows, pageTable{AdminTableStatus: t,
			LagChart:   sparkline(now, ss, func(s sample) float64 { return s.lag }),
			FreshChart: sparkline(now, ss, func(s sample) float64 { return s.fresh })})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pageTemplate.Execute(w, page); err != nil {
		a.log.Warn("render the status page", "err", err)
	}
}

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"secs": func(s float64) string {
		return (time.Duration(s * float64(time.Second))).Round(100 * time.Millisecond).String()
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>floe · {{.Pipeline}}</title>
<meta http-equiv="refresh" content="10">
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse}th,td{padding:.3em .7em;border-bottom:1px solid #ddd;text-align:left;vertical-align:middle}
td.n{text-align:right;font-variant-numeric:tabular-nums}
svg{background:#f6f8fa}polyline{fill:none;stroke:#0969da;stroke-width:1.5}
.bad{color:#b00}
</style></head>
<body>
<h1>Pipeline {{.Pipeline}}</h1>
<p id="pipeline" data-streaming="{{.Streaming}}" data-ready="{{.Ready}}">
{{if .Streaming}}streaming{{else}}<span class="bad">not streaming: {{.Reason}}</span>{{end}}
· source lag {{secs .LagSeconds}} · {{if .Ready}}ready{{else}}<span class="bad">not ready</span>{{end}}
· acknowledged {{.Acknowledged}} · at {{.At.Format "2006-01-02 15:04:05Z07:00"}}</p>
<table>
<thead><tr><th>table</th><th>source</th><th>state</th><th>checkpoint</th><th>position</th><th>freshness</th>
<th>freshness, last hour</th><th>lag, last hour</th><th>data files</th><th>delete files</th><th>schema</th></tr></thead>
<tbody>
{{range .Rows}}<tr class="table" data-table="{{.Table}}" data-state="{{.State}}" data-data-files="{{.DataFiles}}" data-delete-files="{{.DeleteFiles}}" data-schema-id="{{.SchemaID}}">
<td>{{.Table}}</td><td>{{.Source}}</td><td>{{.State}}{{if .ChunksTotal}} ({{.ChunksDone}}/{{.ChunksTotal}} chunks){{end}}</td>
<td class="n">{{.Checkpoint}}</td><td>{{.Position}}</td><td class="n">{{secs .FreshnessSeconds}}</td>
<td><svg class="chart fresh" data-samples="{{.FreshChart.Samples}}" width="240" height="40" viewBox="0 0 240 40"><title>freshness, max {{secs .FreshChart.Max}}</title><polyline points="{{.FreshChart.Points}}"/></svg></td>
<td><svg class="chart lag" data-samples="{{.LagChart.Samples}}" width="240" height="40" viewBox="0 0 240 40"><title>source lag, max {{secs .LagChart.Max}}</title><polyline points="{{.LagChart.Points}}"/></svg></td>
<td class="n">{{.DataFiles}}</td><td class="n">{{.DeleteFiles}}</td><td class="n">{{.SchemaID}}</td></tr>
{{end}}</tbody></table>
<p>JSON: <a href="status">/status</a> · <a href="metrics">/metrics</a></p>
</body></html>
`))
