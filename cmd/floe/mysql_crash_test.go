package main

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestMySQLCrashExactlyOnce is TestCrashExactlyOnce against MariaDB:
// SIGKILLs over the snapshot and streaming under a running workload, the
// state dir deleted once, then `floe verify` must find every table equal.
func TestMySQLCrashExactlyOnce(t *testing.T) {
	e := newMySQLEnv(t, "my_crash", "upsert", "  snapshot.chunk-rows: 2000\n")
	const seeded = 40_000
	e.seed(seeded)

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 13))
	seed := rng.Uint64() % 1000
	t.Logf("random seed %d", seed)
	w := &mysqlWorkload{e: e, rng: rand.New(rand.NewPCG(seed, 5)), next: seeded}
	crashLoop(t, e, w, rng, 3)
}

func (w *mysqlWorkload) transactions() int { return w.txns }
