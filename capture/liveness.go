package capture

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// DefaultStallTimeout returns the stall timeout that goes with a heartbeat
// interval when none is configured: three heartbeats.
func DefaultStallTimeout(heartbeat time.Duration) time.Duration {
	return 3 * heartbeat
}

// StallError reports a stream that delivered nothing while Floe waited
// for it for longer than the stall timeout. The stream is treated as a
// lost connection: the caller reconnects from the committed positions.
type StallError struct {
	// Source names the server ("PostgreSQL at 10.0.0.5:5432").
	Source string
	// Silent is how long nothing arrived.
	Silent time.Duration
	// Detail says what was still owed or what the server reported.
	Detail string
}

func (e *StallError) Error() string {
	msg := fmt.Sprintf("stream from %s stalled: nothing received for %s", e.Source, e.Silent.Round(100*time.Millisecond))
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	return msg
}

// IsStall reports whether err is (or wraps) a StallError.
func IsStall(err error) bool {
	var se *StallError
	return errors.As(err, &se)
}

// Liveness is what a source's stream reports about itself, for readiness
// and for the lag metric: whether a stream is running, when the server was
// last heard, and since when the server owes Floe a delivery it has not
// made. One Liveness outlives the sources of one pipeline run: every
// reconnect opens a new source that reports to the same Liveness. Safe for
// concurrent use; the methods of a nil *Liveness do nothing.
//
// A delivery is owed from the moment the server is known to hold
// something the stream has not brought yet: a heartbeat Floe wrote (see
// Owe), a heartbeat the server promised to send (Started's expectEvery),
// or anything at all once the stream ended (Ended). Behind measures from
// the oldest such moment, so it grows while a stalled stream brings
// nothing, however recent the last batch was.
type Liveness struct {
	mu          sync.Mutex
	streaming   bool
	streamed    bool
	started     time.Time
	lastHeard   time.Time
	lastDeliver time.Time
	expectEvery time.Duration
	owed        time.Time // zero: nothing owed
	reason      string    // why no stream runs
	serverEnd   Position  // nil: the source does not report it
}

// NewLiveness returns a Liveness with no stream yet.
func NewLiveness() *Liveness {
	return &Liveness{reason: "starting"}
}

// Started records that a stream is open and reading. expectEvery > 0 is
// the server's promise to deliver something at least that often (a server
// heartbeat); 0 when only Floe's own heartbeats prove the stream alive.
func (l *Liveness) Started(expectEvery time.Duration) {
	l.update(func(now time.Time) {
		l.streaming, l.streamed, l.started = true, true, now
		l.lastHeard, l.expectEvery, l.reason = now, expectEvery, ""
		if l.expectEvery > 0 {
			l.lastDeliver = now
		}
	})
}

// Ended records that the stream stopped with err (nil: a clean stop).
// From the last time the server was heard, it owes everything written
// since.
func (l *Liveness) Ended(err error) {
	l.update(func(time.Time) {
		if !l.streaming {
			return
		}
		l.streaming = false
		l.reason = "stream ended"
		if err != nil {
			l.reason = "reconnecting after: " + err.Error()
		}
		l.oweLocked(l.lastHeard)
	})
}

// Heard records that the server sent something (any message) at at, the
// caller's clock reading of when it arrived (which the caller shares with
// its other bookkeeping: the stream reads the clock once per message).
func (l *Liveness) Heard(at time.Time) {
	l.updateAt(at, func(now time.Time) { l.lastHeard = now })
}

// Delivered records that the stream brought something the server wrote at
// written (a heartbeat's own time; for a server heartbeat, now). What was
// owed since at or before written is settled.
func (l *Liveness) Delivered(written time.Time) {
	l.update(func(now time.Time) {
		l.lastHeard, l.lastDeliver = now, now
		if !l.owed.IsZero() && !written.Before(l.owed) {
			l.owed = time.Time{}
		}
	})
}

// Owe records that the server holds, since at, something the stream has
// not brought (a heartbeat written at that time). The oldest debt counts.
func (l *Liveness) Owe(at time.Time) {
	l.update(func(time.Time) { l.oweLocked(at) })
}

// update runs record under the lock with the current time, read before
// the lock is taken; on a nil Liveness it does nothing. Every method that
// records something goes through it, or through updateAt when the caller
// has read the clock already.
func (l *Liveness) update(record func(now time.Time)) {
	if l == nil {
		return
	}
	l.updateAt(time.Now(), record)
}

// updateAt is update with the caller's reading of the current time.
func (l *Liveness) updateAt(now time.Time, record func(now time.Time)) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	record(now)
}

func (l *Liveness) oweLocked(at time.Time) {
	if at.IsZero() {
		at = time.Now()
	}
	if l.owed.IsZero() || at.Before(l.owed) {
		l.owed = at
	}
}

// ServerEnd records the end of the server's change stream as the server
// last reported it (PostgreSQL: the WAL end a walsender message carries),
// for the lag in bytes; sources that do not know it never call it.
func (l *Liveness) ServerEnd(p Position) {
	l.update(func(time.Time) { l.serverEnd = p })
}

// Distancer is a Position that can measure its stream in bytes: BytesAfter
// is how many bytes of the stream lie after earlier up to the receiver (0
// when earlier is not before it), and ok is false when earlier is not a
// position of the same source. PostgreSQL positions are; MySQL ones are
// not (a binlog position's bytes do not add across files).
type Distancer interface {
	BytesAfter(earlier Position) (n int64, ok bool)
}

// LivenessStatus is a Liveness at one instant.
type LivenessStatus struct {
	// Streaming is true while a stream runs.
	Streaming bool
	// Streamed is true once any stream of this run has started.
	Streamed bool
	// Behind is how long the server has owed a delivery (0: nothing owed).
	Behind time.Duration
	// Silent is how long since the server was last heard (0 when no
	// stream runs).
	Silent time.Duration
	// Reason says why no stream runs ("" while streaming).
	Reason string
	// ServerEnd is the last ServerEnd recorded (nil: none).
	ServerEnd Position
}

// Status returns the state at now.
func (l *Liveness) Status(now time.Time) LivenessStatus {
	if l == nil {
		return LivenessStatus{}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	st := LivenessStatus{Streaming: l.streaming, Streamed: l.streamed, Reason: l.reason, ServerEnd: l.serverEnd}
	if !l.owed.IsZero() && now.After(l.owed) {
		st.Behind = now.Sub(l.owed)
	}
	if l.streaming {
		st.Silent = now.Sub(l.lastHeard)
		if l.expectEvery > 0 {
			if due := l.lastDeliver.Add(l.expectEvery); now.After(due) && now.Sub(due) > st.Behind {
				st.Behind = now.Sub(due)
			}
		}
	}
	return st
}

// Behind is Status(now).Behind: how long the server has owed a delivery.
func (l *Liveness) Behind() time.Duration {
	return l.Status(time.Now()).Behind
}
