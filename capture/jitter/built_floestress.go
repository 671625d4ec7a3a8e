//go:build floestress

package jitter

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Built reports whether this build can inject jitter (the floestress tag).
const Built = true

func init() {
	spec := os.Getenv("FLOE_JITTER")
	if spec == "" {
		return
	}
	j, err := parse(spec)
	if err != nil {
		fmt.Fprintf(os.Stderr, "floe: FLOE_JITTER: %v\n", err)
		os.Exit(2)
	}
	if dir := os.Getenv("FLOE_JITTER_STATS"); dir != "" {
		go j.keepStats(dir)
	}
	hook = j.at
}

// jitterer sleeps at seams with probability p for up to max.
type jitterer struct {
	seed uint64
	p    float64
	max  time.Duration

	mu  sync.Mutex
	rng *rand.Rand

	passed, slept [numSeams]atomic.Int64
	sleptNanos    atomic.Int64
}

// parse reads "seed=N,p=F,max=D" (every key optional: seed 1, p 0.3, max 20ms).
func parse(spec string) (*jitterer, error) {
	j := &jitterer{seed: 1, p: 0.3, max: 20 * time.Millisecond}
	for _, kv := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return nil, fmt.Errorf("%q is not key=value; use seed=N,p=0.3,max=20ms", kv)
		}
		var err error
		switch k {
		case "seed":
			j.seed, err = strconv.ParseUint(v, 10, 64)
		case "p":
			j.p, err = strconv.ParseFloat(v, 64)
			if err == nil && (j.p < 0 || j.p > 1) {
				err = fmt.Errorf("not within 0..1")
			}
		case "max":
			j.max, err = time.ParseDuration(v)
			if err == nil && j.max < 0 {
				err = fmt.Errorf("negative")
			}
		default:
			err = fmt.Errorf("unknown key; use seed, p or max")
		}
		if err != nil {
			return nil, fmt.Errorf("%s=%s: %v", k, v, err)
		}
	}
	j.rng = rand.New(rand.NewPCG(j.seed, uint64(os.Getpid())))
	return j, nil
}

// hot reports whether s is passed once per batch (so it sleeps less).
func (s Seam) hot() bool { return s == SourceEmit || s == Receive }

// delay decides the sleep at s: 0 for none, -1 for a bare yield.
func (j *jitterer) delay(s Seam) time.Duration {
	p, max := j.p, j.max
	if s.hot() {
		p, max = p/4, max/4
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	switch r := j.rng.Float64(); {
	case r < p:
		u := j.rng.Float64()
		return time.Duration(u * u * u * float64(max)) // heavy-tailed: mostly short
	case r < p+p/2:
		return -1
	}
	return 0
}

func (j *jitterer) at(s Seam) {
	j.passed[s].Add(1)
	switch d := j.delay(s); {
	case d < 0:
		runtime.Gosched()
	case d > 0:
		j.slept[s].Add(1)
		j.sleptNanos.Add(int64(d))
		time.Sleep(d)
	}
}

// Stats is what a process reports under FLOE_JITTER_STATS.
type Stats struct {
	PID     int              `json:"pid"`
	Command string           `json:"command"`
	Seed    uint64           `json:"seed"`
	Passed  map[string]int64 `json:"passed"`
	Slept   map[string]int64 `json:"slept"`
	SleptMS int64            `json:"slept_ms"`
}

func (j *jitterer) stats() Stats {
	st := Stats{PID: os.Getpid(), Command: filepath.Base(os.Args[0]), Seed: j.seed,
		Passed: map[string]int64{}, Slept: map[string]int64{}, SleptMS: j.sleptNanos.Load() / 1e6}
	for s := range numSeams {
		if n := j.passed[s].Load(); n > 0 {
			st.Passed[s.String()] = n
			st.Slept[s.String()] = j.slept[s].Load()
		}
	}
	return st
}

// keepStats rewrites dir/<pid>.json twice a second for the life of the
// process (a SIGKILLed process leaves its last counts).
func (j *jitterer) keepStats(dir string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "floe: FLOE_JITTER_STATS: %v\n", err)
		return
	}
	path := filepath.Join(dir, strconv.Itoa(os.Getpid())+".json")
	for {
		if b, err := json.Marshal(j.stats()); err == nil {
			tmp := path + ".tmp"
			if os.WriteFile(tmp, b, 0o644) == nil {
				_ = os.Rename(tmp, path)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
}
