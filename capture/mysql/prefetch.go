package mysql

import (
	"context"
	"sync"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/floe-cdc/floe/schema/bytebound"
	"github.com/floe-cdc/floe/schema/mysqltype"
)

// go-mysql reads and decodes binlog events on a goroutine of its own, ahead
// of Stream, into a channel of BinlogSyncerConfig.EventCacheCount events.
// One event ahead (a channel of 1) kept the two goroutines in lockstep:
// each waited for the other at almost every event, and the stream lost
// 3-6 % of its throughput in the bench's MariaDB catch-up. A deep channel
// alone would hold a backlog of large rows events in memory, bounded by
// nothing but their count. So the channel is deep (prefetchEvents), and
// the rows events in it, which carry the rows, are bounded by their bytes
// in the binlog (prefetchBytes): go-mysql's goroutine waits, before it
// decodes a rows event, until Stream has taken enough of those before it.
// An event larger than the bound is still decoded, alone.
const (
	prefetchEvents = 1024
	prefetchBytes  = 4 << 20
)

// prefetch is the byte bound on the rows events go-mysql decoded that
// Stream has not handled yet. decode runs on go-mysql's goroutine, taken
// on Stream's.
type prefetch struct {
	bound *bytebound.Bound
	stop  <-chan struct{} // closed when Stream returns: decode waits no more
	// next decodes an event once there is room: mysqltype.DecodeRowsEvent.
	next func(*replication.RowsEvent, []byte) error
	mu   sync.Mutex
	held map[*replication.RowsEvent]int64
}

func newPrefetch(stop <-chan struct{}) *prefetch {
	return &prefetch{bound: bytebound.New(prefetchBytes), stop: stop, next: mysqltype.DecodeRowsEvent,
		held: map[*replication.RowsEvent]int64{}}
}

// decode is BinlogSyncerConfig.RowsEventDecodeFunc: it waits for room
// under the bound, then decodes e (next) and holds
// its bytes until Stream has taken it.
func (p *prefetch) decode(e *replication.RowsEvent, data []byte) error {
	if !p.bound.Wait(p.stop) {
		return context.Canceled // the stream has ended: nobody takes the event
	}
	n := int64(len(data))
	p.bound.Add(n)
	p.mu.Lock()
	p.held[e] = n
	p.mu.Unlock()
	return p.next(e, data)
}

// taken releases the bytes of ev, an event Stream has handled (its rows
// are in the batch being built, or sent).
func (p *prefetch) taken(ev *replication.BinlogEvent) {
	e, ok := ev.Event.(*replication.RowsEvent)
	if !ok {
		return
	}
	p.mu.Lock()
	n, ok := p.held[e]
	delete(p.held, e)
	p.mu.Unlock()
	if ok {
		p.bound.Release(n)
	}
}
