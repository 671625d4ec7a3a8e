package capturetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/floe-cdc/floe/capture"
)

// Running is a Source's Stream running in the background: the stream of
// the suite's tests, and the one a source package's own tests read.
type Running struct {
	t *testing.T
	// Out receives the batches Stream sends.
	Out chan capture.Batch
	// Done receives Stream's error when it returns; whoever takes it from
	// Done calls Returned.
	Done   chan error
	cancel context.CancelFunc
}

// StartStream runs src.Stream in the background. It is stopped at
// cleanup, and must then return context.Canceled.
func StartStream(t *testing.T, src capture.Source) *Running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &Running{t: t, Out: make(chan capture.Batch, 64), Done: make(chan error, 1), cancel: cancel}
	go func() { r.Done <- src.Stream(ctx, r.Out) }()
	t.Cleanup(r.Stop)
	return r
}

// Returned records that Stream has returned (its error was taken from
// Done), so Stop does not wait for it.
func (r *Running) Returned() {
	if r.cancel != nil {
		r.cancel()
		r.cancel = nil
	}
}

// Stop cancels the stream and checks that Stream returned
// context.Canceled. Stopping twice, or after Returned, does nothing.
func (r *Running) Stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.Done:
		if !errors.Is(err, context.Canceled) {
			r.t.Errorf("Stream returned %v after cancel, want context.Canceled", err)
		}
	case <-time.After(15 * time.Second):
		r.t.Error("Stream did not return within 15s of cancel")
	}
}

// Next returns the next batch with changes (or More set); empty batches
// (heartbeats) are skipped. Stream ending, or no batch within 20s, fails
// the test.
func (r *Running) Next() capture.Batch {
	r.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case b := <-r.Out:
			if len(b.Changes) == 0 && !b.More {
				continue
			}
			return b
		case err := <-r.Done:
			r.Returned()
			r.t.Fatalf("Stream ended: %v", err)
		case <-deadline:
			r.t.Fatal("no batch within 20s")
		}
	}
}

// Err waits up to 20s for Stream to fail, dropping batches meanwhile, and
// returns its error.
func (r *Running) Err() error {
	r.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case <-r.Out:
		case err := <-r.Done:
			r.Returned()
			return err
		case <-deadline:
			r.t.Fatal("stream did not fail within 20s")
		}
	}
}
