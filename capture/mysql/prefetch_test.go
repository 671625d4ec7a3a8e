package mysql

import (
	"context"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/stretchr/testify/require"
)

// TestPrefetchBoundsDecodedBytes: go-mysql's goroutine decodes a rows
// event only while the rows events Stream has not taken stay under
// prefetchBytes; one larger than the bound is decoded alone; taking an
// event makes room; a decode waiting when the stream ends gives up.
func TestPrefetchBoundsDecodedBytes(t *testing.T) {
	stop := make(chan struct{})
	p := newPrefetch(stop)
	var decoded []*replication.RowsEvent
	p.next = func(e *replication.RowsEvent, _ []byte) error {
		decoded = append(decoded, e)
		return nil
	}
	decode := func(e *replication.RowsEvent, n int) <-chan error {
		done := make(chan error, 1)
		go func() { done <- p.decode(e, make([]byte, n)) }()
		return done
	}
	const waitLong = 10 * time.Second

	// Small events pass until the bound is reached; the event that
	// reaches it is admitted too.
	small := &replication.RowsEvent{}
	require.NoError(t, <-decode(small, 1<<10))
	large := &replication.RowsEvent{}
	require.NoError(t, <-decode(large, 2*prefetchBytes))
	require.Equal(t, int64(2*prefetchBytes+1<<10), p.bound.Held())

	// The next one waits for Stream to take what is held.
	next := &replication.RowsEvent{}
	waiting := decode(next, 1<<10)
	select {
	case err := <-waiting:
		t.Fatalf("decoded past the bound (err %v)", err)
	case <-time.After(50 * time.Millisecond):
	}
	p.taken(&replication.BinlogEvent{Event: &replication.XIDEvent{}}) // not a rows event: nothing released
	p.taken(&replication.BinlogEvent{Event: small})
	select {
	case err := <-waiting:
		t.Fatalf("decoded with %d bytes held (err %v)", p.bound.Held(), err)
	case <-time.After(50 * time.Millisecond):
	}
	p.taken(&replication.BinlogEvent{Event: large})
	select {
	case err := <-waiting:
		require.NoError(t, err)
	case <-time.After(waitLong):
		t.Fatal("taking the events held did not make room")
	}
	require.Equal(t, []*replication.RowsEvent{small, large, next}, decoded)
	p.taken(&replication.BinlogEvent{Event: next})
	require.Zero(t, p.bound.Held())

	// Full again: a waiting decode ends when the stream does.
	require.NoError(t, <-decode(&replication.RowsEvent{}, prefetchBytes))
	waiting = decode(&replication.RowsEvent{}, 1)
	close(stop)
	select {
	case err := <-waiting:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(waitLong):
		t.Fatal("a decode waiting for room outlived the stream")
	}
	require.Len(t, decoded, 4, "an event was decoded after the stream ended")
}
