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
// run) and <date>.md (the summary), again after every run. A campaign
// may run in several segments (-resume): each is one invocation of the
// harness on the same commit, continuing the same plan, seed and counts.
type results struct {
	Started    time.Time     `json:"started"`
	Finished   time.Time     `json:"finished"`
	Segments   []segment     `json:"segments,omitempty"`
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

	// path is the .json file the results are written to, once chosen.
	path string
}

// segment is one invocation of the harness within a campaign.
type segment struct {
	Started  time.Time   `json:"started"`
	Finished time.Time   `json:"finished"`
	Runs     int         `json:"runs"`
	Load     loadSummary `json:"load1"`
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
	r.Commit = commitOf(root)
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		r.Kernel = strings.TrimSpace(string(b))
	}
	r.Segments = []segment{{Started: r.Started}}
	return r
}

// commitOf names the checkout's commit, with -dirty when it has
// uncommitted changes ("" when git cannot tell).
func commitOf(root string) string {
	out, err := exec.Command("git", "-C", root, "describe", "--always", "--dirty", "--abbrev=12").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// resumeResults reads the campaign recorded at path so that this
// invocation continues it as a new segment. The campaign must have been
// built from a clean checkout of the commit the checkout at root is now
// on: runs of different code are not consecutive runs of one campaign.
func resumeResults(path, root string) (*results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-resume: %w", err)
	}
	var r results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("-resume: %s: %w", path, err)
	}
	now := commitOf(root)
	switch {
	case r.Commit == "" || strings.HasSuffix(r.Commit, "-dirty"):
		return nil, fmt.Errorf("-resume: %s was built from %q, not a clean commit; start a new campaign", path, r.Commit)
	case now != r.Commit:
		return nil, fmt.Errorf("-resume: %s ran commit %s, the checkout is at %s; check that commit out (git worktree add --detach) or start a new campaign", path, r.Commit, now)
	}
	if len(r.Segments) == 0 { // a campaign written before segments were recorded
		r.Segments = []segment{{Started: r.Started, Finished: r.Finished, Runs: len(r.Runs), Load: r.Load}}
	}
	r.Segments = append(r.Segments, segment{Started: time.Now().UTC()})
	r.path = path
	return &r, nil
}

// remaining is the part of the plan not yet run.
func (r *results) remaining() plan {
	left := plan{}
	for name, n := range r.Plan {
		left[name] = n
	}
	for _, run := range r.Runs {
		if left[run.Test] > 0 {
			left[run.Test]--
		}
	}
	return left
}

func (r *results) add(run runResult) { r.Runs = append(r.Runs, run) }

// finish sums the runs per test; load is the current segment's.
func (r *results) finish(load loadSummary) {
	r.Finished = time.Now().UTC()
	if len(r.Segments) == 0 {
		r.Segments = []segment{{Started: r.Started}}
	}
	cur := &r.Segments[len(r.Segments)-1]
	cur.Finished, cur.Load = r.Finished, load
	cur.Runs = len(r.Runs)
	for _, s := range r.Segments[:len(r.Segments)-1] {
		cur.Runs -= s.Runs
	}
	r.Load = mergeLoad(r.Segments)
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

// mergeLoad is the load summary over all segments.
func mergeLoad(segs []segment) loadSummary {
	var m loadSummary
	sum := 0.0
	for _, s := range segs {
		if s.Load.Samples == 0 {
			continue
		}
		if m.Samples == 0 {
			m.Min, m.Max = s.Load.Min, s.Load.Max
		}
		m.Min, m.Max = min(m.Min, s.Load.Min), max(m.Max, s.Load.Max)
		m.Samples += s.Load.Samples
		sum += s.Load.Mean * float64(s.Load.Samples)
	}
	if m.Samples > 0 {
		m.Mean = sum / float64(m.Samples)
	}
	return m
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
	if len(r.Segments) > 1 {
		fmt.Fprintf(&b, "The campaign ran in %d segments (-resume), all on that commit:\n\n", len(r.Segments))
		for i, s := range r.Segments {
			fmt.Fprintf(&b, "%d. %s to %s: %d runs, load mean %.2f, max %.2f\n", i+1, s.Started.Format(time.RFC3339),
				s.Finished.Format(time.RFC3339), s.Runs, s.Load.Mean, s.Load.Max)
		}
		b.WriteString("\n")
	}
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

// write writes the campaign's .json and .md and returns their paths. The
// first write picks <date>.json in dir (a second campaign on the same day
// gets a -2, -3, ... suffix); later writes, and a resumed campaign's,
// replace the same files, each through a rename so that a kill leaves
// the previous version whole.
func (r *results) write(dir string) ([]string, error) {
	if r.path == "" {
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
		r.path = filepath.Join(dir, base+".json")
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	paths := []string{r.path, strings.TrimSuffix(r.path, ".json") + ".md"}
	if err := replaceFile(paths[0], append(js, '\n')); err != nil {
		return nil, err
	}
	return paths, replaceFile(paths[1], []byte(r.markdown()))
}

// replaceFile writes data to path through a temporary file and a rename.
func replaceFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return nil
}
