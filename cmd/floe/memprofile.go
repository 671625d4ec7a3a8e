package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"time"
)

// peakSample is the runtime metric the heap profiler watches: bytes of
// live and not-yet-swept heap objects.
const peakSample = "/memory/classes/heap/objects:bytes"

// startHeapProfile writes a heap profile to path each time the Go heap
// reaches a new peak (checked every 200 ms, written when it has grown by
// more than 5% since the last profile), so that the file left at exit
// shows what was live at the run's highest point. The returned stop ends
// the watching and returns the peak heap bytes seen.
func startHeapProfile(path string) (func() uint64, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--memprofile: %w", err)
	}
	f.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan uint64)
	go func() {
		sample := []metrics.Sample{{Name: peakSample}}
		var peak, written uint64
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				done <- peak
				return
			case <-tick.C:
			}
			metrics.Read(sample)
			cur := sample[0].Value.Uint64()
			peak = max(peak, cur)
			if cur > written+written/20 {
				if writeHeapProfile(path) == nil {
					written = cur
				}
			}
		}
	}()
	return func() uint64 { cancel(); return <-done }, nil
}

// writeHeapProfile writes the current heap profile to path (atomically).
func writeHeapProfile(path string) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	runtime.GC() // the profile's in-use figures are as of the last GC
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
