package checkpoint

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/floe-cdc/floe/capture"
)

// Metrics are the coordinator's Prometheus metrics. Labels are bounded:
// table names and op codes, never positions.
type Metrics struct {
	Changes               *prometheus.CounterVec
	CommittedRows         *prometheus.CounterVec
	SnapshotRows          *prometheus.CounterVec
	SnapshotChunksPending prometheus.Gauge
	Checkpoints           prometheus.Counter
	CheckpointSeconds     prometheus.Histogram
	// SourceLagSeconds is how far the last applied transaction's commit
	// time lay behind the wall clock when it was applied, or, when larger,
	// how long the source has owed a delivery (see SetBehind).
	SourceLagSeconds prometheus.GaugeFunc
	// SchemaChanges counts Iceberg schema evolutions, by table.
	SchemaChanges *prometheus.CounterVec
	// TableResets counts tables emptied and snapshotted again because
	// their continuity with the source could not be proven, by table and
	// cause (one of the Cause* constants).
	TableResets *prometheus.CounterVec
	// DeadLetters counts changes written to a dead-letter table instead
	// of their table, by source table.
	DeadLetters *prometheus.CounterVec

	lag    atomic.Uint64 // math.Float64bits of the last applied batch's lag in seconds
	behind atomic.Pointer[func() time.Duration]
}

// SetBehind makes floe_capture_source_lag_seconds report at least
// behind(): how long the source has held something the stream has not
// brought (capture.Liveness.Behind), so that the lag grows while a
// stalled stream brings nothing.
func (m *Metrics) SetBehind(behind func() time.Duration) {
	m.behind.Store(&behind)
}

// SourceLag is the value of floe_capture_source_lag_seconds.
func (m *Metrics) SourceLag() float64 {
	lag := math.Float64frombits(m.lag.Load())
	if f := m.behind.Load(); f != nil {
		lag = max(lag, (*f)().Seconds())
	}
	return lag
}

// NewMetrics creates the metrics and registers them on reg (nil: not
// registered); each is registered where it is declared, so none can be
// left out of the registry. deploy/validate reads their names from a
// registry NewMetrics filled.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	// perTable is a counter with labels, the table first.
	perTable := func(name, help string, labels ...string) *prometheus.CounterVec {
		return f.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	m := &Metrics{}
	*m = Metrics{
		Changes:       perTable("floe_capture_changes_total", "Stream changes applied, by table and op.", "table", "op"),
		CommittedRows: perTable("floe_lakewriter_committed_rows_total", "Rows committed to Iceberg, by table.", "table"),
		SnapshotRows:  perTable("floe_snapshot_rows_total", "Rows read by the initial snapshot, by table.", "table"),
		SnapshotChunksPending: f.NewGauge(prometheus.GaugeOpts{
			Name: "floe_snapshot_chunks_pending", Help: "Snapshot chunks not yet read.",
		}),
		Checkpoints: f.NewCounter(prometheus.CounterOpts{
			Name: "floe_checkpoint_commits_total", Help: "Checkpoints committed.",
		}),
		CheckpointSeconds: f.NewHistogram(prometheus.HistogramOpts{
			Name: "floe_checkpoint_duration_seconds", Help: "Time to commit one checkpoint.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}),
		SourceLagSeconds: f.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "floe_capture_source_lag_seconds",
			Help: "Wall clock minus the commit time of the last applied transaction when it was applied, or how long the source has owed the stream a delivery (a heartbeat), whichever is larger.",
		}, m.SourceLag),
		SchemaChanges: perTable("floe_schema_changes_total",
			"Iceberg schema evolutions that followed a source layout change, by table.", "table"),
		TableResets: perTable("floe_checkpoint_table_resets_total",
			"Tables reset and snapshotted again because their continuity with the source could not be proven, by table and cause.", "table", "cause"),
		DeadLetters: perTable("floe_dead_letters_total",
			"Changes that could not be written to their table and went to the dead-letter table, by source table.", "table"),
	}
	return m
}

func (m *Metrics) observeBatch(b capture.Batch) {
	if !b.CommitTime.IsZero() {
		m.lag.Store(math.Float64bits(time.Since(b.CommitTime).Seconds()))
	}
}
