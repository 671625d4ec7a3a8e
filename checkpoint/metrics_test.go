package checkpoint

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floe-cdc/floe/capture"
)

// TestSourceLagGrowsWhileOwed: floe_capture_source_lag_seconds is the last
// applied batch's lag, or how long the source has owed a delivery, the
// larger; without SetBehind only the former.
func TestSourceLagGrowsWhileOwed(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	m.observeBatch(capture.Batch{CommitTime: time.Now().Add(-2 * time.Second)})
	if got := m.SourceLag(); got < 1.9 || got > 3 {
		t.Fatalf("lag %v after a batch committed 2s ago", got)
	}
	behind := 40 * time.Second
	m.SetBehind(func() time.Duration { return behind })
	if got := m.SourceLag(); got != 40 {
		t.Fatalf("lag %v while a delivery is owed for 40s", got)
	}
	behind = 0
	if got := m.SourceLag(); got < 1.9 || got > 3 {
		t.Fatalf("lag %v once nothing is owed, want the last batch's", got)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "floe_capture_source_lag_seconds" {
			if v := f.GetMetric()[0].GetGauge().GetValue(); v < 1.9 || v > 3 {
				t.Fatalf("the registered gauge reads %v", v)
			}
			return
		}
	}
	t.Fatal("floe_capture_source_lag_seconds is not registered")
}
