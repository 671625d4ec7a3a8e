package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// results is the record of one campaign, written as <date>.json (every
// run) and <date>.md (the summary).
type results struct {
	Started    time.Time     `json:"started"`
	Finished   time.Time     `json:"finished"`
	Commit     string        `json:"commit"`
	Go         string        `json:"go"`
	CPUs       int           `json:"cpus"`
	Kernel     string        `json:"kernel"`
	Seed       uint64        `json:"seed"`
	Burners    int           `json:"burners"`
	JitterP    float64       `json:"jitter_p"`
	JitterMax  string        `json:"jitter_max"`
	GOMAXPROCS []int         `json:"gomaxprocs_choices"`
	Plan       plan          `json:"plan"`
	Load       loadSummary   `json:"load1"`
	Tests      []testSummary `json:"tests"`
	Runs       []runResult   `json:"runs"`
}

// testSummary sums one test's runs.
type testSummary struct {
	Name   string `json:"name"`
	Target int    `json:"target"`
	Runs   int    `json:"runs"`
	Passed int    `json:"passed"`
	Failed int    `json:"failed"`
	// Streak is the longest run of consecutive passes.
	Streak        int     `json:"longest_pass_streak"`
	SecondsMin    float64 `json:"seconds_min"`
	SecondsMedian float64 `json:"seconds_median"`
	SecondsMax    float64 `json:"seconds_max"`
	SecondsTotal  float64 `json:"seconds_total"`
	SeamsPassed   int64   `json:"seams_passed"`
	SeamsSlept    int64   `json:"seams_slept"`
}

func newResults(o options, root string) *results {
	r := &results{Started: time.Now().UTC(), Go: runtime.Version(), CPUs: runtime.NumCPU(), Seed: o.seed,
		Burners: o.burners, JitterP: o.jitterP, JitterMax: o.jitterMax.String(), GOMAXPROCS: o.gomaxprocs, Plan: o.plan}
	if out, err := exec.Command("git", "-C", root, "describe", "--always", "--dirty", "--abbrev=12").Output(); err == nil {
		r.Commit = strings.TrimSpace(string(out))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		r.Kernel = strings.TrimSpace(string(b))
	}
	return r
}

func (r *results) add(run runResult) { r.Runs = append(r.Runs, run) }

// finish sums the runs per test.
func (r *results) finish(load loadSummary) {
	r.Finished = time.Now().UTC()
	r.Load = load
	r.Tests = nil
	for _, name := range suiteNames() {
		if r.Plan[name] == 0 {
			continue
		}
		ts := testSummary{Name: name, Target: r.Plan[name]}
		var secs []float64
		streak := 0
		for _, run := range r.Runs {
			if run.Test != name {
				continue
			}
			ts.Runs++
			secs = append(secs, run.Seconds)
			ts.SecondsTotal += run.Seconds
			ts.SeamsPassed += run.Seams.Passed
			ts.SeamsSlept += run.Seams.Slept
			if run.OK {
				ts.Passed++
				streak++
				ts.Streak = max(ts.Streak, streak)
			} else {
				ts.Failed++
				streak = 0
			}
		}
		if len(secs) > 0 {
			slices.Sort(secs)
			ts.SecondsMin, ts.SecondsMedian, ts.SecondsMax = secs[0], secs[len(secs)/2], secs[len(secs)-1]
		}
		r.Tests = append(r.Tests, ts)
	}
}

// markdown is the human summary.
func (r *results) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Stress results %s\n\n", r.Started.Format("2006-01-02"))
	fmt.Fprintf(&b, "Commit %s, %s, %d CPUs, kernel %s. %d burner processes pinned to the CPUs, "+
		"GOMAXPROCS drawn per run from %v, jitter p=%g max=%s at every seam (capture/jitter), campaign seed %d.\n\n",
		r.Commit, r.Go, r.CPUs, r.Kernel, r.Burners, r.GOMAXPROCS, r.JitterP, r.JitterMax, r.Seed)
	fmt.Fprintf(&b, "Ran %s to %s (%s). 1-minute load average over the campaign (%d samples): min %.2f, mean %.2f, max %.2f.\n\n",
		r.Started.Format(time.RFC3339), r.Finished.Format(time.RFC3339), r.Finished.Sub(r.Started).Round(time.Second),
		r.Load.Samples, r.Load.Min, r.Load.Mean, r.Load.Max)
	b.WriteString("| test | target | runs | passed | failed | longest pass streak | seconds min / median / max | seams passed / slept |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---|---|\n")
	for _, t := range r.Tests {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %.1f / %.1f / %.1f | %d / %d |\n", t.Name, t.Target, t.Runs,
			t.Passed, t.Failed, t.Streak, t.SecondsMin, t.SecondsMedian, t.SecondsMax, t.SeamsPassed, t.SeamsSlept)
	}
	var failed []runResult
	for _, run := range r.Runs {
		if !run.OK {
			failed = append(failed, run)
		}
	}
	if len(failed) == 0 {
		b.WriteString("\nNo run failed.\n")
		return b.String()
	}
	b.WriteString("\n## Failed runs\n\n")
	for _, run := range failed {
		fmt.Fprintf(&b, "- run %d, %s, GOMAXPROCS=%d, jitter %s, test seeds %v, load %.2f: %s (kept in %s)\n",
			run.N, run.Test, run.GOMAXPROCS, run.Jitter, run.TestSeeds, run.Load1End, run.Failure, run.Kept)
	}
	return b.String()
}

// write writes <date>.json and <date>.md into dir (a second campaign on
// the same day gets a -2, -3, ... suffix) and returns their paths.
func (r *results) write(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	base := r.Started.Format("2006-01-02")
	for i := 2; ; i++ {
		if _, err := os.Stat(filepath.Join(dir, base+".json")); os.IsNotExist(err) {
			break
		}
		base = fmt.Sprintf("%s-%d", r.Started.Format("2006-01-02"), i)
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	paths := []string{filepath.Join(dir, base+".json"), filepath.Join(dir, base+".md")}
	if err := os.WriteFile(paths[0], append(js, '\n'), 0o644); err != nil {
		return nil, err
	}
	return paths, os.WriteFile(paths[1], []byte(r.markdown()), 0o644)
}
