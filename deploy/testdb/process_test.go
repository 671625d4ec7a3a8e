package testdb

import (
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// allocEnv makes the test binary, started as a child by
// TestPeakRSSIsTheChilds, hold that many MiB for a moment and exit.
const allocEnv = "TESTDB_ALLOC_MIB"

func TestMain(m *testing.M) {
	if mib, err := strconv.Atoi(os.Getenv(allocEnv)); err == nil {
		b := make([]byte, mib<<20)
		for i := range b {
			b[i] = 1
		}
		time.Sleep(300 * time.Millisecond)
		os.Exit(int(b[len(b)-1]) - 1)
	}
	os.Exit(m.Run())
}

// TestPeakRSSIsTheChilds shows that PeakRSS is the child's own peak: the
// test holds 256 MiB when it starts a child that holds 64 MiB. The
// kernel's ru_maxrss of that child reports the parent's size (the reason
// TrackPeakRSS exists); PeakRSS reports the child's.
func TestPeakRSSIsTheChilds(t *testing.T) {
	parent := make([]byte, 256<<20)
	for i := range parent {
		parent[i] = 1
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), allocEnv+"=64")
	p, err := StartLogged(cmd, t.TempDir()+"/child.log")
	require.NoError(t, err)
	p.TrackPeakRSS(10 * time.Millisecond)
	require.NoError(t, p.Wait(t.Context(), 30*time.Second))

	peak := p.PeakRSS() >> 20
	require.GreaterOrEqual(t, peak, int64(64), "the child held 64 MiB")
	require.Less(t, peak, int64(200), "the parent's 256 MiB must not count")
	var maxrss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		maxrss = ru.Maxrss >> 10
	}
	t.Logf("child peak %d MiB by VmHWM, %d MiB by ru_maxrss; the parent held %d MiB", peak, maxrss, len(parent)>>20)
}
