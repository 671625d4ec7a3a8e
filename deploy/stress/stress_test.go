package main

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// TestResumeContinuesCampaign: a campaign written after some runs is
// continued as a second segment on the same clean commit, with only the
// runs left of its plan, and refused on any other commit.
func TestResumeContinuesCampaign(t *testing.T) {
	root := t.TempDir()
	git := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-C", root, "-c", "user.name=t", "-c", "user.email=t@t"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	git("commit", "-q", "--allow-empty", "-m", "one")

	first := newResults(options{plan: plan{"pg-crash": 2, "watermark": 3}, seed: 7, burners: 3,
		jitterP: 0.3, jitterMax: 20 * time.Millisecond, gomaxprocs: []int{1, 2}}, root)
	first.add(runResult{N: 1, Test: "watermark", OK: true, Seconds: 1})
	first.add(runResult{N: 2, Test: "pg-crash", OK: true, Seconds: 2})
	first.finish(summarizeLoad([]float64{2, 4}))
	paths, err := first.write(filepath.Join(root, "results"))
	if err != nil {
		t.Fatal(err)
	}

	res, err := resumeResults(paths[0], root)
	if err != nil {
		t.Fatal(err)
	}
	if left := res.remaining(); left["pg-crash"] != 1 || left["watermark"] != 2 {
		t.Fatalf("remaining %v, want pg-crash=1 watermark=2", left)
	}
	res.add(runResult{N: 3, Test: "watermark", OK: true, Seconds: 3})
	res.finish(summarizeLoad([]float64{6}))
	if again, err := res.write("ignored"); err != nil || again[0] != paths[0] {
		t.Fatalf("resumed write went to %v (%v), want %s", again, err, paths[0])
	}
	if len(res.Segments) != 2 || res.Segments[0].Runs != 2 || res.Segments[1].Runs != 1 {
		t.Fatalf("segments %+v", res.Segments)
	}
	if res.Load.Samples != 3 || res.Load.Mean != 4 || res.Load.Max != 6 {
		t.Fatalf("merged load %+v", res.Load)
	}
	if md := res.markdown(); !strings.Contains(md, "ran in 2 segments") || !strings.Contains(md, "| watermark | 3 | 2 | 2 | 0 | 2 |") {
		t.Fatalf("markdown:\n%s", md)
	}

	git("commit", "-q", "--allow-empty", "-m", "two")
	if _, err := resumeResults(paths[0], root); err == nil || !strings.Contains(err.Error(), "the checkout is at") {
		t.Fatalf("resume on another commit: %v", err)
	}
}
