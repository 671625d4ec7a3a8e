// Command stress runs Floe's exactly-once tests again and again under CPU
// contention and scheduling jitter, and records every run (make stress).
//
// It builds each test binary and the floe binary once with the
// floestress tag (the jitter hook, see capture/jitter), starts burner
// processes pinned to the CPUs beside the servers, and then runs the
// plan's tests one at a time, interleaved, each run with its own
// GOMAXPROCS and jitter seed. A failed run's output and files are kept
// (-keep); the results (counts, seeds, durations, load) go to
// -out/<date>.json and .md. It exits 1 when any run failed.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	plan       plan
	burners    int
	jitterP    float64
	jitterMax  time.Duration
	gomaxprocs []int
	seed       uint64
	out        string
	keep       string
	work       string
	// resume is a campaign's .json file to continue (-resume).
	resume string
}

func main() {
	if v := os.Getenv(burnerEnv); v != "" {
		i, _ := strconv.Atoi(v)
		burn(i)
		return
	}
	opts, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "stress:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	failed, err := campaign(ctx, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stress:", err)
		os.Exit(2)
	}
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "stress: %d runs failed; their output and files are under %s\n", failed, opts.keep)
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("stress", flag.ContinueOnError)
	planFlag := fs.String("plan", fullPlan, "runs per test: name=count,... or short (make test's round); tests: "+strings.Join(suiteNames(), ", "))
	burnersFlag := fs.Int("burners", 0, "CPU-burning processes beside the tests (default: CPUs + 1)")
	jitterP := fs.Float64("jitter-p", 0.3, "chance that a seam sleeps (FLOE_JITTER p)")
	jitterMax := fs.Duration("jitter-max", 20*time.Millisecond, "longest sleep at a seam (FLOE_JITTER max)")
	procs := fs.String("gomaxprocs", "1,2,3,4", "GOMAXPROCS values, one drawn per run")
	seed := fs.Uint64("seed", 0, "seed of the campaign's choices (default: from the clock)")
	out := fs.String("out", "", "directory for <date>.json and <date>.md (empty: none written)")
	keep := fs.String("keep", filepath.Join(os.TempDir(), "floe-stress-failed"), "where failed runs' output and files are kept")
	work := fs.String("work", "", "directory for the binaries (default: a temporary one)")
	resume := fs.String("resume", "", "a campaign's .json to continue on the same commit: its plan, seed, burners, jitter and GOMAXPROCS choices replace the flags'")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if *planFlag == "short" {
		*planFlag = shortPlan
	}
	p, err := parsePlan(*planFlag)
	if err != nil {
		return options{}, err
	}
	o := options{plan: p, burners: *burnersFlag, jitterP: *jitterP, jitterMax: *jitterMax,
		seed: *seed, out: *out, keep: *keep, work: *work, resume: *resume}
	if o.burners == 0 {
		o.burners = numCPU() + 1
	}
	if o.seed == 0 {
		o.seed = uint64(time.Now().UnixNano())
	}
	for _, f := range strings.Split(*procs, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return options{}, fmt.Errorf("-gomaxprocs: %q is not a positive number", f)
		}
		o.gomaxprocs = append(o.gomaxprocs, n)
	}
	return o, nil
}

// campaign builds, starts the burners and runs the plan; it returns the
// number of failed runs.
func campaign(ctx context.Context, o options) (int, error) {
	root, err := moduleRoot()
	if err != nil {
		return 0, err
	}
	if o.work == "" {
		if o.work, err = os.MkdirTemp("", "floe-stress-"); err != nil {
			return 0, err
		}
		defer os.RemoveAll(o.work)
	}
	res, o, err := startResults(o, root)
	if err != nil {
		return 0, err
	}
	fmt.Printf("stress: building test binaries (floestress) into %s\n", o.work)
	bins, floe, err := build(ctx, root, o.work, o.plan)
	if err != nil {
		return 0, err
	}
	b, err := startBurners(o.burners)
	if err != nil {
		return 0, err
	}
	defer b.stop()
	sampler := startLoadSampler(5 * time.Second)
	defer sampler.stop()

	// Each segment draws from its own stream of the campaign's seed.
	rng := rand.New(rand.NewPCG(o.seed, uint64(len(res.Segments))))
	order := res.remaining().order()
	done := len(res.Runs)
	failed := 0
	for i, name := range order {
		if ctx.Err() != nil {
			fmt.Println("stress: interrupted; writing the results so far")
			break
		}
		s, _ := suiteByName(name)
		r := runOnce(ctx, runSpec{
			n: done + i + 1, suite: s, bin: bins[s.Package], dir: filepath.Join(root, s.Package), floe: floe,
			work: o.work, keep: o.keep, gomaxprocs: o.gomaxprocs[rng.IntN(len(o.gomaxprocs))],
			jitter: fmt.Sprintf("seed=%d,p=%g,max=%s", rng.Uint64()%1_000_000, o.jitterP, o.jitterMax),
		})
		if ctx.Err() != nil && !r.OK {
			break // the run was cut short by the interrupt: not a result
		}
		res.add(r)
		status := "ok"
		if !r.OK {
			failed++
			status = "FAIL: " + r.Failure
		}
		fmt.Printf("stress: [%d/%d] %-14s %6.1fs GOMAXPROCS=%d load=%.2f jitter=%s seams=%d %s\n",
			done+i+1, done+len(order), name, r.Seconds, r.GOMAXPROCS, r.Load1End, r.Jitter, r.Seams.Passed, status)
		if err := saveResults(res, o, sampler.summary()); err != nil {
			return failed, err
		}
	}
	if err := saveResults(res, o, sampler.summary()); err != nil {
		return failed, err
	}
	fmt.Print(res.markdown())
	if res.path != "" {
		fmt.Printf("stress: results written to %s\n", res.path)
	}
	return failed, nil
}

// startResults begins a new campaign's record, or continues the one named
// by -resume, whose settings then replace o's.
func startResults(o options, root string) (*results, options, error) {
	if o.resume == "" {
		return newResults(o, root), o, nil
	}
	res, err := resumeResults(o.resume, root)
	if err != nil {
		return nil, o, err
	}
	o.plan, o.seed, o.burners, o.jitterP, o.gomaxprocs = res.Plan, res.Seed, res.Burners, res.JitterP, res.GOMAXPROCS
	if o.jitterMax, err = time.ParseDuration(res.JitterMax); err != nil {
		return nil, o, fmt.Errorf("-resume: %s: jitter_max %q: %w", o.resume, res.JitterMax, err)
	}
	fmt.Printf("stress: resuming %s (commit %s): %d runs done, %v left\n", o.resume, res.Commit, len(res.Runs), res.remaining())
	return res, o, nil
}

// saveResults sums the runs so far and, when the campaign is recorded
// (-out or -resume), writes them: after every run, so that an interrupted
// or killed campaign keeps what it ran.
func saveResults(res *results, o options, load loadSummary) error {
	res.finish(load)
	if o.out == "" && res.path == "" {
		return nil
	}
	_, err := res.write(o.out)
	return err
}
