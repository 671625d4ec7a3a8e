package bytebound

import (
	"testing"
	"time"
)

func TestWaitAdmitsBelowTheBound(t *testing.T) {
	b := New(10)
	stop := make(chan struct{})
	if !b.Wait(stop) {
		t.Fatal("Wait on an empty bound reported false")
	}
	b.Add(9)
	if !b.Wait(stop) {
		t.Fatal("Wait with 9 of 10 bytes held reported false")
	}
	b.Add(5)
	if got := b.Held(); got != 14 {
		t.Fatalf("Held = %d, want 14", got)
	}
}

func TestWaitBlocksUntilRelease(t *testing.T) {
	b := New(10)
	b.Add(10)
	admitted := make(chan bool)
	go func() { admitted <- b.Wait(make(chan struct{})) }()
	select {
	case <-admitted:
		t.Fatal("Wait returned while the bound was full")
	case <-time.After(20 * time.Millisecond):
	}
	b.Release(4)
	if !<-admitted {
		t.Fatal("Wait reported false after a release")
	}
	if got := b.Held(); got != 6 {
		t.Fatalf("Held = %d, want 6", got)
	}
}

func TestWaitStops(t *testing.T) {
	b := New(1)
	b.Add(1)
	stop := make(chan struct{})
	close(stop)
	if b.Wait(stop) {
		t.Fatal("Wait on a full bound reported true after stop closed")
	}
}
