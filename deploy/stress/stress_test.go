package main

import (
	"errors"
	"strings"
	"testing"
)

func TestParsePlan(t *testing.T) {
	p, err := parsePlan(fullPlan)
	if err != nil {
		t.Fatal(err)
	}
	if p["pg-crash"] != 50 || p["mysql-crash"] != 50 || p["watermark"] != 200 {
		t.Fatalf("full plan %v lacks the issue's targets", p)
	}
	for _, bad := range []string{"watermark", "watermark=x", "nosuch=1", "watermark=-1"} {
		if _, err := parsePlan(bad); err == nil {
			t.Errorf("parsePlan(%q) accepted", bad)
		}
	}
}

// TestOrderInterleaves: every planned run is in the order once, and the
// rare tests are spread over the campaign rather than bunched.
func TestOrderInterleaves(t *testing.T) {
	p := plan{"pg-crash": 2, "watermark": 8}
	order := p.order()
	if got := strings.Join(order, " "); strings.Count(got, "pg-crash") != 2 || strings.Count(got, "watermark") != 8 {
		t.Fatalf("order %v", order)
	}
	first, last := -1, -1
	for i, n := range order {
		if n == "pg-crash" {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if last-first < 4 {
		t.Fatalf("crash runs at %d and %d of %v: not spread", first, last, order)
	}
	if pk := (plan{"watermark": 1, "converge-mysql": 1, "pg-crash": 0}).packages(); len(pk) != 1 || pk[0] != "./capture/mysql" {
		t.Fatalf("packages %v", pk)
	}
}

func TestFinishCountsStreaks(t *testing.T) {
	r := &results{Plan: plan{"watermark": 5}}
	for i, ok := range []bool{true, true, false, true, true} {
		r.add(runResult{N: i + 1, Test: "watermark", OK: ok, Seconds: float64(i + 1)})
	}
	r.finish(summarizeLoad([]float64{1, 3}))
	ts := r.Tests[0]
	if ts.Runs != 5 || ts.Passed != 4 || ts.Failed != 1 || ts.Streak != 2 || ts.SecondsMedian != 3 {
		t.Fatalf("summary %+v", ts)
	}
	if r.Load.Mean != 2 || r.Load.Max != 3 {
		t.Fatalf("load %+v", r.Load)
	}
	if md := r.markdown(); !strings.Contains(md, "## Failed runs") || !strings.Contains(md, "| watermark | 5 | 5 | 4 | 1 | 2 |") {
		t.Fatalf("markdown:\n%s", md)
	}
}

func TestFirstFailure(t *testing.T) {
	out := []byte(`=== RUN   TestMySQLCrashExactlyOnce/upsert
    crash_test.go:152: floe verify exit 1:
    MISMATCH events: 0 missing, 0 extra, 348 differ
--- FAIL: TestMySQLCrashExactlyOnce/upsert (80.00s)
`)
	got := firstFailure(out, errors.New("exit status 1"))
	if !strings.Contains(got, "floe verify exit 1") || !strings.Contains(got, "--- FAIL: TestMySQLCrashExactlyOnce/upsert") {
		t.Fatalf("firstFailure = %q", got)
	}
	if got := firstFailure([]byte("nothing useful"), errors.New("signal: killed")); got != "signal: killed" {
		t.Fatalf("firstFailure without lines = %q", got)
	}
}
