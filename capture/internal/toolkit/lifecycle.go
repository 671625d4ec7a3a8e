package toolkit

import (
	"context"
	"errors"
	"sync"

	"github.com/floe-cdc/floe/capture"
)

// Lifecycle enforces the call order the capture.Source contract states:
// Start until one succeeds, Stream once after it, Close any number of
// times. A source keeps one (unexported) and records a successful Start
// only after everything Stream reads is set. The zero value is ready; safe
// for concurrent use.
type Lifecycle struct {
	mu       sync.Mutex
	started  bool
	streamed bool
	closed   bool
}

// CheckStart fails when Start already succeeded.
func (l *Lifecycle) CheckStart() error {
	if l.Started() {
		return errors.New("start: already started")
	}
	return nil
}

// BeginStart is called first by a source's Start: it fails when Start
// already succeeded (l.CheckStart), then installs the captured tables
// unless Discover already did (tables.Ensure with the source's discover),
// so that Start works on them. Its errors are returned as they are.
func BeginStart[T Discovered](ctx context.Context, l *Lifecycle, tables *Tables[T], discover func(context.Context) ([]capture.TableInfo, error)) error {
	if err := l.CheckStart(); err != nil {
		return err
	}
	return tables.Ensure(ctx, discover)
}

// MarkStarted records that Start succeeded.
func (l *Lifecycle) MarkStarted() {
	l.mu.Lock()
	l.started = true
	l.mu.Unlock()
}

// Started reports whether Start succeeded.
func (l *Lifecycle) Started() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.started
}

// BeginStream is called first by Stream: it fails unless Start succeeded
// and Stream was not called before.
func (l *Lifecycle) BeginStream() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.started {
		return errors.New("stream: source not started")
	}
	if l.streamed {
		return errors.New("stream: already called")
	}
	l.streamed = true
	return nil
}

// BeginClose reports whether this is the first call of Close, the one
// that releases the source's resources.
func (l *Lifecycle) BeginClose() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	first := !l.closed
	l.closed = true
	return first
}
