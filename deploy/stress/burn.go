package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// burnerEnv marks a re-executed harness process as a CPU burner.
const burnerEnv = "FLOE_STRESS_BURNER"

// burners are the CPU-burning processes running beside the tests.
type burners struct{ procs []*exec.Cmd }

// startBurners starts n burner processes (this binary, re-executed), the
// i-th pinned to CPU i mod NumCPU. They die with the harness.
func startBurners(n int) (*burners, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	b := &burners{}
	for i := range n {
		cmd := exec.Command(self)
		cmd.Env = append(os.Environ(), burnerEnv+"="+strconv.Itoa(i))
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			b.stop()
			return nil, fmt.Errorf("start burner %d: %w", i, err)
		}
		b.procs = append(b.procs, cmd)
	}
	return b, nil
}

// stop kills the burners by PID and reaps them.
func (b *burners) stop() {
	for _, p := range b.procs {
		_ = p.Process.Kill()
		_ = p.Wait()
	}
	b.procs = nil
}

// burn is a burner's life: pinned to one CPU, it spins for 20-500 ms,
// rests for 0-50 ms, and again, so that the scheduler's share for
// everything else on that CPU keeps changing.
func burn(i int) {
	runtime.GOMAXPROCS(1)
	runtime.LockOSThread() // affinity is per thread: burn on the pinned one
	var set unix.CPUSet
	set.Set(i % runtime.NumCPU())
	_ = unix.SchedSetaffinity(0, &set) // best effort: unpinned still burns
	rng := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
	x := uint64(1)
	for {
		end := time.Now().Add(time.Duration(20+rng.IntN(480)) * time.Millisecond)
		for time.Now().Before(end) {
			for range 10000 {
				x = x*6364136223846793005 + 1442695040888963407
			}
		}
		if x == 0 { // keep the loop from being optimised away
			fmt.Println(x)
		}
		time.Sleep(time.Duration(rng.IntN(50)) * time.Millisecond)
	}
}
