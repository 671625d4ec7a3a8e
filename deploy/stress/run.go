package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("find the module root (run from the checkout): %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

func numCPU() int { return runtime.NumCPU() }

// build compiles the test binary of every package in the plan and the
// floe binary, all with the floestress tag.
func build(ctx context.Context, root, work string, p plan) (bins map[string]string, floe string, err error) {
	bins = map[string]string{}
	run := func(args ...string) error {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	for _, pkg := range p.packages() {
		bin := filepath.Join(work, strings.ReplaceAll(strings.Trim(pkg, "./"), "/", "_")+".test")
		if err := run("test", "-c", "-tags", "floestress", "-o", bin, pkg); err != nil {
			return nil, "", err
		}
		bins[pkg] = bin
	}
	floe = filepath.Join(work, "floe")
	if err := run("build", "-tags", "floestress", "-o", floe, "./cmd/floe"); err != nil {
		return nil, "", err
	}
	return bins, floe, nil
}

// runSpec is one run of one test.
type runSpec struct {
	n          int
	suite      suite
	bin, dir   string
	floe       string
	work, keep string
	gomaxprocs int
	jitter     string
}

// runResult is what the results file records of a run.
type runResult struct {
	N          int     `json:"n"`
	Test       string  `json:"test"`
	OK         bool    `json:"ok"`
	Seconds    float64 `json:"seconds"`
	GOMAXPROCS int     `json:"gomaxprocs"`
	Jitter     string  `json:"jitter"`
	// TestSeeds are the random seeds the test itself logged.
	TestSeeds  []string `json:"test_seeds,omitempty"`
	Load1Start float64  `json:"load1_start"`
	Load1End   float64  `json:"load1_end"`
	Seams      seams    `json:"seams"`
	Failure    string   `json:"failure,omitempty"`
	Kept       string   `json:"kept,omitempty"`
}

// seams sums the jitter stats of every process of a run.
type seams struct {
	Processes int              `json:"processes"`
	Passed    int64            `json:"passed"`
	Slept     int64            `json:"slept"`
	SleptMS   int64            `json:"slept_ms"`
	BySeam    map[string]int64 `json:"by_seam,omitempty"`
}

// runOnce runs the spec's test binary once and judges it: a run passes
// when the test passed and the jitter hook was live in its processes.
func runOnce(ctx context.Context, s runSpec) runResult {
	r := runResult{N: s.n, Test: s.suite.Name, GOMAXPROCS: s.gomaxprocs, Jitter: s.jitter, Load1Start: load1()}
	runDir := filepath.Join(s.work, "runs", strconv.Itoa(s.n))
	statsDir := filepath.Join(runDir, "jitter")
	keepDir := filepath.Join(s.keep, fmt.Sprintf("%s-run%d-%s", s.suite.Name, s.n, time.Now().Format("20060102-150405")))
	if err := os.MkdirAll(statsDir, 0o755); err != nil {
		r.Failure = err.Error()
		return r
	}
	defer os.RemoveAll(runDir)

	rctx, cancel := context.WithTimeout(ctx, s.suite.Timeout+2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(rctx, s.bin, "-test.run", s.suite.Run, "-test.count=1", "-test.v",
		"-test.timeout", s.suite.Timeout.String())
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(),
		"GOMAXPROCS="+strconv.Itoa(s.gomaxprocs),
		"FLOE_JITTER="+s.jitter,
		"FLOE_JITTER_STATS="+statsDir,
		"FLOE_KEEP_FAILED="+keepDir,
	)
	if s.suite.Floe {
		cmd.Env = append(cmd.Env, "FLOE_TEST_BIN="+s.floe)
	}
	// Servers and floe processes the test starts die with it (PDEATHSIG).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	r.Seconds = time.Since(start).Seconds()
	r.Load1End = load1()
	r.Seams = readSeams(statsDir)
	r.TestSeeds = testSeeds(out.Bytes())

	switch {
	case err != nil:
		r.Failure = firstFailure(out.Bytes(), err)
	case !bytes.Contains(out.Bytes(), []byte("--- PASS")):
		r.Failure = "no test ran (the -test.run pattern matched nothing)"
	case r.Seams.Passed == 0:
		r.Failure = "the jitter hook was not live: no process passed a seam"
	default:
		r.OK = true
		return r
	}
	if err := os.MkdirAll(keepDir, 0o755); err == nil {
		_ = os.WriteFile(filepath.Join(keepDir, "output.txt"), out.Bytes(), 0o644)
		r.Kept = keepDir
	}
	return r
}

// firstFailure picks the lines that say why a test failed: the first
// failing test and the first error line after it.
func firstFailure(out []byte, err error) string {
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "--- FAIL") || strings.HasPrefix(l, "panic:") ||
			(strings.Contains(l, "_test.go:") && (strings.Contains(l, "MISMATCH") || strings.Contains(strings.ToLower(l), "fail") ||
				strings.Contains(l, "want") || strings.Contains(l, "did not") || strings.Contains(l, "exit"))) {
			lines = append(lines, l)
		}
		if len(lines) >= 4 {
			break
		}
	}
	if len(lines) == 0 {
		return err.Error()
	}
	s := strings.Join(lines, " | ")
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}

