package capture

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestLivenessBehind(t *testing.T) {
	var nilLive *Liveness
	nilLive.Started(0)
	nilLive.Owe(time.Now())
	if st := nilLive.Status(time.Now()); st != (LivenessStatus{}) {
		t.Fatalf("nil Liveness reports %+v", st)
	}

	l := NewLiveness()
	if st := l.Status(time.Now()); st.Streaming || st.Streamed || st.Behind != 0 || st.Reason != "starting" {
		t.Fatalf("new Liveness: %+v", st)
	}
	l.Started(0)
	now := time.Now()
	if st := l.Status(now.Add(time.Hour)); !st.Streaming || !st.Streamed || st.Behind != 0 {
		t.Fatalf("a stream that owes nothing is not behind, however quiet: %+v", st)
	}

	// Two heartbeats written, the first delivered: the second is owed.
	hb1, hb2 := now.Add(time.Second), now.Add(2*time.Second)
	l.Owe(hb1)
	l.Owe(hb2) // the oldest debt counts
	if got := l.Status(hb1.Add(5 * time.Second)).Behind; got != 5*time.Second {
		t.Fatalf("behind %v, want 5s from the oldest heartbeat", got)
	}
	l.Delivered(hb1.Add(-time.Millisecond)) // written before the debt: settles nothing
	if got := l.Status(hb1.Add(5 * time.Second)).Behind; got != 5*time.Second {
		t.Fatalf("an older delivery settled the debt: behind %v", got)
	}
	l.Delivered(hb1)
	if got := l.Status(hb1.Add(5 * time.Second)).Behind; got != 0 {
		t.Fatalf("behind %v after the heartbeat arrived", got)
	}

	// A lost stream owes everything since it was last heard.
	heard := time.Now()
	l.Heard(heard)
	l.Ended(errors.New("connection reset"))
	st := l.Status(heard.Add(10 * time.Second))
	if st.Streaming || !st.Streamed || st.Behind < 9*time.Second || st.Reason != "reconnecting after: connection reset" {
		t.Fatalf("after the stream ended: %+v", st)
	}
	l.Started(0)
	if got := l.Status(heard.Add(10 * time.Second)).Behind; got < 9*time.Second {
		t.Fatalf("a new stream settled the old one's debt before delivering: behind %v", got)
	}
	l.Delivered(time.Now())
	if got := l.Status(time.Now()).Behind; got != 0 {
		t.Fatalf("behind %v after the new stream delivered", got)
	}
}

func TestLivenessExpectEvery(t *testing.T) {
	l := NewLiveness()
	l.Started(time.Second) // the server promises a heartbeat a second
	start := time.Now()
	if got := l.Status(start.Add(500 * time.Millisecond)).Behind; got != 0 {
		t.Fatalf("behind %v before a heartbeat was due", got)
	}
	if got := l.Status(start.Add(4 * time.Second)).Behind; got < 2900*time.Millisecond || got > 3100*time.Millisecond {
		t.Fatalf("behind %v 4s after the last delivery with a 1s heartbeat, want about 3s", got)
	}
	l.Delivered(time.Now())
	if got := l.Status(time.Now().Add(500 * time.Millisecond)).Behind; got != 0 {
		t.Fatalf("behind %v right after a delivery", got)
	}
}

func TestStallError(t *testing.T) {
	err := fmt.Errorf("stream: %w", &StallError{Source: "PostgreSQL at h:5432", Silent: 6123 * time.Millisecond, Detail: "walsender PID 7 stayed at sent_lsn 0/1"})
	if !IsStall(err) || IsStall(errors.New("stalled")) {
		t.Fatal("IsStall does not tell a StallError")
	}
	if want := "stream: stream from PostgreSQL at h:5432 stalled: nothing received for 6.1s (walsender PID 7 stayed at sent_lsn 0/1)"; err.Error() != want {
		t.Fatalf("%q, want %q", err, want)
	}
	if DefaultStallTimeout(10*time.Second) != 30*time.Second {
		t.Fatal("the default stall timeout is not three heartbeats")
	}
	if strings.Contains(err.Error(), "\n") {
		t.Fatal("multi-line error")
	}
}

func TestProblemKeepsItsCause(t *testing.T) {
	cause := errors.New("connection refused")
	var err error = fmt.Errorf("discover tables: %w", Problem{Field: "source.hostname", Message: "cannot reach", Fix: "check", Err: cause})
	if !errors.Is(err, cause) {
		t.Fatal("a Problem hides the error it was found from")
	}
	if strings.Contains(err.Error(), cause.Error()) {
		t.Fatalf("the cause is rendered into the problem's line: %q", err)
	}
}
