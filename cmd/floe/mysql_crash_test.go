package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestMySQLCrashExactlyOnce is TestCrashExactlyOnce against MariaDB:
// SIGKILLs over the snapshot and streaming under a running workload, the
// state dir deleted once, then `floe verify` must find every table equal.
func TestMySQLCrashExactlyOnce(t *testing.T) {
	ctx := context.Background()
	e := newMySQLEnv(t, "my_crash", "upsert", "  snapshot.chunk-rows: 2000\n")
	const seeded = 40_000
	e.seed(seeded)

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 13))
	seed := rng.Uint64() % 1000
	t.Logf("random seed %d", seed)
	w := &mysqlWorkload{e: e, rng: rand.New(rand.NewPCG(seed, 5)), next: seeded}
	wctx, stopWork := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var workErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; wctx.Err() == nil; i++ {
			if i%400 == 200 {
				if err := w.bulk(wctx, fmt.Sprintf("bulk%d", i), 30_000); err != nil && wctx.Err() == nil {
					workErr = err
					return
				}
			}
			if err := w.step(wctx); err != nil && wctx.Err() == nil {
				workErr = err
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	defer func() { stopWork(); wg.Wait() }()

	const kills = 12
	phases := map[string]int{}
	stateDir := filepath.Join(e.dir, "state")
	for i := range kills {
		if i == kills/2 {
			if err := os.RemoveAll(stateDir); err != nil {
				t.Fatal(err)
			}
			t.Logf("kill %d: state dir deleted before restart", i)
		}
		appendLog(t, e.pipelineEnv, fmt.Sprintf("=== test: start %d ===", i))
		r := e.start()
		wait := time.Duration(800+rng.IntN(3500)) * time.Millisecond
		if i < 4 {
			waitForLog(t, e.pipelineEnv, r, "snapshot planned", " snapshot=false")
			wait = time.Duration(20+rng.IntN(400)) * time.Millisecond
		}
		time.Sleep(wait)
		select {
		case <-r.exited:
			t.Fatalf("floe run exited before kill %d: %v; log:\n%s", i, r.err, e.tail(40))
		default:
		}
		e.kill(r)
		phase := phaseOf(e.tail(100000))
		phases[phase]++
		t.Logf("kill %d after %v during %s", i, wait, phase)
	}
	if phases["snapshot"] < 2 || phases["streaming"] < 4 {
		t.Fatalf("kills by phase %v: want >= 2 during the snapshot and >= 4 while streaming", phases)
	}
	stopWork()
	wg.Wait()
	if workErr != nil {
		t.Fatalf("workload: %v", workErr)
	}
	t.Logf("workload: %d transactions", w.txns)

	appendLog(t, e.pipelineEnv, "=== test: final run ===")
	r := e.start()
	start := time.Now()
	e.waitCaughtUp(r, 3*time.Minute)
	t.Logf("final run caught up in %v", time.Since(start).Round(time.Millisecond))
	e.stop(r)
	t.Logf("floe verify:\n%s", e.mustVerify(3))
}