// testSeeds returns what the test logged as its random seeds.
func testSeeds(out []byte) []string {
	var seeds []string
	for _, l := range strings.Split(string(out), "\n") {
		if i := strings.Index(l, "random seed "); i >= 0 {
			seeds = append(seeds, strings.TrimSpace(l[i+len("random seed "):]))
		}
	}
	return seeds
}

// readSeams sums the FLOE_JITTER_STATS files of a run.
func readSeams(dir string) seams {
	s := seams{BySeam: map[string]int64{}}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var st struct {
			Passed  map[string]int64 `json:"passed"`
			Slept   map[string]int64 `json:"slept"`
			SleptMS int64            `json:"slept_ms"`
		}
		if json.Unmarshal(b, &st) != nil {
			continue
		}
		s.Processes++
		for k, v := range st.Passed {
			s.Passed += v
			s.BySeam[k] += v
		}
		for _, v := range st.Slept {
			s.Slept += v
		}
		s.SleptMS += st.SleptMS
	}
	return s
}

// load1 is the 1-minute load average.
func load1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// loadSampler samples the 1-minute load average over the campaign.
type loadSampler struct {
	mu      sync.Mutex
	samples []float64
	done    chan struct{}
	wg      sync.WaitGroup
}

func startLoadSampler(every time.Duration) *loadSampler {
	l := &loadSampler{done: make(chan struct{})}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			l.mu.Lock()
			l.samples = append(l.samples, load1())
			l.mu.Unlock()
			select {
			case <-t.C:
			case <-l.done:
				return
			}
		}
	}()
	return l
}

func (l *loadSampler) stop() {
	select {
	case <-l.done:
	default:
		close(l.done)
	}
	l.wg.Wait()
}

// loadSummary is the load average over the campaign.
type loadSummary struct {
	Samples int     `json:"samples"`
	Min     float64 `json:"min"`
	Mean    float64 `json:"mean"`
	Max     float64 `json:"max"`
}

func (l *loadSampler) summary() loadSummary {
	l.mu.Lock()
	defer l.mu.Unlock()
	return summarizeLoad(l.samples)
}

func summarizeLoad(samples []float64) loadSummary {
	s := loadSummary{Samples: len(samples)}
	if len(samples) == 0 {
		return s
	}
	s.Min, s.Max = samples[0], samples[0]
	sum := 0.0
	for _, v := range samples {
		s.Min, s.Max = min(s.Min, v), max(s.Max, v)
		sum += v
	}
	s.Mean = sum / float64(len(samples))
	return s
}
